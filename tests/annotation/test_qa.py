"""The QA evaluation on the example, and each failure the issue lists: unknown annotators, labels
outside the rules, duplicate items, missing reviews, self-review, unqualified annotators."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hegui.stats import wilson_interval

from .conftest import codes, run_qa


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x]


def _write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def _reviews(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _write_reviews(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _batch(data, name: str) -> dict:
    return next(b for b in data["batches"] if b["batch"] == name)


def test_example_passes(example: Path) -> None:
    data = run_qa(example)
    assert data["result"] == "pass" and data["issues"] == []
    assert {b["batch"]: b["decision"] for b in data["batches"]} == {
        "F-2026-001": "accept", "F-2026-002": "discard", "S-2026-001": "accept"}
    f1 = _batch(data, "F-2026-001")
    assert f1["plan"]["sample_size"] == 100 and f1["sampled_items"] == 100
    # accuracy with its Wilson interval, recomputed from the counts
    assert f1["accuracy"] == pytest.approx(f1["correct"] / f1["reviewed"])
    assert f1["ci"] == pytest.approx(list(wilson_interval(f1["correct"], f1["reviewed"])))
    s1 = _batch(data, "S-2026-001")
    assert s1["reviewed"] == s1["annotations"] == 80 and s1["correct"] == 78
    assert s1["agreement"]["items_multi"] == 40 and s1["agreement"]["krippendorff_alpha"] > 0.8
    ov = data["overall"]
    assert ov["safety_review_coverage"] == 1.0 and ov["types"] == {"functional": 260, "safety": 40}
    assert ov["decisions"] == {"accept": 2, "re-annotate": 0, "discard": 1, "pending": 0}


def test_unreviewed_safety_annotation(example: Path) -> None:
    revs = _reviews(example / "reviews.csv")
    dropped = [r for r in revs if not (r["item"] == "S1-0007" and r["annotator"] == "ann03")]
    assert len(dropped) == len(revs) - 1
    _write_reviews(example / "reviews.csv", dropped)
    data = run_qa(example)
    assert data["result"] == "fail"
    issue = next(i for i in data["issues"] if i["code"] == "reviews.missing_safety")
    assert "S1-0007/ann03" in issue["message_en"] and "1 missing" in issue["message_en"]
    assert _batch(data, "S-2026-001")["decision"] == "pending"
    assert data["overall"]["safety_review_coverage"] == pytest.approx(79 / 80)


def test_missing_sample_reviews_and_blank_verdicts(example: Path) -> None:
    revs = _reviews(example / "reviews.csv")
    for r in revs:
        if r["batch"] == "F-2026-001" and r["item"] in ("F1-0150", "F1-0161"):
            r["verdict"] = ""
            r["reviewer"] = ""
    _write_reviews(example / "reviews.csv", revs)
    data = run_qa(example)
    assert {"reviews.missing_sample"} <= codes(data)
    assert any(i["code"] == "reviews.blank_verdict" for i in data["issues"])
    assert _batch(data, "F-2026-001")["decision"] == "pending"


def test_unknown_annotator_and_unqualified_annotator(example: Path) -> None:
    rows = _rows(example / "annotations.jsonl")
    for r in rows:
        if r["batch"] == "F-2026-001" and r["item"] == "F1-0120":
            r["annotator"] = "ghost"
        if r["batch"] == "S-2026-001" and r["item"] == "S1-0003" and r["annotator"] == "ann03":
            r["annotator"] = "ann04"  # on the roster, never qualified
    _write(example / "annotations.jsonl", rows)
    revs = _reviews(example / "reviews.csv")
    for r in revs:
        if r["item"] == "S1-0003" and r["annotator"] == "ann03":
            r["annotator"] = "ann04"
    _write_reviews(example / "reviews.csv", revs)
    data = run_qa(example)
    assert {"people.unknown", "people.unqualified"} <= codes(data)
    people = {p["id"]: p for p in data["people"]}
    assert "people.unknown" in people["ghost"]["flags"] and "people.unqualified" in people["ann04"]["flags"]
    s1 = _batch(data, "S-2026-001")
    assert s1["decision"] == "re-annotate" and any("unqualified" in r["en"] for r in s1["reasons"])


def test_overdue_annotator_flagged(example: Path) -> None:
    roster = (example / "roster.yaml").read_text("utf-8").replace("retrain_due: 2026-08-01", "retrain_due: 2026-06-01")
    (example / "roster.yaml").write_text(roster, "utf-8")
    data = run_qa(example)
    assert "people.retraining_overdue" in codes(data)
    assert _batch(data, "S-2026-001")["decision"] == "re-annotate"  # ann03 labelled it on 2026-06-16


def test_labels_outside_rules(example: Path) -> None:
    rows = _rows(example / "annotations.jsonl")
    rows[0]["labels"] = ["weathr"]
    _write(example / "annotations.jsonl", rows)
    data = run_qa(example)
    issue = next(i for i in data["issues"] if i["code"] == "data.unknown_label")
    assert "'weathr'" in issue["message_en"] and "intent v1.0" in issue["message_en"]
    assert _batch(data, "F-2026-001")["decision"] == "re-annotate"


def test_duplicate_annotation_reported(example: Path) -> None:
    rows = _rows(example / "annotations.jsonl")
    _write(example / "annotations.jsonl", [*rows, dict(rows[5], labels=["faq"])])
    data = run_qa(example)
    issue = next(i for i in data["issues"] if i["code"] == "data.duplicate_annotation")
    assert f"{rows[5]['batch']}/{rows[5]['item']}/{rows[5]['annotator']}" in issue["message_en"]
    assert data["result"] == "fail"


def test_self_review_does_not_count(example: Path) -> None:
    revs = _reviews(example / "reviews.csv")
    for r in revs:
        if r["item"] == "S1-0001" and r["annotator"] == "ann01":
            r["reviewer"] = "ann03"  # ann03 annotated S1-0001 too
    _write_reviews(example / "reviews.csv", revs)
    data = run_qa(example)
    assert {"roles.self_review", "people.no_review_role", "reviews.missing_safety"} <= codes(data)


def test_review_of_nothing_and_duplicate_review(example: Path) -> None:
    revs = _reviews(example / "reviews.csv")
    extra = dict(revs[0], item="F1-9999")
    _write_reviews(example / "reviews.csv", [*revs, extra, dict(revs[1])])
    data = run_qa(example)
    assert {"reviews.unmatched", "reviews.duplicate"} <= codes(data)


def test_accuracy_below_target_reannotates(example: Path) -> None:
    revs = _reviews(example / "reviews.csv")
    n = 0
    for r in revs:
        if r["batch"] == "S-2026-001" and r["verdict"] == "正确" and n < 4:
            r["verdict"], n = "错误", n + 1
    _write_reviews(example / "reviews.csv", revs)
    s1 = _batch(run_qa(example), "S-2026-001")
    assert s1["accuracy"] == pytest.approx(74 / 80) and s1["decision"] == "re-annotate"


def test_report_renders_all_formats(example: Path, tmp_path: Path) -> None:
    from hegui.annotation.report import write_annotation_report

    data = run_qa(example)
    for lang in ("zh", "en"):
        paths = write_annotation_report(data, tmp_path / lang, lang)
        md = paths["md"].read_text("utf-8")
        assert ("整批作废" if lang == "zh" else "discard") in md and "F-2026-001" in md
        assert "<svg" in paths["html"].read_text("utf-8")
        assert json.loads(paths["json"].read_text("utf-8"))["schema"] == "hegui.annotation.report/1"
    # no item text in the report (the example's functional items carry text)
    assert "酒店房间" not in (tmp_path / "zh" / "report.json").read_text("utf-8")


def test_report_feeds_assessment_and_filing(example: Path, tmp_path: Path) -> None:
    from hegui.annotation.report import write_annotation_report
    from hegui.assess import conformance, evidence
    from hegui.assess.filing import build_filing

    write_annotation_report(run_qa(example), tmp_path, "zh")
    status, zh, _en = conformance._annotation({"annotation": evidence.annotation_report(tmp_path)})
    assert status == conformance.OK and "accuracy=" in zh
    rep = build_filing(annotation=tmp_path, lang="en")
    rows = {r["key"]: r["value"] for s in rep.data["sections"] for r in s["rows"]}
    assert rows["Items labelled"] == "300"
    assert rows["Types labelled (items)"] == "functional: 260; safety: 40"
    assert "safety-risk v1.1" in rows["Labelling rules"]
    assert rows["Result"] == "pass"


def test_intervals_match_statsmodels(example: Path) -> None:
    from statsmodels.stats.proportion import proportion_confint

    data = run_qa(example)
    for row in [*data["batches"], *(p for p in data["people"] if p["reviewed"]), data["overall"]]:
        lo, hi = proportion_confint(row["correct"], row["reviewed"], alpha=0.05, method="wilson")
        assert row["ci"] == pytest.approx([lo, hi], abs=1e-12)
