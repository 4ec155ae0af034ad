"""Visible label on images (GB 45438 §5.2): text naming AI and generation, on an edge or corner,
text height ≥ 5 % of the shortest side.

The text is white on a translucent dark box: the box gives contrast on light images, the white
glyphs on dark ones, so one style is legible on both. "Text height" is measured as the height of
the inked glyphs (what a reader of the standard would measure on the output), not the font's
nominal size, and the font size is raised until it reaches the target.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageSequence

from hegui.labels.aigc import LabelError
from hegui.labels.config import LabelsConfig

FONT = Path(__file__).resolve().parents[1] / "fonts" / "NotoSansCJKsc-Bold-labels.otf"
_SYSTEM_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
BOX_RGBA = (0, 0, 0, 150)
TEXT_RGBA = (255, 255, 255, 255)
MIN_TEXT_PX = 10  # below this no text is legible, whatever the percentage says


def font_path() -> Path:
    """The shipped subset, or Debian's full Noto CJK if the subset was not built."""
    for p in (FONT, *_SYSTEM_FONTS):
        if p.exists():
            return p
    raise LabelError("no CJK font for visible labels: run scripts/build_label_font.py (needs fonts-noto-cjk)")


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    p = font_path()
    kw = {"index": 2} if p.suffix == ".ttc" else {}  # index 2 = SC in Debian's collection
    return ImageFont.truetype(str(p), size, **kw)


def _check_glyphs(text: str, font: ImageFont.FreeTypeFont) -> None:
    missing = [c for c in text if not c.isspace() and font.getmask(c).getbbox() is None]
    if missing:
        raise LabelError(
            f"the label font has no glyph for {''.join(missing)!r}; add it to scripts/build_label_font.py"
        )


def target_height(width: int, height: int, ratio: float) -> int:
    return max(MIN_TEXT_PX, math.ceil(ratio * min(width, height)))


def badge(text: str, text_px: int) -> Image.Image:
    """The label as an RGBA image whose inked text is at least ``text_px`` pixels high."""
    size = max(4, int(text_px * 1.25))
    for _ in range(20):
        f = _font(size)
        left, t, r, b = f.getbbox(text)
        if b - t >= text_px:
            break
        size = max(size + 1, math.ceil(size * text_px / max(1, b - t)))
    else:  # pragma: no cover - converges in a few steps for any real font
        raise LabelError("could not size the label font")
    _check_glyphs(text, f)
    pad = max(2, round(0.3 * text_px))
    im = Image.new("RGBA", (r - left + 2 * pad, b - t + 2 * pad), BOX_RGBA)
    ImageDraw.Draw(im).text((pad - left, pad - t), text, font=f, fill=TEXT_RGBA)
    return im


def position(canvas: tuple[int, int], size: tuple[int, int], corner: str) -> tuple[int, int]:
    """Top-left of the badge in ``corner``, inset by 2 % of the shortest side."""
    w, h = canvas
    bw, bh = size
    if bw > w or bh > h:
        raise LabelError(f"image {w}×{h} is too small for a legible label ({bw}×{bh} px)")
    m = min(round(0.02 * min(w, h)), w - bw, h - bh)
    x = m if corner.endswith("left") else w - bw - m
    y = m if corner.startswith("top") else h - bh - m
    return x, y


def label_frame(im: Image.Image, cfg: LabelsConfig) -> Image.Image:
    """A copy of ``im`` with the label drawn on it (mode preserved where Pillow allows)."""
    b = badge(cfg.label_text, target_height(im.width, im.height, cfg.text_height))
    x, y = position(im.size, b.size, cfg.position)
    mode = im.mode
    base = im.convert("RGBA")
    base.alpha_composite(b, (x, y))
    if mode in ("RGBA", "LA", "PA"):
        return base if mode == "RGBA" else base.convert(mode)
    if mode == "CMYK":  # keep the colour space the embedded ICC profile describes
        return base.convert("RGB").convert("CMYK")
    return base.convert("RGB") if mode not in ("L",) else base.convert("L")


def label_image_bytes(data: bytes, cfg: LabelsConfig) -> bytes:
    """Decode, draw the label, re-encode in the same format (all frames of an animation)."""
    try:
        im = Image.open(io.BytesIO(data))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise LabelError(f"not a decodable image: {e}") from None
    if im.width * im.height > cfg.max_pixels:
        raise LabelError(f"image has {im.width * im.height} pixels, over labels.max_pixels={cfg.max_pixels}")
    fmt = im.format or "PNG"
    info = {k: im.info[k] for k in ("icc_profile", "exif", "dpi") if k in im.info}
    try:
        frames = [label_frame(fr.copy(), cfg) for fr in ImageSequence.Iterator(im)]
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise LabelError(f"image data cannot be decoded (truncated or corrupt?): {e}") from None
    out = io.BytesIO()
    opts: dict[str, object] = dict(info)
    if fmt == "JPEG":
        opts.update(quality=95, subsampling=0)
        frames = [f.convert("RGB") for f in frames]
    elif fmt == "WEBP":
        opts.update(quality=95, lossless=bool(im.info.get("lossless")))
    elif fmt == "GIF":
        opts.update(loop=im.info.get("loop", 0), duration=im.info.get("duration", 100))
        frames = [f.convert("RGB").quantize(256) if f.mode not in ("P", "L") else f for f in frames]
    if len(frames) > 1:
        opts.update(save_all=True, append_images=frames[1:])
    frames[0].save(out, fmt, **opts)
    return out.getvalue()
