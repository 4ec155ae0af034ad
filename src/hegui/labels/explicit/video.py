"""Visible label on video (GB 45438 §5.4): on the start frames for at least 2 s (optionally the
whole video), text height ≥ 5 % of the shortest side.

The label is the same badge as for images (drawn with Pillow, so no font setup inside ffmpeg) and
is composited with ffmpeg's ``overlay`` filter; video is re-encoded (H.264, or VP9 for WebM), audio
is copied.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hegui.labels.aigc import LabelError
from hegui.labels.config import LabelsConfig
from hegui.labels.explicit.image import badge, position, target_height
from hegui.labels.formats.ffmedia import ffmpeg_exe, run_ffmpeg

_VIDEO = re.compile(r"Stream #\S+.*?: Video: .*?(\d{2,5})x(\d{2,5})")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def probe(path: Path) -> tuple[int, int, float | None]:
    """(width, height, duration in s or None) of the first video stream."""
    import subprocess

    p = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, timeout=60
    )
    err = p.stderr.decode("utf-8", "replace")
    m = _VIDEO.search(err)
    if not m:
        raise LabelError("no video stream found (not a video, or a truncated file)")
    d = _DURATION.search(err)
    dur = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3)) if d else None
    return int(m.group(1)), int(m.group(2)), dur


def label_video_file(src: Path, dst: Path, cfg: LabelsConfig) -> dict[str, float | int]:
    """Write ``src`` with the visible label to ``dst``; returns what was drawn (for tests/reports)."""
    w, h, dur = probe(src)
    if w * h > cfg.max_pixels:
        raise LabelError(f"video frame {w}×{h} is over labels.max_pixels")
    text_px = target_height(w, h, cfg.text_height)
    b = badge(cfg.label_text, text_px)
    x, y = position((w, h), b.size, cfg.position)
    enable = "" if cfg.video_throughout else f":enable='lt(t,{cfg.video_seconds:g})'"
    webm = dst.suffix.lower() == ".webm"
    vcodec = (
        ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "32", "-row-mt", "1"]
        if webm
        else ["-c:v", "libx264", "-crf", "18", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    )
    with tempfile.TemporaryDirectory(prefix="hegui-video-") as tmp:
        png = Path(tmp) / "label.png"
        b.save(png)
        run_ffmpeg([
            "-i", str(src), "-i", str(png),
            "-filter_complex", f"[0:v][1:v]overlay={x}:{y}{enable}[v]",
            "-map", "[v]", "-map", "0:a?", *vcodec, "-c:a", "copy", "-y", str(dst),
        ])  # fmt: skip
    return {"x": x, "y": y, "width": b.width, "height": b.height, "text_px": text_px,
            "seconds": (dur or 0.0) if cfg.video_throughout else cfg.video_seconds}  # fmt: skip
