"""The QA evaluation: every check of Art. 8 / TC260-003 §5.3 over rules, roster, annotations and reviews.

One function, :func:`evaluate`, returns the report data (a plain dict, the JSON of the report) and
the issues. Decisions per batch:

* **discard** — a *functional* batch in which a reviewer found illegal content (TC260-003 §5.3);
* **pending** — the planned sample (functional) or any annotation (safety) lacks a review, or
  nothing was reviewed: nothing can be said yet, and the batch must not be used;
* **re-annotate** — accuracy below the target, or labels from an annotator without a valid
  qualification, or labels outside the rules in force;
* **accept** — otherwise.

A review by the annotator of the same item does not count (separated roles), nor one by someone
without the review role. The overall ``result`` is "pass" only with no error issue at all.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from hegui.annotation.agreement import agreement, krippendorff_alpha_nominal
from hegui.annotation.batches import Annotation, Review, batch_task, by_batch, sample_for_batch, task_kind
from hegui.annotation.issues import Issue, has_errors
from hegui.annotation.roster import Annotator
from hegui.annotation.rules import RuleSet, check_rules, rules_in_force
from hegui.annotation.sampling import MIN_SAMPLE
from hegui.stats import wilson_interval
from hegui.taxonomy import TC260_RISKS

_TC260 = frozenset(TC260_RISKS)
SCHEMA = "hegui.annotation.report/1"


def _few(xs: list[str], k: int = 5) -> str:
    return ", ".join(xs[:k]) + (f" … (+{len(xs) - k})" if len(xs) > k else "")


def check_labels(annotations: list[Annotation], rules: list[RuleSet]) -> tuple[list[Issue], set[tuple[str, str, str]]]:
    """Every label used must be defined in the rule version in force on the annotation's date.

    Returns the issues and the keys of the offending annotations (their batches are re-annotated).
    """
    no_rules: dict[str, list[str]] = defaultdict(list)
    unknown: dict[tuple[str, str], list[str]] = defaultdict(list)
    bad: set[tuple[str, str, str]] = set()
    for a in annotations:
        rs = rules_in_force(rules, a.task, a.time)
        if rs is None:
            no_rules[a.task].append(f"{a.batch}/{a.item}@{a.time}")
            bad.add(a.key)
            continue
        for lab in a.labels:
            if lab not in rs.labels:
                unknown[(rs.ref, lab)].append(f"{a.batch}/{a.item}")
                bad.add(a.key)
    issues = [Issue("error", "data.no_rules_in_force", f"任务 {t} 在标注日期没有生效的规则（{len(v)} 条）：{_few(v)}",
                    f"task {t!r} has no rule version in force on the annotation date ({len(v)}): {_few(v)}", t)
              for t, v in sorted(no_rules.items())]
    issues += [Issue("error", "data.unknown_label", f"标签 {lab!r} 未在 {ref} 中定义（{len(v)} 条）：{_few(v)}",
                     f"label {lab!r} is not defined in {ref}, the rules in force ({len(v)} annotations): {_few(v)}", ref)
               for (ref, lab), v in sorted(unknown.items())]
    return issues, bad


def _rate(k: int, n: int, confidence: float) -> dict[str, Any]:
    lo, hi = wilson_interval(k, n, confidence)
    return {"correct": k, "reviewed": n, "accuracy": k / n if n else None, "ci": [lo, hi] if n else None}


def evaluate(
    annotations: list[Annotation],
    reviews: list[Review],
    rules: list[RuleSet],
    roster: dict[str, Annotator],
    *,
    target: float = 0.95,
    confidence: float = 0.95,
    method: str = "wilson",
    minimum: int = MIN_SAMPLE,
    seed: int = 20231,
    as_of: dt.date | None = None,
    prior_issues: list[Issue] | None = None,
) -> dict[str, Any]:
    """Run every check; returns the report data (JSON-ready), issues included."""
    as_of = as_of or dt.date.today()
    issues: list[Issue] = list(prior_issues or [])
    issues += check_rules(rules)
    label_issues, bad_label = check_labels(annotations, rules)
    issues += label_issues

    # People: unknown, unqualified, overdue, wrong role — flagged wherever their labels appear.
    flagged: dict[str, set[str]] = defaultdict(set)  # person -> issue codes
    bad_person: set[tuple[str, str, str]] = set()
    person_hits: dict[tuple[str, str], list[str]] = defaultdict(list)  # (code, person) -> where
    for a in annotations:
        p = roster.get(a.annotator)
        code = ("people.unknown" if p is None else
                "people.no_annotate_role" if "annotate" not in p.roles else
                None if p.status(a.time) == "qualified" else f"people.{p.status(a.time)}")
        if code:
            person_hits[(code, a.annotator)].append(f"{a.batch}/{a.item}@{a.time}")
            bad_person.add(a.key)
    ann_by_key = {a.key: a for a in annotations}
    annotators_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a in annotations:
        annotators_of[(a.batch, a.item)].add(a.annotator)
    valid_reviews: list[Review] = []
    self_reviews: list[str] = []
    for r in reviews:
        p = roster.get(r.reviewer)
        on = r.time or ann_by_key[r.key].time
        code = ("people.unknown" if p is None else
                "people.no_review_role" if "review" not in p.roles else
                None if p.status(on) == "qualified" else f"people.{p.status(on)}")
        if code:
            person_hits[(code, r.reviewer)].append(f"review {r.batch}/{r.item}")
        if r.reviewer in annotators_of[(r.batch, r.item)]:
            self_reviews.append(f"{r.reviewer}: {r.batch}/{r.item}")
            flagged[r.reviewer].add("roles.self_review")
            continue
        if code is None:
            valid_reviews.append(r)
    texts = {
        "people.unknown": ("不在人员名单中", "is not on the roster"),
        "people.unqualified": ("工作时未取得上岗资格", "had no valid qualification at the time"),
        "people.retraining_overdue": ("复训逾期", "was overdue for retraining at the time"),
        "people.no_annotate_role": ("无标注角色", "lacks the annotate role"),
        "people.no_review_role": ("无审核角色，其审核不计入", "lacks the review role; those reviews do not count"),
    }
    for (code, person), where in sorted(person_hits.items()):
        flagged[person].add(code)
        zh, en = texts[code]
        issues.append(Issue("error", code, f"{person} {zh}（涉及 {len(where)} 条）：{_few(where)}",
                            f"{person} {en} ({len(where)} records): {_few(where)}", person))
    if self_reviews:
        issues.append(Issue("error", "roles.self_review", f"{len(self_reviews)} 条审核由该条目的标注员本人完成，不计入：{_few(self_reviews)}",
                            f"{len(self_reviews)} review(s) by an annotator of the same item (roles must be separate); not counted: {_few(self_reviews)}",
                            "reviews"))

    batches_of: dict[str, set[str]] = defaultdict(set)
    for a in annotations:
        batches_of[a.item].add(a.batch)
    multi_batch = sorted(i for i, b in batches_of.items() if len(b) > 1)
    if multi_batch:
        issues.append(Issue("warning", "data.item_in_several_batches", f"{len(multi_batch)} 个条目出现在多个批次：{_few(multi_batch)}",
                            f"{len(multi_batch)} item id(s) appear in several batches (counted once per batch): {_few(multi_batch)}",
                            "annotations"))

    reviews_by_key: dict[tuple[str, str, str], list[Review]] = defaultdict(list)
    for r in valid_reviews:
        reviews_by_key[r.key].append(r)
    for r in reviews:  # corrected labels must be in the rules too
        if r.corrected:
            rs = rules_in_force(rules, ann_by_key[r.key].task, ann_by_key[r.key].time)
            extra = [x for x in r.corrected if rs is None or x not in rs.labels]
            if extra:
                issues.append(Issue("error", "reviews.unknown_label", f"{r.where} 更正标签未在规则中定义：{', '.join(extra)}",
                                    f"{r.where}: corrected label(s) not in the rules in force: {', '.join(extra)}", f"{r.batch}/{r.item}"))

    def ok(a: Annotation) -> bool | None:
        rs_ = reviews_by_key.get(a.key)
        return None if not rs_ else all(r.correct for r in rs_)  # strict: one "wrong" makes it wrong

    batches_out: list[dict[str, Any]] = []
    tasks_alpha: dict[str, list[list[str]]] = defaultdict(list)
    for batch, anns in by_batch(annotations).items():
        task = batch_task(anns)
        kind = task_kind(rules, task)
        reasons: list[dict[str, str]] = []
        if len({a.task for a in anns}) > 1:
            issues.append(Issue("error", "batch.mixed_tasks", f"批次 {batch} 混有多个任务 {sorted({a.task for a in anns})}",
                                f"batch {batch} mixes tasks {sorted({a.task for a in anns})}", batch))
        sample, plan = sample_for_batch(anns, kind, target=target, confidence=confidence, method=method,
                                        minimum=minimum, seed=seed)
        chosen = set(sample)
        unreviewed = sorted(f"{a.item}/{a.annotator}" for a in anns if a.item in chosen and ok(a) is None)
        reviewed = [a for a in anns if ok(a) is not None]
        k = sum(bool(ok(a)) for a in reviewed)
        rate = _rate(k, len(reviewed), confidence)
        illegal = sorted({r.item for a in anns for r in reviews_by_key.get(a.key, []) if r.illegal})
        if unreviewed:
            code = "reviews.missing_safety" if kind == "safety" else "reviews.missing_sample"
            zh = "安全标注须每条至少一人审核" if kind == "safety" else "抽检样本未审核完"
            en = "every safety annotation needs at least one review" if kind == "safety" else "sampled annotations not reviewed"
            issues.append(Issue("error", code, f"批次 {batch}：{zh}，缺 {len(unreviewed)} 条：{_few(unreviewed)}",
                                f"batch {batch}: {en}; {len(unreviewed)} missing: {_few(unreviewed)}", batch))
        n_bad_people = sum(a.key in bad_person for a in anns)
        n_bad_labels = sum(a.key in bad_label for a in anns)
        if kind == "functional" and illegal:
            decision = "discard"
            reasons.append(_r(f"功能性标注批次中 {len(illegal)} 条含违法内容，整批作废（TC260-003 §5.3）",
                              f"illegal content found in {len(illegal)} item(s) of a functional batch (TC260-003 §5.3)"))
        elif unreviewed or not reviewed:
            decision = "pending"
            reasons.append(_r(f"缺 {len(unreviewed)} 条应审核的标注", f"{len(unreviewed)} planned annotation review(s) missing")
                           if unreviewed else _r("尚无审核", "nothing reviewed"))
        elif n_bad_people or n_bad_labels or rate["accuracy"] < target:
            decision = "re-annotate"
            if rate["accuracy"] < target:
                reasons.append(_r(f"准确率 {rate['accuracy']:.4f} 低于目标 {target}", f"accuracy {rate['accuracy']:.4f} < target {target}"))
            if n_bad_people:
                reasons.append(_r(f"{n_bad_people} 条标注出自未登记、无资格或复训逾期的人员",
                                  f"{n_bad_people} annotation(s) by unknown, unqualified or overdue annotators"))
            if n_bad_labels:
                reasons.append(_r(f"{n_bad_labels} 条标注使用了生效规则之外的标签",
                                  f"{n_bad_labels} annotation(s) with labels outside the rules in force"))
        else:
            decision = "accept"
        ratings: dict[str, dict[str, str]] = defaultdict(dict)
        for a in anns:
            ratings[a.item][a.annotator] = "+".join(a.labels)
        agr = agreement(ratings)
        tasks_alpha[task] += [list(r.values()) for r in ratings.values() if len(r) >= 2]
        versions = sorted({rs.version for a in anns if (rs := rules_in_force(rules, a.task, a.time))})
        batches_out.append({
            "batch": batch, "task": task, "kind": kind, "rule_versions": versions,
            "items": len({a.item for a in anns}), "annotations": len(anns),
            "annotators": sorted({a.annotator for a in anns}),
            "plan": plan, "sampled_items": len(sample), "unreviewed": len(unreviewed),
            **rate, "target": target,
            "lower_bound_meets_target": bool(rate["ci"] and rate["ci"][0] >= target),
            "illegal_items": len(illegal), "agreement": agr,
            "decision": decision, "reasons": reasons,
        })

    per_annotator: list[dict[str, Any]] = []
    ann_by_person: dict[str, list[Annotation]] = defaultdict(list)
    for a in annotations:
        ann_by_person[a.annotator].append(a)
    for person in sorted(set(ann_by_person) | set(roster) | {r.reviewer for r in reviews}):
        mine = ann_by_person.get(person, [])
        rev = [a for a in mine if ok(a) is not None]
        p = roster.get(person)
        per_annotator.append({
            "id": person, "roles": sorted(p.roles) if p else [], "status": p.status(as_of) if p else "unknown",
            "qualified_on": p.qualified_on.isoformat() if p and p.qualified_on else None,
            "retrain_due": p.retrain_due.isoformat() if p and p.retrain_due else None,
            "trainings": len(p.trainings) if p else 0,
            "training_hours": sum(t.hours or 0 for t in p.trainings) if p else 0,
            "last_training": p.trainings[-1].date.isoformat() if p and p.trainings else None,
            "annotations": len(mine), "reviews_done": sum(r.reviewer == person for r in reviews),
            **_rate(sum(bool(ok(a)) for a in rev), len(rev), confidence),
            "flags": sorted(flagged.get(person, set())),
        })
    due_soon = [x["id"] for x in per_annotator if x["retrain_due"] and dt.date.fromisoformat(x["retrain_due"]) < as_of]
    if due_soon:
        issues.append(Issue("warning", "people.retraining_due", f"截至 {as_of} 复训已到期：{', '.join(due_soon)}",
                            f"retraining due by {as_of}: {', '.join(due_soon)}", "roster"))

    all_rev = [a for a in annotations if ok(a) is not None]
    total = _rate(sum(bool(ok(a)) for a in all_rev), len(all_rev), confidence)
    alpha = {t: _round(krippendorff_alpha_nominal(u)) for t, u in sorted(tasks_alpha.items()) if u}
    decisions = Counter(b["decision"] for b in batches_out)
    kinds = Counter()
    for b in batches_out:
        kinds[b["kind"] or "unknown"] += b["items"]
    safety_anns = [a for a in annotations if task_kind(rules, a.task) == "safety"]
    safety_reviewed = sum(ok(a) is not None for a in safety_anns)
    used = sorted({f"{rs.task} v{rs.version} ({rs.kind}, {rs.effective})" for a in annotations
                   if (rs := rules_in_force(rules, a.task, a.time))})
    issues_d = [i.to_dict() for i in sorted(issues, key=lambda i: (i.severity != "error", i.code, i.where))]
    overall = {
        "result": "fail" if has_errors(issues) else "pass",
        "rules": used,
        "items": len({(a.batch, a.item) for a in annotations}),
        "annotations": len(annotations),
        "annotators": len({a.annotator for a in annotations}),
        "reviewers": len({r.reviewer for r in valid_reviews}),
        "reviews": len(valid_reviews),
        "types": dict(kinds),
        "tasks": dict(Counter(a.task for a in annotations)),
        **{k: v for k, v in total.items() if k in ("accuracy", "ci", "correct", "reviewed")},
        "alpha": alpha,
        "safety_review_coverage": (safety_reviewed / len(safety_anns)) if safety_anns else None,
        "batches": len(batches_out),
        "decisions": {d: decisions.get(d, 0) for d in ("accept", "re-annotate", "discard", "pending")},
        "errors": sum(i.severity == "error" for i in issues),
        "warnings": sum(i.severity == "warning" for i in issues),
    }
    return {
        "schema": SCHEMA,
        "as_of": as_of.isoformat(),
        "parameters": {"target": target, "confidence": confidence, "method": method, "minimum": minimum, "seed": seed},
        "result": overall["result"],
        "overall": overall,
        "rule_documents": [{"task": r.task, "kind": r.kind, "version": r.version, "effective": r.effective.isoformat(),
                   "labels": len(r.labels), "title": r.title, "path": r.path,
                   "tc260_covered": len(r.risks_covered & _TC260)} for r in rules],
        "batches": batches_out,
        "people": per_annotator,
        "label_counts": dict(Counter(lab for a in annotations for lab in a.labels).most_common()),
        "issues": issues_d,
    }


def _r(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)

