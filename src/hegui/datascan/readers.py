"""Streaming corpus readers: one `Shard` in, `Document`s and `ReadIssue`s out.

Nothing here loads a whole file: line formats are read line by line (and large uncompressed ones
are split into byte ranges so several cores share one file), JSON arrays are parsed with a bounded
incremental decoder, Parquet by row-group batches. A broken line, an odd encoding or an empty
document becomes a `ReadIssue` or a flag, never an exception that stops the scan.
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

FORMATS = ("jsonl", "json", "csv", "tsv", "parquet", "text")
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_EXT_FORMAT = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "text", ".md": "text", ".text": "text",
}
# Line formats whose uncompressed files can be split into byte ranges.
SPLITTABLE = ("jsonl", "text")
MAX_JSON_DOC = 64 * 1024 * 1024  # a single JSON value larger than this is reported, not buffered


class ReaderError(ValueError):
    """The input cannot be read at all (missing path, unknown format)."""


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """How to read: which field holds the text and the id, and what a plain-text document is."""

    text_field: str = "text"
    id_field: str | None = None
    text_unit: str = "line"  # plain text: "line" (one document per line) or "file"
    format: str | None = None  # force a format instead of guessing from the extension


@dataclass(frozen=True, slots=True)
class Shard:
    """A unit of work: a whole file, or a byte range of an uncompressed line file."""

    index: int
    path: str
    rel: str  # path shown in ids and reports (relative to the scanned root)
    source: str
    format: str
    compression: str | None
    start: int = 0
    end: int = -1  # -1: to the end of the file

    def key(self) -> str:
        return f"{self.rel}|{self.start}|{self.end}"


@dataclass(slots=True)
class Document:
    id: str
    text: str
    nbytes: int
    encoding: str = "utf-8"


@dataclass(slots=True)
class ReadIssue:
    """Something in the input that could not be read as a document (kept out of the rates)."""

    location: str
    kind: str  # broken_json, not_utf8, missing_field, bad_type, too_large, unreadable
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "kind": self.kind, "message": self.message}


# -- discovering files ------------------------------------------------------------------------


def detect_format(path: str, forced: str | None = None) -> tuple[str, str | None]:
    """(format, compression) from the file name, e.g. ``a.jsonl.zst`` → ("jsonl", "zstd")."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    compression = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    if forced:
        if forced not in FORMATS:
            raise ReaderError(f"未知格式 unknown format {forced!r}; choose one of {', '.join(FORMATS)}")
        return forced, compression
    fmt = _EXT_FORMAT.get(suffixes[-1]) if suffixes else None
    return fmt or "text", compression


def expand_paths(paths: Iterable[str | Path]) -> list[tuple[str, str]]:
    """Files under the given files, directories and globs, sorted: [(absolute path, display path)]."""
    found: dict[str, str] = {}
    for raw in paths:
        p = str(raw)
        if any(ch in p for ch in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise ReaderError(f"没有匹配的文件 no file matches {p!r}")
            for m in matches:
                if os.path.isfile(m):
                    found.setdefault(os.path.abspath(m), m)
        elif os.path.isdir(p):
            # Shown as <dir name>/<path inside>: ids do not depend on where the corpus is mounted.
            base = os.path.basename(os.path.normpath(p))
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if f.startswith("."):
                        continue
                    full = os.path.join(root, f)
                    found.setdefault(os.path.abspath(full), os.path.join(base, os.path.relpath(full, p)))
        elif os.path.isfile(p):
            found.setdefault(os.path.abspath(p), os.path.basename(p))
        else:
            raise ReaderError(f"路径不存在 path not found: {p}")
    return sorted(found.items(), key=lambda kv: kv[1])


# A corpus is cut into at least this many shards while they stay ≥ MIN_AUTO_SHARD_BYTES, so that a
# small corpus still keeps every worker busy (32 MB in one 32 MiB shard ran on one core whatever
# --workers said). Neither depends on the worker count: a scan resumed with another -j keeps its plan.
TARGET_SHARDS = 16
MIN_AUTO_SHARD_BYTES = 4 * 1024 * 1024


def _splittable(fmt: str, comp: str | None, opts: ReaderOptions) -> bool:
    return comp is None and (fmt == "jsonl" or (fmt == "text" and opts.text_unit == "line"))


def shard_size(splittable_bytes: int, max_bytes: int) -> int:
    """Bytes per shard: ``max_bytes`` (--shard-mb) for a large corpus; smaller for a small one, down
    to ``MIN_AUTO_SHARD_BYTES``, so that it still splits into ``TARGET_SHARDS`` shards."""
    want = -(-splittable_bytes // TARGET_SHARDS)  # ceil
    return min(max_bytes, max(MIN_AUTO_SHARD_BYTES, want))


def plan_shards(
    files: list[tuple[str, str, str]], opts: ReaderOptions, shard_bytes: int = 32 * 1024 * 1024
) -> list[Shard]:
    """Shards for [(path, display path, source)]. Deterministic: same files, same shards.

    ``shard_bytes`` is the largest shard; see `shard_size` for a small corpus. Compressed files and
    formats that cannot be cut at a line (Parquet, JSON, CSV, a document per text file) are one
    shard each.
    """
    planned = []
    for path, rel, source in files:
        fmt, comp = detect_format(path, opts.format)
        planned.append((path, rel, source, fmt, comp, os.path.getsize(path), _splittable(fmt, comp, opts)))
    shard_bytes = shard_size(sum(p[5] for p in planned if p[6]), shard_bytes)
    shards: list[Shard] = []
    for path, rel, source, fmt, comp, size, splittable in planned:
        if splittable and size > shard_bytes:
            for start in range(0, size, shard_bytes):
                end = min(size, start + shard_bytes)
                shards.append(Shard(len(shards), path, rel, source, fmt, comp, start, end))
        else:
            shards.append(Shard(len(shards), path, rel, source, fmt, comp))
    return shards


# -- decoding --------------------------------------------------------------------------------


def decode(raw: bytes) -> tuple[str, str]:
    """Bytes → (text, encoding). UTF-8 first, then GB18030 (common in Chinese corpora), else lossy."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), "utf-8-lossy"


def open_binary(path: str, compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "bz2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        import zstandard

        fh = open(path, "rb")  # noqa: SIM115 - closed with the reader
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))  # type: ignore[arg-type]
    return open(path, "rb")


# -- reading ---------------------------------------------------------------------------------


def read_shard(shard: Shard, opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    """Documents and issues of one shard, in file order."""
    try:
        if shard.format == "parquet":
            yield from _read_parquet(shard, opts)
            return
        with open_binary(shard.path, shard.compression) as fh:
            if shard.format == "jsonl":
                yield from _read_jsonl(shard, fh, opts)
            elif shard.format == "text":
                yield from _read_text(shard, fh, opts)
            elif shard.format in ("csv", "tsv"):
                yield from _read_csv(shard, fh, opts)
            elif shard.format == "json":
                yield from _read_json(shard, fh, opts)
            else:  # pragma: no cover - detect_format guards this
                raise ReaderError(f"unknown format {shard.format!r}")
    except (OSError, EOFError, ValueError) as e:
        if isinstance(e, ReaderError):
            raise
        # A truncated gzip, a corrupt zstd frame, an unreadable Parquet footer: report and go on.
        yield ReadIssue(shard.rel, "unreadable", f"文件无法读取 cannot read file: {type(e).__name__}: {e}")


def _lines(shard: Shard, fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line) for the lines that *start* inside [start, end)."""
    pos = 0
    if shard.start > 0:
        fh.seek(shard.start - 1)
        prev = fh.read(1)
        pos = shard.start
        if prev != b"\n":  # we are mid-line: that line belongs to the previous shard
            skipped = fh.readline()
            pos += len(skipped)
    end = shard.end if shard.end >= 0 else None
    for line in fh:
        if end is not None and pos >= end:
            break
        yield pos, line
        pos += len(line)


def _doc_from_obj(obj: Any, loc: str, opts: ReaderOptions, nbytes: int, enc: str) -> Document | ReadIssue:
    if not isinstance(obj, dict):
        return ReadIssue(loc, "bad_type", f"不是 JSON 对象 not a JSON object but {type(obj).__name__}")
    text = obj.get(opts.text_field)
    if text is None:
        return ReadIssue(loc, "missing_field", f"缺少文本字段 no {opts.text_field!r} field")
    if not isinstance(text, str):
        return ReadIssue(loc, "bad_type", f"文本字段不是字符串 field {opts.text_field!r} is {type(text).__name__}, not a string")
    doc_id = loc
    if opts.id_field:
        v = obj.get(opts.id_field)
        if v is not None and not isinstance(v, dict | list):
            doc_id = str(v)
    return Document(doc_id, text, nbytes, enc)


def _fast_doc(line: bytes, loc: str, opts: ReaderOptions) -> Document | None:
    """The document of a JSONL line through orjson (on the bytes: half of decode + ``json.loads``),
    or None where ``json.loads`` must decide.

    Taken only where the result is certainly what the json path gives: orjson accepts valid UTF-8
    only (what ``decode`` calls "utf-8") and strict RFC 8259 JSON, a subset of what ``json`` reads,
    to the same values, except that it turns integers beyond 64 bits into floats. So the line
    must be an object whose text is a string and whose id is absent, a string or an integer (an
    int from orjson is exact). Anything else (a float or huge id, a non-string text, lone
    surrogate escapes, NaN, broken JSON, other encodings) goes the json way, messages included.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    text = obj.get(opts.text_field)
    if type(text) is not str:
        return None
    doc_id: Any = loc
    if opts.id_field:
        v = obj.get(opts.id_field)
        if v is not None:
            if type(v) is not str and not isinstance(v, int):
                return None
            doc_id = str(v)  # what _doc_from_obj does
    return Document(doc_id, text, len(line), "utf-8")


def _read_jsonl(shard: Shard, fh: IO[bytes], opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    for off, raw in _lines(shard, fh):
        loc = f"{shard.rel}:{off}"
        line = raw.rstrip(b"\r\n")
        if off == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line or line.isspace():  # = not line.strip(), without copying the line
            continue  # blank lines separate nothing in JSONL
        doc = _fast_doc(line, loc, opts)
        if doc is not None:
            yield doc
            continue
        text, enc = decode(line)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield ReadIssue(loc, "broken_json", f"JSON 行损坏 broken JSON line: {e.msg} at column {e.colno}")
            continue
        yield _doc_from_obj(obj, loc, opts, len(line), enc)


def _read_text(shard: Shard, fh: IO[bytes], opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    if opts.text_unit == "file":
        raw = fh.read(MAX_JSON_DOC + 1)
        if len(raw) > MAX_JSON_DOC:
            yield ReadIssue(shard.rel, "too_large", f"文档过大 document larger than {MAX_JSON_DOC:,} bytes")
            return
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        text, enc = decode(raw)
        yield Document(shard.rel, text, len(raw), enc)
        return
    for off, raw in _lines(shard, fh):
        line = raw.rstrip(b"\r\n")
        if off == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        text, enc = decode(line)
        yield Document(f"{shard.rel}:{off}", text, len(line), enc)


def _read_csv(shard: Shard, fh: IO[bytes], opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    encodings: list[str] = []

    def text_lines() -> Iterator[str]:
        for n, raw in enumerate(fh):
            if n == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            text, enc = decode(raw)
            encodings.append(enc)
            yield text

    reader = csv.reader(text_lines(), delimiter="\t" if shard.format == "tsv" else ",")
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        yield ReadIssue(f"{shard.rel}:header", "broken_csv", f"CSV 表头损坏 broken header: {e}")
        return
    if opts.text_field not in header:
        yield ReadIssue(shard.rel, "missing_field", f"CSV 缺少文本列 no column {opts.text_field!r} (columns: {', '.join(header)[:200]})")
        return
    ti = header.index(opts.text_field)
    ii = header.index(opts.id_field) if opts.id_field and opts.id_field in header else None
    row_no = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            row_no += 1
            yield ReadIssue(f"{shard.rel}:row{row_no}", "broken_csv", f"CSV 行损坏 broken row: {e}")
            continue
        row_no += 1
        loc = f"{shard.rel}:row{row_no}"
        if not row:
            continue
        if len(row) <= ti:
            yield ReadIssue(loc, "missing_field", f"行的列数不足 row has {len(row)} columns, text is column {ti + 1}")
            continue
        text = row[ti]
        doc_id = row[ii] if ii is not None and len(row) > ii and row[ii] else loc
        enc = encodings[-1] if encodings else "utf-8"
        yield Document(doc_id, text, len(text.encode("utf-8", "surrogatepass")), enc)


def _read_json(shard: Shard, fh: IO[bytes], opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    """A top-level array of objects, or concatenated objects, decoded incrementally.

    The buffer holds at most one value plus one chunk, so memory is bounded by the largest
    document (capped at ``MAX_JSON_DOC``), not by the file.
    """
    dec = json.JSONDecoder()
    chunk = 1 << 20
    data = fh.read(chunk)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    buf, pending = _decode_prefix(data)  # a chunk boundary can split a UTF-8 sequence
    pos = 0
    in_array = False
    index = 0
    eof = len(data) < chunk

    def refill() -> bool:
        nonlocal buf, pos, pending, eof
        if eof:
            return False
        more = fh.read(chunk)
        if len(more) < chunk:
            eof = True
        text, pending = _decode_prefix(pending + more)
        buf = buf[pos:] + text
        pos = 0
        return bool(more)

    while True:
        while pos < len(buf) and buf[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(buf):
            if not refill():
                break
            continue
        if not in_array and index == 0 and buf[pos] == "[":
            in_array = True
            pos += 1
            continue
        if buf[pos] == "]" and in_array:
            break
        try:
            obj, end = dec.raw_decode(buf, pos)
        except json.JSONDecodeError as e:
            if not eof and len(buf) - pos < MAX_JSON_DOC:
                refill()
                continue
            yield ReadIssue(f"{shard.rel}:item{index}", "broken_json", f"JSON 无法解析 broken JSON: {e.msg}; rest of file skipped")
            return
        nbytes = len(buf[pos:end].encode("utf-8", "surrogatepass"))
        yield _doc_from_obj(obj, f"{shard.rel}:item{index}", opts, nbytes, "utf-8")
        index += 1
        pos = end


def _decode_prefix(data: bytes) -> tuple[str, bytes]:
    """Decode UTF-8, keeping an incomplete trailing sequence for the next chunk."""
    for cut in range(0, 4):
        head = data[: len(data) - cut] if cut else data
        try:
            return head.decode("utf-8"), data[len(data) - cut :] if cut else b""
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), b""


def _read_parquet(shard: Shard, opts: ReaderOptions) -> Iterator[Document | ReadIssue]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(shard.path)
    names = pf.schema_arrow.names
    if opts.text_field not in names:
        yield ReadIssue(shard.rel, "missing_field", f"Parquet 缺少文本列 no column {opts.text_field!r} (columns: {', '.join(names)[:200]})")
        return
    cols = [opts.text_field] + ([opts.id_field] if opts.id_field and opts.id_field in names else [])
    row = 0
    for batch in pf.iter_batches(batch_size=4096, columns=cols):
        texts = batch.column(0).to_pylist()
        ids = batch.column(1).to_pylist() if batch.num_columns > 1 else [None] * len(texts)
        for text, did in zip(texts, ids, strict=True):
            loc = f"{shard.rel}:row{row}"
            row += 1
            if text is None:
                yield Document(str(did) if did is not None else loc, "", 0)
                continue
            if isinstance(text, bytes):
                text, enc = decode(text)
            elif not isinstance(text, str):
                yield ReadIssue(loc, "bad_type", f"文本列不是字符串 column {opts.text_field!r} holds {type(text).__name__}")
                continue
            else:
                enc = "utf-8"
            yield Document(str(did) if did is not None else loc, text, len(text.encode("utf-8", "surrogatepass")), enc)
