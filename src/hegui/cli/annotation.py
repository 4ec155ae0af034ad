"""`hegui annotation`: labelling rules, annotator exams, sampling plans, review sheets, QA report (Art. 8).

Exit codes everywhere: 0 all checks pass, 1 a check fails (errors listed), 2 unusable input.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

annotation_app = typer.Typer(help="数据标注质量 annotation QA (Art. 8, TC260-003 §5.3): rules, annotators, sampling, agreement, report.",
                             no_args_is_help=True)
rules_app = typer.Typer(help="标注规则 labelling rules.", no_args_is_help=True)
exam_app = typer.Typer(help="上岗考核 qualification exams.", no_args_is_help=True)
roster_app = typer.Typer(help="人员名单 annotator roster.", no_args_is_help=True)
annotation_app.add_typer(rules_app, name="rules")
annotation_app.add_typer(exam_app, name="exam")
annotation_app.add_typer(roster_app, name="roster")


def register(app: typer.Typer) -> None:
    app.add_typer(annotation_app, name="annotation")


RulesOpt = Annotated[list[Path], typer.Option("--rules", "-r", help="Rule documents (*.md) or directories of them.")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Task for rows without a 'task' field.")]
TargetOpt = Annotated[float, typer.Option("--target", help="Target accuracy per batch.")]
ConfOpt = Annotated[float, typer.Option("--confidence", help="Confidence of the plan and the intervals.")]
MethodOpt = Annotated[str, typer.Option("--method", help="Sampling plan: wilson or binomial (docs/annotation.md).")]
MinOpt = Annotated[int, typer.Option("--min-sample", help="Floor of the sample per batch (whole batch if smaller).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the review sample (same seed, same items).")]


def _die(msg: str) -> None:
    typer.echo(f"错误 error: {msg}", err=True)
    raise typer.Exit(2)


def _print_issues(issues: list[Any]) -> None:
    for i in issues:
        typer.echo(str(i), err=True)


def _date(s: str | None) -> dt.date | None:
    if s is None:
        return None
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        _die(f"日期须为 YYYY-MM-DD  not a date: {s!r}")
    return None


@rules_app.command("check")
def rules_check(
    rules: Annotated[list[Path], typer.Argument(help="Rule documents (*.md) or directories of them.")],
    data: Annotated[list[Path] | None, typer.Option("--data", "-d", help="Annotation files whose labels must be defined in the rules in force on their date.")] = None,
    task: TaskOpt = None,
) -> None:
    """检查标注规则 Check the rules: safety rules cover the 31 risks; every label used is defined in the version in force."""
    from hegui.annotation import AnnotationError, check_rules, load_rules
    from hegui.annotation.batches import load_annotations
    from hegui.annotation.issues import has_errors
    from hegui.annotation.qa import check_labels

    try:
        rs = load_rules(rules)
        issues = check_rules(rs)
        n = 0
        if data:
            anns, dup = load_annotations(data, task)
            issues += dup + check_labels(anns, rs)[0]
            n = len(anns)
    except AnnotationError as e:
        _die(str(e))
    _print_issues(issues)
    typer.echo(json.dumps({
        "rules": [{"task": r.task, "kind": r.kind, "version": r.version, "effective": r.effective.isoformat(),
                   "labels": len(r.labels), "tc260_covered": len(r.risks_covered)} for r in rs],
        "annotations_checked": n, "errors": sum(i.severity == "error" for i in issues),
        "warnings": sum(i.severity == "warning" for i in issues),
    }, ensure_ascii=False, indent=2))
    raise typer.Exit(1 if has_errors(issues) else 0)


@exam_app.command("grade")
def exam_grade(
    answers: Annotated[Path, typer.Argument(help="Answers (CSV/JSONL): annotator, item, labels.")],
    gold: Annotated[Path, typer.Option("--gold", "-g", help="Gold set (CSV/JSONL): item, labels.")],
    threshold: Annotated[float, typer.Option("--threshold", help="Pass mark: share of gold items answered exactly right.")] = 0.9,
) -> None:
    """上岗考核评分 Grade qualification exams against a gold set. Exit 1 if anyone failed."""
    from hegui.annotation import AnnotationError, grade_exam

    try:
        res = grade_exam(answers, gold, threshold)
    except AnnotationError as e:
        _die(str(e))
    typer.echo(json.dumps(res, ensure_ascii=False, indent=2))
    raise typer.Exit(1 if res["failed"] else 0)


@roster_app.command("check")
def roster_check(
    roster: Annotated[Path, typer.Argument(help="Roster (YAML or CSV).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date to check (default today).")] = None,
) -> None:
    """人员资格状态 Qualification and retraining status of everyone on the roster. Exit 1 if anyone is unqualified or overdue."""
    from hegui.annotation import AnnotationError, load_roster

    on = _date(as_of) or dt.date.today()
    try:
        people = load_roster(roster)
    except AnnotationError as e:
        _die(str(e))
    rows = [p.to_dict(on) for p in people.values()]
    typer.echo(json.dumps({"as_of": on.isoformat(), "people": rows}, ensure_ascii=False, indent=2))
    raise typer.Exit(1 if any(r["status"] != "qualified" for r in rows) else 0)


@annotation_app.command("plan")
def plan(
    annotations: Annotated[list[Path], typer.Argument(help="Annotation files (JSONL/JSON/CSV/TSV).")],
    rules: RulesOpt,
    task: TaskOpt = None,
    target: TargetOpt = 0.95,
    confidence: ConfOpt = 0.95,
    method: MethodOpt = "wilson",
    min_sample: MinOpt = 100,
) -> None:
    """抽检方案 The review sample size of each batch (all items of a safety batch)."""
    from hegui.annotation import AnnotationError, load_rules
    from hegui.annotation.batches import batch_task, by_batch, load_annotations, sample_for_batch, task_kind

    try:
        rs = load_rules(rules)
        anns, _ = load_annotations(annotations, task)
        out = {}
        for b, rows in by_batch(anns).items():
            kind = task_kind(rs, batch_task(rows))
            _, p = sample_for_batch(rows, kind, target=target, confidence=confidence, method=method,
                                    minimum=min_sample, seed=0)
            out[b] = {"task": batch_task(rows), "kind": kind, **p}
    except (AnnotationError, ValueError) as e:
        _die(str(e))
    typer.echo(json.dumps(out, ensure_ascii=False, indent=2))


@annotation_app.command("sample")
def sample(
    annotations: Annotated[list[Path], typer.Argument(help="Annotation files (JSONL/JSON/CSV/TSV).")],
    rules: RulesOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Review sheet to write (CSV, opens in Excel).")],
    batch: Annotated[list[str] | None, typer.Option("--batch", "-b", help="Only these batches.")] = None,
    task: TaskOpt = None,
    target: TargetOpt = 0.95,
    confidence: ConfOpt = 0.95,
    method: MethodOpt = "wilson",
    min_sample: MinOpt = 100,
    seed: SeedOpt = 20231,
    roster: Annotated[Path | None, typer.Option("--roster", help="Roster: adds each annotator's qualification status on the annotation date.")] = None,
) -> None:
    """导出审核表 Export the reviewers' sheet: the planned sample of each batch (every item of a safety batch)."""
    from hegui.annotation import AnnotationError, load_roster, load_rules
    from hegui.annotation.batches import export_sample, load_annotations

    try:
        rs = load_rules(rules)
        people = load_roster(roster) if roster else None
        anns, issues = load_annotations(annotations, task)
        plans = export_sample(anns, rs, out, target=target, confidence=confidence, method=method,
                              minimum=min_sample, seed=seed, batches=batch, roster=people)
    except (AnnotationError, ValueError) as e:
        _die(str(e))
    _print_issues(issues)
    typer.echo(json.dumps({"out": str(out), "batches": {b: {k: v for k, v in p.items() if k != "items"} | {"sampled": len(p["items"])}
                                                        for b, p in plans.items()}}, ensure_ascii=False, indent=2))


@annotation_app.command("review-import")
def review_import(
    sheet: Annotated[list[Path], typer.Argument(help="Filled review sheets (CSV/JSONL): item, reviewer, verdict[, annotator, batch, illegal, corrected_labels].")],
    annotations: Annotated[list[Path], typer.Option("--annotations", "-a", help="The annotation files the reviews judge.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the matched reviews as JSONL here.")] = None,
    task: TaskOpt = None,
) -> None:
    """导入审核结论 Import reviewers' verdicts, matched to annotations; blank, unmatched and duplicate rows are reported."""
    from hegui.annotation import AnnotationError
    from hegui.annotation.batches import load_annotations, load_reviews
    from hegui.annotation.issues import has_errors

    try:
        anns, _ = load_annotations(annotations, task)
        revs, issues = load_reviews(sheet, anns)
    except AnnotationError as e:
        _die(str(e))
    _print_issues(issues)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", encoding="utf-8") as fh:
            for r in revs:
                fh.write(json.dumps({"batch": r.batch, "item": r.item, "annotator": r.annotator, "reviewer": r.reviewer,
                                     "verdict": "correct" if r.correct else "incorrect", "illegal": r.illegal,
                                     "corrected_labels": list(r.corrected or []),
                                     "time": r.time.isoformat() if r.time else ""}, ensure_ascii=False) + "\n")
    per: dict[str, list[int]] = {}
    for r in revs:
        acc = per.setdefault(r.batch, [0, 0])
        acc[0] += r.correct
        acc[1] += 1
    typer.echo(json.dumps({"reviews": len(revs), "by_batch": {b: {"correct": k, "reviewed": n} for b, (k, n) in sorted(per.items())},
                           "errors": sum(i.severity == "error" for i in issues)}, ensure_ascii=False, indent=2))
    raise typer.Exit(1 if has_errors(issues) else 0)


@annotation_app.command("report")
def report(
    annotations: Annotated[list[Path], typer.Argument(help="Annotation files (JSONL/JSON/CSV/TSV).")],
    rules: RulesOpt,
    roster: Annotated[Path, typer.Option("--roster", help="Annotator roster (YAML or CSV).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for report.{html,md,json}.")],
    reviews: Annotated[list[Path] | None, typer.Option("--reviews", help="Filled review sheets.")] = None,
    task: TaskOpt = None,
    target: TargetOpt = 0.95,
    confidence: ConfOpt = 0.95,
    method: MethodOpt = "wilson",
    min_sample: MinOpt = 100,
    seed: SeedOpt = 20231,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date for roster status (default today).")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh, en, or both (zh as report.*, en as report.en.*).")] = "zh",
) -> None:
    """标注质量报告 The QA report: every check, batch decisions, accuracy, agreement. Exit 1 if any error."""
    from hegui.annotation import AnnotationError, load_roster, load_rules
    from hegui.annotation.batches import load_annotations, load_reviews
    from hegui.annotation.qa import evaluate
    from hegui.annotation.report import write_annotation_report

    if lang not in ("zh", "en", "both"):
        _die("--lang 须为 zh、en 或 both  must be zh, en or both")
    on = _date(as_of)
    try:
        rs = load_rules(rules)
        people = load_roster(roster)
        anns, issues = load_annotations(annotations, task)
        revs, more = load_reviews(reviews or [], anns)
        data = evaluate(anns, revs, rs, people, target=target, confidence=confidence, method=method,
                        minimum=min_sample, seed=seed, as_of=on, prior_issues=issues + more)
    except (AnnotationError, ValueError) as e:
        _die(str(e))
    paths = write_annotation_report(data, out, "zh" if lang == "both" else lang)
    if lang == "both":
        write_annotation_report(data, out, "en", stem="report.en")
    for i in data["issues"]:
        typer.echo(f"{i['severity']} {i['code']}: {i['message_en'] if lang == 'en' else i['message_zh']}", err=True)
    ov = data["overall"]
    typer.echo(json.dumps({"result": data["result"], "accuracy": ov["accuracy"], "ci": ov["ci"], "alpha": ov["alpha"],
                           "decisions": ov["decisions"], "errors": ov["errors"], "warnings": ov["warnings"],
                           "report": str(paths["html"])}, ensure_ascii=False))
    raise typer.Exit(0 if data["result"] == "pass" else 1)
