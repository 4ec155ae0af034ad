"""Visible and audible labels, measured on the output: position, text height, contrast, duration,
rhythm."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hegui.labels.aigc import LabelError
from hegui.labels.config import LabelsConfig
from hegui.labels.explicit import audio, image, video
from hegui.labels.formats.ffmedia import ffmpeg_exe

from .conftest import make_sample, png_bytes


def _measure(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """Where the label went and how high its glyphs are, found from the output pixels alone."""
    diff = np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 0
    ys, xs = np.nonzero(diff)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    region = after[box[1] : box[3], box[0] : box[2]].astype(float).mean(axis=2)
    text = region > 200  # white glyphs; the box behind them is darker on any background
    rows = np.nonzero(text.any(axis=1))[0]
    return {
        "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3],
        "text_h": rows.max() - rows.min() + 1,
        "contrast": region[text].mean() - region[~text].mean(),
    }  # fmt: skip


@pytest.mark.parametrize("shade", [245, 10])
@pytest.mark.parametrize("size", [(800, 500), (300, 1200), (1920, 1080)])
@pytest.mark.parametrize("corner", ["bottom-right", "top-left"])
def test_image_label_size_position_contrast(shade: int, size: tuple[int, int], corner: str) -> None:
    cfg = LabelsConfig(position=corner)
    im = Image.new("RGB", size, (shade,) * 3)
    out = Image.open(io.BytesIO(image.label_image_bytes(png_bytes(im), cfg))).convert("RGB")
    m = _measure(np.asarray(im), np.asarray(out))
    short = min(size)
    assert m["text_h"] >= 0.05 * short  # GB 45438 §5.2
    assert m["contrast"] > 100  # legible on light and on dark images
    margin = 0.03 * short + 1
    if corner == "bottom-right":
        assert size[0] - m["x1"] <= margin and size[1] - m["y1"] <= margin
    else:
        assert m["x0"] <= margin and m["y0"] <= margin


def test_image_label_jpeg_and_animated_gif() -> None:
    cfg = LabelsConfig()
    im = Image.new("RGB", (400, 300), (200, 30, 30))
    b = io.BytesIO()
    im.save(b, "JPEG", quality=95)
    out = Image.open(io.BytesIO(image.label_image_bytes(b.getvalue(), cfg)))
    assert out.format == "JPEG" and out.size == (400, 300)
    m = _measure(np.asarray(Image.open(b).convert("RGB")), np.asarray(out.convert("RGB")))
    assert m["text_h"] >= 15
    frames = [Image.new("RGB", (200, 120), c) for c in ((0, 0, 0), (255, 255, 255), (0, 128, 0))]
    g = io.BytesIO()
    frames[0].save(g, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = Image.open(io.BytesIO(image.label_image_bytes(g.getvalue(), cfg)))
    assert out.n_frames == 3
    for i in range(3):
        out.seek(i)
        corner = np.asarray(out.convert("RGB"))[-20:, -40:]
        assert (corner.mean(axis=2) > 200).any() and (corner.mean(axis=2) < 120).any(), i


def test_image_label_rejects_bad_input() -> None:
    cfg = LabelsConfig(max_pixels=10_000)
    with pytest.raises(LabelError, match="max_pixels"):
        image.label_image_bytes(png_bytes(Image.new("RGB", (200, 200))), cfg)
    with pytest.raises(LabelError, match="not a decodable image"):
        image.label_image_bytes(b"not an image at all", LabelsConfig())
    with pytest.raises(LabelError, match="too small"):
        image.label_image_bytes(png_bytes(Image.new("RGB", (30, 30))), LabelsConfig())
    data = png_bytes(Image.new("RGB", (300, 300), (9, 9, 9)))
    with pytest.raises(LabelError, match="truncated or corrupt"):
        image.label_image_bytes(data[: len(data) // 2], LabelsConfig())


def _frame(path: Path, t: float) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-ss", str(t), "-i", str(path), "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def test_video_label_on_start_frames_for_two_seconds(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=white:size=320x240:rate=10:duration=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src)], check=True, timeout=60)  # fmt: skip
    dst = tmp_path / "out.mp4"
    info = video.label_video_file(src, dst, LabelsConfig())
    assert info["seconds"] >= 2.0
    base = _frame(src, 0.5)
    for t in (0.0, 0.5, 1.8):
        m = _measure(base, _frame(dst, t))
        assert m["text_h"] >= 0.05 * 240 - 1, t  # minus 1 px for H.264 edge blur
        assert 320 - m["x1"] <= 10 and 240 - m["y1"] <= 10
    late = _frame(dst, 2.5).astype(int)
    assert np.abs(late - base.astype(int)).max() < 40  # label gone after the start frames


def test_video_label_throughout_and_webm(tmp_path: Path) -> None:
    src = make_sample("v.webm", tmp_path)
    dst = tmp_path / "out.webm"
    video.label_video_file(src, dst, LabelsConfig(video_throughout=True))
    a, b = _frame(src, 2.6), _frame(dst, 2.6)
    assert np.abs(a.astype(int) - b.astype(int))[-30:, -60:].max() > 100


def test_video_rejects_non_video(tmp_path: Path) -> None:
    src = make_sample("a.wav", tmp_path)
    with pytest.raises(LabelError, match="no video stream"):
        video.label_video_file(src, tmp_path / "x.mp4", LabelsConfig())


def test_audio_cue_shape() -> None:
    sr = 16000
    c = audio.cue(sr)
    segs = audio.on_segments(c, sr)
    assert [round(d, 1) for _, d in segs] == [0.1, 0.3, 0.1, 0.1]  # 短长短短
    assert audio.detect_cue(c, sr)
    # The reverse rhythm (长短短短, Morse "B") or a plain tone is not taken for the label.
    rev = np.concatenate([c[int(0.2 * sr) : int(0.5 * sr)], np.zeros(int(0.1 * sr)), c[: int(0.1 * sr)],
                          np.zeros(int(0.1 * sr)), c[: int(0.1 * sr)], np.zeros(int(0.1 * sr)), c[: int(0.1 * sr)]])  # fmt: skip
    assert not audio.detect_cue(rev.astype(np.float32), sr)
    assert not audio.detect_cue(np.sin(np.arange(sr) / 3).astype(np.float32), sr)


@pytest.mark.parametrize("name", ["a.wav", "a.mp3", "a.flac", "a.opus"])
def test_audio_label_detectable_at_start(name: str, tmp_path: Path) -> None:
    src = make_sample(name, tmp_path)
    dst = tmp_path / ("out" + src.suffix)
    audio.label_audio_file(src, dst)
    assert audio.detect_cue(audio.decode_start(dst), 16000)
    assert not audio.detect_cue(audio.decode_start(src), 16000)


def test_audio_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="not supported"):
        audio.label_audio_file(make_sample("a.wav", tmp_path), tmp_path / "x.xyz")
