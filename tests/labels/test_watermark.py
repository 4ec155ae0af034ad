"""Invisible watermark: round trip, each attack at a moderate level against the issue's targets,
wrong key / no watermark, limits and bad input. Small synthetic natural-looking images keep it fast;
bench/watermark.py measures the full matrix at 512² and 2048²."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hegui.labels import watermark as wm
from hegui.labels.aigc import LabelError
from hegui.labels.testimages import natural_image

PAYLOAD = wm.payload_for("0123456789abcdef0123456789abcdef")
REF = np.unpackbits(np.frombuffer(PAYLOAD, np.uint8))


def acc(e: wm.Extracted) -> float:
    return float((e.bits() == REF).mean())


def jpeg(a: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=q)
    return np.asarray(Image.open(b).convert("RGB"))


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray]:
    img = natural_image(320, 288, seed=11)
    return img, wm.embed_array(img, PAYLOAD)


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    return wm.embed_array(natural_image(512, 512, seed=12), PAYLOAD)


def test_round_trip_and_psnr(small: tuple[np.ndarray, np.ndarray]) -> None:
    img, out = small
    assert wm.psnr(img, out) >= 40.0
    e = wm.extract_array(out)
    assert acc(e) == 1.0 and e.crc_ok and e.found and e.confidence == 1.0
    assert e.payload == PAYLOAD


def test_jpeg_50(small: tuple[np.ndarray, np.ndarray]) -> None:
    assert acc(wm.extract_array(jpeg(small[1], 50))) >= 0.99


def test_resize_half(big: np.ndarray) -> None:
    a = np.asarray(Image.fromarray(big).resize((256, 256), Image.Resampling.BICUBIC))
    assert acc(wm.extract_array(a)) >= 0.95


def test_crop_10_percent(big: np.ndarray) -> None:
    # 5 % off each edge, at an offset that is not a multiple of anything the embedder used
    e = wm.extract_array(big[27:-23, 21:-29])
    assert acc(e) >= 0.95 and e.scale > 1.05  # the lattice was found larger, as it is


def test_rotation_2_degrees(small: tuple[np.ndarray, np.ndarray]) -> None:
    a = np.asarray(Image.fromarray(small[1]).rotate(2, resample=Image.Resampling.BICUBIC))
    e = wm.extract_array(a)
    assert acc(e) >= 0.95 and abs(abs(e.angle) - 2) < 0.3


@pytest.mark.parametrize("factor", [0.8, 1.2])
def test_brightness(small: tuple[np.ndarray, np.ndarray], factor: float) -> None:
    a = np.clip(small[1].astype(float) * factor, 0, 255).astype(np.uint8)
    assert acc(wm.extract_array(a)) >= 0.99


def test_no_watermark_and_wrong_key_give_low_confidence(small: tuple[np.ndarray, np.ndarray]) -> None:
    for e in (wm.extract_array(small[0]), wm.extract_array(small[1], key="someone-else")):
        assert e.confidence < 0.5 and not e.found
        assert 0.2 < acc(e) < 0.8  # chance level, not the payload


def test_key_changes_the_pattern(small: tuple[np.ndarray, np.ndarray]) -> None:
    other = wm.embed_array(small[0], PAYLOAD, key="private")
    assert wm.extract_array(other, key="private").found
    assert not wm.extract_array(other).found


def test_match_by_hamming_distance() -> None:
    flipped = bytes([PAYLOAD[0] ^ 11, *list(PAYLOAD[1:])])
    assert wm.matches(flipped, PAYLOAD) and wm.hamming(flipped, PAYLOAD) == 3
    assert not wm.matches(wm.payload_for("other"), PAYLOAD)


def test_encoded_round_trip_keeps_format_and_alpha() -> None:
    rgba = Image.fromarray(natural_image(288, 256, seed=3)).convert("RGBA")
    rgba.putalpha(200)
    b = io.BytesIO()
    rgba.save(b, "PNG")
    out = wm.embed(b.getvalue(), PAYLOAD)
    im = Image.open(io.BytesIO(out))
    assert im.format == "PNG" and im.mode == "RGBA" and im.getchannel("A").getextrema() == (200, 200)
    assert wm.extract(out).payload == PAYLOAD


def test_limits_and_bad_input() -> None:
    b = io.BytesIO()
    Image.fromarray(natural_image(300, 300, seed=1)).save(b, "PNG")
    data = b.getvalue()
    with pytest.raises(LabelError, match="max_pixels"):
        wm.embed(data, PAYLOAD, max_pixels=300 * 300 - 1)
    with pytest.raises(LabelError, match="max_pixels"):
        wm.extract(data, max_pixels=1000)
    with pytest.raises(LabelError, match="not a decodable image"):
        wm.embed(b"GIF89a not really", PAYLOAD)
    with pytest.raises(LabelError, match="truncated or corrupt"):
        wm.extract(data[: len(data) // 2])
    with pytest.raises(LabelError, match="at least 256"):
        wm.embed_array(natural_image(200, 300), PAYLOAD)
    with pytest.raises(LabelError, match="8 bytes"):
        wm.embed_array(natural_image(300, 300), b"short")
    with pytest.raises(LabelError, match="too small"):
        wm.extract_array(np.zeros((40, 40, 3), np.uint8))


def test_cli_apply_watermark_and_verify_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from hegui.cli import app

    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    src = tmp_path / "in.jpg"
    Image.fromarray(natural_image(320, 256, seed=5)).save(src, quality=90)
    r = CliRunner().invoke(app, ["label", "apply", str(src), "--out", str(tmp_path / "o"), "--watermark"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "o" / "in.jpg"
    r = CliRunner().invoke(app, ["verify", str(out), "--json"])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout.strip().splitlines()[0])
    assert {"file", "labels", "conforms", "problems"} <= obj.keys() and obj["conforms"]
    w = obj["watermark"]
    assert w["found"] and w["matches_produce_id"]
    assert w["payload"] == wm.payload_for(obj["labels"][0]["fields"]["ProduceID"]).hex()
    # The label copied onto another watermarked image: the ProduceIDs disagree → does not conform.
    other = tmp_path / "o2"
    r = CliRunner().invoke(app, ["label", "apply", str(src), "--out", str(other), "--watermark"])
    from hegui.labels.formats import detect

    data = (other / "in.jpg").read_bytes()
    forged = tmp_path / "forged.jpg"
    forged.write_bytes(detect(data, "x.jpg").write(data, obj["labels"][0]["raw"]))
    r = CliRunner().invoke(app, ["verify", str(forged)])
    assert r.exit_code == 1 and "different ProduceID" in r.stdout and "DOES NOT match" in r.stdout
    # The original (no label, no watermark) fails, and says the watermark is absent.
    r = CliRunner().invoke(app, ["verify", str(src), "--json"])
    obj = json.loads(r.stdout.strip().splitlines()[0])
    assert r.exit_code == 1 and not obj["conforms"] and not obj["watermark"]["found"]
