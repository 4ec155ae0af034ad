"""JSON for the request path: orjson, with the standard library as the fallback for what orjson
refuses, so the set of accepted inputs and the meaning of outputs stay those of ``json``.

orjson is several times cheaper than ``json`` for the bodies the gateway reads, forwards and
answers on every request. It refuses a few things ``json`` takes (lone surrogates in strings,
``NaN`` literals) and reads integers beyond 64 bits as floats; those inputs go through ``json``
exactly as before (a run of 20 or more digits anywhere sends the document there). Writing, orjson
turns a NaN into ``null`` where Starlette's renderer raised (a 500): the client now gets valid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from starlette.responses import JSONResponse

_LONG_DIGITS = re.compile(rb"\d{20}")
_LONG_DIGITS_STR = re.compile(r"\d{20}")


def loads(data: bytes | bytearray | str) -> Any:
    """``json.loads`` semantics (ValueError / UnicodeDecodeError on bad input), orjson speed."""
    if (_LONG_DIGITS_STR if isinstance(data, str) else _LONG_DIGITS).search(data):
        return json.loads(data)  # may hold an integer beyond 64 bits, which orjson reads as a float
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept as is (as Starlette's ``JSONResponse`` and httpx write it)."""
    try:
        return orjson.dumps(obj)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a lone surrogate, a non-str key
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class FastJSONResponse(JSONResponse):
    """Starlette's ``JSONResponse``, rendered with orjson."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
