"""Sampling plans: hand-computed sizes, the property each plan is built on, and seeded samples."""

from __future__ import annotations

import math

import pytest

from hegui.annotation.sampling import MIN_SAMPLE, sample_items, sampling_plan
from hegui.stats import wilson_interval


@pytest.mark.parametrize(("n", "p", "method", "n0", "size"), [
    # wilson: n0 = ceil(1.959964² · p/(1−p)); 3.841459·19 = 72.99 → 73; ·49 = 188.23 → 189
    (100_000, 0.95, "wilson", 73, 73),
    (100_000, 0.98, "wilson", 189, 189),
    # fpc: 73 / (1 + 72/500) = 63.81 → 64; 189 / (1 + 188/1000) = 159.09 → 160
    (500, 0.95, "wilson", 73, 64),
    (1000, 0.98, "wilson", 189, 160),
    # binomial zero-failure: ln 0.05 / ln 0.95 = 58.40 → 59; ln 0.05 / ln 0.99 = 298.07 → 299
    (10**9, 0.95, "binomial", 59, 59),
    (10**9, 0.99, "binomial", 299, 299),
])
def test_plan_values(n: int, p: float, method: str, n0: int, size: int) -> None:
    plan = sampling_plan(n, p, 0.95, method, minimum=0)
    assert plan.n0 == n0
    assert plan.sample_size == size


def test_plan_properties() -> None:
    # Wilson: an all-correct sample of n0 reaches the target, one fewer does not.
    n0 = sampling_plan(10**6, 0.95, 0.95, "wilson", minimum=0).n0
    assert wilson_interval(n0, n0)[0] >= 0.95 > wilson_interval(n0 - 1, n0 - 1)[0]
    # Binomial: a batch at exactly the target accuracy passes a zero-failure sample with prob ≤ 5 %.
    n0 = sampling_plan(10**6, 0.95, 0.95, "binomial", minimum=0).n0
    assert 0.95**n0 <= 0.05 < 0.95 ** (n0 - 1)
    # Higher confidence, bigger plan.
    assert sampling_plan(10**6, 0.95, 0.99).n0 > sampling_plan(10**6, 0.95, 0.95).n0


def test_minimum_and_small_batches() -> None:
    assert MIN_SAMPLE == 100
    assert sampling_plan(1000, 0.90).sample_size == 100       # formula 34 < floor 100
    assert sampling_plan(60, 0.95).sample_size == 60          # smaller than the floor: all of it
    assert sampling_plan(0, 0.95).sample_size == 0
    assert sampling_plan(10_000, 0.99).sample_size == math.ceil(381 / (1 + 380 / 10_000))  # 367 > floor


def test_bad_parameters() -> None:
    for kw in ({"target": 1.0}, {"target": 0.0}, {"confidence": 1.0}, {"method": "magic"}, {"minimum": -1}):
        with pytest.raises(ValueError):
            sampling_plan(100, **kw)
    with pytest.raises(ValueError):
        sampling_plan(-1)


def test_sample_is_seeded_and_order_free() -> None:
    items = [f"i{k:03d}" for k in range(500)]
    a = sample_items(items, 50, 7, "B1")
    assert a == sample_items(list(reversed(items)), 50, 7, "B1")
    assert len(a) == 50 and len(set(a)) == 50 and a == sorted(a)
    assert a != sample_items(items, 50, 8, "B1")
    assert a != sample_items(items, 50, 7, "B2")
    assert sample_items(items[:10], 50, 7, "B1") == sorted(items[:10])


@pytest.mark.parametrize("p", [0.9, 0.95, 0.98, 0.99])
def test_plans_against_statsmodels(p: float) -> None:
    """Each plan is the smallest n with the property it claims, checked with statsmodels' intervals."""
    from statsmodels.stats.proportion import proportion_confint

    n = sampling_plan(10**9, p, 0.95, "wilson", minimum=0).n0
    assert proportion_confint(n, n, alpha=0.05, method="wilson")[0] >= p
    assert proportion_confint(n - 1, n - 1, alpha=0.05, method="wilson")[0] < p
    # zero-failure: one-sided 95 % Clopper–Pearson lower bound (= two-sided 90 % 'beta') reaches p
    n = sampling_plan(10**9, p, 0.95, "binomial", minimum=0).n0
    assert proportion_confint(n, n, alpha=0.10, method="beta")[0] >= p - 1e-12
    assert proportion_confint(n - 1, n - 1, alpha=0.10, method="beta")[0] < p


def test_wilson_by_hand() -> None:
    """The interval every accuracy in the report carries, on numbers worked by hand (z = 1.959964).

    8/10: centre = (0.8 + z²/20) / (1 + z²/10) = 0.99208 / 1.38415 = 0.71674;
    half = z·√(0.016 + z²/400) / 1.38415 = 0.22658 → (0.4902, 0.9433).
    73/73: lower = 73 / (73 + z²) = 0.95000 (the Wilson plan's n₀ for p = 0.95).
    """
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(73, 73)[0] == pytest.approx(73 / (73 + 1.959964**2), abs=1e-6)
    lo, hi = wilson_interval(9, 10)  # the exam fixture: ann03's 9/10
    assert (round(lo, 4), round(hi, 4)) == (0.5958, 0.9821)
