"""Rule documents: parsing errors, 31-risk coverage, versions, labels in force on the item's date."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from hegui.annotation import AnnotationError, check_rules, load_rules, parse_rules, rules_in_force
from hegui.annotation.batches import Annotation
from hegui.annotation.qa import check_labels

from .conftest import EXAMPLE


def _codes(issues) -> set[str]:
    return {i.code for i in issues if i.severity == "error"}


def test_example_rules_are_clean() -> None:
    rules = load_rules([EXAMPLE / "rules"])
    assert [r.ref for r in rules] == ["intent v1.0", "safety-risk v1.0", "safety-risk v1.1"]
    assert check_rules(rules) == []
    assert all(len(r.risks_covered) == 31 for r in rules if r.kind == "safety")
    # hg.prompt_injection counts under A.1.h through its risks field
    assert rules[2].labels["hg.prompt_injection"].risks == ("A.1.h", "hg.prompt_injection")


def test_in_force_by_date() -> None:
    rules = load_rules([EXAMPLE / "rules"])
    assert rules_in_force(rules, "safety-risk", dt.date(2026, 5, 31)).version == "1.0"
    assert rules_in_force(rules, "safety-risk", dt.date(2026, 6, 1)).version == "1.1"
    assert rules_in_force(rules, "safety-risk", dt.date(2025, 12, 31)) is None
    assert rules_in_force(rules, "nope", dt.date(2026, 6, 1)) is None


def _drop_label(text: str, lid: str) -> str:
    return re.sub(rf"  - id: {re.escape(lid)}\n(?:    .*\n)+", "", text)


def test_safety_coverage_names_the_missing_risks(tmp_path: Path) -> None:
    text = (EXAMPLE / "rules" / "safety-risk-v1.0.md").read_text("utf-8")
    p = tmp_path / "s.md"
    p.write_text(_drop_label(_drop_label(text, "A.2.d"), "A.4.e"), "utf-8")
    issues = check_rules(load_rules([p]))
    cov = [i for i in issues if i.code == "rules.safety_coverage"]
    assert len(cov) == 1 and "A.2.d" in cov[0].message_en and "A.4.e" in cov[0].message_en and "2 of the 31" in cov[0].message_en
    assert "rules.no_functional" in {i.code for i in issues}  # a warning, not an error
    assert "rules.no_functional" not in _codes(issues)


def test_no_safety_rules_is_an_error() -> None:
    issues = check_rules(load_rules([EXAMPLE / "rules" / "intent-v1.0.md"]))
    assert "rules.no_safety" in _codes(issues)


def test_versions_must_be_unambiguous(tmp_path: Path) -> None:
    src = (EXAMPLE / "rules" / "intent-v1.0.md").read_text("utf-8")
    (tmp_path / "a.md").write_text(src, "utf-8")
    (tmp_path / "b.md").write_text(src.replace('version: "1.0"', 'version: "1.1"'), "utf-8")
    (tmp_path / "c.md").write_text(src.replace("kind: functional", "kind: safety").replace('version: "1.0"', 'version: "2.0"')
                                   .replace("2026-01-01", "2026-02-01"), "utf-8")
    codes = _codes(check_rules(load_rules([tmp_path])))
    assert {"rules.same_effective_date", "rules.kind_changes"} <= codes


def test_labels_without_examples_warn() -> None:
    text = "---\ntask: t\nkind: functional\nversion: 1\neffective: 2026-01-01\nlabels:\n  - {id: a, definition: A}\n---\n"
    issues = check_rules([parse_rules(text, "x.md")])
    assert any(i.code == "rules.no_examples" and i.severity == "warning" for i in issues)


@pytest.mark.parametrize(("text", "needle"), [
    ("# no front matter\n", "front matter"),
    ("---\ntask: [unclosed\n---\n", "invalid YAML"),
    ("---\ntask: t\nkind: functional\nversion: 1\n---\n", "effective, labels"),
    ("---\ntask: t\nkind: legal\nversion: 1\neffective: 2026-01-01\nlabels: [{id: a, definition: A}]\n---\n", "functional 或 safety"),
    ("---\ntask: t\nkind: safety\nversion: 1\neffective: 2026-13-01\nlabels: [{id: a, definition: A}]\n---\n", "not an ISO date"),
    ("---\ntask: t\nkind: safety\nversion: 1\neffective: 2026-01-01\nlabels: [{id: a, definition: A}, {id: a, definition: B}]\n---\n", "duplicate label"),
    ("---\ntask: t\nkind: safety\nversion: 1\neffective: 2026-01-01\nlabels: [{id: a}]\n---\n", "no definition"),
    ("---\ntask: t\nkind: safety\nversion: 1\neffective: 2026-01-01\nlabels: [{id: a, definition: A, risks: [A.9.z]}]\n---\n", "unknown risk id"),
    ("---\ntask: t\nkind: safety\nversion: 1\neffective: 2026-01-01\nlabels: {a: 1}\n---\n", "labels must be a list"),
])
def test_malformed_documents(text: str, needle: str) -> None:
    with pytest.raises(AnnotationError, match=re.escape(needle)):
        parse_rules(text, "bad.md")


def test_missing_rules_path() -> None:
    with pytest.raises(AnnotationError, match="not found"):
        load_rules([Path("/nonexistent/rules")])


def _ann(labels: tuple[str, ...], day: dt.date, task: str = "safety-risk") -> Annotation:
    return Annotation("i1", "B1", "ann01", labels, day, task, "x.jsonl:1")


def test_labels_checked_against_version_in_force() -> None:
    rules = load_rules([EXAMPLE / "rules"])
    # hg.prompt_injection exists only from v1.1 (2026-06-01)
    ok, bad = check_labels([_ann(("hg.prompt_injection",), dt.date(2026, 6, 2))], rules)
    assert ok == [] and bad == set()
    issues, bad = check_labels([_ann(("hg.prompt_injection",), dt.date(2026, 5, 2))], rules)
    assert [i.code for i in issues] == ["data.unknown_label"] and "safety-risk v1.0" in issues[0].message_en
    assert bad == {("B1", "i1", "ann01")}
    issues, _ = check_labels([_ann(("none",), dt.date(2025, 5, 2))], rules)
    assert [i.code for i in issues] == ["data.no_rules_in_force"]
    issues, _ = check_labels([_ann(("weather",), dt.date(2026, 5, 2), task="unknown-task")], rules)
    assert [i.code for i in issues] == ["data.no_rules_in_force"]
