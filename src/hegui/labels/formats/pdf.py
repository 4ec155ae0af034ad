"""PDF: key ``/AIGC`` in the document Info dictionary (TC260-PG-20258A), written with pypdf.

The file is rewritten (not incrementally updated), so no earlier revision keeps an old label. The
content digest covers each page's content streams and the streams of its XObjects (images, forms),
not the byte layout, which pypdf changes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TypeVar

from hegui.labels.formats import FormatError, Handler

logging.getLogger("pypdf").setLevel(logging.ERROR)
T = TypeVar("T")


def _fail_closed(fn: Callable[..., T]) -> Callable[..., T]:
    """pypdf raises many exception types on damaged files; each becomes one clear FormatError."""

    @wraps(fn)
    def wrapper(*a: object) -> T:
        try:
            return fn(*a)
        except FormatError:
            raise
        except Exception as e:  # damaged PDFs raise anything from KeyError to RecursionError inside pypdf
            raise FormatError(f"PDF is damaged: {type(e).__name__}: {str(e)[:200]}") from None

    return wrapper


def _reader(data: bytes):
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF-"):
        raise FormatError("not a PDF file")
    if b"%%EOF" not in data[-2048:]:
        raise FormatError("PDF truncated: no %%EOF at the end")
    try:
        r = PdfReader(io.BytesIO(data), strict=False)
        if r.is_encrypted:
            raise FormatError("encrypted PDFs are not supported")
        _ = len(r.pages)
    except PdfReadError as e:
        raise FormatError(f"PDF cannot be read: {e}") from None
    return r


@_fail_closed
def read(data: bytes) -> list[str]:
    info = _reader(data).trailer.get("/Info")
    info = info.get_object() if info is not None else {}
    v = info.get("/AIGC") if info else None
    return [str(v)] if v is not None else []


@_fail_closed
def write(data: bytes, value: str) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    r = _reader(data)
    w = PdfWriter(clone_from=r)
    w.add_metadata({NameObject("/AIGC"): TextStringObject(value)})
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _stream_bytes(obj, seen: set[int]) -> Iterable[bytes]:
    from pypdf.generic import IndirectObject

    if isinstance(obj, IndirectObject):
        if obj.idnum in seen:
            return
        seen.add(obj.idnum)
        obj = obj.get_object()
    if hasattr(obj, "get_data"):
        yield obj.get_data()
    if hasattr(obj, "get"):
        res = obj.get("/Resources")
        xo = res.get_object().get("/XObject") if res is not None else None
        if xo is not None:
            for name in sorted(xo.get_object()):
                yield name.encode()
                yield from _stream_bytes(xo.get_object().raw_get(name), seen)


@_fail_closed
def content(data: bytes) -> list[bytes]:
    return list(_content(data))


def _content(data: bytes) -> Iterable[bytes]:
    r = _reader(data)
    seen: set[int] = set()
    for i, page in enumerate(r.pages):
        yield f"page{i}:{[float(x) for x in page.mediabox]}".encode()
        c = page.get_contents()
        if c is not None:
            yield c.get_data()
        yield from _stream_bytes(page, seen)


HANDLER = Handler("pdf", ("pdf",), lambda d, e: d.startswith(b"%PDF-"), read, write, content, "document")
