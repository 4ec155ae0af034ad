"""Finding hegui's visible badge in images: labelled vs unlabelled, light and dark, after JPEG 70."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from hegui.cli import app
from hegui.labels.config import LabelsConfig
from hegui.labels.explicit.detect import THRESHOLD, _inked_height, detect_badge
from hegui.labels.explicit.image import _font, label_frame, target_height
from hegui.labels.testimages import natural_image


def _jpeg70(im: Image.Image) -> bytes:
    b = io.BytesIO()
    im.convert("RGB").save(b, "JPEG", quality=70)
    return b.getvalue()


def _background(kind: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    if kind == "natural":
        return Image.fromarray(natural_image(*size, seed=seed))
    return Image.new("RGB", size, {"light": (245, 245, 240), "dark": (12, 14, 20)}[kind])


@pytest.mark.parametrize(
    ("kind", "size", "corner", "ratio"),
    [
        ("natural", (640, 480), "bottom-right", 0.06),
        ("light", (480, 640), "top-left", 0.05),
        ("dark", (512, 512), "bottom-left", 0.08),
        ("natural", (1600, 900), "top-right", 0.05),
        ("light", (300, 200), "bottom-right", 0.08),
    ],
)
def test_labelled_image_found_after_jpeg70(
    kind: str, size: tuple[int, int], corner: str, ratio: float
) -> None:
    cfg = LabelsConfig(position=corner, text_height=ratio)
    found = detect_badge(_jpeg70(label_frame(_background(kind, size), cfg)))
    assert found["found"] and found["confidence"] >= THRESHOLD, found
    assert found["position"] == corner
    # The badge's glyphs are at least ``ratio`` high (badge() rounds the font size up).
    inked = _inked_height("AI生成", target_height(*size, ratio)) / min(size)
    assert found["height_fraction"] >= 0.05
    assert abs(found["height_fraction"] - inked) <= 0.01


@pytest.mark.parametrize("kind", ["natural", "light", "dark"])
def test_unlabelled_image_not_found(kind: str) -> None:
    found = detect_badge(_jpeg70(_background(kind, (640, 480), seed=3)))
    assert not found["found"] and found["position"] is None and found["confidence"] < THRESHOLD


def test_other_text_in_a_dark_box_is_not_the_badge() -> None:
    im = _background("natural", (640, 480), seed=5)
    d = ImageDraw.Draw(im)
    d.rectangle([380, 410, 630, 470], fill=(30, 30, 30))
    d.text((390, 415), "Sample 2026", font=_font(34), fill="white")
    assert not detect_badge(_jpeg70(im))["found"]


def test_configured_text_is_searched() -> None:
    cfg = LabelsConfig(label_text="人工智能生成", position="bottom-left")
    im = label_frame(_background("natural", (640, 480), seed=7), cfg)
    assert detect_badge(_jpeg70(im), "人工智能生成")["found"]


def test_verify_explicit_reports_visible_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEGUI_LABELS__PROVIDER_CODE", "001DETECT")
    monkeypatch.delenv("HEGUI_CONFIG", raising=False)
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(natural_image(480, 360, seed=1)).save(src / "a.jpg", quality=90)
    runner = CliRunner()
    r = runner.invoke(app, ["label", "apply", str(src / "a.jpg"), "-o", str(tmp_path / "out"), "--explicit"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", "--json", "--explicit", "--no-watermark",
                            str(tmp_path / "out" / "a.jpg"), str(src / "a.jpg")])  # fmt: skip
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    labelled, plain = rows
    assert labelled["explicit"]["image_label"]["found"] is True
    assert labelled["explicit"]["image_label"]["position"] == "bottom-right"
    assert labelled["conforms"]
    assert plain["explicit"]["image_label"]["found"] is False
    assert any("no visible AI label" in w for w in plain["warnings"])
    r = runner.invoke(app, ["verify", "--explicit", "--no-watermark", str(tmp_path / "out" / "a.jpg")])
    assert "visible label: bottom-right" in r.stdout
