"""Annotation and review records: import (JSONL/JSON/CSV/TSV) and the reviewers' sample export.

An annotation row: ``item, batch, annotator, labels, time`` and ``task`` (or a default task);
optional ``text`` (shown to reviewers, never put in a report). A review row: ``item, reviewer,
verdict`` and, where the item has several annotations, ``annotator`` (whose annotation is judged);
optional ``batch``, ``illegal`` (the item holds illegal content), ``corrected_labels``, ``time``.

Problems in the data (a duplicated annotation, a review of nothing, a blank verdict) become
:class:`~hegui.annotation.issues.Issue` s that the report lists and that fail it: never dropped
silently. A file that cannot be read at all raises :class:`AnnotationError`.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hegui.annotation._io import AnnotationError, parse_bool, parse_date, read_records, split_labels
from hegui.annotation.issues import Issue
from hegui.annotation.roster import Annotator
from hegui.annotation.rules import RuleSet, rules_in_force
from hegui.annotation.sampling import sample_items, sampling_plan

_CORRECT = {"correct", "ok", "pass", "qualified", "1", "true", "yes", "y", "合格", "正确", "通过", "是", "对"}
_WRONG = {"incorrect", "wrong", "fail", "unqualified", "0", "false", "no", "n", "不合格", "错误", "不通过", "否", "错"}

SAMPLE_COLUMNS = ("batch", "item", "task", "kind", "rule_version", "annotator", "annotator_status", "labels", "text",
                  "reviewer", "verdict", "illegal", "corrected_labels", "note")


@dataclass(frozen=True, slots=True)
class Annotation:
    item: str
    batch: str
    annotator: str
    labels: tuple[str, ...]
    time: dt.date
    task: str
    where: str
    text: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.batch, self.item, self.annotator


@dataclass(frozen=True, slots=True)
class Review:
    item: str
    batch: str
    annotator: str
    reviewer: str
    correct: bool
    illegal: bool
    corrected: tuple[str, ...] | None
    time: dt.date | None
    where: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.batch, self.item, self.annotator


def load_annotations(paths: Iterable[Path], default_task: str | None = None) -> tuple[list[Annotation], list[Issue]]:
    """All annotation rows; a second row for the same (batch, item, annotator) is an error issue."""
    required = ("item", "batch", "annotator", "labels", "time") + (() if default_task else ("task",))
    out: list[Annotation] = []
    first: dict[tuple[str, str, str], str] = {}
    dups: list[str] = []
    for path in paths:
        for n, r in read_records(Path(path), required):
            where = f"{path}:{n}"
            task = str(r.get("task") or default_task or "").strip()
            a = Annotation(str(r["item"]).strip(), str(r["batch"]).strip(), str(r["annotator"]).strip(),
                           split_labels(r["labels"], where), parse_date(r["time"], f"{where}: time"), task, where,
                           str(r["text"]) if r.get("text") not in (None, "") else None)
            if a.key in first:
                dups.append(f"{a.batch}/{a.item}/{a.annotator} ({first[a.key]}, {where})")
                continue
            first[a.key] = where
            out.append(a)
    issues = []
    if dups:
        issues.append(Issue("error", "data.duplicate_annotation",
                            f"{len(dups)} 条标注重复（同一批次、条目、标注员），仅计首条：{'; '.join(dups[:5])}",
                            f"{len(dups)} duplicate annotation(s) (same batch, item, annotator); only the first is counted: {'; '.join(dups[:5])}",
                            "annotations"))
    if not out:
        raise AnnotationError("没有标注记录 no annotation rows")
    return out, issues


def load_reviews(paths: Iterable[Path], annotations: list[Annotation]) -> tuple[list[Review], list[Issue]]:
    """Review rows matched to the annotation each one judges.

    ``batch`` and ``annotator`` may be left out when the item has only one annotation; where that
    is ambiguous, or nothing matches, the row is an error issue naming it.
    """
    by_item: dict[str, list[Annotation]] = defaultdict(list)
    for a in annotations:
        by_item[a.item].append(a)
    out: list[Review] = []
    issues: list[Issue] = []
    blank: list[str] = []
    unmatched: list[str] = []
    seen: dict[tuple[str, str, str, str], str] = {}
    dups: list[str] = []
    for path in paths:
        for n, r in read_records(Path(path), ("item", "reviewer", "verdict"), nonempty=("item",)):
            where = f"{path}:{n}"
            v = str(r.get("verdict") or "").strip().lower()
            if not v:
                blank.append(where)
                continue
            if v in _CORRECT:
                correct = True
            elif v in _WRONG:
                correct = False
            else:
                raise AnnotationError(f"{where}: 结论无法识别 unknown verdict {r['verdict']!r} (use 正确/错误 or correct/incorrect)")
            reviewer = str(r.get("reviewer") or "").strip()
            if not reviewer:
                raise AnnotationError(f"{where}: 缺少审核员 no reviewer given for a verdict")
            item = str(r["item"]).strip()
            batch = str(r.get("batch") or "").strip()
            annotator = str(r.get("annotator") or "").strip()
            cands = [a for a in by_item.get(item, []) if (not batch or a.batch == batch) and (not annotator or a.annotator == annotator)]
            if len(cands) != 1:
                unmatched.append(f"{where} ({item}: {'no annotation' if not cands else f'{len(cands)} annotations, give batch/annotator'})")
                continue
            a = cands[0]
            corrected = None
            if r.get("corrected_labels") not in (None, "", []):
                corrected = split_labels(r["corrected_labels"], f"{where}: corrected_labels")
            rv = Review(item, a.batch, a.annotator, reviewer, correct,
                        parse_bool(r.get("illegal"), f"{where}: illegal"), corrected,
                        parse_date(r["time"], f"{where}: time") if r.get("time") not in (None, "") else None, where)
            k = (*rv.key, reviewer)
            if k in seen:
                dups.append(f"{'/'.join(k)} ({seen[k]}, {where})")
                continue
            seen[k] = where
            out.append(rv)
    if blank:
        issues.append(Issue("warning", "reviews.blank_verdict", f"{len(blank)} 行未填写结论，视为未审核：{', '.join(blank[:5])}",
                            f"{len(blank)} row(s) without a verdict, counted as not reviewed: {', '.join(blank[:5])}", "reviews"))
    if unmatched:
        issues.append(Issue("error", "reviews.unmatched", f"{len(unmatched)} 条审核找不到对应标注：{'; '.join(unmatched[:5])}",
                            f"{len(unmatched)} review(s) match no single annotation: {'; '.join(unmatched[:5])}", "reviews"))
    if dups:
        issues.append(Issue("error", "reviews.duplicate", f"{len(dups)} 条审核重复（同一审核员、同一标注），仅计首条：{'; '.join(dups[:5])}",
                            f"{len(dups)} duplicate review(s) (same reviewer, same annotation); only the first is counted: {'; '.join(dups[:5])}", "reviews"))
    return out, issues


def batch_task(anns: list[Annotation]) -> str:
    """The batch's task: the most common one (a mixed batch is reported by the QA checks)."""
    counts: dict[str, int] = defaultdict(int)
    for a in anns:
        counts[a.task] += 1
    return max(sorted(counts), key=lambda t: counts[t])


def task_kind(rules: list[RuleSet], task: str) -> str | None:
    kinds = {r.kind for r in rules if r.task == task}
    if not kinds:
        return None
    return "safety" if "safety" in kinds else kinds.pop()  # fail closed: a mixed task is treated as safety


def sample_for_batch(anns: list[Annotation], kind: str | None, *, target: float, confidence: float, method: str,
                     minimum: int, seed: int) -> tuple[list[str], dict[str, object]]:
    """The items reviewers must check in one batch: all of a safety batch, a planned sample otherwise."""
    batch = anns[0].batch
    items = sorted({a.item for a in anns})
    if kind == "safety":
        return items, {"batch_size": len(items), "sample_size": len(items), "method": "all (safety: every annotation reviewed)"}
    plan = sampling_plan(len(items), target, confidence, method, minimum)
    return sample_items(items, plan.sample_size, seed, batch), plan.to_dict()


def by_batch(annotations: list[Annotation]) -> dict[str, list[Annotation]]:
    out: dict[str, list[Annotation]] = defaultdict(list)
    for a in annotations:
        out[a.batch].append(a)
    return dict(sorted(out.items()))


def export_sample(annotations: list[Annotation], rules: list[RuleSet], out: Path, *, target: float = 0.95,
                  confidence: float = 0.95, method: str = "wilson", minimum: int = 100, seed: int = 20231,
                  batches: Iterable[str] | None = None, roster: dict[str, Annotator] | None = None,
                  ) -> dict[str, dict[str, object]]:
    """Write the reviewers' sheet (CSV, UTF-8 with BOM so Excel opens Chinese correctly).

    One row per annotation of each sampled item; reviewers fill in ``reviewer``, ``verdict``
    (正确/错误), ``illegal`` and, if wrong, ``corrected_labels``. The same seed gives the same rows.
    With ``roster``, ``annotator_status`` says whether the annotator was qualified on the
    annotation's date, so reviewers see flagged labels where they review them. Returns the plan per batch.
    """
    want = set(batches) if batches else None
    plans: dict[str, dict[str, object]] = {}
    rows: list[dict[str, str]] = []
    for batch, anns in by_batch(annotations).items():
        if want is not None and batch not in want:
            continue
        task = batch_task(anns)
        kind = task_kind(rules, task)
        sample, plan = sample_for_batch(anns, kind, target=target, confidence=confidence, method=method,
                                        minimum=minimum, seed=seed)
        plans[batch] = {**plan, "task": task, "kind": kind, "items": sample}
        chosen = set(sample)
        for a in sorted(anns, key=lambda a: (a.item, a.annotator)):
            if a.item in chosen:
                rs = rules_in_force(rules, a.task, a.time)
                rows.append({"batch": batch, "item": a.item, "task": a.task, "kind": kind or "",
                             "rule_version": rs.version if rs else "", "annotator": a.annotator,
                             "annotator_status": _status(roster, a),
                             "labels": "|".join(a.labels), "text": _cell(a.text or ""), "reviewer": "", "verdict": "",
                             "illegal": "", "corrected_labels": "", "note": ""})
    if want is not None and want - set(plans):
        raise AnnotationError(f"未知批次 unknown batch(es): {', '.join(sorted(want - set(plans)))}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=SAMPLE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(out)
    return plans


def _status(roster: dict[str, Annotator] | None, a: Annotation) -> str:
    if roster is None:
        return ""
    p = roster.get(a.annotator)
    return "unknown" if p is None else p.status(a.time)


def _cell(v: str) -> str:
    """Keep a spreadsheet from running text as a formula (CSV injection)."""
    return "'" + v if v[:1] in ("=", "+", "-", "@") else v
