"""`hegui annotation …` end to end: rules check, exam, plan, sample → filled sheet → review-import
→ report, and the report feeding `hegui report filing`. Exit codes: 0 pass, 1 check fails, 2 bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from hegui.cli import app

from .conftest import EXAMPLE

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["annotation", *map(str, args)])


def test_rules_check_and_exam() -> None:
    r = _run("rules", "check", EXAMPLE / "rules", "--data", EXAMPLE / "annotations.jsonl")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["annotations_checked"] == 380 and out["errors"] == 0
    r = _run("rules", "check", EXAMPLE / "rules" / "intent-v1.0.md")
    assert r.exit_code == 1 and "rules.no_safety" in r.output
    r = _run("exam", "grade", EXAMPLE / "exam" / "answers.csv", "--gold", EXAMPLE / "exam" / "gold.csv")
    assert r.exit_code == 1 and json.loads(r.stdout)["failed"] == ["ann04"]
    r = _run("exam", "grade", EXAMPLE / "exam" / "answers.csv", "--gold", EXAMPLE / "exam" / "gold.csv", "--threshold", "0.7")
    assert r.exit_code == 0
    r = _run("roster", "check", EXAMPLE / "roster.yaml", "--as-of", "2026-07-01")
    assert r.exit_code == 1  # ann04 is unqualified
    assert {p["id"]: p["status"] for p in json.loads(r.stdout)["people"]}["ann04"] == "unqualified"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes("item,batch,annotator,labels,time,task\n一,B,a,天气,2026-01-02,intent\n".encode("gbk"))
    r = _run("rules", "check", EXAMPLE / "rules", "--data", p)
    assert r.exit_code == 2 and "not UTF-8" in r.output
    r = _run("plan", EXAMPLE / "annotations.jsonl", "-r", EXAMPLE / "rules", "--target", "1.5")
    assert r.exit_code == 2 and "target accuracy" in r.output


def test_sample_review_report_round_trip(tmp_path: Path) -> None:
    ann = EXAMPLE / "annotations.jsonl"
    r = _run("plan", ann, "-r", EXAMPLE / "rules")
    assert r.exit_code == 0
    plan = json.loads(r.stdout)
    assert plan["F-2026-001"]["sample_size"] == 100 and plan["S-2026-001"]["sample_size"] == 40

    sheet = tmp_path / "sheet.csv"
    r = _run("sample", ann, "-r", EXAMPLE / "rules", "-o", sheet, "--roster", EXAMPLE / "roster.yaml")
    assert r.exit_code == 0, r.output
    again = tmp_path / "again.csv"
    assert _run("sample", ann, "-r", EXAMPLE / "rules", "-o", again, "--roster", EXAMPLE / "roster.yaml").exit_code == 0
    assert sheet.read_bytes() == again.read_bytes()  # seeded: same sheet
    with open(sheet, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # one row per annotation of each sampled item; safety batch in full (40 items × 2 annotators)
    assert sum(r["batch"] == "S-2026-001" for r in rows) == 80
    assert len({r["item"] for r in rows if r["batch"] == "F-2026-001"}) == 100
    assert {r["annotator_status"] for r in rows} == {"qualified"}

    # The example's review sheet reviews exactly the sampled annotations.
    with open(EXAMPLE / "reviews.csv", encoding="utf-8-sig", newline="") as fh:
        shipped = {(r["batch"], r["item"], r["annotator"]) for r in csv.DictReader(fh)}
    assert shipped == {(r["batch"], r["item"], r["annotator"]) for r in rows}

    # Reviewers fill in the sheet: rev01 (review role, annotated nothing) finds every annotation correct.
    for row in rows:
        row["reviewer"] = "rev01"
        row["verdict"] = "正确"
    with open(sheet, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    norm = tmp_path / "reviews.jsonl"
    r = _run("review-import", sheet, "-a", ann, "-o", norm)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["reviews"] == len(rows) == len(norm.read_text("utf-8").splitlines())

    out = tmp_path / "report"
    r = _run("report", ann, "-r", EXAMPLE / "rules", "--roster", EXAMPLE / "roster.yaml", "--reviews", norm,
             "--as-of", "2026-07-01", "-o", out, "--lang", "both")
    assert r.exit_code == 0, r.output
    assert "Annotation QA report" in (out / "report.en.md").read_text("utf-8")
    assert "数据标注质量报告" in (out / "report.md").read_text("utf-8")
    summary = json.loads(r.stdout)
    assert summary["result"] == "pass" and summary["accuracy"] == 1.0
    assert summary["decisions"] == {"accept": 3, "re-annotate": 0, "discard": 0, "pending": 0}
    assert (out / "report.html").exists() and (out / "report.md").exists()

    # Without reviews: safety annotations unreviewed → exit 1, listed on stderr.
    r = _run("report", ann, "-r", EXAMPLE / "rules", "--roster", EXAMPLE / "roster.yaml", "--as-of", "2026-07-01",
             "-o", tmp_path / "r2")
    assert r.exit_code == 1 and "reviews.missing_safety" in r.output

    # The report feeds the filing materials.
    fil = tmp_path / "filing"
    r = runner.invoke(app, ["report", "filing", "--out", str(fil), "--annotation", str(out), "--lang", "en"])
    assert r.exit_code == 0, r.output
    md = (fil / "filing.en.md").read_text("utf-8")
    assert "functional: 260; safety: 40" in md
