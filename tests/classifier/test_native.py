"""The C extension's classifier path (`hegui._native.ngram_logits`) against the numpy path.

The two must give the same float32 bits for every text: the scanner's annotations, the gateway's
verdicts and a Ray worker without the extension must agree with a local worker that has it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hegui import native
from hegui.detect.classifier.detector import default_model_path
from hegui.detect.classifier.features import FeatureSpec
from hegui.detect.classifier.model import ClassifierModel, Head

from .test_features_model import _random_texts

Both = Callable[[Callable[[], Any]], tuple[Any, Any]]  # the `numpy_then_c` fixture (tests/conftest.py)


def test_extension_is_built_where_required(native_ext: ModuleType) -> None:
    # `make test` sets HEGUI_REQUIRE_NATIVE=1: there the extension must have been built by the
    # install (setup.py), not silently replaced by the numpy path (the fixture fails without it).
    assert native.get() is native_ext


def _long_texts() -> list[str]:
    rng = random.Random(3)
    cjk = [chr(c) for c in range(0x4E00, 0x9FA5)]
    # Rows of more than 128 features take numpy's pairwise recursion; thousands of characters
    # split it several levels deep.
    return ["长文本" * 900, "".join(rng.choice(cjk) for _ in range(20_000)), "a" * 5000, "😀\ud800" * 300]


def test_shipped_model_native_equals_numpy(numpy_then_c: Both) -> None:
    model = ClassifierModel.load(default_model_path())
    texts = [*_random_texts(3000, seed=21), *_long_texts(), "", "a"]
    ref, got = numpy_then_c(lambda: model.probabilities(texts))
    assert got.dtype == np.float32 and np.array_equal(ref.view(np.uint32), got.view(np.uint32))
    for t in texts[:200] + texts[-6:]:  # one text: the gateway's call
        ref, got = numpy_then_c(lambda t=t: model.probabilities([t]))
        assert np.array_equal(ref.view(np.uint32), got.view(np.uint32)), t
    ref, got = numpy_then_c(lambda: model.probabilities([]))
    assert ref.shape == got.shape == (0, len(model.heads))


@pytest.mark.parametrize("n_heads", [1, 3, 6, 8, 9])
@pytest.mark.parametrize("spec", [FeatureSpec(), FeatureSpec(2, 3, 1 << 12), FeatureSpec(1, 1, 1 << 4), FeatureSpec(3, 8, 1 << 20)])
def test_random_models_native_equals_numpy(spec: FeatureSpec, n_heads: int, numpy_then_c: Both) -> None:
    # Row widths 1, 4, 8, 8 and 9 (padded as the model pads them), n-gram orders that skip
    # unigrams, a table smaller than a text's n-grams, and long n-grams in a larger table.
    rng = np.random.default_rng(n_heads)
    weights = (rng.standard_normal((spec.n_buckets, n_heads)) * 2).astype(np.float32)
    weights[rng.random(spec.n_buckets) < 0.05] = -0.0  # signed zeros: numpy's sums start from -0.0
    heads = [Head(f"h{i}", f"R{i}") for i in range(n_heads)]
    model = ClassifierModel(spec, heads, weights, rng.standard_normal(n_heads).astype(np.float32))
    texts = [*_random_texts(600, seed=n_heads), *_long_texts()[:2]]
    ref, got = numpy_then_c(lambda: model.probabilities(texts))
    assert np.array_equal(ref.view(np.uint32), got.view(np.uint32))


def test_largest_table_the_c_path_takes(numpy_then_c: Both) -> None:
    spec = FeatureSpec(1, 3, 1 << 24)
    weights = np.random.default_rng(0).standard_normal((spec.n_buckets, 1)).astype(np.float32)
    model = ClassifierModel(spec, [Head("h", "R")], weights, np.zeros(1, np.float32))
    ref, got = numpy_then_c(lambda: model.probabilities([*_random_texts(200, seed=9), *_long_texts()[:2]]))
    assert np.array_equal(ref.view(np.uint32), got.view(np.uint32))


def test_tables_over_the_bitmap_limit_take_the_numpy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = FeatureSpec(1, 2, 1 << 25)
    model = ClassifierModel(spec, [Head("h", "R")], np.zeros((spec.n_buckets, 1), np.float32), np.zeros(1, np.float32))
    monkeypatch.setattr(native, "_native", None)  # a table this size would raise in the C path
    assert np.all(model.probabilities(["你好", ""]) == np.float32(0.5))


def test_feature_counts_are_hashed_ngrams_sizes(native_ext: ModuleType) -> None:
    from hegui.detect.classifier.features import hashed_ngrams

    model = ClassifierModel.load(default_model_path())
    texts = [*_random_texts(300, seed=4), *_long_texts()]
    out = np.zeros((len(texts), len(model.heads)), np.float32)
    counts = native_ext.ngram_logits(texts, model._rows, len(model.heads), 1, 3, 19, out)
    assert counts == [hashed_ngrams(t, model.spec).size for t in texts]


def test_models_with_more_heads_than_the_c_path_takes_use_numpy() -> None:
    spec = FeatureSpec(1, 2, 1 << 8)
    heads = [Head(f"h{i}", f"R{i}") for i in range(65)]
    model = ClassifierModel(spec, heads, np.zeros((spec.n_buckets, 65), np.float32), np.zeros(65, np.float32))
    assert np.all(model.probabilities(["你好", ""]) == np.float32(0.5))  # the C path would raise


def test_bad_arguments_raise_clear_errors(native_ext: ModuleType) -> None:
    nat = native_ext
    rows = np.zeros((16, 8), np.float32)
    out = np.zeros((2, 6), np.float32)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        nat.ngram_logits(["a", 3], rows, 6, 1, 3, 4, out)
    with pytest.raises(ValueError, match="out must hold"):
        nat.ngram_logits(["a"], rows, 6, 1, 3, 4, out)
    with pytest.raises(ValueError, match="2\\*\\*bits rows"):
        nat.ngram_logits(["a", "b"], rows, 6, 1, 3, 8, out)
    with pytest.raises(ValueError, match="out of range"):
        nat.ngram_logits(["a", "b"], rows, 6, 2, 1, 4, out)
    with pytest.raises(ValueError, match="narrower"):
        nat.ngram_logits(["a", "b"], np.zeros((16, 4), np.float32), 6, 1, 3, 4, out)


def test_threads_share_the_model(numpy_then_c: Both) -> None:
    # The extension releases the GIL while it sums: threads scoring at once (the gateway's
    # worker threads) each get their own texts' scores.
    model = ClassifierModel.load(default_model_path())
    batches = [_random_texts(300, seed=s) for s in range(6)]
    want = [numpy_then_c(lambda b=b: model.probabilities(b))[0] for b in batches]
    got: list[np.ndarray | None] = [None] * len(batches)

    def work(i: int) -> None:
        for _ in range(5):
            got[i] = model.probabilities(batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w, g in zip(want, got, strict=True):
        assert g is not None and np.array_equal(w.view(np.uint32), g.view(np.uint32))
