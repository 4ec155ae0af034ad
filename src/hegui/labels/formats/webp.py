"""WebP: an ``XMP `` chunk, which needs the extended (VP8X) header with its XMP flag set.

A simple (VP8/VP8L) file is promoted to the extended form; the bitstream is copied untouched.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler, riff, xmp

FORM = b"WEBP"
_XMP_FLAG, _ALPHA_FLAG = 0x04, 0x10


def read(data: bytes) -> list[str]:
    out: list[str] = []
    for cid, p in riff.chunks(data, FORM):
        if cid == b"XMP ":
            out += xmp.values(p)
    return out


def _canvas(items: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    cid, p = items[0]
    if cid == b"VP8 " and len(p) >= 10 and p[3:6] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", p[6:10])
        return w & 0x3FFF, h & 0x3FFF, False
    if cid == b"VP8L" and len(p) >= 5 and p[0] == 0x2F:
        (bits,) = struct.unpack("<I", p[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise FormatError("WebP bitstream header not recognised")


def write(data: bytes, value: str) -> bytes:
    items = riff.chunks(data, FORM)
    if not items:
        raise FormatError("WebP file has no chunks")
    old = b"".join(p for cid, p in items if cid == b"XMP ") or None
    items = [(cid, p) for cid, p in items if cid != b"XMP "]
    if items[0][0] != b"VP8X":
        w, h, alpha = _canvas(items)
        flags = _ALPHA_FLAG if alpha else 0
        vp8x = bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        items.insert(0, (b"VP8X", vp8x))
    head = bytearray(items[0][1])
    head[0] |= _XMP_FLAG
    items[0] = (b"VP8X", bytes(head))
    return riff.build(FORM, [*items, (b"XMP ", xmp.update(old, value) or b"")])


def content(data: bytes) -> Iterable[bytes]:
    for cid, p in riff.chunks(data, FORM):
        if cid not in (b"XMP ", b"VP8X", b"C2PA"):  # C2PA: the manifest store, embedded last
            yield cid + p


HANDLER = Handler(
    "webp", ("webp",), lambda d, e: d[:4] == b"RIFF" and d[8:12] == FORM, read, write, content, "image"
)
