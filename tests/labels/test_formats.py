"""Implicit labels per format: write → read → verify, replacement, tampering, independent readers."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hegui.labels.aigc import AIGCLabel
from hegui.labels.formats import FormatError, detect
from hegui.labels.implicit import Labeller, verify

from .conftest import FORMAT_OF, have

NAMES = list(FORMAT_OF)


def _labelled(samples: Path, name: str, labeller: Labeller) -> tuple[bytes, AIGCLabel]:
    return labeller.apply((samples / name).read_bytes(), name)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_and_verify(name: str, samples: Path, labeller: Labeller) -> None:
    data = (samples / name).read_bytes()
    h = detect(data, name)
    assert h.name == FORMAT_OF[name]
    assert h.read(data) == []
    out, lab = labeller.apply(data, name)
    assert h.read(out) == [lab.to_json()]
    v = verify(out, name, labeller.signer)
    assert v.conforms, v.problems
    assert (v.signature, v.content) == ("valid", "match")
    assert v.labels[0].fields == lab.to_dict()


@pytest.mark.parametrize("name", NAMES)
def test_relabel_replaces(name: str, samples: Path, labeller: Labeller) -> None:
    out1, lab1 = _labelled(samples, name, labeller)
    out2, lab2 = labeller.apply(out1, name)
    h = detect(out2, name)
    assert h.read(out2) == [lab2.to_json()]
    assert lab1.ProduceID.encode() not in out2  # the old label is gone, not just hidden
    assert verify(out2, name, labeller.signer).conforms


@pytest.mark.parametrize("name", NAMES)
def test_label_transplanted_onto_other_content(
    name: str, samples: Path, other_samples: Path, labeller: Labeller
) -> None:
    _, lab = _labelled(samples, name, labeller)
    other = (other_samples / name).read_bytes()
    h = detect(other, name)
    forged = h.write(other, lab.to_json())
    v = verify(forged, name, labeller.signer)
    assert not v.conforms
    assert v.content == "changed"
    assert any("content changed" in p for p in v.problems)


@pytest.mark.parametrize("name", NAMES)
def test_edited_label_field(name: str, samples: Path, labeller: Labeller) -> None:
    out, lab = _labelled(samples, name, labeller)
    h = detect(out, name)
    edited = h.write(out, lab.with_fields(ContentProducer="001OTHERPROVIDER").to_json())
    v = verify(edited, name, labeller.signer)
    assert not v.conforms and v.signature == "invalid"


@pytest.mark.parametrize("name", ["a.png", "a.jpg", "a.wav", "d.txt"])
def test_second_label_is_reported(name: str, samples: Path, labeller: Labeller) -> None:
    from hegui.labels.formats import jpeg, png, riff

    out, lab = _labelled(samples, name, labeller)
    extra = lab.with_fields(ProduceID="second").to_json()
    if name == "a.png":
        idx = out.index(b"IDAT") - 4
        doubled = out[:idx] + png.chunk(b"tEXt", b"AIGC\0" + extra.encode()) + out[idx:]
    elif name == "a.jpg":
        # XMP label plus an EXIF UserComment label.
        doubled = out[:2] + jpeg._label_seg(extra, "exif") + out[2:]
    elif name == "a.wav":
        doubled = riff.build(b"WAVE", [*riff.chunks(out, b"WAVE"), (b"AIGC", extra.encode())])
    else:
        doubled = out + (extra + "\n").encode()
    v = verify(doubled, name, labeller.signer)
    assert len(v.labels) == 2
    assert not v.conforms
    assert any("only one" in p for p in v.problems)


def test_no_label_and_foreign_label(samples: Path) -> None:
    data = (samples / "a.png").read_bytes()
    v = verify(data, "a.png")
    assert not v.conforms and "no AIGC implicit label" in v.problems[0]
    # A label another provider wrote (Appendix F.4 style ReservedCode1): conforms, noted as unverifiable.
    h = detect(data, "a.png")
    lab = AIGCLabel("1", "001191110102EXAMPLE00010002", "abc", "e862483430d978cbf828b8b24296ef9328d843a0",
                    "001191110102EXAMPLE00010002", "abc", "")  # fmt: skip
    v = verify(h.write(data, lab.to_json()), "a.png")
    assert v.conforms and v.signature == "foreign" and v.warnings


@pytest.mark.parametrize("name", [n for n in NAMES if not n.endswith((".md", ".txt"))])
def test_truncated_files_give_clear_errors(name: str, samples: Path, labeller: Labeller) -> None:
    data = (samples / name).read_bytes()
    cut = data[: max(20, len(data) // 3)] if not name.endswith((".docx", ".xlsx")) else data[:-200]
    with pytest.raises(FormatError) as e:
        h = detect(cut, name)
        h.write(cut, "{}")
        b"".join(h.content(cut))
    assert "Traceback" not in str(e.value) and len(str(e.value)) > 10


def test_wrong_extension_is_detected_by_content(samples: Path, labeller: Labeller) -> None:
    data = (samples / "a.png").read_bytes()
    out, _ = labeller.apply(data, "picture.jpg")
    assert detect(out, "picture.jpg").name == "png"
    assert verify(out, "picture.jpg", labeller.signer).conforms


def test_unsupported_format() -> None:
    with pytest.raises(FormatError, match="unsupported"):
        detect(b"\x00\x01\x02\x03binary garbage\x00" * 10, "x.bin")


def test_png_text_and_jpeg_exif_styles(samples: Path, labeller: Labeller) -> None:
    png, _lab = labeller.apply((samples / "a.png").read_bytes(), "a.png", style="text")
    assert b"tEXtAIGC\0" in png and b"TC260:AIGC" not in png
    assert verify(png, "a.png", labeller.signer).conforms
    # Switching style replaces: still one label.
    png2, _ = labeller.apply(png, "a.png", style="xmp")
    assert b"tEXtAIGC\0" not in png2 and len(detect(png2).read(png2)) == 1
    jpg, _ = labeller.apply((samples / "a.jpg").read_bytes(), "a.jpg", style="exif")
    assert b"TC260" not in jpg
    assert verify(jpg, "a.jpg", labeller.signer).conforms


def test_propagator_relabel(samples: Path, labeller: Labeller) -> None:
    out, lab = _labelled(samples, "a.wav", labeller)
    out2, lab2 = labeller.apply(out, "a.wav", as_propagator=True)
    assert (lab2.ProduceID, lab2.ReservedCode1) == (lab.ProduceID, lab.ReservedCode1)
    assert lab2.PropagateID != lab.ProduceID and lab2.ReservedCode2
    v = verify(out2, "a.wav", labeller.signer)
    assert v.conforms, v.problems


# ---- independent readers -------------------------------------------------------------------

_EXIFTOOL = {
    "a.png": "XMP-TC260:Aigc", "a.jpg": "XMP-TC260:Aigc", "a.webp": "XMP-TC260:Aigc", "a.gif": "XMP-TC260:Aigc",
    "a.tif": "XMP-TC260:Aigc", "a.mp3": "ID3v2_4:UserDefinedText", "a.flac": "Vorbis:Aigc", "a.ogg": "Vorbis:Aigc",
    "a.opus": "Vorbis:Aigc", "a.m4a": "Keys:AIGC", "v.mp4": "Keys:AIGC", "v.mov": "Keys:AIGC",
    "v.mkv": "Matroska:Aigc", "v.webm": "Matroska:Aigc", "d.pdf": "PDF:AIGC", "d.docx": "XML:AIGC",
    "d.xlsx": "XML:AIGC", "d.pptx": "XML:AIGC", "a.wav": "RIFF:Unknown_AIGC",
}  # fmt: skip


@pytest.mark.skipif(not have("exiftool"), reason="exiftool (libimage-exiftool-perl) not installed")
def test_exiftool_reads_every_binary_format(samples: Path, labeller: Labeller, tmp_path: Path) -> None:
    files = []
    for name in _EXIFTOOL:
        out, lab = _labelled(samples, name, labeller)
        (tmp_path / name).write_bytes(out)
        files.append((name, lab))
    res = subprocess.run(
        ["exiftool", "-j", "-G1", "-u", "-b", *(str(tmp_path / n) for n, _ in files)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    by_file = {Path(r["SourceFile"]).name: r for r in json.loads(res.stdout)}
    for name, lab in files:
        tag = _EXIFTOOL[name]
        val = by_file[name].get(tag)
        assert val is not None, f"exiftool found no {tag} in {name}"
        val = val.removeprefix("(AIGC) ") if isinstance(val, str) else val
        if isinstance(val, str) and val.startswith("base64:"):
            import base64

            val = base64.b64decode(val[7:]).decode()
        if name == "a.wav":  # exiftool returns an odd-sized RIFF chunk with its pad byte
            val = val.rstrip("\0")
        assert AIGCLabel.from_json(val) == lab, name


@pytest.mark.skipif(not have("ffprobe"), reason="ffprobe not installed")
@pytest.mark.parametrize(
    "name", ["a.mp3", "a.flac", "a.ogg", "a.opus", "a.m4a", "v.mp4", "v.mov", "v.mkv", "v.webm"]
)
def test_ffprobe_reads_media_labels(name: str, samples: Path, labeller: Labeller, tmp_path: Path) -> None:
    out, lab = _labelled(samples, name, labeller)
    p = tmp_path / name
    p.write_bytes(out)
    res = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", str(p)],
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    data = json.loads(res.stdout)
    tags = [data.get("format", {}).get("tags", {})] + [s.get("tags", {}) for s in data.get("streams", [])]
    found = {v for t in tags for k, v in t.items() if k.upper() == "AIGC"}
    assert found == {lab.to_json()}


def test_openpyxl_and_pypdf_read_labels(samples: Path, labeller: Labeller, tmp_path: Path) -> None:
    import io

    import openpyxl
    from pypdf import PdfReader

    out, lab = _labelled(samples, "d.xlsx", labeller)
    wb = openpyxl.load_workbook(io.BytesIO(out))
    assert {p.name: p.value for p in wb.custom_doc_props}["AIGC"] == lab.to_json()
    out, lab = _labelled(samples, "d.pdf", labeller)
    assert PdfReader(io.BytesIO(out)).metadata["/AIGC"] == lab.to_json()


def test_outputs_still_decode(samples: Path, labeller: Labeller) -> None:
    """Labelled images open in Pillow with identical pixels; media stays playable for ffmpeg."""
    import io

    import numpy as np
    from PIL import Image

    for name in ("a.png", "a.jpg", "a.webp", "a.gif", "a.tif"):
        out, _ = _labelled(samples, name, labeller)
        a = np.asarray(Image.open(io.BytesIO(out)).convert("RGB"))
        b = np.asarray(Image.open(samples / name).convert("RGB"))
        assert np.array_equal(a, b), name
    import docx
    import pptx

    out, _ = _labelled(samples, "d.docx", labeller)
    assert docx.Document(io.BytesIO(out)).paragraphs[0].text == "生成的文本 0"
    out, _ = _labelled(samples, "d.pptx", labeller)
    assert pptx.Presentation(io.BytesIO(out)).slides[0].shapes.title.text == "幻灯片 0"
    if shutil.which("ffprobe"):
        for name in ("a.wav", "a.mp3", "a.flac"):
            out, _ = _labelled(samples, name, labeller)
            subprocess.run(
                ["ffprobe", "-v", "error", "-i", "-"], input=out, check=True, capture_output=True, timeout=60
            )


def test_xmp_update_keeps_other_properties(samples: Path, labeller: Labeller) -> None:
    """An image that already has XMP (a title from another tool) keeps it; only TC260:AIGC changes."""
    from hegui.labels.formats import png, xmp

    other = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:TC260="' + xmp.NS.encode() + b'"'
        b' TC260:AIGC="old-attribute-form"><dc:creator>someone</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>'
    )  # fmt: skip
    data = (samples / "a.png").read_bytes()
    idx = data.index(b"IDAT") - 4
    data = data[:idx] + png.chunk(b"iTXt", png.XMP_KEY + b"\0\0\0\0\0" + other) + data[idx:]
    assert png.read(data) == ["old-attribute-form"]
    out, lab = labeller.apply(data, "a.png")
    assert png.read(out) == [lab.to_json()]
    assert b"<dc:creator>someone</dc:creator>" in out and b"old-attribute-form" not in out
    assert out.count(png.XMP_KEY) == 1


@pytest.mark.parametrize(
    "name", [n for n in NAMES if n[-4:] not in (".mp4", ".mov", ".mkv", "webm", ".ogg", "opus", ".m4a")]
)
def test_damaged_files_fail_closed(name: str, samples: Path, labeller: Labeller) -> None:
    """Random truncation and byte damage: verify never raises and never passes a damaged file's
    content as unchanged; apply either works or raises a LabelError with a message."""
    import random

    from hegui.labels.aigc import LabelError

    good, _ = labeller.apply((samples / name).read_bytes(), name)
    rng = random.Random(7)
    for _ in range(25):
        b = bytearray(good)
        if rng.random() < 0.5:
            b = b[: rng.randrange(len(b))]
        else:
            for _ in range(rng.randrange(1, 12)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        v = verify(bytes(b), name, labeller.signer)
        assert v.conforms is False or bytes(b) == good or v.content == "match"
        try:
            labeller.apply(bytes(b), name)
        except LabelError as e:
            assert str(e)
