"""Shared fixtures: the shipped example (examples/annotation) and helpers to load it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "annotation"
AS_OF = dt.date(2026, 7, 1)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A writable copy of the example, so a test can break one file."""
    dst = tmp_path / "ex"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def run_qa(ex: Path, **kw):
    from hegui.annotation import load_roster, load_rules
    from hegui.annotation.batches import load_annotations, load_reviews
    from hegui.annotation.qa import evaluate

    rules = load_rules([ex / "rules"])
    roster = load_roster(ex / "roster.yaml")
    anns, i1 = load_annotations([kw.pop("annotations", ex / "annotations.jsonl")])
    revs, i2 = load_reviews([kw.pop("reviews", ex / "reviews.csv")], anns)
    return evaluate(anns, revs, rules, roster, as_of=kw.pop("as_of", AS_OF), prior_issues=i1 + i2, **kw)


def codes(data) -> set[str]:
    return {i["code"] for i in data["issues"] if i["severity"] == "error"}
