"""GIF: an Application Extension ``XMP DataXMP`` (XMP spec part 3), placed before the trailer."""

from __future__ import annotations

from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler, xmp

APP_ID = b"XMP DataXMP"
MAGIC = bytes([1, *range(255, -1, -1), 0])  # lets GIF readers skip the raw XMP as sub-blocks


def _subblocks_end(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise FormatError("GIF truncated inside a data block")
        n = data[pos]
        pos += 1 + n
        if n == 0:
            return pos


def blocks(data: bytes) -> tuple[bytes, list[bytes]]:
    """(header with colour table, [each extension/image block]) without the trailer."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise FormatError("not a GIF file")
    if len(data) < 13:
        raise FormatError("GIF truncated in its header")
    pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    head, out = data[:pos], []
    while True:
        if pos >= len(data):
            raise FormatError("GIF truncated: no trailer")
        b = data[pos]
        if b == 0x3B:
            return head, out
        start = pos
        if b == 0x21:
            pos = _subblocks_end(data, pos + 2)
        elif b == 0x2C:
            if pos + 10 > len(data):
                raise FormatError("GIF truncated in an image descriptor")
            flags = data[pos + 9]
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            pos = _subblocks_end(data, pos)
        else:
            raise FormatError(f"GIF corrupt: unexpected block 0x{b:02x} at byte {pos}")
        out.append(data[start:pos])


def _is_xmp(block: bytes) -> bool:
    return block[:3] == b"\x21\xff\x0b" and block[3:14] == APP_ID


def read(data: bytes) -> list[str]:
    out: list[str] = []
    for blk in blocks(data)[1]:
        if _is_xmp(blk):
            out += xmp.values(blk[14 : len(blk) - len(MAGIC)])
    return out


def write(data: bytes, value: str) -> bytes:
    head, blks = blocks(data)
    old = next((b[14 : len(b) - len(MAGIC)] for b in blks if _is_xmp(b)), None)
    packet = xmp.update(old, value) or b""
    if b"\0" in packet:
        raise FormatError("XMP for GIF must not contain NUL bytes")
    keep = [b for b in blks if not _is_xmp(b)]
    if head[:6] == b"GIF87a":
        head = b"GIF89a" + head[6:]
    return head + b"".join(keep) + b"\x21\xff\x0b" + APP_ID + packet + MAGIC + b"\x3b"


def content(data: bytes) -> Iterable[bytes]:
    head, blks = blocks(data)
    yield head[6:]
    for b in blks:
        if not _is_xmp(b):
            yield b


HANDLER = Handler(
    "gif", ("gif",), lambda d, e: d[:6] in (b"GIF87a", b"GIF89a"), read, write, content, "image"
)
