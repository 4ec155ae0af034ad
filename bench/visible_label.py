"""Visible-label detection (`hegui verify --explicit` on images) and C2PA manifest cost.

    .venv/bin/python bench/visible_label.py [--seeds 4]

Detection: hegui's badge drawn (labels.explicit.image) on synthetic natural images
(hegui.labels.testimages) and on flat light and dark backgrounds, four corners, text heights 5 %
and 8 %, several sizes, then saved as JPEG 70; the same images without the badge (and with other
white text on a dark box in a corner) are the negatives. Reports the detection rate, the false
positive rate, the confidence ranges and the time per image. C2PA: embed (sign) and read+validate
times for 1024² PNG and JPEG with a throwaway ES256 chain (skipped without hegui[c2pa]).
Prints Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from hegui.labels.config import LabelsConfig
from hegui.labels.explicit.detect import THRESHOLD, detect_badge
from hegui.labels.explicit.image import _font, label_frame
from hegui.labels.testimages import natural_image

SIZES = [(320, 240), (640, 480), (480, 800), (1024, 1024), (2048, 1536)]
CORNERS = ["bottom-right", "bottom-left", "top-right", "top-left"]


def _jpeg(im: Image.Image, q: int = 70) -> bytes:
    b = io.BytesIO()
    im.convert("RGB").save(b, "JPEG", quality=q)
    return b.getvalue()


def _bg(kind: str, size: tuple[int, int], seed: int) -> Image.Image:
    if kind == "natural":
        return Image.fromarray(natural_image(*size, seed=seed))
    return Image.new("RGB", size, (245, 245, 240) if kind == "light" else (12, 14, 20))


def detection(seeds: int) -> None:
    pos_conf: list[float] = []
    neg_conf: list[float] = []
    times: dict[tuple[int, int], list[float]] = {s: [] for s in SIZES}
    wrong_place = 0
    for seed in range(seeds):
        for size in SIZES:
            for kind in ("natural", "light", "dark"):
                bg = _bg(kind, size, seed)
                corner = CORNERS[(seed + SIZES.index(size)) % 4]
                for ratio in (0.05, 0.08):
                    data = _jpeg(label_frame(bg, LabelsConfig(position=corner, text_height=ratio)))
                    t = time.perf_counter()
                    r = detect_badge(data)
                    times[size].append(time.perf_counter() - t)
                    pos_conf.append(r["confidence"])
                    wrong_place += r["found"] and r["position"] != corner
                neg_conf.append(detect_badge(_jpeg(bg))["confidence"])
            im = _bg("natural", size, seed + 100)
            w, h = size
            d = ImageDraw.Draw(im)
            d.rectangle([w * 0.55, h * 0.85, w * 0.98, h * 0.98], fill=(30, 30, 30))
            d.text((w * 0.57, h * 0.86), ["Sample 2026", "生成式人工", "© studio"][seed % 3],
                   font=_font(max(10, int(0.07 * min(w, h)))), fill="white")  # fmt: skip
            neg_conf.append(detect_badge(_jpeg(im))["confidence"])
    tp = sum(c >= THRESHOLD for c in pos_conf)
    fp = sum(c >= THRESHOLD for c in neg_conf)
    print(f"threshold {THRESHOLD}; labelled images {len(pos_conf)}, unlabelled {len(neg_conf)}\n")
    print("| | rate | confidence min / median / max |")
    print("|---|---|---|")
    print(f"| badge found (labelled, JPEG 70) | {tp}/{len(pos_conf)} = {tp / len(pos_conf):.3f} | "
          f"{min(pos_conf):.3f} / {statistics.median(pos_conf):.3f} / {max(pos_conf):.3f} |")  # fmt: skip
    print(f"| false positive (unlabelled) | {fp}/{len(neg_conf)} = {fp / len(neg_conf):.3f} | "
          f"{min(neg_conf):.3f} / {statistics.median(neg_conf):.3f} / {max(neg_conf):.3f} |")  # fmt: skip
    print(f"\nfound in the wrong corner: {wrong_place}\n")
    print("| image | detect time (median, incl. JPEG decode) |")
    print("|---|---|")
    for s, ts in times.items():
        print(f"| {s[0]}×{s[1]} | {1000 * statistics.median(ts):.0f} ms |")


def c2pa_cost() -> None:
    try:
        import c2pa  # noqa: F401
    except ImportError:
        print("\nC2PA: c2pa-python not installed, skipped")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.labels.test_c2pa import make_chain

    from hegui.labels import c2pa_manifest
    from hegui.labels.aigc import first_write

    with tempfile.TemporaryDirectory() as tmp:
        chain, key, _ = make_chain(Path(tmp))
        cfg = LabelsConfig(c2pa_cert_path=chain, c2pa_key_path=key)
        label = first_write("001BENCH")
        print("\n| C2PA, 1024² image | embed (sign + write) | read + validate | bytes added |")
        print("|---|---|---|---|")
        for fmt, pil in (("png", "PNG"), ("jpeg", "JPEG")):
            b = io.BytesIO()
            Image.fromarray(natural_image(1024, 1024, seed=1)).save(b, pil)
            data = b.getvalue()
            te, tr = [], []
            for _ in range(5):
                t = time.perf_counter()
                out = c2pa_manifest.embed(data, fmt, label, cfg)
                te.append(time.perf_counter() - t)
                t = time.perf_counter()
                c2pa_manifest.read(out, fmt)
                tr.append(time.perf_counter() - t)
            print(f"| {fmt} | {1000 * statistics.median(te):.0f} ms | {1000 * statistics.median(tr):.0f} ms | "
                  f"{len(out) - len(data)} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    a = ap.parse_args()
    print(f"Python {platform.python_version()}, {platform.machine()}\n")
    detection(a.seeds)
    c2pa_cost()


if __name__ == "__main__":
    main()
