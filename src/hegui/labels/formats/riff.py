"""RIFF container helpers shared by WAV and WebP."""

from __future__ import annotations

import struct

from hegui.labels.formats import FormatError


def chunks(data: bytes, form: bytes) -> list[tuple[bytes, bytes]]:
    """[(fourcc, payload)] of a RIFF file of type ``form`` (b"WAVE", b"WEBP")."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != form:
        raise FormatError(f"not a RIFF/{form.decode()} file")
    (size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + size)
    if 8 + size > len(data):
        raise FormatError(
            f"RIFF/{form.decode()} truncated: header says {8 + size} bytes, file has {len(data)}"
        )
    out, pos = [], 12
    while pos + 8 <= end:
        cid = data[pos : pos + 4]
        (n,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if pos + 8 + n > end:
            raise FormatError(f"RIFF/{form.decode()} truncated inside chunk {cid.decode('latin-1')!r}")
        out.append((cid, data[pos + 8 : pos + 8 + n]))
        pos += 8 + n + (n & 1)
    return out


def build(form: bytes, items: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(cid + struct.pack("<I", len(p)) + p + (b"\0" if len(p) & 1 else b"") for cid, p in items)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body
