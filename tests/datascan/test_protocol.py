"""TC260 thresholds and the seeded automated sample."""

from __future__ import annotations

from hegui.datascan.pipeline import Pipeline, in_auto_sample
from hegui.datascan.protocol import auto_rule, source_rule


def test_source_rule_five_percent() -> None:
    assert source_rule(5, 100)["result"] == "pass"
    assert source_rule(6, 100)["result"] == "fail"
    assert source_rule(0, 0)["result"] == "pending"


def test_auto_rule_needs_ten_percent_and_98() -> None:
    assert auto_rule(100, 98, 1000)["result"] == "pass"
    assert auto_rule(100, 97, 1000)["result"] == "fail"
    assert auto_rule(99, 99, 1000)["result"] == "fail"  # 9.9 % of the corpus is not enough
    r = auto_rule(1000, 990, 1000)
    assert r["ci95"][0] < 0.99 < r["ci95"][1]


def test_auto_sample_is_seeded_and_sized() -> None:
    p = Pipeline(steps=[], auto_fraction=0.2, seed=5)
    picked = [in_auto_sample(p, "s", f"d{i}") for i in range(20_000)]
    assert 0.18 < sum(picked) / len(picked) < 0.22
    assert picked == [in_auto_sample(p, "s", f"d{i}") for i in range(20_000)]
    other = Pipeline(steps=[], auto_fraction=0.2, seed=6)
    assert picked != [in_auto_sample(other, "s", f"d{i}") for i in range(20_000)]
