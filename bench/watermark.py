"""Invisible watermark robustness and cost: hegui vs invisible-watermark (dwtDct) vs blind-watermark.

    .venv/bin/pip install --no-deps invisible-watermark blind-watermark && .venv/bin/pip install opencv-python-headless
    .venv/bin/python bench/watermark.py [--seeds 4] [--big-seeds 1]

Images: /work/shared/data holds no photos, so the rows are (a) synthetic natural-looking images
(``hegui.labels.testimages.natural_image``: 1/f colour noise, gradient, soft-edged shapes) at 512²
and 2048², and (b) the two real photos scikit-learn ships (``china.jpg``, ``flower.jpg``, 640×427,
CC BY 2.0), read from the installed package when it is there. Each method embeds a random 64-bit
payload; bit accuracy is measured after each attack. All extractors are blind (no original), and
all get the attacked image as it is, except that the two references get a resized image scaled back
to the original size first (their documented recovery; hegui extracts from the small image).
invisible-watermark is imported with a stub ``torch`` module: its package imports RivaGAN, which
dwtDct does not use. Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from hegui.labels import watermark as wm
from hegui.labels.testimages import natural_image

Array = np.ndarray


def jpeg(a: Array, q: int) -> Array:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=q)
    return np.asarray(Image.open(b).convert("RGB"))


def resize(a: Array, f: float) -> Array:
    im = Image.fromarray(a)
    return np.asarray(im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.BICUBIC))


def crop(a: Array, frac: float = 0.10) -> Array:
    """Keep the middle 90 % of each side (5 % off each edge, slightly off-centre)."""
    h, w = a.shape[:2]
    dy, dx = int(h * frac / 2), int(w * frac / 2)
    return a[dy + 3 : h - dy + 3, dx + 1 : w - dx + 1]


def rotate(a: Array, deg: float) -> Array:
    return np.asarray(Image.fromarray(a).rotate(deg, resample=Image.Resampling.BICUBIC))


def bright(a: Array, f: float) -> Array:
    return np.clip(a.astype(np.float64) * f, 0, 255).astype(np.uint8)


ATTACKS: dict[str, Callable[[Array], Array]] = {
    "none": lambda a: a,
    "JPEG 90": lambda a: jpeg(a, 90),
    "JPEG 70": lambda a: jpeg(a, 70),
    "JPEG 50": lambda a: jpeg(a, 50),
    "resize 0.5×": lambda a: resize(a, 0.5),
    "crop 10 %": crop,
    "rotation 2°": lambda a: rotate(a, 2),
    "brightness +20 %": lambda a: bright(a, 1.2),
    "brightness −20 %": lambda a: bright(a, 0.8),
    # Beyond the targets, to show where it breaks:
    "JPEG 30": lambda a: jpeg(a, 30),
    "resize 0.5× + JPEG 70": lambda a: jpeg(resize(a, 0.5), 70),
    "crop 30 %": lambda a: crop(a, 0.30),
    "rotation 5°": lambda a: rotate(a, 5),
    "resize 0.25×": lambda a: resize(a, 0.25),
}


class Method:
    name = ""

    def embed(self, rgb: Array, bits: Array) -> Array: ...

    def extract(self, rgb: Array, shape: tuple[int, int]) -> Array: ...


class Hegui(Method):
    name = "hegui"

    def embed(self, rgb: Array, bits: Array) -> Array:
        return wm.embed_array(rgb, np.packbits(bits).tobytes())

    def extract(self, rgb: Array, shape: tuple[int, int]) -> Array:
        return wm.extract_array(rgb).bits()


def _to_size(rgb: Array, shape: tuple[int, int]) -> Array:
    if rgb.shape[:2] == shape:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), Image.Resampling.BICUBIC))


class InvisibleWatermark(Method):
    name = "invisible-watermark dwtDct"

    def __init__(self) -> None:
        # Its package imports RivaGAN (torch), which dwtDct does not use: a stub only while importing,
        # since SciPy looks for a real torch in sys.modules.
        stub = "torch" not in sys.modules
        if stub:
            sys.modules["torch"] = types.ModuleType("torch")
        try:
            from imwatermark import WatermarkDecoder, WatermarkEncoder
        finally:
            if stub:
                del sys.modules["torch"]

        self.enc_cls, self.dec_cls = WatermarkEncoder, WatermarkDecoder

    def embed(self, rgb: Array, bits: Array) -> Array:
        enc = self.enc_cls()
        enc.set_watermark("bits", [int(b) for b in bits])
        bgr = enc.encode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct")
        return np.clip(bgr[..., ::-1], 0, 255).astype(np.uint8)

    def extract(self, rgb: Array, shape: tuple[int, int]) -> Array:
        if rgb.shape[0] < shape[0] * 0.6:  # resized: scale back, as its README suggests
            rgb = _to_size(rgb, shape)
        dec = self.dec_cls("bits", 64)
        return np.array(dec.decode(np.ascontiguousarray(rgb[..., ::-1]), "dwtDct"), dtype=np.uint8)


class BlindWatermark(Method):
    name = "blind-watermark"

    def __init__(self) -> None:
        from blind_watermark import WaterMark, bw_notes

        bw_notes.close()
        self.cls = WaterMark

    def embed(self, rgb: Array, bits: Array) -> Array:
        bwm = self.cls(password_img=1, password_wm=1, processes=1)
        bwm.read_img(img=np.ascontiguousarray(rgb[..., ::-1]).astype(np.float32))
        bwm.read_wm([bool(b) for b in bits], mode="bit")
        bgr = bwm.embed()
        return np.clip(np.rint(bgr[..., ::-1]), 0, 255).astype(np.uint8)

    def extract(self, rgb: Array, shape: tuple[int, int]) -> Array:
        if rgb.shape[0] < shape[0] * 0.6:
            rgb = _to_size(rgb, shape)
        bwm = self.cls(password_img=1, password_wm=1, processes=1)
        out = bwm.extract(
            embed_img=np.ascontiguousarray(rgb[..., ::-1]).astype(np.float32), wm_shape=64, mode="bit"
        )
        return (np.asarray(out) > 0.5).astype(np.uint8)


def images(seeds: int, big_seeds: int) -> list[tuple[str, str, Array]]:
    out = [("synthetic 512²", f"s{s}", natural_image(512, 512, seed=100 + s)) for s in range(seeds)]
    out += [("synthetic 2048²", f"b{s}", natural_image(2048, 2048, seed=200 + s)) for s in range(big_seeds)]
    try:
        import sklearn

        d = Path(sklearn.__file__).parent / "datasets" / "images"
        out += [
            ("photos 640×427", p.stem, np.asarray(Image.open(p).convert("RGB")))
            for p in sorted(d.glob("*.jpg"))
        ]
    except ImportError:
        pass
    return out


def run(methods: list[Method], imgs: list[tuple[str, str, Array]]) -> dict:
    rng = np.random.default_rng(7)
    res: dict = {}
    for group, name, img in imgs:
        bits = rng.integers(0, 2, 64).astype(np.uint8)
        for m in methods:
            r = res.setdefault((group, m.name), {"psnr": [], "embed": [], "extract": [], "acc": {}})
            t = time.perf_counter()
            try:
                out = m.embed(img, bits)
            except Exception as e:  # a reference failing on an image is a result, not a crash
                print(f"  {m.name} embed failed on {name}: {e}", file=sys.stderr)
                continue
            r["embed"].append(time.perf_counter() - t)
            r["psnr"].append(wm.psnr(img, out))
            for an, att in ATTACKS.items():
                a = att(out)
                t = time.perf_counter()
                try:
                    got = m.extract(a, img.shape[:2])
                    acc = float((got[:64] == bits).mean())
                except Exception as e:
                    print(
                        f"  {m.name} extract failed on {name}/{an}: {type(e).__name__}: {e}", file=sys.stderr
                    )
                    acc = float("nan")
                if an == "none":
                    r["extract"].append(time.perf_counter() - t)
                r["acc"].setdefault(an, []).append(acc)
            print(f"  {group} {name} {m.name}: " + " ".join(f"{k}={v[-1]:.2f}" for k, v in r["acc"].items()),
                  file=sys.stderr, flush=True)  # fmt: skip
    return res


def report(res: dict, methods: list[Method], groups: list[str]) -> str:
    lines = []
    for g in groups:
        n = len(next(v for (gg, _), v in res.items() if gg == g)["psnr"])
        lines += [f"\n**{g}** ({n} image{'s' if n > 1 else ''}; bit accuracy, mean (min))\n"]
        lines.append("| | " + " | ".join(m.name for m in methods) + " |")
        lines.append("|---|" + "---|" * len(methods))
        for an in ATTACKS:
            cells = []
            for m in methods:
                v = [x for x in res[(g, m.name)]["acc"].get(an, []) if x == x]
                cells.append(f"{statistics.mean(v):.3f} ({min(v):.2f})" if v else "failed")
            lines.append(f"| {an} | " + " | ".join(cells) + " |")
        for key, label, fmt in (("psnr", "PSNR dB", "{:.1f}"), ("embed", "embed s", "{:.3f}"),
                                ("extract", "extract s", "{:.3f}")):  # fmt: skip
            cells = [fmt.format(statistics.median(res[(g, m.name)][key])) if res[(g, m.name)][key] else "–"
                     for m in methods]  # fmt: skip
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4, help="synthetic 512² images")
    ap.add_argument("--big-seeds", type=int, default=1, help="synthetic 2048² images")
    ap.add_argument("--only-hegui", action="store_true")
    a = ap.parse_args()
    methods: list[Method] = [Hegui()]
    if not a.only_hegui:
        methods += [InvisibleWatermark(), BlindWatermark()]
    imgs = images(a.seeds, a.big_seeds)
    res = run(methods, imgs)
    groups = list(dict.fromkeys(g for g, _, _ in imgs))
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    print(report(res, methods, groups))


if __name__ == "__main__":
    main()
