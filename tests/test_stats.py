"""The shared Wilson interval and sample-size helpers."""

from __future__ import annotations

import pytest

from hegui.stats import required_sample_size, wilson_interval


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(3900, 4000), (0, 10), (10, 10), (57, 123)]:
        lo, hi = wilson_interval(k, n)
        elo, ehi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert lo == pytest.approx(elo, abs=1e-9) and hi == pytest.approx(ehi, abs=1e-9)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    lo, hi = wilson_interval(3880, 4000, 0.99)
    assert lo < 0.97 < hi


def test_required_sample_size() -> None:
    assert required_sample_size(0.5, 0.05) == 385
    assert required_sample_size(0.96, 0.01, population=1000) < required_sample_size(0.96, 0.01)
    with pytest.raises(ValueError):
        required_sample_size(0.5, 0)
