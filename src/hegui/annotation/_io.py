"""Reading the annotation lead's files: strict, with errors that name the file, the line and the fix.

Annotation files come from spreadsheets and labelling tools, so the usual faults are a GBK export,
a renamed column, a date typed by hand. Each one stops the run with a message saying where and
what to do: a QA report built on silently skipped rows would overstate what was checked.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


class AnnotationError(ValueError):
    """A malformed annotation file or argument. The message is bilingual and says where."""


def read_text(path: Path) -> str:
    """The file as text; UTF-8 (with or without BOM) only, so a GBK export is an error, not mojibake."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise AnnotationError(f"文件不存在 file not found: {path}") from None
    except OSError as e:
        raise AnnotationError(f"无法读取 cannot read {path}: {e.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise AnnotationError(
            f"{path}: 不是 UTF-8 编码（第 {line} 行，字节 0x{raw[e.start]:02x}）；请另存为 UTF-8 "
            f"not UTF-8 (line {line}, byte 0x{raw[e.start]:02x}); save it as UTF-8, e.g. "
            f"`iconv -f GBK -t UTF-8 {Path(path).name}`"
        ) from None


def read_records(path: Path, required: Iterable[str], nonempty: Iterable[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a JSONL, JSON-array or CSV/TSV file as ``(line number, row)``.

    ``required`` columns must exist (CSV: in the header); ``nonempty`` (default: ``required``) must
    hold a value in every row. A missing one is an error listing what is missing and what the file has.
    """
    path = Path(path)
    text = read_text(path)
    required = tuple(required)
    suffix = path.suffix.lower()
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix in (".jsonl", ".ndjson"):
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise AnnotationError(f"{path}:{n}: JSON 无法解析 invalid JSON: {e.msg}") from None
            if not isinstance(obj, dict):
                raise AnnotationError(f"{path}:{n}: 每行须为 JSON 对象 each line must be a JSON object")
            rows.append((n, obj))
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnnotationError(f"{path}: JSON 无法解析 invalid JSON: {e.msg} (line {e.lineno})") from None
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise AnnotationError(f"{path}: 须为对象数组 must be an array of objects")
        rows = [(i + 1, x) for i, x in enumerate(data)]
    elif suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise AnnotationError(
                f"{path}: 缺少列 missing column(s) {', '.join(missing)}; 表头 header has: {', '.join(header) or '(empty)'}"
            )
        for row in reader:
            if None in row:
                raise AnnotationError(f"{path}:{reader.line_num}: 列数多于表头 more cells than header columns")
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    else:
        raise AnnotationError(f"{path}: 不支持的格式 unsupported format {suffix or '(none)'}; use .jsonl, .json, .csv or .tsv")
    must = tuple(required if nonempty is None else nonempty)
    for n, row in rows:
        missing = [c for c in must if row.get(c) in (None, "")]
        if suffix not in (".csv", ".tsv"):
            missing = sorted({*missing, *(c for c in required if c not in row)})
        if missing:
            raise AnnotationError(f"{path}:{n}: 缺少字段 missing field(s) {', '.join(missing)}")
    return rows


def read_yaml(path: Path) -> Any:
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise AnnotationError(f"{path}: YAML 无法解析 invalid YAML: {e}") from None
    except ValueError as e:  # PyYAML builds dates itself: 2026-13-01 raises here
        raise AnnotationError(f"{path}: 日期无效 not an ISO date: {e}") from None


def parse_date(value: Any, where: str) -> dt.date:
    """A date from ``2026-03-01``, an ISO datetime, or a YAML date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = str(value or "").strip()
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).date() if "T" in s or " " in s else dt.date.fromisoformat(s)
    except ValueError:
        raise AnnotationError(f"{where}: 日期无法识别 not an ISO date: {s!r} (use YYYY-MM-DD)") from None


_SPLIT = re.compile(r"[|;；、]")


def split_labels(value: Any, where: str) -> tuple[str, ...]:
    """Labels as a sorted tuple: a JSON list, or a string split on ``|`` ``;`` ``；`` ``、``."""
    if isinstance(value, list):
        items = [str(x).strip() for x in value]
    elif isinstance(value, str):
        items = [x.strip() for x in _SPLIT.split(value)]
    else:
        raise AnnotationError(f"{where}: 标签须为列表或字符串 labels must be a list or a string, got {type(value).__name__}")
    items = [x for x in items if x]
    if not items:
        raise AnnotationError(f"{where}: 标签为空 no label given")
    return tuple(sorted(set(items)))


_TRUE = {"1", "true", "yes", "y", "是", "有", "违法", "illegal"}
_FALSE = {"", "0", "false", "no", "n", "否", "无"}


def parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value if value is not None else "").strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise AnnotationError(f"{where}: 无法识别的是/否值 not a yes/no value: {value!r}")
