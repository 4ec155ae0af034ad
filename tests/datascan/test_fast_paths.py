"""The throughput work must not change results: each fast path against the plain code it replaced."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from hegui.datascan import signals
from hegui.datascan.protocol import _xlsx_safe, write_xlsx
from hegui.guard import Guard

TRICKY = [
    "", " ", "\x00\x00abc", "\ud800 lone surrogate", "日本語のテキストです。カタカナ", "Привет мир", "مرحبا بالعالم",
    "안녕하세요", "the cat is on the mat", "le chat est là", "١٢٣ ٤٥٦ 𝟙𝟚𝟛 ½ ² ³", "😀😀😀 !!! ###",
    "\U00020000\U0002a6d6 字", "ＡＢＣ１２３", "今天天气很好，我们去公园散步。" * 30, "spam spam spam spam spam " * 20,
    "line\nline\nline\nother", "\t\r\n\x0b\x0c", "ǅǈ ß ſ ﬁ", "\u200b\u2028\u3000",
]


def _random_texts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x20, 0x250)] + [chr(c) for c in range(0x3000, 0x3100)] + list("中文测试数据一二三")
    alphabet += [chr(c) for c in (0, 5, 0x1F600, 0x20001, 0x0660, 0x0966, 0xFF10, 0x00B2)]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))) for _ in range(n)]


def _regex_lang(text: str, sample: int = 4000) -> dict[str, int]:
    s = text[:sample]
    return {name: rx.subn("", s)[1] for name, rx in signals._SCRIPTS}


@pytest.mark.parametrize("text", TRICKY + _random_texts(200))
def test_code_point_tables_count_what_the_regexes_count(text: str) -> None:
    script, cls = signals._luts()
    cps = signals._codepoints(text[:4000])
    counts = {name: int((script[cps] == i).sum()) for i, name in enumerate(signals._SCRIPT_NAMES)}
    assert counts == _regex_lang(text)
    cps = signals._codepoints(text)
    assert int(((cls[cps] & signals._SYM_BIT) > 0).sum()) == signals._SYMBOL.subn("", text)[1]
    assert int(((cls[cps] & signals._DIGIT_BIT) > 0).sum()) == signals._DIGIT.subn("", text)[1]


def _reference_ratio(text: str, n: int = 10, cap: int = 20_000) -> float:
    s = text[:cap]
    if len(s) < 2 * n:
        return 0.0
    seen: set[str] = set()
    covered = bytearray(len(s))
    for i in range(0, len(s) - n + 1, n // 2):
        g = s[i : i + n]
        if g in seen:
            covered[i : i + n] = b"\x01" * n
        else:
            seen.add(g)
    return sum(covered) / len(s)


@pytest.mark.parametrize("text", [*TRICKY, "abcdefghij" * 7 + "xyz", "0123456789" * 3])
def test_repeated_ngram_ratio_unchanged(text: str) -> None:
    assert signals._repeated_ngram_ratio(text) == _reference_ratio(text)


def test_xlsx_safe_strips_only_control_characters() -> None:
    for t in [*TRICKY, *_random_texts(100, seed=5), "a\ufffeb\uffffc\ufffd"]:
        want = "".join(ch for ch in t if ch in "\t\n\r" or (ord(ch) >= 32 and ch not in "\ufffe\uffff"))
        assert _xlsx_safe(t) == want[:32_000]


def test_xlsx_writer_gives_openpyxls_cell_values(tmp_path: Path) -> None:
    # The review sheet used to be written by openpyxl (write-only mode); `write_xlsx` must give
    # the same cell values to openpyxl's readers (import_review reads the sheet back with them).
    from openpyxl import Workbook, load_workbook

    rng = random.Random(3)
    alphabet = [*"ab 中文\t\n\r&<>\"'\x00\x01\x0b\x1f\x7f\ufffd😀é]]>", " ", "  ", "&amp;", "&#13;"]
    rows = [["key", "id", "text", "note"]]
    for _ in range(400):
        rows.append(["".join(rng.choice(alphabet) for _ in range(rng.randint(0, k))) for k in (3, 8, 80, 2)])
    rows += [["1", " lead", "trail \n", ""], ["2", "long", "长" * 40_000, ""], ["", "", "", ""]]
    write_xlsx(tmp_path / "new.xlsx", "review", rows)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("review")
    for r in rows:
        ws.append([_xlsx_safe(v) for v in r])
    wb.save(tmp_path / "old.xlsx")
    for read_only in (True, False):
        got, want = (load_workbook(tmp_path / f, read_only=read_only) for f in ("new.xlsx", "old.xlsx"))
        assert got.sheetnames == want.sheetnames == ["review"]
        got_rows = [list(r) for r in got.active.iter_rows(values_only=True)]
        assert got_rows == [list(r) for r in want.active.iter_rows(values_only=True)]
        assert len(got_rows) == len(rows)
    again = tmp_path / "again.xlsx"
    write_xlsx(again, "review", rows)
    assert again.read_bytes() == (tmp_path / "new.xlsx").read_bytes()  # no timestamps


def test_check_batch_takes_known_languages() -> None:
    g = Guard(detectors=[])
    vs = g.check_batch(["hello", "你好"], role="output", langs=["fr", "zh"])
    assert [v.lang for v in vs] == ["fr", "zh"]
    with pytest.raises(ValueError):
        g.check_batch(["a", "b"], langs=["en"])


def test_lone_surrogate_in_json_does_not_stop_a_scan(tmp_path: Path) -> None:
    """A JSON "\\ud800" escape decodes to a lone surrogate; MinHash used to crash on it (found here)."""
    from hegui.config import Settings
    from hegui.datascan import Pipeline, ReaderOptions, ScanOptions, default_steps, scan

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "s", "text": "坏的代理对\\ud800在这里，后面还有一些正常的中文文字。"}\n'
                      '{"id": "ok", "text": "一段普通的中文文字，没有任何问题，长度也足够。"}\n', encoding="utf-8")
    s = Settings(var_dir=tmp_path / "var", scan={"detectors": ["pii"]})
    res = scan([str(corpus)], tmp_path / "out", Pipeline(default_steps(s), ReaderOptions(id_field="id"), review_n=2),
               settings=s, options=ScanOptions(workers=1))
    assert res.report["overall"]["docs"] == 2
    lines = (tmp_path / "out" / "annotations.jsonl").read_bytes().splitlines()
    assert len(lines) == 2 and b'"id":"s"' in lines[0]


def _annotation(rng: random.Random, i: int) -> dict[str, object]:
    texts = [*TRICKY, "plain", "中文", 'quote " and \\ back', "\n\r\t"]
    return {
        "id": rng.choice([f"d{i}", f"{rng.choice(texts)}{i}"]), "source": "s", "file": "f.jsonl", "bytes": rng.randint(0, 9999),
        **({"encoding": "gb18030"} if rng.random() < 0.1 else {}),
        "lang": rng.choice(["zh", "en", "und"]),
        "quality": {"chars": i, "symbol_ratio": round(rng.random(), 4), "rep_ngram_ratio": rng.choice([0.0, 1e-05, 0.5])},
        "flags": rng.sample(["empty", "too_short", "symbols"], rng.randint(0, 2)),
        "action": "allow", "illegal": rng.random() < 0.2, "risks": rng.sample(["hg.a", "hg.b", "hg.c"], rng.randint(0, 2)),
        "pii": {k: rng.randint(1, 3) for k in rng.sample(["phone", "email", "id_card"], rng.randint(0, 2))},
        "findings": [{"risk": "hg.a", "start": -1, "end": -1, "score": round(rng.random(), 4), "detector": "x"}],
        **({"error": "boom"} if rng.random() < 0.05 else {}),
        "auto_sample": rng.random() < 0.7, "reasons": rng.sample(["quality:empty", "risk:hg.a"], rng.randint(0, 2)),
    }


def test_dup_of_splice_writes_what_reserialising_wrote() -> None:
    from hegui.datascan.pipeline import _dumps, _loads
    from hegui.datascan.scan import _with_dup_of

    rng = random.Random(5)
    anns = [_annotation(rng, i) for i in range(400)]
    data = b"".join(_dumps(a) for a in anns)
    for dups in ({}, {0: "x"}, {i: rng.choice(["d0", "\ud800z", "中"]) for i in rng.sample(range(400), 60)}):
        expected, want_ids = [], set()
        for row, line in enumerate(data.splitlines()):  # the merge's old code
            a = _loads(line)
            a["dup_of"] = dups.get(row)
            if a["dup_of"] is not None:
                a["reasons"].append("near_duplicate")
                want_ids.add(a["id"])
            expected.append(_dumps(a))
        ids: set[str] = set()
        assert _with_dup_of(data, dups, ids) == b"".join(expected)
        assert ids == want_ids


def _add_one(agg: Any, a: dict[str, Any]) -> None:
    """The merge's former per-document counting: the reference the batched counts must equal."""
    agg.docs += 1
    agg.bytes += a["bytes"]
    agg.empty += "empty" in a["flags"]
    agg.illegal += a["illegal"]
    agg.errors += "error" in a
    agg.dups += a.get("dup_of") is not None
    agg.non_utf8 += "encoding" in a
    if a["auto_sample"]:
        agg.auto_n += 1
        agg.auto_ok += not a["illegal"]
    if a["pii"]:
        agg.pii_docs += 1
        for k, v in a["pii"].items():
            agg.pii[k] += v
    for k in a["risks"]:
        agg.risks[k] += 1
    agg.langs[a["lang"]] += 1
    for k in a["flags"]:
        agg.flags[k] += 1


def test_shard_counts_add_up_to_the_document_counts() -> None:
    from hegui.datascan.pipeline import SourceAgg

    rng = random.Random(7)
    anns = [_annotation(rng, i) for i in range(300)]
    whole = SourceAgg()
    for a in anns:
        _add_one(whole, a)
    merged = SourceAgg()
    for lo, hi in ((0, 0), (0, 17), (17, 150), (150, 300)):
        part = SourceAgg()
        for a in anns[lo:hi]:
            _add_one(part, a)
        merged.merge(SourceAgg.from_json(json.loads(json.dumps(part.to_json()))))  # as stats.json holds it
    assert merged.to_dict() == whole.to_dict()
    for k in SourceAgg._COUNTERS:  # the same key order: the report's order of ties
        assert list(getattr(merged, k)) == list(getattr(whole, k))
    batched = SourceAgg()
    for lo in range(0, 300, 64):
        batched.add_many(anns[lo : lo + 64])
    batched.add_many([])
    assert batched.to_json() == whole.to_json()
    for k in SourceAgg._COUNTERS:
        assert list(getattr(batched, k)) == list(getattr(whole, k))


_JSONL_EDGE = [
    b'{"id": "a", "text": "plain"}', b'{"id": 7, "text": "int id"}', b'{"id": 18446744073709551616, "text": "huge id"}',
    b'{"id": -9223372036854775809, "text": "huge negative id"}', b'{"id": 1.5, "text": "float id"}',
    b'{"id": 1e400, "text": "inf id"}', b'{"id": NaN, "text": "nan id"}', b'{"id": true, "text": "bool id"}',
    b'{"id": null, "text": "null id"}', b'{"id": [1], "text": "list id"}', b'{"id": {"a": 1}, "text": "dict id"}',
    b'{"text": "no id"}', b'{"id": "x", "text": 12}', b'{"id": "x", "text": null}', b'{"id": "x"}', b"[1, 2]",
    b'"just a string"', b'{"text": "\\ud800 lone"}', b'{"text": "\\udc00\\ud800"}', b'{"text": "\\ud83d\\ude00 pair"}',
    b'{"text": "a", "text": "dup key"}', b'{"text": "x"} trailing', b'{"text": "raw \x01 control"}',
    b'{"text": "\xe4\xb8\xad\xe6\x96\x87"}', '{"text": "中文 gbk"}'.encode("gb18030"), b'{"text": "bad \xff utf8"}',
    b'{"text": "\xed\xa0\x80 encoded surrogate"}', b'\t{"text": "spaces"}  ', b'{"text": "\\u2028 \\u0000"}',
    b'{"text": "x", "n": 1e400}', b'{"text": "x", "n": 18446744073709551616}', b'{"id":"e","text":""}', b"{broken",
]


def test_jsonl_fast_path_reads_what_json_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hegui.datascan import readers

    path = tmp_path / "edge.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(_JSONL_EDGE) + b"\n\n")
    for opts in (readers.ReaderOptions(id_field="id"), readers.ReaderOptions(), readers.ReaderOptions(text_field="n", id_field="text")):
        shard = readers.plan_shards([(str(path), "edge.jsonl", "s")], opts)[0]
        fast = list(readers.read_shard(shard, opts))
        with monkeypatch.context() as m:
            m.setattr(readers, "_fast_doc", lambda *a: None)
            slow = list(readers.read_shard(shard, opts))
        assert fast == slow
        assert len(fast) == len(_JSONL_EDGE)


def test_xlsx_sheet_equals_the_cell_by_cell_writer(tmp_path: Path) -> None:
    import zipfile

    from hegui.datascan.protocol import _xlsx_col, _xml_text

    rng = random.Random(9)
    alphabet = [*"ab 中文\t\n\r&<>\x00\x01\x0b\x1f\ufffe\uffff", "  "]
    rows = [["".join(rng.choice(alphabet) for _ in range(rng.randint(0, k))) for k in (0, 3, 40, 2)][: rng.randint(0, 4)]
            for _ in range(300)]
    rows += [["\x00", "长" * 40_000 + "\x01"], []]
    write_xlsx(tmp_path / "x.xlsx", "s", rows)
    out = []  # the writer before the one search over the sheet: each cell on its own
    for n, row in enumerate(rows, start=1):
        out.append(f'<row r="{n}">')
        for i, v in enumerate(row):
            v, c = _xlsx_safe(v), _xlsx_col(i)
            space = ' xml:space="preserve"' if v and (v[0].isspace() or v[-1].isspace()) else ""
            out.append(f'<c r="{c}{n}" t="inlineStr"><is><t{space}>{_xml_text(v)}</t></is></c>' if v else f'<c r="{c}{n}"/>')
        out.append("</row>")
    sheet = zipfile.ZipFile(tmp_path / "x.xlsx").read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert sheet.split("<sheetData>", 1)[1] == "".join(out) + "</sheetData></worksheet>"


def test_prefix_hashed_sample_keys_equal_sample_key() -> None:
    from hegui.datascan.pipeline import _SampleKeys, sample_key

    rng = random.Random(11)
    keys = _SampleKeys(20231, "review")
    for _ in range(500):
        source = rng.choice(["s", "", "来源|a", "\udc80x"])
        doc_id = rng.choice([*TRICKY, "d1", "|", "\udc00", "中"]) + str(rng.randint(0, 9))
        assert keys(source, doc_id) == sample_key(20231, "review", source, doc_id)


def test_record_empty_is_strip_empty() -> None:
    from hegui.datascan.readers import Document
    from hegui.datascan.steps import Record

    texts = [*TRICKY, *_random_texts(200, seed=13), "\u3000\u2028\x1c\x85", "\u200b", "\x00", " a "]
    texts += [chr(c) for c in range(0x3001)]
    for t in texts:
        assert Record(Document("d", t, 0), "s", "f").empty == (not t.strip())
