"""The C extension's signal counts (`hegui._native.text_signals`) against the numpy path.

`analyse_batch` must give the same language, signals and flags either way: a corpus scanned on a
Ray worker without the extension must get the same annotations as one scanned locally with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from hegui import native
from hegui.datascan import signals

Both = Callable[[Callable[[], Any]], tuple[Any, Any]]  # the `numpy_then_c` fixture (tests/conftest.py)


def _texts(seed: int) -> list[str]:
    """Every script the tables know, symbols, digits, every line break splitlines() knows (CRLF,
    U+2028, NEL), lone surrogates and NUL; repeated lines and repeated passages; empty, blank,
    short and over-the-cap texts."""
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E08)] + list("ab c\n\r\t\u3000\u2028\x85\x0b xyz0.,!@#") + [
        "😀", "\ud800", "\x00", "ア", "가", "д", "ب", "é", "the ", "and ", "le ", "der ", "el ",
    ]
    out = []
    for _ in range(2500):
        t = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 9, 10, 19, 20, 21, 40, 200, 2000])))
        if rng.random() < 0.2:
            t = (t[:30] + rng.choice(["\n", "\r\n", "\u2028"])) * rng.randint(1, 5)
        if rng.random() < 0.1:
            t = t * 3
        out.append(t)
    return [*out, "", "  \n ", "x" * 25_000, "重复的一段文字内容啊" * 3000, "\u2028a\u2028a\u2028", "a\r\nb\r\na", " 两端有空格 "]


@pytest.mark.parametrize("sample", [4000, 5, 0])
def test_native_signals_equal_numpy(sample: int, numpy_then_c: Both) -> None:
    texts = _texts(sample)
    ref, got = numpy_then_c(lambda: signals.analyse_batch(texts, sample=sample))
    assert got == ref
    flags = {f for _, _, fl in ref for f in fl}
    assert {"empty", "too_short", "symbols", "digits", "repetitive"} <= flags  # every branch was taken
    assert any(s.get("dup_line_ratio") for _, s, _ in ref) and any(s.get("rep_ngram_ratio") for _, s, _ in ref)
    langs = {lang for lang, _, _ in ref}
    assert len(langs) >= 3 if sample else langs == {"und"}  # sample 0: no letter is looked at


def test_texts_one_by_one_equal_the_batch(native_ext: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _texts(1)[:300]
    monkeypatch.setenv("HEGUI_NATIVE", "1")
    assert native.get() is native_ext
    batch = signals.analyse_batch(texts)
    assert [signals.analyse_batch([t])[0] for t in texts] == batch


def test_repeated_ngram_cover_is_exact_on_hash_collisions(numpy_then_c: Both) -> None:
    # Many distinct grams in one text (a table with long probe chains) and one gram that comes
    # back: only that gram's characters count.
    rng = random.Random(3)
    body = "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(19_990))
    text = body + body[:10]
    ref, got = numpy_then_c(lambda: signals.analyse_batch([text]))
    assert got == ref


def test_bad_arguments_raise_clear_errors(native_ext: ModuleType) -> None:
    nat = native_ext
    lut = signals._combined_lut()
    out = np.empty((1, 16), np.int64)
    with pytest.raises(ValueError, match="n must be"):
        nat.text_signals(["a"], lut, 10, 1, 100, out)
    with pytest.raises(ValueError, match="lut must have"):
        nat.text_signals(["a"], lut[:10], 10, 10, 100, out)
    with pytest.raises(ValueError, match="out must hold"):
        nat.text_signals(["a", "b"], lut, 10, 10, 100, out)
    with pytest.raises(TypeError, match=r"texts\[0\] is NoneType"):
        nat.text_signals([None], lut, 10, 10, 100, out)
