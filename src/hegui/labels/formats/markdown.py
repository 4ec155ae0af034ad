"""Markdown: YAML front matter at the head of the file with key ``AIGC`` (TC260-PG-20258A).

The value is written as the seven-field JSON object on one line, which is also a valid YAML flow
mapping: YAML tools see the seven fields, and the exact standard string is kept byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from hegui.labels.formats import FormatError, Handler

_FM = re.compile(r"\A(\ufeff?)---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_KEY = re.compile(r"^AIGC[ \t]*:.*(?:\r?\n(?:[ \t]+.*(?:\r?\n|\Z))*|\Z)", re.M)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("text file is not UTF-8") from None


def _split(text: str) -> tuple[str, str | None, str]:
    """(BOM, front-matter body or None, rest of the document)."""
    m = _FM.match(text)
    if not m:
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        return bom, None, text[len(bom) :]
    return m.group(1), m.group(2), text[m.end() :]


def read(data: bytes) -> list[str]:
    _, fm, _ = _split(_text(data))
    if fm is None:
        return []
    out = []
    for m in _KEY.finditer(fm):
        raw = m.group(0).split(":", 1)[1].strip()
        out.append(_as_label_json(raw))
    return out


def _as_label_json(raw: str) -> str:
    import yaml

    try:
        val = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        return raw
    if isinstance(val, dict):
        inner = val.get("AIGC", val)
        return json.dumps({"AIGC": inner}, ensure_ascii=True, separators=(",", ":"))
    return val if isinstance(val, str) else raw


def write(data: bytes, value: str) -> bytes:
    bom, fm, rest = _split(_text(data))
    inner = json.dumps(json.loads(value)["AIGC"], ensure_ascii=True, separators=(",", ":"))
    line = f"AIGC: {inner}\n"
    body = line if fm is None else line + _KEY.sub("", fm)
    return f"{bom}---\n{body}---\n{rest}".encode()


def content(data: bytes) -> Iterable[bytes]:
    _bom, fm, rest = _split(_text(data))
    if fm is not None:
        fm = _KEY.sub("", fm)
        if fm.strip():
            yield fm.encode()
    yield rest.encode()


HANDLER = Handler(
    "markdown", ("md", "markdown"), lambda d, e: e in ("md", "markdown"), read, write, content, "text"
)
