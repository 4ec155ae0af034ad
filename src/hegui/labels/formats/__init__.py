"""Per-format carriers of the implicit label: find, write (replacing, so one label per file), and
say which bytes are *content* (everything but the label's carriers) for the content digest.

Formats are recognised by their leading bytes, never by the extension alone, so a PNG named
``.jpg`` is handled as PNG and a file whose bytes match no known format is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hegui.labels.aigc import LabelError


class FormatError(LabelError):
    """A file that is not (a complete) instance of the format it claims to be."""


@dataclass(frozen=True)
class Handler:
    """One format: ``read`` returns every AIGC JSON string found (several means a non-conforming
    file), ``write`` returns the file with exactly one label, ``content`` the label-free bytes."""

    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[bytes, str], bool]
    read: Callable[[bytes], list[str]]
    write: Callable[[bytes, str], bytes]
    content: Callable[[bytes], Iterable[bytes]]
    kind: str  # image | audio | video | text | document


def _handlers() -> list[Handler]:
    from hegui.labels.formats import (
        ffmedia,
        flac,
        gif,
        jpeg,
        markdown,
        mp3,
        ooxml,
        pdf,
        plaintext,
        png,
        tiff,
        wav,
        webp,
    )

    return [
        png.HANDLER,
        jpeg.HANDLER,
        webp.HANDLER,
        gif.HANDLER,
        tiff.HANDLER,
        wav.HANDLER,
        mp3.HANDLER,
        flac.HANDLER,
        *ffmedia.HANDLERS,
        pdf.HANDLER,
        *ooxml.HANDLERS,
        markdown.HANDLER,
        plaintext.HANDLER,  # last: it accepts any UTF-8 text
    ]


_CACHE: list[Handler] = []


def handlers() -> list[Handler]:
    if not _CACHE:
        _CACHE.extend(_handlers())
    return _CACHE


def detect(data: bytes, filename: str = "") -> Handler:
    """The handler for ``data``; the extension only breaks ties between formats with one magic
    (ZIP-based Office files, ISO-BMFF brands, text vs Markdown)."""
    ext = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    for h in handlers():
        if h.sniff(data, ext):
            return h
    raise FormatError(
        f"unsupported or unrecognised file format{f' (extension .{ext})' if ext else ''}: "
        "supported are " + ", ".join(h.name for h in handlers())
    )


def by_name(name: str) -> Handler:
    for h in handlers():
        if h.name == name:
            return h
    raise FormatError(f"unknown format {name!r}")
