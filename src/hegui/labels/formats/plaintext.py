"""Plain text: a header line holding the label JSON (hegui's convention; the TC260 text guide
covers Markdown, Office and PDF, not bare .txt).

The first line of the file is exactly ``{"AIGC":{…}}``: self-describing, greppable, and removable
by deleting one line. Where the text must stay untouched, use a sidecar instead (``hegui label
apply --sidecar`` writes ``FILE.aigc.json`` with the same string).
"""

from __future__ import annotations

from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler

PREFIX = '{"AIGC":'


def _lines(data: bytes) -> tuple[str, list[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("text file is not UTF-8 (or not a text file)") from None
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return bom, text[len(bom) :].splitlines(keepends=True)


def _is_label(line: str) -> bool:
    return line.lstrip().startswith(PREFIX)


def read(data: bytes) -> list[str]:
    _, lines = _lines(data)
    return [ln.strip() for ln in lines if _is_label(ln)]


def write(data: bytes, value: str) -> bytes:
    bom, lines = _lines(data)
    keep = [ln for ln in lines if not _is_label(ln)]
    return (bom + value + "\n" + "".join(keep)).encode()


def content(data: bytes) -> Iterable[bytes]:
    _, lines = _lines(data)
    yield "".join(ln for ln in lines if not _is_label(ln)).encode()


def _sniff(d: bytes, ext: str) -> bool:
    if b"\0" in d[:8192]:
        return False
    try:
        d[:65536].decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < 65530:  # a multi-byte character cut at the window's end is fine
            return False
    return True


HANDLER = Handler("text", ("txt", "text", "log", "csv"), _sniff, read, write, content, "text")
