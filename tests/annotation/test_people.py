"""Roster status and exam grading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hegui.annotation import AnnotationError, grade_exam, load_roster

from .conftest import EXAMPLE


def test_roster_status() -> None:
    r = load_roster(EXAMPLE / "roster.yaml")
    assert r["ann01"].status(dt.date(2026, 3, 1)) == "qualified"
    assert r["ann01"].status(dt.date(2026, 1, 9)) == "unqualified"      # before the exam
    assert r["ann03"].status(dt.date(2026, 8, 2)) == "retraining_overdue"
    assert r["ann04"].status(dt.date(2026, 7, 1)) == "unqualified"      # never passed
    assert r["rev02"].roles == {"annotate", "review"}
    assert [t.topic[:6] for t in r["ann01"].trainings] == ["安全标注规则", "安全标注规则"]


def test_roster_csv(tmp_path: Path) -> None:
    p = tmp_path / "r.csv"
    p.write_text("id,roles,qualified_on,retrain_due,trainings\n"
                 "a1,标注员,2026-01-01,2026-06-30,2026-01-01:规则培训;2026-05-01:复训\n"
                 "r1,review|annotate,2026-01-01,,\n", "utf-8")
    r = load_roster(p)
    assert r["a1"].roles == {"annotate"} and len(r["a1"].trainings) == 2
    assert r["r1"].retrain_due is None and r["r1"].status(dt.date(2030, 1, 1)) == "qualified"


def test_exam_grading() -> None:
    res = grade_exam(EXAMPLE / "exam" / "answers.csv", EXAMPLE / "exam" / "gold.csv", threshold=0.9)
    by = {r["annotator"]: r for r in res["results"]}
    # ann03: 9/10 (Q10 wrong; Q09 label order differs but the set matches) → passes at 0.9
    assert by["ann03"]["correct"] == 9 and by["ann03"]["passed"] and by["ann03"]["wrong_items"] == ["Q10"]
    # ann04: Q04, Q05, Q09 wrong → 0.7
    assert by["ann04"]["score"] == pytest.approx(0.7) and not by["ann04"]["passed"]
    assert res["failed"] == ["ann04"]
    assert grade_exam(EXAMPLE / "exam" / "answers.csv", EXAMPLE / "exam" / "gold.csv", threshold=0.95)["passed"] == []


def test_exam_bad_input(tmp_path: Path) -> None:
    gold = EXAMPLE / "exam" / "gold.csv"
    a = tmp_path / "a.csv"
    a.write_text("annotator,item,labels\nx,Q01,none\nx,Q99,none\n", "utf-8")
    with pytest.raises(AnnotationError, match=r"Q99.*not in the gold set"):
        grade_exam(a, gold)
    a.write_text("annotator,item,labels\nx,Q01,none\nx,Q01,A.2.d\n", "utf-8")
    with pytest.raises(AnnotationError, match="answered item 'Q01' twice"):
        grade_exam(a, gold)
    a.write_text("annotator,item,labels\nx,Q01,none\n", "utf-8")
    res = grade_exam(a, gold)
    assert res["results"][0]["unanswered"] == 9 and res["results"][0]["score"] == pytest.approx(0.1)
    with pytest.raises(AnnotationError, match="threshold"):
        grade_exam(a, gold, threshold=0)
