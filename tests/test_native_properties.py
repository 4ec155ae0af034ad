"""Property tests: each compiled function of `hegui._native` against its numpy twin on any text.

The hand-picked alphabets of the per-function tests (tests/classifier/test_native.py,
tests/datascan/test_minhash_native.py, tests/datascan/test_signals_native.py) cover the cases we
thought of; here hypothesis draws from all of Unicode, lone surrogates included, and shrinks any
difference to a minimal example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.datascan import minhash, signals
from hegui.detect.classifier.detector import default_model_path
from hegui.detect.classifier.model import ClassifierModel

Both = Callable[[Callable[[], Any]], tuple[Any, Any]]  # the `numpy_then_c` fixture (tests/conftest.py)

# Any code point, lone surrogates included (st.text leaves them out by default), and a bias
# towards the characters the tables treat specially: whitespace, line breaks, CJK, digits.
_CHARS = st.one_of(
    st.characters(codec=None, categories=None),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.sampled_from(list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x85\xa0\u1680\u2000\u2028\u2029\u3000\ufeff0123456789")),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E40),
)
_TEXTS = st.lists(st.text(_CHARS, max_size=300), max_size=12)
# The fixture is function-scoped: each example sets HEGUI_NATIVE itself, so nothing carries over.
_SETTINGS = settings(max_examples=300, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
_MODEL = ClassifierModel.load(default_model_path())


@_SETTINGS
@given(texts=_TEXTS)
def test_classifier_logits(texts: list[str], numpy_then_c: Both) -> None:
    ref, got = numpy_then_c(lambda: _MODEL.probabilities(texts))
    assert np.array_equal(ref.view(np.uint32), got.view(np.uint32))


@_SETTINGS
@given(texts=_TEXTS, n=st.integers(1, 8), k=st.sampled_from([1, 2, 7, 16, 128]), seed=st.integers(-(2**63), 2**64 - 1))
def test_minhash_band_keys(texts: list[str], n: int, k: int, seed: int, numpy_then_c: Both) -> None:
    bands = max(1, k // 10)
    ref, got = numpy_then_c(lambda: minhash.text_band_keys(texts, n, seed, k, bands, k // bands))
    assert got == ref


@_SETTINGS
@given(texts=_TEXTS, sample=st.sampled_from([0, 3, 4000]))
def test_signals(texts: list[str], sample: int, numpy_then_c: Both) -> None:
    ref, got = numpy_then_c(lambda: signals.analyse_batch(texts, sample=sample))
    assert got == ref
