"""Readers: every format, broken input reported not fatal, byte-range shards equal whole files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hegui.datascan.readers import (
    Document,
    ReaderError,
    ReaderOptions,
    ReadIssue,
    detect_format,
    expand_paths,
    plan_shards,
    read_shard,
    shard_size,
)


def _read_all(paths: list[str], opts: ReaderOptions, shard_bytes: int = 1 << 30) -> tuple[list[Document], list[ReadIssue]]:
    files = [(f, rel, "s") for f, rel in expand_paths(paths)]
    docs: list[Document] = []
    issues: list[ReadIssue] = []
    for shard in plan_shards(files, opts, shard_bytes):
        for item in read_shard(shard, opts):
            (docs if isinstance(item, Document) else issues).append(item)
    return docs, issues


def test_detect_format() -> None:
    assert detect_format("x/a.jsonl.zst") == ("jsonl", "zstd")
    assert detect_format("a.CSV.gz") == ("csv", "gzip")
    assert detect_format("a.parquet") == ("parquet", None)
    assert detect_format("README") == ("text", None)
    with pytest.raises(ReaderError):
        detect_format("a.txt", "xml")


def test_every_format_and_bad_input(corpus: Path) -> None:
    docs, issues = _read_all([str(corpus)], ReaderOptions(id_field="id"))
    ids = [d.id for d in docs]
    # 120 generated docs + GB18030 doc + empty JSONL doc + empty CSV doc
    assert len(docs) == 123
    assert len(set(ids)) == len(ids)
    by_id = {d.id: d for d in docs}
    assert by_id["gbk"].encoding == "gb18030"
    assert "国标编码" in by_id["gbk"].text
    assert by_id["empty"].text == "" and by_id["empty-csv"].text == ""
    kinds = sorted(i.kind for i in issues)
    assert kinds == ["bad_type", "broken_json", "missing_field"]
    assert all("corpus/a.jsonl:" in i.location for i in issues)
    # ids fall back to file:offset for plain text
    assert any(i.startswith("corpus/h.txt:") for i in ids)


def test_byte_range_shards_equal_whole_file(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"第{i}行，" + "内容" * (i % 37)}, ensure_ascii=False) for i in range(2000)]
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole, _ = _read_all([str(p)], ReaderOptions())
    files = [(str(p), "big.jsonl", "s")]
    shards = plan_shards(files, ReaderOptions(), shard_bytes=997)  # cuts lines mid-way on purpose
    assert len(shards) > 50
    split, _ = _read_all([str(p)], ReaderOptions(), shard_bytes=997)
    assert [(d.id, d.text) for d in split] == [(d.id, d.text) for d in whole]
    assert len(whole) == 2000


def test_shard_size_splits_a_small_corpus_for_every_worker() -> None:
    mib = 1 << 20
    assert shard_size(1 << 40, 32 * mib) == 32 * mib  # large corpus: --shard-mb
    assert shard_size(32 * 10**6, 32 * mib) == 4 * mib  # 32 MB: 8 shards, not 1
    assert shard_size(128 * mib, 32 * mib) == 8 * mib  # 16 shards
    assert shard_size(1000, 32 * mib) == 4 * mib  # never below 4 MiB on its own…
    assert shard_size(1 << 40, 700) == 700  # …but an explicit smaller --shard-mb stands


def test_plan_shards_counts_only_splittable_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from hegui.datascan import readers

    monkeypatch.setattr(readers, "MIN_AUTO_SHARD_BYTES", 100)
    line = json.dumps({"text": "内容" * 20}, ensure_ascii=False) + "\n"
    plain = tmp_path / "a.jsonl"
    plain.write_text(line * 200, encoding="utf-8")
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress((line * 5000).encode()))
    files = [(str(plain), "a.jsonl", "s"), (str(packed), "b.jsonl.gz", "s")]
    shards = plan_shards(files, ReaderOptions(), shard_bytes=1 << 30)
    cut = [s for s in shards if s.path == str(plain)]
    # the gzip file is one shard whatever its size; the plain file splits into about 16
    assert [s.path for s in shards].count(str(packed)) == 1
    assert len(cut) in (16, 17)
    assert max(s.end - s.start for s in cut) == -(-plain.stat().st_size // 16)
    docs, _ = _read_all([str(plain)], ReaderOptions())
    assert len(docs) == 200  # a plan made on its own is read whole


def test_json_array_streams_across_chunks(tmp_path: Path) -> None:
    # values bigger than the 1 MiB read chunk, and multi-byte characters across chunk edges
    docs = [{"id": str(i), "text": "长" * (300_000 + i)} for i in range(5)]
    p = tmp_path / "arr.json"
    p.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    got, issues = _read_all([str(p)], ReaderOptions(id_field="id"))
    assert not issues
    assert [len(d.text) for d in got] == [300_000 + i for i in range(5)]
    # a truncated array reports the rest as broken, keeps what came before
    p.write_text(json.dumps(docs[:2], ensure_ascii=False)[:-50], encoding="utf-8")
    got, issues = _read_all([str(p)], ReaderOptions(id_field="id"))
    assert len(got) == 1 and issues[0].kind == "broken_json"


def test_text_file_per_document_and_globs(tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "1.txt").write_text("第一篇\n两行", encoding="utf-8")
    (d / "2.txt").write_bytes("第二篇".encode("gb18030"))
    docs, _ = _read_all([str(d / "*.txt")], ReaderOptions(text_unit="file"))
    assert [d.text for d in docs] == ["第一篇\n两行", "第二篇"]
    with pytest.raises(ReaderError):
        expand_paths([str(tmp_path / "nothing*.jsonl")])
    with pytest.raises(ReaderError):
        expand_paths([str(tmp_path / "missing.jsonl")])


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "t.jsonl.gz"
    data = gzip.compress(b"".join(json.dumps({"text": f"doc {i}"}).encode() + b"\n" for i in range(5000)))
    p.write_bytes(data[: len(data) // 2])
    docs, issues = _read_all([str(p)], ReaderOptions())
    assert docs and len(docs) < 5000
    assert issues[-1].kind == "unreadable"


def test_csv_missing_column_is_reported(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    docs, issues = _read_all([str(p)], ReaderOptions())
    assert not docs and issues[0].kind == "missing_field"
