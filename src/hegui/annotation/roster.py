"""Annotators: roles, training, qualification and retraining (TC260-003 §5.3), and exam grading.

A roster is YAML (``annotators: [...]``) or CSV with columns ``id, roles, qualified_on,
retrain_due`` (``roles`` like ``annotate|review``; optional ``trainings`` as ``date:topic;…``).
Keep ids pseudonymous (staff numbers): the roster ends up in reports, names need not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hegui.annotation._io import AnnotationError, parse_date, read_records, read_yaml, split_labels
from hegui.stats import wilson_interval

ROLES = ("annotate", "review")
_ROLE_ALIASES = {"annotate": "annotate", "annotator": "annotate", "标注": "annotate", "标注员": "annotate",
                 "review": "review", "reviewer": "review", "审核": "review", "审核员": "review"}


@dataclass(frozen=True, slots=True)
class Training:
    date: dt.date
    topic: str
    hours: float | None = None


@dataclass(frozen=True, slots=True)
class Annotator:
    id: str
    roles: frozenset[str]
    qualified_on: dt.date | None = None
    retrain_due: dt.date | None = None
    trainings: tuple[Training, ...] = ()

    def status(self, on: dt.date) -> str:
        """``qualified``, ``unqualified`` (no exam passed by ``on``) or ``retraining_overdue``."""
        if self.qualified_on is None or self.qualified_on > on:
            return "unqualified"
        if self.retrain_due is not None and self.retrain_due < on:
            return "retraining_overdue"
        return "qualified"

    def to_dict(self, on: dt.date) -> dict[str, Any]:
        return {"id": self.id, "roles": sorted(self.roles),
                "qualified_on": self.qualified_on.isoformat() if self.qualified_on else None,
                "retrain_due": self.retrain_due.isoformat() if self.retrain_due else None,
                "trainings": len(self.trainings),
                "last_training": self.trainings[-1].date.isoformat() if self.trainings else None,
                "status": self.status(on)}


def _roles(value: Any, where: str) -> frozenset[str]:
    raw = value if isinstance(value, list) else split_labels(str(value or ""), where) if value else []
    out = set()
    for r in raw:
        role = _ROLE_ALIASES.get(str(r).strip().lower())
        if role is None:
            raise AnnotationError(f"{where}: 未知角色 unknown role {r!r}; use annotate and/or review")
        out.add(role)
    if not out:
        raise AnnotationError(f"{where}: 未指定角色 no role (annotate, review)")
    return frozenset(out)


def _trainings(value: Any, where: str) -> tuple[Training, ...]:
    if not value:
        return ()
    if isinstance(value, str):  # CSV: "2026-01-03:规则培训;2026-04-01:复训"
        value = [dict(zip(("date", "topic"), part.split(":", 1), strict=False)) for part in value.split(";") if part.strip()]
    if not isinstance(value, list):
        raise AnnotationError(f"{where}: trainings 须为列表 must be a list")
    out = []
    for i, t in enumerate(value, start=1):
        if not isinstance(t, dict) or "date" not in t:
            raise AnnotationError(f"{where}: trainings[{i}] 须含 date must have a date")
        out.append(Training(parse_date(t["date"], f"{where}: trainings[{i}]"), str(t.get("topic") or ""),
                            float(t["hours"]) if t.get("hours") not in (None, "") else None))
    return tuple(sorted(out, key=lambda t: t.date))


def load_roster(path: Path) -> dict[str, Annotator]:
    """The roster as ``{id: Annotator}``; duplicate ids and bad dates are errors."""
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        data = read_yaml(path)
        rows_raw = data.get("annotators") if isinstance(data, dict) else data
        if not isinstance(rows_raw, list):
            raise AnnotationError(f"{path}: 须含 annotators 列表 needs an 'annotators' list")
        rows = list(enumerate(rows_raw, start=1))
        for n, r in rows:
            if not isinstance(r, dict) or not str(r.get("id") or "").strip() or not r.get("roles"):
                raise AnnotationError(f"{path}: annotators[{n}] 须含 id 和 roles needs id and roles")
    else:
        rows = read_records(path, ("id", "roles"))
    roster: dict[str, Annotator] = {}
    for n, r in rows:
        where = f"{path}:{n}"
        aid = str(r["id"]).strip()
        if aid in roster:
            raise AnnotationError(f"{where}: 人员编号重复 duplicate annotator id {aid!r}")
        q = r.get("qualified_on")
        due = r.get("retrain_due")
        roster[aid] = Annotator(
            aid, _roles(r["roles"], where),
            parse_date(q, f"{where}: qualified_on") if q not in (None, "") else None,
            parse_date(due, f"{where}: retrain_due") if due not in (None, "") else None,
            _trainings(r.get("trainings"), where),
        )
    return roster


def grade_exam(answers_path: Path, gold_path: Path, threshold: float = 0.9, confidence: float = 0.95) -> dict[str, Any]:
    """Score each annotator's exam answers against the gold set.

    Both files have ``item`` and ``labels`` (answers also ``annotator``). A gold item left
    unanswered counts as wrong; an answer to an item not in the gold set, or a second answer to
    the same item, is an error: a grade must not depend on which row happened to be read.
    A label set must match the gold set exactly.
    """
    if not 0.0 < threshold <= 1.0:
        raise AnnotationError(f"通过线须在 (0, 1] threshold must be in (0, 1], got {threshold}")
    gold: dict[str, tuple[str, ...]] = {}
    for n, r in read_records(gold_path, ("item", "labels")):
        item = str(r["item"]).strip()
        if item in gold:
            raise AnnotationError(f"{gold_path}:{n}: 题目重复 duplicate gold item {item!r}")
        gold[item] = split_labels(r["labels"], f"{gold_path}:{n}")
    if not gold:
        raise AnnotationError(f"{gold_path}: 标准答案为空 empty gold set")
    answers: dict[str, dict[str, tuple[str, ...]]] = {}
    for n, r in read_records(answers_path, ("annotator", "item", "labels")):
        aid, item = str(r["annotator"]).strip(), str(r["item"]).strip()
        if item not in gold:
            raise AnnotationError(f"{answers_path}:{n}: 题目不在标准答案中 item {item!r} is not in the gold set")
        mine = answers.setdefault(aid, {})
        if item in mine:
            raise AnnotationError(f"{answers_path}:{n}: {aid} 重复作答 answered item {item!r} twice")
        mine[item] = split_labels(r["labels"], f"{answers_path}:{n}")
    results = []
    for aid in sorted(answers):
        mine = answers[aid]
        correct = sum(mine.get(item) == labels for item, labels in gold.items())
        total = len(gold)
        lo, hi = wilson_interval(correct, total, confidence)
        results.append({"annotator": aid, "correct": correct, "total": total, "unanswered": total - len(mine),
                        "score": correct / total, "ci": [lo, hi], "threshold": threshold,
                        "passed": correct / total >= threshold,
                        "wrong_items": sorted(i for i in gold if mine.get(i) != gold[i])})
    return {"gold_items": len(gold), "threshold": threshold, "confidence": confidence, "results": results,
            "passed": [r["annotator"] for r in results if r["passed"]],
            "failed": [r["annotator"] for r in results if not r["passed"]]}
