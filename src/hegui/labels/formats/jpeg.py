"""JPEG: XMP in an APP1 segment, or the EXIF UserComment (0x9286) alternative.

Segments before the scan are rewritten; the entropy-coded data is copied, so no re-encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler, xmp

XMP_ID = b"http://ns.adobe.com/xap/1.0/\0"
EXIF_ID = b"Exif\0\0"
_EXIF_IFD, _USER_COMMENT = 0x8769, 0x9286


def segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """([(marker, payload)] before the first scan, the rest of the file from SOS on)."""
    if not data.startswith(b"\xff\xd8"):
        raise FormatError("not a JPEG file (no SOI marker)")
    pos, segs = 2, []
    while True:
        if pos + 4 > len(data):
            raise FormatError("JPEG truncated before the image data")
        if data[pos] != 0xFF:
            raise FormatError(f"JPEG corrupt: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:
            if len(data) - pos < 16 or data.rfind(b"\xff\xd9", pos) < 0:
                raise FormatError("JPEG truncated inside the image data (no end-of-image marker)")
            return segs, data[pos:]
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            segs.append((marker, b""))
            pos += 2
            continue
        (n,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if n < 2 or pos + 2 + n > len(data):
            raise FormatError("JPEG truncated inside a marker segment")
        segs.append((marker, data[pos + 4 : pos + 2 + n]))
        pos += 2 + n


def _seg(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise FormatError("label does not fit in one JPEG segment (64 KiB)")
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _exif_comment(payload: bytes) -> str | None:
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(payload[len(EXIF_ID) :])
        raw = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception:  # Pillow raises assorted errors on corrupt EXIF; such EXIF holds no readable label
        return None
    if isinstance(raw, bytes):
        raw = raw[8:] if raw[:8] in (b"ASCII\0\0\0", b"UNICODE\0", b"\0" * 8) else raw
        raw = raw.decode("utf-8", "replace").rstrip("\0")
    return raw if isinstance(raw, str) and '"AIGC"' in raw else None


def _exif_set(payload: bytes | None, value: str | None) -> bytes | None:
    from PIL import Image

    exif = Image.Exif()
    if payload:
        exif.load(payload[len(EXIF_ID) :])
    ifd = exif.get_ifd(_EXIF_IFD)
    if value is None:
        ifd.pop(_USER_COMMENT, None)
    else:
        ifd[_USER_COMMENT] = b"ASCII\0\0\0" + value.encode("ascii")
    out = exif.tobytes()
    return out if out.startswith(EXIF_ID) else EXIF_ID + out


def read(data: bytes) -> list[str]:
    segs, _ = segments(data)
    out: list[str] = []
    for marker, payload in segs:
        if marker == 0xE1 and payload.startswith(XMP_ID):
            out += xmp.values(payload[len(XMP_ID) :])
        elif marker == 0xE1 and payload.startswith(EXIF_ID):
            c = _exif_comment(payload)
            if c is not None:
                out.append(c)
    return out


def write(data: bytes, value: str, style: str = "xmp") -> bytes:
    segs, rest = segments(data)
    new: list[bytes] = [b"\xff\xd8"]
    placed = False
    for marker, payload in segs:
        if marker == 0xE1 and payload.startswith(XMP_ID):
            p = xmp.update(payload[len(XMP_ID) :], value if style == "xmp" and not placed else None)
            placed = placed or style == "xmp"
            if p is not None:
                new.append(_seg(0xE1, XMP_ID + p))
            continue
        if marker == 0xE1 and payload.startswith(EXIF_ID):
            if _exif_comment(payload) is not None or (style == "exif" and not placed):
                payload = _exif_set(payload, value if style == "exif" and not placed else None) or payload
                placed = placed or style == "exif"
            new.append(_seg(marker, payload))
            continue
        if not placed and marker not in (0xE0, 0xE1) and not (0xD0 <= marker <= 0xD7):
            new.append(_label_seg(value, style))
            placed = True
        new.append(
            _seg(marker, payload) if payload or marker not in range(0xD0, 0xD8) else bytes([0xFF, marker])
        )
    if not placed:
        new.append(_label_seg(value, style))
    return b"".join(new) + rest


def _label_seg(value: str, style: str) -> bytes:
    if style == "exif":
        return _seg(0xE1, _exif_set(None, value) or b"")
    return _seg(0xE1, XMP_ID + xmp.packet(value))


def content(data: bytes) -> Iterable[bytes]:
    """Every segment but APP1 (EXIF and XMP) and the APP11 JUMBF segments of a C2PA manifest
    (embedded after the label), then the scans."""
    segs, rest = segments(data)
    for marker, payload in segs:
        if marker != 0xE1 and not (marker == 0xEB and payload.startswith(b"JP")):
            yield bytes([marker]) + payload
    yield rest


HANDLER = Handler(
    "jpeg", ("jpg", "jpeg", "jpe"), lambda d, e: d[:3] == b"\xff\xd8\xff", read, write, content, "image"
)
