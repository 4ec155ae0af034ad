"""Bad files give clear errors: wrong encoding, missing columns, bad JSON, bad dates."""

from __future__ import annotations

from pathlib import Path

import pytest

from hegui.annotation import AnnotationError, load_roster
from hegui.annotation.batches import load_annotations, load_reviews


def test_gbk_file_is_rejected_with_the_fix(tmp_path: Path) -> None:
    p = tmp_path / "ann.csv"
    p.write_bytes("item,batch,annotator,labels,time,task\n条目1,B1,ann01,天气,2026-03-01,intent\n".encode("gbk"))
    with pytest.raises(AnnotationError, match=r"not UTF-8 .*line 2.*iconv -f GBK"):
        load_annotations([p])


def test_missing_columns_are_named(tmp_path: Path) -> None:
    p = tmp_path / "ann.csv"
    p.write_text("item,annotator,label\nx,ann01,weather\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"missing column\(s\) batch, labels, time, task; .*header has: item, annotator, label"):
        load_annotations([p])
    # with a default task the task column is optional
    with pytest.raises(AnnotationError, match=r"missing column\(s\) batch, labels, time;"):
        load_annotations([p], default_task="intent")


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "ann.jsonl"
    good = '{"item": "a", "batch": "B", "annotator": "x", "labels": ["weather"], "time": "2026-03-01", "task": "intent"}'
    p.write_text(good + "\n{broken\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"ann.jsonl:2: .*invalid JSON"):
        load_annotations([p])
    p.write_text(good + '\n{"item": "b", "batch": "B", "annotator": "x", "time": "2026-03-01", "task": "intent"}\n', "utf-8")
    with pytest.raises(AnnotationError, match=r"ann.jsonl:2: .*missing field\(s\) labels"):
        load_annotations([p])
    p.write_text(good.replace("2026-03-01", "03/01/2026") + "\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"ann.jsonl:1: time: .*not an ISO date"):
        load_annotations([p])
    p.write_text(good.replace('["weather"]', "[]") + "\n", "utf-8")
    with pytest.raises(AnnotationError, match="no label given"):
        load_annotations([p])


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="file not found"):
        load_annotations([tmp_path / "nope.jsonl"])
    (tmp_path / "a.xml").write_text("<a/>", "utf-8")
    with pytest.raises(AnnotationError, match=r"unsupported format \.xml"):
        load_annotations([tmp_path / "a.xml"])
    (tmp_path / "empty.jsonl").write_text("", "utf-8")
    with pytest.raises(AnnotationError, match="no annotation rows"):
        load_annotations([tmp_path / "empty.jsonl"])


def test_unknown_verdict_is_an_error(tmp_path: Path) -> None:
    a = tmp_path / "ann.csv"
    a.write_text("item,batch,annotator,labels,time,task\nx,B,ann01,weather,2026-03-01,intent\n", "utf-8")
    anns, _ = load_annotations([a])
    r = tmp_path / "rev.csv"
    r.write_text("item,reviewer,verdict\nx,rev01,maybe\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"rev.csv:2: .*unknown verdict 'maybe'"):
        load_reviews([r], anns)
    r.write_text("item,verdict\nx,正确\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"missing column\(s\) reviewer"):
        load_reviews([r], anns)
    r.write_text("item,reviewer,verdict,illegal\nx,rev01,正确,perhaps\n", "utf-8")
    with pytest.raises(AnnotationError, match="not a yes/no value"):
        load_reviews([r], anns)


def test_roster_errors(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("id,roles,qualified_on\nann01,annotate,2026-01-01\nann01,review,2026-01-01\n", "utf-8")
    with pytest.raises(AnnotationError, match="duplicate annotator id 'ann01'"):
        load_roster(p)
    p.write_text("id,roles\nann01,boss\n", "utf-8")
    with pytest.raises(AnnotationError, match="unknown role 'boss'"):
        load_roster(p)
    y = tmp_path / "r.yaml"
    y.write_text("annotators:\n  - {id: a}\n", "utf-8")
    with pytest.raises(AnnotationError, match="needs id and roles"):
        load_roster(y)
    y.write_text("people: 3\n", "utf-8")
    with pytest.raises(AnnotationError, match="annotators"):
        load_roster(y)
