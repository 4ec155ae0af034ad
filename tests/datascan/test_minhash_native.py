"""The C extension's MinHash band keys (`hegui._native.minhash_bands`) against the numpy path.

A near-duplicate found by a local worker with the extension must be found the same way by a Ray
worker without it: the keys must be equal, for every text and every sketch setting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hegui import native
from hegui.datascan import minhash

Both = Callable[[Callable[[], Any]], tuple[Any, Any]]  # the `numpy_then_c` fixture (tests/conftest.py)


def _texts(n: int, seed: int) -> list[str]:
    """Han, Latin, every kind of whitespace the table knows, astral and lone-surrogate code points,
    NUL, and lengths from empty to longer than a document needs for its first two rounds."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 60)] + list("ab c\n\t\u3000\u2028\x85 xyz0") + ["😀", "\ud800", "\x00"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 4, 5, 6, 9, 20, 80, 400, 3000]))) for _ in range(n)]


@pytest.mark.parametrize(
    ("n", "seed", "k", "bands", "rows"),
    [(5, 42, 128, 12, 10), (1, 1, 7, 2, 3), (3, 2**40 + 3, 9, 4, 2), (8, -5, 16, 16, 1), (2, 0, 1, 1, 1), (4, 7, 33, 3, 11)],
)
def test_native_band_keys_equal_numpy(n: int, seed: int, k: int, bands: int, rows: int, numpy_then_c: Both) -> None:
    # The default setting, odd and tiny bin counts (the last pair of rounds has one round; round
    # k + j fills bins of texts with a handful of n-grams), n-grams of one to eight code points.
    texts = _texts(1500, seed=n)
    ref, got = numpy_then_c(lambda: minhash.text_band_keys(texts, n, seed, k, bands, rows))
    assert got == ref
    assert any(ref) and not all(ref)  # both kinds of text are there
    for t, want in zip(texts[:100], ref, strict=False):  # one text alone: its row of the batch
        assert numpy_then_c(lambda t=t: minhash.text_band_keys([t], n, seed, k, bands, rows)) == ([want], [want])


def test_native_keys_match_the_documented_steps(native_ext: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    # Independent of text_band_keys' numpy branch: shingle_hashes → sketch → band_keys by hand.
    texts = ["今天天气很好，我们去公园散步吧。" * 3, "今天天气很好，我们去公园散步吧！" * 3, "短", ""]
    h, doc = minhash.shingle_hashes(texts, 5, 42)
    sig = minhash.sketch(h, doc, len(texts), 128, 42)
    want = minhash.band_keys(sig[:2], 12, 10).tolist()
    monkeypatch.setenv("HEGUI_NATIVE", "1")
    assert native.get() is native_ext
    assert minhash.text_band_keys(texts, 5, 42, 128, 12, 10) == [*want, [], []]


def test_bad_arguments_raise_clear_errors(native_ext: ModuleType) -> None:
    nat = native_ext
    solid = minhash._solid_lut().view(np.uint8)
    salt = minhash._salts(8, 1)
    out = np.empty((1, 2), np.uint64)
    with pytest.raises(ValueError, match="out of range"):
        nat.minhash_bands(["abc"], solid, 5, 1, 8, salt, 4, 4, out)  # 16 rows of 8 bins
    with pytest.raises(ValueError, match="salt 2k"):
        nat.minhash_bands(["abc"], solid, 5, 1, 8, salt[:3], 2, 4, out)
    with pytest.raises(ValueError, match="out must hold"):
        nat.minhash_bands(["abc", "d"], solid, 5, 1, 8, salt, 2, 4, out)
    with pytest.raises(TypeError, match=r"texts\[0\] is bytes"):
        nat.minhash_bands([b"abc"], solid, 5, 1, 8, salt, 2, 4, out)
