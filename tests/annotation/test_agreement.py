"""κ and α against textbook values computed by hand and against the reference packages."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hegui.annotation.agreement import agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha_nominal


def test_cohen_textbook() -> None:
    # Wikipedia / Cohen (1960) style 2×2: 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no.
    # p_o = 35/50 = 0.7; p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = 0.2 / 0.5 = 0.4.
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_tiny_by_hand() -> None:
    # p_o = 2/3, p_e = (2·1 + 1·2)/9 = 4/9, κ = (2/9)/(5/9) = 0.4
    assert cohen_kappa(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(0.4)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # one category: chance agreement is 1
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa(["a"], ["a", "b"])


def test_cohen_matches_sklearn() -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(5, 60)
        a = [rng.choice("abcd") for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice("abcd") for x in a]
        mine = cohen_kappa(a, b)
        if mine is not None:
            assert mine == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


FLEISS_WIKI = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
               [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_textbook() -> None:
    # Fleiss (1971) worked example as on Wikipedia: P̄ = 0.378, P̄e = 0.213, κ = 0.210.
    assert fleiss_kappa(FLEISS_WIKI) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_matches_statsmodels() -> None:
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    rng = np.random.default_rng(3)
    for _ in range(10):
        table = rng.multinomial(5, [0.5, 0.3, 0.2], size=rng.integers(3, 30))
        assert fleiss_kappa(table.tolist()) == pytest.approx(sm_fleiss(table), abs=1e-12)
    assert fleiss_kappa(FLEISS_WIKI) == pytest.approx(sm_fleiss(np.array(FLEISS_WIKI)), abs=1e-12)


def test_fleiss_rejects_ragged() -> None:
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [2, 1]])
    assert fleiss_kappa([]) is None


def test_alpha_tiny_by_hand() -> None:
    # Units (a,a), (a,b), (b,b): o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6.
    # D_o = 2/6, D_e = 2·3·3/(6·5) = 0.6, α = 1 − (1/3)/0.6 = 4/9.
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "b"], ["b", "b"]]) == pytest.approx(4 / 9)
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]) is None
    assert krippendorff_alpha_nominal([["a"]]) is None


def _kripp_example():
    nan = np.nan
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 observers × 12 units,
    # missing data; nominal α = 0.743.
    return np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ])


def test_alpha_textbook_and_reference() -> None:
    import krippendorff

    data = _kripp_example()
    units = [[v for v in data[:, u] if not np.isnan(v)] for u in range(data.shape[1])]
    mine = krippendorff_alpha_nominal(units)
    assert mine == pytest.approx(0.743, abs=5e-4)
    assert mine == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"), abs=1e-12)


def test_alpha_matches_reference_random() -> None:
    import krippendorff

    rng = np.random.default_rng(11)
    for _ in range(10):
        truth = rng.integers(0, 4, size=30)
        data = np.where(rng.random((3, 30)) < 0.8, truth, rng.integers(0, 4, size=(3, 30))).astype(float)
        data[rng.random((3, 30)) < 0.2] = np.nan
        units = [[v for v in data[:, u] if not np.isnan(v)] for u in range(30)]
        ref = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert krippendorff_alpha_nominal(units) == pytest.approx(ref, abs=1e-12)


def test_agreement_summary() -> None:
    ratings = {"i1": {"x": "a", "y": "a"}, "i2": {"x": "a", "y": "b"}, "i3": {"x": "b", "y": "b"}, "i4": {"x": "a"}}
    out = agreement(ratings)
    assert out["items_multi"] == 3
    assert out["cohen"] == [{"annotators": ["x", "y"], "items": 3, "kappa": pytest.approx(0.4)}]
    assert out["krippendorff_alpha"] == pytest.approx(4 / 9)
    # Fleiss on the same 3 items: p_j = (0.5, 0.5), P_i = (1, 0, 1) → P̄ = 2/3, κ = (2/3 − 1/2)/(1/2) = 1/3
    assert out["fleiss_kappa"] == pytest.approx(1 / 3)
