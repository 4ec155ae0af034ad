"""`normalize` and `normalize_batch` against a plain per-character reference, on random and odd text.

The fast paths (flags in the lookup table, slices spliced around uneven characters, noise runs
from the noise characters' offsets, strict encoding before looking for lone surrogates) must
give exactly what the definition gives: each character through the translate table (a lone
surrogate becomes U+FFFD), then runs of at most five noise characters between two CJK
characters removed, with the same offset records.
"""

from __future__ import annotations

import importlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.text import NormalizedText, normalize
from hegui.text.normalize import _CJK_RANGES, _MAX_NOISE_RUN, _NOISE_CHARS, _tables, normalize_batch

N = importlib.import_module("hegui.text.normalize")  # ``hegui.text.normalize`` is also the function

_NOISE = set(_NOISE_CHARS)


def _cjk(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _CJK_RANGES)


def reference(text: str) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    """(normalised text, stage-1 records, stage-2 records), one character at a time."""
    table, _ = _tables()
    pieces: list[str] = []
    stage1: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        if 0xD800 <= cp <= 0xDFFF:
            r: str = "\ufffd"
        elif cp in table:
            v = table[cp]
            r = v or ""
            if v is None or len(v) != 1:
                stage1.append((i, len(r)))
        else:
            r = ch
        pieces.append(r)
    s = "".join(pieces)
    stage2: list[tuple[int, int]] = []
    i = 0
    while i < len(s):
        if s[i] in _NOISE:
            j = i
            while j < len(s) and s[j] in _NOISE:
                j += 1
            if i > 0 and j < len(s) and j - i <= _MAX_NOISE_RUN and _cjk(s[i - 1]) and _cjk(s[j]):
                stage2.append((i, j))
            i = j
        else:
            i += 1
    out = s
    for a, b in reversed(stage2):
        out = out[:a] + out[b:]
    return out, stage1, stage2


_ODD = ["😀", "\U00020000", "\ud800", "\udfff", "\ud83d", "Ａ", "ａ", "１", "輪", "國", "發", "\u200b", "\u200d", "\ufeff",
        "\u00ad", "\u2060", "\x00", "\x07", "а", "ο", "ᴀ", "㍿", "ﬁ", "ß", "①", "…", "\u3000", "\u3164", "\U000e0001",
        "s3x", "pr0n", "h@ck", "$hit", "\n", "\r", "\t"]
_ALPHABET = (list("法轮功我你，。！？abcdeiosABC0134579@$*.-_ ·★~") + _ODD + [chr(c) for c in range(0x4E00, 0x4E00 + 40)])


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.choice([0, 1, 2, 3, 8, 40, 300])))


def _key(n: NormalizedText | None) -> tuple[object, ...] | None:
    return None if n is None else (n.original, n.text, n._stage1, n._stage2, n.is_identity)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=40).map("".join) | st.text(max_size=60))
def test_normalize_equals_the_reference(text: str) -> None:
    n = normalize(text)
    assert (n.text, n._stage1, n._stage2) == reference(text)


def test_batch_equals_the_reference_on_random_batches() -> None:
    rng = random.Random(11)
    for _ in range(300):
        texts = [_random_text(rng) for _ in range(rng.randint(1, 12))]
        got = normalize_batch(texts, max_chars=250)
        for t, n in zip(texts, got, strict=True):
            if len(t) > 250:
                assert n is None
                continue
            assert n is not None
            assert (n.text, n._stage1, n._stage2) == reference(t)
            # Never called free of lone surrogates when it holds one; in a joined batch (two or
            # more non-empty texts), known free whenever it has none.
            has = any(0xD800 <= ord(c) <= 0xDFFF for c in t)
            joined = sum(1 for x in texts if x and len(x) <= 250) > 1
            assert n.surrogate_free == (not has) if (joined and t) else not (has and n.surrogate_free)


def test_batch_edge_cases() -> None:
    texts = ["", "\u200b", "\u200b" * 3, "😀", "\ud800", "法\u200b轮", "法 * 轮", "ＡＢＣ", "發輪", "s3x", "\n", "㍿" * 3]
    assert [_key(n) for n in normalize_batch(texts)] == [_key(normalize(t)) for t in texts]
    for t, n in zip(texts, normalize_batch(texts), strict=True):
        assert n is not None and (n.text, n._stage1, n._stage2) == reference(t)
    assert normalize_batch([]) == []


@pytest.mark.parametrize("limit", [0, 1, 10_000])
def test_both_ways_of_expanding_agree(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """`_expand` splices slices up to `_CONCAT_MAX` uneven characters and repeats beyond."""
    monkeypatch.setattr(N, "_CONCAT_MAX", limit)
    rng = random.Random(limit)
    for _ in range(100):
        texts = [_random_text(rng) + rng.choice(["", "…", "\u200b", "㍿", "ß"]) * rng.randint(0, 20)
                 for _ in range(rng.randint(2, 8))]
        for t, n in zip(texts, normalize_batch(texts), strict=True):
            assert n is not None and (n.text, n._stage1, n._stage2) == reference(t)


def test_no_flag_reaches_the_text() -> None:
    """Noise and uneven characters are flagged in the lookup table; the text never holds a flag."""
    every_noise = "".join(sorted(_NOISE))
    texts = ["法" + every_noise + "轮", every_noise, "中" + "\u200b".join(every_noise) + "中", "法 轮…功"]
    for t, n in zip(texts, normalize_batch(texts), strict=True):
        assert n is not None and (n.text, n._stage1, n._stage2) == reference(t)
        assert all(ord(c) < 0x110000 for c in n.text)


def _to_original_reference(norm: NormalizedText, m: list[int], start: int, end: int) -> tuple[int, int]:
    """`NormalizedText.to_original` from the full index map ``m``, with min/max as it was written."""
    n = len(norm.text)
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    if norm.is_identity:
        return start, end
    if end == start:
        return m[start], m[start]
    return m[start], max(m[end - 1] + 1, m[start] + 1)


def test_to_original_equals_the_index_map() -> None:
    rng = random.Random(13)
    texts = [_random_text(rng) for _ in range(150)] + ["", "㍿", "\u200b", "法 * 轮", "\u200b法", "法\u200b", "ß" * 3]
    for batch in (texts[i : i + 10] for i in range(0, len(texts), 10)):
        for n in [*normalize_batch(batch), *map(normalize, batch)]:
            assert n is not None
            k = len(n.text)
            m = n._index_map().tolist()
            step = 1 if k < 60 else 7  # every span of short texts, a sample of long ones
            for start in range(-2, k + 3, step):
                for end in [*range(start - 2, start + 4), *range(start, k + 3, step)]:
                    assert n.to_original(start, end) == _to_original_reference(n, m, start, end), (n, start, end)


def test_single_text_noise_runs_on_long_and_crowded_text() -> None:
    """A single text's noise runs come from a regular expression, the batch's from numpy."""
    rng = random.Random(17)
    texts = [_random_text(rng) for _ in range(150)]
    texts += ["法 轮" * 400, "中" + " * " * 300 + "中", ("法" + " " * rng.randint(1, 7)) * 200, " " * 50, "法 ",
              "法" + " " * 5 + "轮", "法" + " " * 6 + "轮", "法 \U00020000", "\U00020000·\U0002EBEF", "法\n 轮", "㍿ 法"]
    for t in texts:
        n = normalize(t)
        assert (n.text, n._stage1, n._stage2) == reference(t)
    for n, t in zip(normalize_batch(texts), texts, strict=True):
        assert n is not None and (n.text, n._stage1, n._stage2) == reference(t)


@pytest.mark.parametrize("limit", [0, 3, 20_000])
def test_single_text_stage_two_both_ways(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    """`normalize` uses the regular expression up to `_RE_MAX_CHARS` characters, numpy beyond."""
    monkeypatch.setattr(N, "_RE_MAX_CHARS", limit)
    rng = random.Random(limit + 1)
    texts = [_random_text(rng) for _ in range(150)] + ["法 轮" * 400, "中" + " * " * 300 + "中", "法 ", "法" + " " * 6 + "轮"]
    for t in texts:
        n = normalize(t)
        assert (n.text, n._stage1, n._stage2) == reference(t)
