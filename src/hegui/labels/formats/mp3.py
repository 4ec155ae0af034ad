"""MP3: an ID3v2 ``TXXX`` frame with description ``AIGC`` (TC260-PG-202510A).

The ID3v2 tag at the start is rebuilt (v2.3 and v2.4 kept as they are; a file without a tag gets a
v2.4 tag); the MPEG audio frames after it are copied and are what the content digest covers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _to_syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def split(data: bytes) -> tuple[int, list[tuple[bytes, int, bytes]], bytes]:
    """(ID3 major version or 0, [(frame id, flags, body)], audio bytes after the tag)."""
    if not data.startswith(b"ID3"):
        if data[:2] and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:
            return 0, [], data
        raise FormatError("not an MP3 file (no ID3 tag or MPEG frame sync)")
    if len(data) < 10:
        raise FormatError("MP3 truncated inside the ID3 header")
    ver, flags = data[3], data[5]
    if ver not in (3, 4):
        raise FormatError(f"ID3v2.{ver} tags are not supported (v2.3 and v2.4 are)")
    if flags & 0x80:
        raise FormatError("unsynchronised ID3 tags are not supported")
    size = _syncsafe(data[6:10])
    end = 10 + size + (10 if flags & 0x10 else 0)
    if end > len(data):
        raise FormatError("MP3 truncated inside the ID3 tag")
    pos = 10
    if flags & 0x40:  # extended header
        n = _syncsafe(data[10:14]) if ver == 4 else struct.unpack(">I", data[10:14])[0] + 4
        pos += n
    frames = []
    while pos + 10 <= 10 + size and data[pos] != 0:
        fid = data[pos : pos + 4]
        n = (
            _syncsafe(data[pos + 4 : pos + 8])
            if ver == 4
            else struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        )
        (fflags,) = struct.unpack(">H", data[pos + 8 : pos + 10])
        if pos + 10 + n > 10 + size:
            raise FormatError(f"ID3 frame {fid!r} runs past the tag")
        frames.append((fid, fflags, data[pos + 10 : pos + 10 + n]))
        pos += 10 + n
    return ver, frames, data[end:]


def _txxx(body: bytes) -> tuple[str, str] | None:
    if not body:
        return None
    enc, rest = body[0], body[1:]
    if enc in (1, 2):
        codec = "utf-16" if enc == 1 else "utf-16-be"
        i = next((i for i in range(0, len(rest) - 1, 2) if rest[i : i + 2] == b"\0\0"), len(rest))
        desc, val = rest[:i].decode(codec, "replace"), rest[i + 2 :].decode(codec, "replace")
    else:
        codec = "latin-1" if enc == 0 else "utf-8"
        d, _, v = rest.partition(b"\0")
        desc, val = d.decode(codec, "replace"), v.decode(codec, "replace")
    return desc, val.rstrip("\0")


def read(data: bytes) -> list[str]:
    _, frames, _ = split(data)
    out = []
    for fid, _f, body in frames:
        if fid == b"TXXX":
            t = _txxx(body)
            if t and t[0] == "AIGC":
                out.append(t[1])
    return out


def write(data: bytes, value: str) -> bytes:
    ver, frames, audio = split(data)
    ver = ver or 4
    keep = [f for f in frames if not (f[0] == b"TXXX" and (_txxx(f[2]) or ("",))[0] == "AIGC")]
    enc = 3 if ver == 4 else 0
    keep.append((b"TXXX", 0, bytes([enc]) + b"AIGC\0" + value.encode("utf-8" if enc == 3 else "latin-1")))
    body = b""
    for fid, fflags, b in keep:
        size = _to_syncsafe(len(b)) if ver == 4 else struct.pack(">I", len(b))
        body += fid + size + struct.pack(">H", fflags) + b
    return b"ID3" + bytes([ver, 0, 0]) + _to_syncsafe(len(body)) + body + audio


# Bitrates (kbit/s) by [MPEG-1?][layer 3?] and index; sample rates by version and index.
_BR = {  # keyed by (MPEG-1?, layer field: 1 = III, 2 = II, 3 = I)
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
}
_SR = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def check_frames(audio: bytes) -> None:
    """Walk the MPEG frames; a last frame that runs past the end means a truncated file."""
    pos, n = 0, 0
    end = len(audio) - (128 if audio[-128:-125] == b"TAG" else 0)
    while pos + 4 <= end:
        h = int.from_bytes(audio[pos : pos + 4], "big")
        if h >> 21 != 0x7FF:
            break  # trailing tags or junk after the last frame
        ver, layer, bri, sri, pad = (h >> 19) & 3, (h >> 17) & 3, (h >> 12) & 15, (h >> 10) & 3, (h >> 9) & 1
        if ver == 1 or layer == 0 or bri in (0, 15) or sri == 3:
            break
        mpeg1 = ver == 3
        br = _BR[(mpeg1, layer)][bri] * 1000
        sr = _SR[ver][sri]
        if layer == 3:  # layer I
            size = (12 * br // sr + pad) * 4
        else:
            size = (144 if mpeg1 or layer == 2 else 72) * br // sr + pad
        if pos + size > end:
            raise FormatError("MP3 truncated inside an audio frame")
        pos += size
        n += 1
    if n == 0:
        raise FormatError("MP3 has no MPEG audio frames (truncated or not MP3)")


def content(data: bytes) -> Iterable[bytes]:
    audio = split(data)[2]
    check_frames(audio)
    yield audio


def _sniff(d: bytes, ext: str) -> bool:
    return d.startswith(b"ID3") or (ext == "mp3" and len(d) > 1 and d[0] == 0xFF and d[1] & 0xE0 == 0xE0)


HANDLER = Handler("mp3", ("mp3",), _sniff, read, write, content, "audio")
