"""PNG: XMP in an ``iTXt`` chunk (keyword ``XML:com.adobe.xmp``), or the ``tEXt`` ``AIGC`` alternative.

Pure chunk surgery: pixels (IDAT) are never decoded or re-encoded, so labelling is lossless and fast.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator

from hegui.labels.formats import FormatError, Handler, xmp

SIG = b"\x89PNG\r\n\x1a\n"
XMP_KEY = b"XML:com.adobe.xmp"
_TEXT = {b"tEXt", b"zTXt", b"iTXt"}


def chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) for each chunk, checking lengths and CRCs."""
    if not data.startswith(SIG):
        raise FormatError("not a PNG file (bad signature)")
    pos = len(SIG)
    while pos < len(data):
        if pos + 8 > len(data):
            raise FormatError("PNG truncated inside a chunk header")
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        typ = data[pos + 4 : pos + 8]
        end = pos + 12 + n
        if end > len(data):
            raise FormatError(f"PNG truncated inside chunk {typ.decode('latin-1')!r}")
        body = data[pos + 8 : pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n : end])
        if zlib.crc32(typ + body) != crc:
            raise FormatError(f"PNG chunk {typ.decode('latin-1')!r} has a bad CRC (corrupt file)")
        yield typ, body
        pos = end
        if typ == b"IEND":
            return
    raise FormatError("PNG truncated: no IEND chunk")


def chunk(typ: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body))


def _text_chunk(typ: bytes, body: bytes) -> tuple[bytes, bytes]:
    """(keyword, text bytes) of a tEXt/zTXt/iTXt chunk."""
    key, _, rest = body.partition(b"\0")
    if typ == b"tEXt":
        return key, rest
    if typ == b"zTXt":
        return key, zlib.decompress(rest[1:])
    comp, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _tkey, _, text = rest.partition(b"\0")
    return key, (zlib.decompress(text) if comp else text)


def read(data: bytes) -> list[str]:
    out: list[str] = []
    for typ, body in chunks(data):
        if typ in _TEXT:
            try:
                key, text = _text_chunk(typ, body)
            except zlib.error:
                raise FormatError(f"PNG {typ.decode()} chunk has corrupt compressed text") from None
            if key == XMP_KEY:
                out += xmp.values(text)
            elif key == b"AIGC":
                out.append(text.decode("utf-8", "replace"))
    return out


def write(data: bytes, value: str, style: str = "xmp") -> bytes:
    """``data`` with one label: in the XMP packet (default) or as a ``tEXt AIGC`` chunk."""
    out = [SIG]
    placed = False
    for typ, body in chunks(data):
        if typ in _TEXT:
            key, text = _text_chunk(typ, body)
            if key == b"AIGC":
                continue
            if key == XMP_KEY:
                new = xmp.update(text, value if style == "xmp" and not placed else None)
                placed = placed or style == "xmp"
                if new is not None:
                    out.append(chunk(b"iTXt", XMP_KEY + b"\0\0\0\0\0" + new))
                continue
        if typ == b"IDAT" and not placed:
            # Metadata before the image data, where readers that stop early still find it.
            if style == "xmp":
                out.append(chunk(b"iTXt", XMP_KEY + b"\0\0\0\0\0" + xmp.packet(value)))
            else:
                out.append(chunk(b"tEXt", b"AIGC\0" + value.encode("latin-1")))
            placed = True
        out.append(chunk(typ, body))
    if not placed:
        raise FormatError("PNG has no IDAT chunk")
    return b"".join(out)


def content(data: bytes) -> Iterable[bytes]:
    """Every chunk but the textual ones (where labels and other metadata live) and the C2PA
    manifest store (``caBX``), which is embedded after the label (see hegui.labels.c2pa_manifest)."""
    for typ, body in chunks(data):
        if typ not in _TEXT and typ != b"caBX":
            yield typ + body


HANDLER = Handler("png", ("png",), lambda d, e: d.startswith(SIG), read, write, content, "image")
