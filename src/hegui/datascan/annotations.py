"""The annotations file as JSONL or Parquet.

JSONL is what the executors produce and what diffs well; Parquet is what a data team loads into
Spark, DuckDB or pandas next to the corpus. Both hold the same records: the Parquet file has a
fixed schema (below) so that files from different scans concatenate, and it is written in row
groups from the merged JSONL stream, never holding the whole corpus in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("jsonl", "parquet")
_EXT = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
ROW_GROUP = 16_384


@functools.cache
def schema() -> pa.Schema:
    """The fixed Parquet schema (also ``SCHEMA``). pyarrow is imported here, not with the module:
    `hegui scan` imports this module for every run and writes Parquet only when asked (the import
    cost ≈ 0.03 CPU s of each JSONL run)."""
    import pyarrow as pa

    finding = pa.struct([("risk", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                         ("score", pa.float64()), ("detector", pa.string())])
    quality = pa.struct([("chars", pa.int64()), ("lines", pa.int64()), ("symbol_ratio", pa.float64()),
                         ("digit_ratio", pa.float64()), ("dup_line_ratio", pa.float64()),
                         ("rep_ngram_ratio", pa.float64())])
    return pa.schema([
        ("id", pa.string()), ("source", pa.string()), ("file", pa.string()), ("bytes", pa.int64()),
        ("encoding", pa.string()), ("lang", pa.string()), ("quality", quality), ("flags", pa.list_(pa.string())),
        ("action", pa.string()), ("illegal", pa.bool_()), ("risks", pa.list_(pa.string())),
        ("pii", pa.map_(pa.string(), pa.int64())), ("findings", pa.list_(finding)), ("error", pa.string()),
        ("auto_sample", pa.bool_()), ("reasons", pa.list_(pa.string())), ("dup_of", pa.string()),
    ])


def __getattr__(name: str) -> Any:
    if name == "SCHEMA":  # the module-level constant of before, built on first use
        return schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def annotations_target(out_dir: Path, name: str | None, fmt: str | None, default_format: str = "jsonl") -> tuple[Path, str]:
    """(path, format) from ``--annotations`` / ``--annotations-format`` / the config's default.

    An explicit format wins; else a known extension of the file name; else the default. A name
    whose extension contradicts an explicit format is refused rather than guessed.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"注释格式须为 jsonl 或 parquet  annotations format must be jsonl or parquet, not {fmt!r}")
    ext_fmt = _EXT.get(Path(name).suffix.lower()) if name else None
    if name and Path(name).suffix and ext_fmt is None:
        raise ValueError(f"未知的注释文件扩展名 unknown annotations extension {Path(name).suffix!r}: use .jsonl or .parquet")
    if fmt and ext_fmt and fmt != ext_fmt:
        raise ValueError(f"--annotations {name!r} 与格式 {fmt!r} 不符 does not match the format")
    chosen = fmt or ext_fmt or default_format
    if chosen not in FORMATS:
        raise ValueError(f"annotations format must be jsonl or parquet, not {chosen!r}")
    if name:
        path = Path(name)
        path = path if path.is_absolute() or path.parent != Path() else out_dir / path
        if not path.suffix:
            path = path.with_suffix("." + chosen)
    else:
        path = out_dir / f"annotations.{chosen}"
    return path, chosen


def _row(a: dict[str, Any], names: list[str]) -> dict[str, Any]:
    row = {k: a.get(k) for k in names}
    row["pii"] = list((a.get("pii") or {}).items())  # map columns take (key, value) pairs
    return row


def write_parquet(records: Iterator[dict[str, Any]], path: Path) -> int:
    """Write annotation dicts to ``path`` in row groups; returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sch = schema()
    n = 0
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, sch, compression="zstd") as writer:
        batch: list[dict[str, Any]] = []
        for a in records:
            batch.append(_row(a, sch.names))
            if len(batch) >= ROW_GROUP:
                writer.write_table(pa.Table.from_pylist(batch, schema=sch))
                n += len(batch)
                batch.clear()
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=sch))
            n += len(batch)
    tmp.replace(path)
    return n


def read_annotations(path: Path) -> Iterator[dict[str, Any]]:
    """Annotation dicts from either format, in file order (the JSONL shape: ``pii`` as a dict,
    optional keys absent when null)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=ROW_GROUP):
            for row in batch.to_pylist():
                row["pii"] = dict(row["pii"] or [])
                for k in ("encoding", "error"):
                    if row.get(k) is None:
                        row.pop(k, None)
                q = row.get("quality")
                if isinstance(q, dict):
                    row["quality"] = {k: v for k, v in q.items() if v is not None}
                yield row
        return
    from hegui.datascan.pipeline import _loads

    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield _loads(line)
