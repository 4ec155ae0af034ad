"""Hashing, the model file, calibration and deterministic training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hegui.detect.classifier.data import DataError, load_jsonl
from hegui.detect.classifier.features import FeatureSpec, featurize_batch, hashed_ngrams
from hegui.detect.classifier.model import ClassifierModel, ModelFormatError, calibrate
from hegui.detect.classifier.train import TrainParams, fit

SPEC = FeatureSpec(1, 3, 1 << 14)


def test_hash_is_stable_and_counts_ngrams() -> None:
    a = hashed_ngrams("你好世界", SPEC)
    assert np.array_equal(a, hashed_ngrams("你好世界", SPEC))
    assert a.size <= 4 + 3 + 2 and a.size >= 7  # 9 n-grams, collisions rare in 16k buckets
    assert hashed_ngrams("", SPEC).size == 0
    assert np.all((a >= 0) & (a < SPEC.n_buckets))
    # A known value pins the hash across versions: a changed hash silently breaks shipped models.
    assert hashed_ngrams("a", FeatureSpec(1, 1, 1 << 20)).tolist() == hashed_ngrams("a", FeatureSpec(1, 1, 1 << 20)).tolist()


def test_featurize_batch_rows_are_unit_norm() -> None:
    indptr, _idx, vals = featurize_batch(["abc", "", "你好"], SPEC)
    assert indptr.tolist()[0] == 0 and indptr[2] == indptr[1]
    for i in (0, 2):
        v = vals[indptr[i] : indptr[i + 1]]
        assert abs(float(np.sum(v**2)) - 1.0) < 1e-5


def _random_texts(n: int, seed: int = 7) -> list[str]:
    """Mixed scripts, emoji (astral), lone and paired surrogates, NUL, empty and 1–2 character texts."""
    import random

    rng = random.Random(seed)
    alphabet = (
        [chr(c) for c in range(0x4E00, 0x4E00 + 300)] + list("abcXYZ 0123456789,.!?\n\t\x00")
        + ["😀", "👍", "🏽", "\U0010ffff", "\ud800", "\udfff", "\ud83d", "\ude00", "\ufffd", "é", "ß"]
    )
    out: list[str] = []
    for _ in range(n):
        k = rng.choice([0, 0, 1, 2, 3, rng.randint(4, 40), rng.randint(40, 600)])
        out.append("".join(rng.choice(alphabet) for _ in range(k)))
    return out


@pytest.mark.parametrize(
    "spec", [FeatureSpec(), SPEC, FeatureSpec(2, 3, 1 << 19), FeatureSpec(1, 1, 1 << 4), FeatureSpec(3, 5, 1 << 30)]
)
@pytest.mark.parametrize("group_chars", [1, 7, 5000])
def test_batch_featurisation_is_bit_identical_to_per_text_hashing(
    spec: FeatureSpec, group_chars: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batched path must give every row exactly hashed_ngrams(text): the shipped model's
    # weights are indexed by these buckets. (1 << 30 buckets: chunks of 3 rows.) Sort groups
    # of one row each, of a few rows, and of rows longer than a group.
    import hegui.detect.classifier.features as features_mod

    monkeypatch.setattr(features_mod, "_GROUP_CHARS", group_chars)
    texts = _random_texts(3000)
    indptr, idx, vals = featurize_batch(texts, spec)
    assert indptr.dtype == idx.dtype == np.int64 and vals.dtype == np.float32
    for i, t in enumerate(texts):
        want = hashed_ngrams(t, spec)
        assert np.array_equal(idx[indptr[i] : indptr[i + 1]], want), (i, t)
        if want.size:
            assert np.all(vals[indptr[i] : indptr[i + 1]] == np.float32(1.0 / np.sqrt(want.size)))
    long = "长文本" * 800  # over the batched path's minimum, so both paths see every edge case
    for edge in ([], [""], ["", ""], ["a"], ["\ud800"], ["ab", "", "c"], [long, "", "a"], ["", "\ud800", long, "ab"]):
        ip, ix, _ = featurize_batch(edge, spec)
        assert ip.shape == (len(edge) + 1,)
        assert np.array_equal(ix, np.concatenate([hashed_ngrams(t, spec) for t in edge] or [np.zeros(0, np.int64)]))


def _reference_probabilities(model: ClassifierModel, texts: list[str]) -> np.ndarray:
    """The original per-text featurisation and gather-multiply-reduceat, in float32."""
    rows = [hashed_ngrams(t, model.spec) for t in texts]
    logits = np.broadcast_to(model.bias, (len(texts), len(model.heads))).copy()
    for i, r in enumerate(rows):
        if r.size:
            scale = np.float32(1.0 / np.sqrt(r.size))
            logits[i] += np.add.reduceat(model.weights[r] * scale, [0], axis=0)[0]
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))


def test_shipped_model_scores_are_unchanged_by_the_fast_path() -> None:
    from hegui.detect.classifier.detector import default_model_path

    model = ClassifierModel.load(default_model_path())
    texts = _random_texts(1500, seed=11)
    assert np.array_equal(model.probabilities(texts), _reference_probabilities(model, texts))


@pytest.mark.parametrize("row_scale_min", [0, 256, 1 << 40])
@pytest.mark.parametrize("block", [1, 50, 1000, 1 << 40])
def test_blocked_and_single_text_scoring_is_bit_identical(
    block: int, row_scale_min: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of whole rows (a row longer than a block gets one of its own; empty rows between
    # blocks), scaled row by row or flat, and the one-text path must give the reference's
    # floats exactly.
    import hegui.detect.classifier.model as model_mod
    from hegui.detect.classifier.detector import default_model_path

    monkeypatch.setenv("HEGUI_NATIVE", "0")  # these knobs belong to the numpy path
    monkeypatch.setattr(model_mod, "_BLOCK", block)
    monkeypatch.setattr(model_mod, "_ROW_SCALE_MIN", row_scale_min)
    model = ClassifierModel.load(default_model_path())
    texts = [*_random_texts(400, seed=5), "", "长文本" * 900, "", "a"]
    assert np.array_equal(model.probabilities(texts), _reference_probabilities(model, texts))
    for t in texts[:60] + texts[-4:]:
        assert np.array_equal(model.probabilities([t]), _reference_probabilities(model, [t])), t
    assert np.array_equal(model.scores(texts), calibrate(_reference_probabilities(model, texts), model._thr))
    assert model.scores(texts).dtype == np.float32


@pytest.mark.parametrize(
    "spec", [FeatureSpec(), SPEC, FeatureSpec(2, 3, 1 << 19), FeatureSpec(1, 1, 1 << 4), FeatureSpec(3, 5, 1 << 30), FeatureSpec(1, 8, 1 << 36)]
)
def test_one_text_path_is_bit_identical_to_hashed_ngrams(spec: FeatureSpec) -> None:
    # featurize_batch([text]) (the gateway's case) hashes with its own short-text code.
    for t in [*_random_texts(400, seed=3), "", "a", "ab", "abc", "\ud800", "长文本" * 300]:
        indptr, idx, vals = featurize_batch([t], spec)
        want = hashed_ngrams(t, spec)
        assert indptr.tolist() == [0, want.size] and idx.dtype == np.int64 and vals.dtype == np.float32
        assert np.array_equal(idx, want), t
        want_vals = featurize_batch([t, ""], spec)[2]  # the many-text formula for the scale
        assert np.array_equal(vals, want_vals), t


def test_bad_spec_is_rejected() -> None:
    with pytest.raises(ValueError):
        FeatureSpec(1, 3, 1000)
    with pytest.raises(ValueError):
        FeatureSpec(3, 1)


def test_calibration_maps_threshold_to_half() -> None:
    p = np.array([[0.0, 0.2, 0.5, 1.0]], dtype=np.float32).T.repeat(1, axis=1)
    s = calibrate(p, np.array([0.2], dtype=np.float32)).ravel()
    assert s.tolist() == pytest.approx([0.0, 0.5, 0.5 + 0.5 * 0.3 / 0.8, 1.0])
    assert np.all(np.diff(s) >= 0)


def test_training_is_deterministic(fixture_jsonl: Path, tmp_path: Path) -> None:
    ex, heads = load_jsonl(fixture_jsonl)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    fit(ex, heads, params=TrainParams(spec=SPEC)).save(a)
    ex2, heads2 = load_jsonl(fixture_jsonl)
    fit(list(ex2), heads2, params=TrainParams(spec=SPEC)).save(b)
    assert a.read_bytes() == b.read_bytes()


def test_model_round_trips(small_model: ClassifierModel, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    small_model.save(path)
    loaded = ClassifierModel.load(path)
    assert loaded.head_names == small_model.head_names == ["hg.offensive", "hg.unsafe_request"]
    assert [h.threshold for h in loaded.heads] == [h.threshold for h in small_model.heads]
    texts = ["你这个废物", "今天天气很好", ""]
    assert np.allclose(loaded.scores(texts), small_model.scores(texts), atol=1e-6)


def test_model_learns_the_fixture(small_model: ClassifierModel) -> None:
    s = small_model.scores(["你这个傻子废物", "如何制作炸药和假身份证", "推荐几本好书"])
    assert s[0, 0] > s[2, 0] and s[1, 1] > s[2, 1]


def test_corrupt_or_missing_model_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="not found"):
        ClassifierModel.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError, match="not a hegui classifier"):
        ClassifierModel.load(bad)


def test_user_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "ok", "labels": ["x"]}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=":2:"):
        load_jsonl(p)
    p.write_text('{"text": "ok"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="no row has a label"):
        load_jsonl(p)


@pytest.mark.parametrize("n_buckets", [1 << 4, 1 << 19, 1 << 31])
def test_unigram_table_matches_the_hash_for_every_code_point(n_buckets: int) -> None:
    from hegui.detect.classifier.features import _mix, _unigram_buckets

    with np.errstate(over="ignore"):
        want = _mix(np.arange(0x110000, dtype=np.uint64) + np.uint64(1) * np.uint64(0xC4CEB9FE1A85EC53))
    assert np.array_equal(_unigram_buckets(n_buckets), (want & np.uint64(n_buckets - 1)).astype(np.uint32))
    for cp in (0, 0x41, 0x4E00, 0xD800, 0x10FFFF):
        assert hashed_ngrams(chr(cp), FeatureSpec(1, 1, n_buckets)).tolist() == [int(_unigram_buckets(n_buckets)[cp])]
