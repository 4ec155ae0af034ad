"""Sample files made by the real tools (Pillow, ffmpeg, python-docx, openpyxl), once per session."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hegui.config import Settings
from hegui.labels.formats.ffmedia import ffmpeg_exe
from hegui.labels.implicit import Labeller

# name -> file name; the handler each must be recognised as is in FORMAT_OF.
FORMAT_OF = {
    "a.png": "png", "a.jpg": "jpeg", "a.webp": "webp", "a.gif": "gif", "a.tif": "tiff",
    "a.wav": "wav", "a.mp3": "mp3", "a.flac": "flac", "a.ogg": "ogg", "a.opus": "ogg", "a.m4a": "mp4",
    "v.mp4": "mp4", "v.mov": "mp4", "v.mkv": "matroska", "v.webm": "matroska",
    "d.pdf": "pdf", "d.docx": "docx", "d.xlsx": "xlsx", "d.pptx": "pptx", "d.md": "markdown", "d.txt": "text",
}  # fmt: skip


def _image(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype("uint8"))


def _ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True, capture_output=True, timeout=120)


def make_sample(name: str, d: Path, seed: int = 0) -> Path:
    """Create sample ``name`` in ``d``; ``seed`` varies the content (for content-tampering tests)."""
    p = d / name
    ext = p.suffix[1:]
    freq = str(440 + 110 * seed)
    if ext in ("png", "jpg", "webp", "gif", "tif"):
        fmt = {"jpg": "JPEG", "tif": "TIFF"}.get(ext, ext.upper())
        _image(seed).save(p, fmt)
    elif name.startswith("a."):
        codec = {"wav": [], "mp3": [], "flac": [], "ogg": ["-c:a", "libvorbis"], "opus": ["-c:a", "libopus"],
                 "m4a": ["-c:a", "aac"]}[ext]  # fmt: skip
        _ff("-f", "lavfi", "-i", f"sine=f={freq}:duration=1", *codec, str(p))
    elif name.startswith("v."):
        vc = (
            ["-c:v", "libvpx-vp9", "-c:a", "libopus"]
            if ext == "webm"
            else ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]
        )
        _ff("-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration=3:decimals={seed}",
            "-f", "lavfi", "-i", f"sine=f={freq}:duration=3", *vc, "-shortest", str(p))  # fmt: skip
    elif ext == "pdf":
        _image(seed).save(p, "PDF")
    elif ext == "docx":
        import docx

        doc = docx.Document()
        doc.add_paragraph(f"生成的文本 {seed}")
        doc.save(p)
    elif ext == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        wb.active["A1"] = f"cell {seed}"
        wb.save(p)
    elif ext == "pptx":
        import pptx

        prs = pptx.Presentation()
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        slide.shapes.title.text = f"幻灯片 {seed}"
        prs.save(p)
    elif ext == "md":
        p.write_text(f"---\ntitle: t{seed}\n---\n# 标题\n\n正文 {seed}\n", encoding="utf-8")
    elif ext == "txt":
        p.write_text(f"第一行 {seed}\nsecond line\n", encoding="utf-8")
    else:  # pragma: no cover
        raise ValueError(name)
    return p


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("samples")
    for name in FORMAT_OF:
        make_sample(name, d)
    return d


@pytest.fixture(scope="session")
def other_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same formats with different content."""
    d = tmp_path_factory.mktemp("other")
    for name in FORMAT_OF:
        make_sample(name, d, seed=1)
    return d


@pytest.fixture(scope="session")
def labeller(tmp_path_factory: pytest.TempPathFactory) -> Labeller:
    var = tmp_path_factory.mktemp("var")
    return Labeller.from_settings(
        Settings(var_dir=var, labels={"provider_code": "001TEST0000000000000000000001"})
    )


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def png_bytes(im: Image.Image) -> bytes:
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()
