"""TIFF: XMP in IFD0 tag 700 (0x2BC), type UNDEFINED (7).

The new XMP and a rewritten IFD0 are appended and the header points at the new IFD0; the old XMP
bytes are zeroed so no stale label remains in the file. Strip and tile offsets are unchanged, so the
image data is not touched. The content digest is over the decoded pixels (the layout changes).
"""

from __future__ import annotations

import io
import struct
import warnings

from hegui.labels.formats import FormatError, Handler, xmp

XMP_TAG = 700
_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}


def _ifd0(data: bytes) -> tuple[str, int, list[tuple[int, int, int, bytes]], int]:
    """(byte order, IFD0 offset, [(tag, type, count, 4-byte value field)], next-IFD offset)."""
    if len(data) < 8 or data[:4] not in (b"II*\0", b"MM\0*"):
        if data[:4] in (b"II+\0", b"MM\0+"):
            raise FormatError("BigTIFF is not supported")
        raise FormatError("not a TIFF file")
    bo = "<" if data[:2] == b"II" else ">"
    (off,) = struct.unpack(bo + "I", data[4:8])
    if off + 2 > len(data):
        raise FormatError("TIFF truncated before IFD0")
    (n,) = struct.unpack(bo + "H", data[off : off + 2])
    end = off + 2 + 12 * n
    if end + 4 > len(data):
        raise FormatError("TIFF truncated inside IFD0")
    entries = []
    for i in range(n):
        p = off + 2 + 12 * i
        tag, typ, cnt = struct.unpack(bo + "HHI", data[p : p + 8])
        entries.append((tag, typ, cnt, data[p + 8 : p + 12]))
    (nxt,) = struct.unpack(bo + "I", data[end : end + 4])
    return bo, off, entries, nxt


def _value(data: bytes, bo: str, typ: int, cnt: int, field: bytes) -> tuple[int, bytes]:
    size = _SIZES.get(typ, 1) * cnt
    if size <= 4:
        return -1, field[:size]
    (off,) = struct.unpack(bo + "I", field)
    if off + size > len(data):
        raise FormatError("TIFF truncated: a tag value lies past the end of the file")
    return off, data[off : off + size]


def read(data: bytes) -> list[str]:
    bo, _, entries, _ = _ifd0(data)
    out: list[str] = []
    for tag, typ, cnt, field in entries:
        if tag == XMP_TAG:
            out += xmp.values(_value(data, bo, typ, cnt, field)[1])
    return out


def write(data: bytes, value: str) -> bytes:
    bo, _, entries, nxt = _ifd0(data)
    buf = bytearray(data)
    old = None
    for tag, typ, cnt, field in entries:
        if tag == XMP_TAG:
            off, old = _value(data, bo, typ, cnt, field)
            if off >= 0:
                buf[off : off + len(old)] = bytes(len(old))
    packet = xmp.update(old, value) or b""
    if len(buf) & 1:
        buf += b"\0"
    xmp_off = len(buf)
    buf += packet
    if len(buf) & 1:
        buf += b"\0"
    ifd_off = len(buf)
    new = [e for e in entries if e[0] != XMP_TAG] + [
        (XMP_TAG, 7, len(packet), struct.pack(bo + "I", xmp_off))
    ]
    new.sort(key=lambda e: e[0])
    buf += struct.pack(bo + "H", len(new))
    for tag, typ, cnt, field in new:
        buf += struct.pack(bo + "HHI", tag, typ, cnt) + field
    buf += struct.pack(bo + "I", nxt)
    if len(buf) > 0xFFFFFFFF:
        raise FormatError("TIFF would exceed 4 GiB")
    buf[4:8] = struct.pack(bo + "I", ifd_off)
    return bytes(buf)


def content(data: bytes) -> list[bytes]:
    from PIL import Image

    _ifd0(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about damaged tags; the digest fails instead
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                head, pixels = f"{im.mode}:{im.size[0]}x{im.size[1]}:".encode(), im.tobytes()
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise FormatError(f"TIFF image data cannot be decoded: {e}") from None
    return [head, pixels]


HANDLER = Handler(
    "tiff", ("tif", "tiff"), lambda d, e: d[:4] in (b"II*\0", b"MM\0*"), read, write, content, "image"
)
