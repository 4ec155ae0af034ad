"""Video and container audio through ffmpeg (the binary imageio-ffmpeg ships): MP4/MOV/M4A, MKV/WebM,
Ogg/Opus.

Writing is a stream copy (``-c copy``) with the label as a global tag: for MP4 in
``moov.udta.meta`` keys (``mdta`` ``AIGC``, needs ``-movflags use_metadata_tags``, without which
ffmpeg drops the tag silently, so the result is always read back); for Matroska a
``Tags/Tag/SimpleTag`` ``AIGC``; for Ogg a Vorbis comment. The content digest is ffmpeg's hash of
every stream's packets, so it does not depend on the container layout: a platform that remuxes the
file to write its own propagator fields keeps the producer's digest valid.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hegui.labels.formats import FormatError, Handler

_FATAL = ("ended prematurely", "Truncat", "truncat", "Invalid data found", "EBML header parsing failed")
_MP4_EXTS = ("mp4", "m4v", "mov", "m4a", "3gp", "qt")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], timeout: float = 600) -> bytes:
    """Run ffmpeg quietly; its own message (not ours) becomes the error on failure."""
    try:
        p = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", *args],
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise FormatError(f"ffmpeg took longer than {timeout:.0f} s") from None
    msg = p.stderr.decode("utf-8", "replace").strip().splitlines()
    if p.returncode != 0:
        raise FormatError(
            "ffmpeg could not process the file: " + (msg[-1] if msg else f"exit {p.returncode}")
        )
    # Some demuxers only report a cut-off file and still exit 0: fail closed on those.
    fatal = [m for m in msg if any(k in m for k in _FATAL)]
    if fatal:
        raise FormatError("file is truncated or corrupt: " + fatal[0].split("] ", 1)[-1])
    return p.stdout


class _Temp:
    """The bytes in a temporary file with the right extension (ffmpeg picks demuxers by it)."""

    def __init__(self, data: bytes, ext: str) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="hegui-label-")
        self.path = Path(self.dir.name) / f"in.{ext}"
        self.path.write_bytes(data)

    def __enter__(self) -> _Temp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dir.cleanup()


# ---- ISO-BMFF (MP4/MOV) reading without ffmpeg ----------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", data[pos : pos + 8])
        hdr = 8
        if size == 1:
            if pos + 16 > end:
                raise FormatError("MP4 truncated inside a box header")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            hdr = 16
        elif size == 0:
            size = end - pos
        if size < hdr or pos + size > end:
            raise FormatError(f"MP4 truncated or corrupt inside box {typ.decode('latin-1')!r}")
        yield typ, pos + hdr, pos + size
        pos += size


def _meta_values(data: bytes, start: int, end: int) -> list[tuple[str, str]]:
    # ISO 'meta' is a full box (4 bytes version/flags); QuickTime's is not. Tell them apart by
    # whether a plausible child box header follows.
    inner = start if data[start + 4 : start + 8] in (b"hdlr", b"keys", b"ilst") else start + 4
    keys: list[str] = []
    items: list[tuple[str, str]] = []
    ilst = None
    for typ, s, e in _boxes(data, inner, end):
        if typ == b"keys":
            (count,) = struct.unpack(">I", data[s + 4 : s + 8])
            pos = s + 8
            for _ in range(count):
                ksize, _ns = struct.unpack(">I4s", data[pos : pos + 8])
                keys.append(data[pos + 8 : pos + ksize].decode("utf-8", "replace"))
                pos += ksize
        elif typ == b"ilst":
            ilst = (s, e)
    if ilst:
        for typ, s, e in _boxes(data, *ilst):
            idx = struct.unpack(">I", typ)[0]
            name = keys[idx - 1] if 1 <= idx <= len(keys) else typ.decode("latin-1")
            for t2, s2, e2 in _boxes(data, s, e):
                if t2 == b"data":
                    items.append((name, data[s2 + 8 : e2].decode("utf-8", "replace")))
    return items


def mp4_read(data: bytes) -> list[str]:
    if data[4:8] not in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        raise FormatError("not an MP4/MOV file")
    out: list[str] = []
    moov = [(s, e) for t, s, e in _boxes(data, 0, len(data)) if t == b"moov"]
    if not moov:
        raise FormatError("MP4 has no moov box (truncated or not finished)")
    for ms, me in moov:
        for t, s, e in _boxes(data, ms, me):
            metas = []
            if t == b"meta":
                metas.append((s, e))
            elif t == b"udta":
                metas += [(s2, e2) for t2, s2, e2 in _boxes(data, s, e) if t2 == b"meta"]
            for s2, e2 in metas:
                out += [v for k, v in _meta_values(data, s2, e2) if k == "AIGC"]
    return out


# ---- generic ffmpeg reading/writing ------------------------------------------------------------


def _unescape(s: str) -> str:
    out, it = [], iter(s)
    for c in it:
        out.append(next(it, "") if c == "\\" else c)
    return "".join(out)


def ffmeta_read(data: bytes, ext: str, stream: bool) -> list[str]:
    with _Temp(data, ext) as t:
        args = ["-i", str(t.path)]
        if stream:
            args += ["-map_metadata", "0:s:0"]
        text = run_ffmpeg([*args, "-f", "ffmetadata", "-"]).decode("utf-8", "replace")
    out = []
    lines = text.replace("\\\n", "\\\x00").splitlines()
    for line in lines:
        key, sep, val = line.partition("=")
        if sep and key.strip().upper() == "AIGC":
            out.append(_unescape(val.replace("\\\x00", "\\\n")))
    return out


def _ffwrite(data: bytes, value: str, ext: str, extra: list[str]) -> bytes:
    with _Temp(data, ext) as t:
        out = t.path.with_name(f"out.{ext}")
        run_ffmpeg(
            [
                "-i",
                str(t.path),
                "-map",
                "0",
                "-c",
                "copy",
                "-map_metadata",
                "0",
                *extra,
                "-metadata",
                f"AIGC={value}",
                "-y",
                str(out),
            ]
        )
        return out.read_bytes()


def packet_hash(data: bytes, ext: str) -> Iterable[bytes]:
    with _Temp(data, ext) as t:
        yield run_ffmpeg(
            ["-i", str(t.path), "-map", "0", "-c", "copy", "-f", "streamhash", "-hash", "sha256", "-"]
        )


def _brand_ext(data: bytes) -> str:
    return "mov" if data[8:12] == b"qt  " else "m4a" if data[8:12] in (b"M4A ", b"M4B ") else "mp4"


def mp4_write(data: bytes, value: str) -> bytes:
    ext = _brand_ext(data)
    out = _ffwrite(data, value, ext, ["-movflags", "use_metadata_tags"])
    if mp4_read(out) != [value]:
        raise FormatError("ffmpeg did not keep the AIGC tag in moov.udta.meta")
    return out


def _mkv_ext(data: bytes) -> str:
    return "webm" if b"webm" in data[:64] else "mkv"


def _ogg_ext(data: bytes) -> str:
    return "opus" if b"OpusHead" in data[:200] else "ogg"


def _ogg_write(data: bytes, value: str) -> bytes:
    ext = _ogg_ext(data)
    # Ogg keeps comments per stream: clear the old AIGC everywhere, then set it on every stream.
    return _ffwrite(data, value, ext, ["-metadata:s", f"AIGC={value}"])


def _is_mp4(d: bytes, ext: str) -> bool:
    return d[4:8] == b"ftyp" or (ext in _MP4_EXTS and d[4:8] in (b"moov", b"mdat", b"wide", b"free"))


HANDLERS = [
    Handler("mp4", _MP4_EXTS, _is_mp4, mp4_read, mp4_write, lambda d: packet_hash(d, _brand_ext(d)), "video"),
    Handler(
        "matroska",
        ("mkv", "webm", "mka"),
        lambda d, e: d[:4] == b"\x1a\x45\xdf\xa3",
        lambda d: ffmeta_read(d, _mkv_ext(d), False),
        lambda d, v: _ffwrite(d, v, _mkv_ext(d), []),
        lambda d: packet_hash(d, _mkv_ext(d)),
        "video",
    ),
    Handler(
        "ogg",
        ("ogg", "oga", "opus"),
        lambda d, e: d[:4] == b"OggS",
        lambda d: ffmeta_read(d, _ogg_ext(d), True),
        _ogg_write,
        lambda d: packet_hash(d, _ogg_ext(d)),
        "audio",
    ),
]

__all__ = ["HANDLERS", "ffmpeg_exe", "os", "run_ffmpeg"]
