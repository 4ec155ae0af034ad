"""Labelling throughput per format: implicit label apply (sign + write) and verify, files/s; the
explicit labels; the three signature algorithms.

    .venv/bin/python bench/labels.py [--seconds 2]

Sample files are generated with the real tools (Pillow, ffmpeg, python-docx, openpyxl) at realistic
sizes: 1024² images, 30 s audio, 10 s 640×360 video. Each measure repeats for about --seconds and
reports the median per-file time as files/s. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from hegui.config import Settings
from hegui.labels import integrity
from hegui.labels.aigc import first_write
from hegui.labels.explicit import audio, image, video
from hegui.labels.formats.ffmedia import ffmpeg_exe
from hegui.labels.implicit import Labeller, verify


def _ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, timeout=300)


def make_files(d: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    # A smooth image with noise: compresses like a photo, not like random bytes.
    yy, xx = np.mgrid[0:1024, 0:1024]
    base = np.stack([(xx / 4) % 256, (yy / 4) % 256, ((xx + yy) / 8) % 256], axis=2)
    im = Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype("uint8"))
    files: dict[str, Path] = {}
    for name, fmt in (("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF"), ("tif", "TIFF")):
        files[name] = d / f"img.{name}"
        im.save(files[name], fmt)
    for ext, codec in (("wav", []), ("mp3", []), ("flac", []), ("ogg", ["-c:a", "libvorbis"]),
                       ("opus", ["-c:a", "libopus", "-ar", "48000"]), ("m4a", ["-c:a", "aac"])):  # fmt: skip
        files[ext] = d / f"audio.{ext}"
        _ff(
            "-f", "lavfi", "-i", "sine=f=440:duration=30", "-ac", "2", "-ar", "44100", *codec, str(files[ext])
        )
    for ext, vc in (("mp4", ["-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"]),
                    ("mkv", ["-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"]),
                    ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"])):  # fmt: skip
        files[ext] = d / f"video.{ext}"
        _ff("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=10", "-f", "lavfi", "-i",
            "sine=f=440:duration=10", "-pix_fmt", "yuv420p", *vc, "-shortest", str(files[ext]))  # fmt: skip
    files["pdf"] = d / "doc.pdf"
    im.resize((512, 512)).save(files["pdf"], "PDF")
    import docx
    import openpyxl

    doc = docx.Document()
    for i in range(200):
        doc.add_paragraph(f"第{i}段：生成式人工智能服务的文本内容。" * 5)
    files["docx"] = d / "doc.docx"
    doc.save(files["docx"])
    wb = openpyxl.Workbook()
    for r in range(1, 2001):
        wb.active.append([r, f"row {r}", r * 1.5])
    files["xlsx"] = d / "sheet.xlsx"
    wb.save(files["xlsx"])
    text = "生成式人工智能服务的文本内容，用于测试标识写入速度。\n" * 2000
    files["md"] = d / "doc.md"
    files["md"].write_text("# 标题\n\n" + text, encoding="utf-8")
    files["txt"] = d / "doc.txt"
    files["txt"].write_text(text, encoding="utf-8")
    return files


def timeit(fn: Callable[[], object], seconds: float) -> float:
    """Median seconds per call over about ``seconds`` (at least 3 calls)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        files = make_files(d)
        lab = Labeller.from_settings(Settings(var_dir=d / "var", labels={"provider_code": "001BENCH"}))
        print(f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
              f"signature {lab.signer.algorithm}\n")  # fmt: skip
        print("| format | file size | apply (label + sign + write) | verify |")
        print("|---|---|---|---|")
        for name, p in files.items():
            data = p.read_bytes()
            out, _ = lab.apply(data, p.name)
            t_apply = timeit(lambda data=data, p=p: lab.apply(data, p.name), args.seconds)
            t_verify = timeit(lambda out=out, p=p: verify(out, p.name, lab.signer), args.seconds)
            assert verify(out, p.name, lab.signer).conforms
            print(f"| {name} | {len(data) / 1e6:.2f} MB | {1 / t_apply:,.1f} files/s ({t_apply * 1e3:.1f} ms) "
                  f"| {1 / t_verify:,.1f} files/s ({t_verify * 1e3:.1f} ms) |")  # fmt: skip
        print("\n| explicit label | per file |")
        print("|---|---|")
        cfg = lab.config
        png = files["png"].read_bytes()
        jpg = files["jpg"].read_bytes()
        print(
            f"| image 1024², PNG re-encode | {timeit(lambda: image.label_image_bytes(png, cfg), args.seconds) * 1e3:.0f} ms |"
        )
        print(
            f"| image 1024², JPEG q95 re-encode | {timeit(lambda: image.label_image_bytes(jpg, cfg), args.seconds) * 1e3:.0f} ms |"
        )
        t = timeit(lambda: video.label_video_file(files["mp4"], d / "v_out.mp4", cfg), args.seconds)
        print(f"| video 10 s 640×360 H.264 (re-encode, veryfast) | {t * 1e3:.0f} ms |")
        t = timeit(lambda: audio.label_audio_file(files["mp3"], d / "a_out.mp3"), args.seconds)
        print(f"| audio 30 s MP3 (cue + re-encode) | {t * 1e3:.0f} ms |")
        t = timeit(lambda: audio.label_audio_file(files["wav"], d / "a_out.wav"), args.seconds)
        print(f"| audio 30 s WAV (cue) | {t * 1e3:.0f} ms |")
        print("\n| signature | sign | verify |")
        print("|---|---|---|")
        for alg in ("sm2", "ed25519", "hmac-sha256"):
            s = integrity.load_signer(alg, d / f"{alg}.key", b"bench")
            dg = integrity.content_digest([b"x"], alg)
            l0 = first_write("001BENCH")
            signed = integrity.sign_producer(l0, dg, s)
            ts = timeit(lambda s=s, l0=l0, dg=dg: integrity.sign_producer(l0, dg, s), args.seconds / 2)
            tv = timeit(
                lambda s=s, signed=signed, dg=dg, alg=alg: integrity.check(signed, {alg: dg}, s),
                args.seconds / 2,
            )
            print(f"| {alg} | {ts * 1e3:.2f} ms | {tv * 1e3:.2f} ms |")
        blob = io.BytesIO(np.random.default_rng(1).bytes(64 * 2**20)).getvalue()
        for alg in ("sm2", "ed25519"):
            t = timeit(lambda alg=alg: integrity.content_digest([blob], alg), args.seconds / 2)
            print(f"\ncontent digest {'SM3' if alg == 'sm2' else 'SHA-256'}: {64 / t:,.0f} MB/s")


if __name__ == "__main__":
    main()
