"""Any text is scored without error, and normaliser-undone rewrites barely move the scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.detect.classifier import ClassifierDetector
from hegui.detect.classifier.features import FeatureSpec, hashed_ngrams
from hegui.text import normalize

_DET = ClassifierDetector(min_score=0.0)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_hashes_in_range(text: str) -> None:
    idx = hashed_ngrams(text, FeatureSpec())
    assert idx.dtype == np.int64 and np.all((idx >= 0) & (idx < FeatureSpec().n_buckets))
    assert np.all(np.diff(idx) > 0)


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\ud800\udfff"), max_size=200))
def test_any_text_scores_in_unit_interval(text: str) -> None:
    s = _DET.scores([normalize(text)])
    assert s.shape == (1, len(_DET.model.heads)) and np.all((s >= 0) & (s <= 1))


def test_traditional_and_inserted_symbols_barely_change_scores() -> None:
    pairs = [
        ("河南人都是骗子，没一个好东西", "河南人都是騙子，沒一個好東西"),
        ("河南人都是骗子，没一个好东西", "河*南*人都是骗.子，没一个好东西"),
        ("女人就该待在家里生孩子", "女人就該待在家裡生孩子"),
    ]
    for a, b in pairs:
        sa, sb = _DET.scores([normalize(a)]), _DET.scores([normalize(b)])
        assert np.max(np.abs(sa - sb)) < 0.1, (a, b)
