"""FLAC: a Vorbis comment ``AIGC=<JSON>`` in the VORBIS_COMMENT metadata block."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler

_VC, _PADDING = 4, 1


def blocks(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """([(block type, body)], audio frames)."""
    if not data.startswith(b"fLaC"):
        raise FormatError("not a FLAC file")
    pos, out = 4, []
    while True:
        if pos + 4 > len(data):
            raise FormatError("FLAC truncated inside the metadata")
        head = data[pos]
        n = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if pos + 4 + n > len(data):
            raise FormatError("FLAC truncated inside a metadata block")
        out.append((head & 0x7F, data[pos + 4 : pos + 4 + n]))
        pos += 4 + n
        if head & 0x80:
            return out, data[pos:]


def comments(body: bytes) -> tuple[bytes, list[bytes]]:
    try:
        (vl,) = struct.unpack("<I", body[:4])
        vendor, pos = body[4 : 4 + vl], 4 + vl
        (count,) = struct.unpack("<I", body[pos : pos + 4])
        pos += 4
        out = []
        for _ in range(count):
            (n,) = struct.unpack("<I", body[pos : pos + 4])
            out.append(body[pos + 4 : pos + 4 + n])
            pos += 4 + n
    except struct.error:
        raise FormatError("FLAC Vorbis comment block is corrupt") from None
    return vendor, out


def _is_aigc(c: bytes) -> bool:
    return c.split(b"=", 1)[0].upper() == b"AIGC"


def read(data: bytes) -> list[str]:
    out = []
    for typ, body in blocks(data)[0]:
        if typ == _VC:
            out += [
                c.split(b"=", 1)[1].decode("utf-8", "replace")
                for c in comments(body)[1]
                if _is_aigc(c) and b"=" in c
            ]
    return out


def write(data: bytes, value: str) -> bytes:
    blks, audio = blocks(data)
    entry = b"AIGC=" + value.encode("utf-8")
    new, placed = [], False
    for typ, body in blks:
        if typ == _VC:
            vendor, cs = comments(body)
            cs = [c for c in cs if not _is_aigc(c)] + ([] if placed else [entry])
            placed = True
            body = struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(cs))
            body += b"".join(struct.pack("<I", len(c)) + c for c in cs)
        new.append((typ, body))
    if not placed:
        vendor = b"hegui"
        body = (
            struct.pack("<I", len(vendor))
            + vendor
            + struct.pack("<I", 1)
            + struct.pack("<I", len(entry))
            + entry
        )
        new.insert(1, (_VC, body))
    out = [b"fLaC"]
    for i, (typ, body) in enumerate(new):
        last = 0x80 if i == len(new) - 1 else 0
        out.append(bytes([typ | last]) + len(body).to_bytes(3, "big") + body)
    return b"".join(out) + audio


def content(data: bytes) -> Iterable[bytes]:
    blks, audio = blocks(data)
    for typ, body in blks:
        if typ not in (_VC, _PADDING):
            yield bytes([typ]) + body
    yield audio


HANDLER = Handler("flac", ("flac",), lambda d, e: d.startswith(b"fLaC"), read, write, content, "audio")
