"""The keyword detector's fast paths against their reference forms, on random and odd text.

Each fast path must give exactly what the plainer code it replaced gives: `folded_runs_batch`
against `folded_runs` (the per-text search), `_fold_leet` against the substitution with a call
back per match, the folded re-scan's narrower window against the old one (twice the longest
pattern), `_findings` against a copy of its previous form, and the matcher's pair of hyperscan
databases (one byte a character for ASCII patterns, UTF-16 for the rest) against pyahocorasick.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.detect.base import Finding
from hegui.detect.keywords import KeywordDetector
from hegui.detect.keywords.detector import _REACH, _fold_leet, fold_lookalikes, folded_runs, folded_runs_batch
from hegui.detect.keywords.matcher import (
    AhoCorasickMatcher,
    HyperscanMatcher,
    ascii_bytes,
    hyperscan_available,
)
from hegui.text import NormalizedText, normalize
from hegui.text.normalize import _LEET, _LEET_RUN, normalize_batch

# Emoji, astral and lone surrogates, full-width and traditional characters, zero-width characters,
# look-alikes and the characters leetspeak is made of.
_ODD = ["😀", "\U00020000", "\ud800", "\udfff", "Ａ", "ｂ", "１", "輪", "國", "\u200b", "\u200d", "\ufeff", "а", "ο", "ᴀ"]
_PIECES = st.sampled_from(["s3x", "pr0n", "h@ck", "$hit", "a55", "f4ck", "b4dword", "sex", "av", "java", "b2b",
                           "user1@example.com", "法轮功", "法*轮*功", "中", "\n", " ", "-", "x", "1", "@", "$", "0",
                           *_ODD])
_TEXT = st.lists(st.one_of(_PIECES, st.text(alphabet="abs3e0x1@$7t中 .\n", max_size=8)), max_size=12).map("".join)


def _long_runs(rng: random.Random) -> str:
    """Runs of letters and digits longer than `_REACH`, with look-alike pairs anywhere in them."""
    pieces = []
    for _ in range(rng.randint(1, 4)):
        n = rng.choice([_REACH - 2, _REACH - 1, _REACH, _REACH + 1, _REACH + 2, 3 * _REACH, rng.randint(1, 100)])
        pieces.append("".join(rng.choice("abcs3e0x19@$z") for _ in range(n)))
        pieces.append(rng.choice(["", " ", "中", "\n", "😀", "-"]))
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_folded_runs_batch_equals_folded_runs(texts: list[str]) -> None:
    assert folded_runs_batch(texts) == {j: r for j, t in enumerate(texts) if (r := folded_runs(t))}


def test_folded_runs_batch_on_long_runs_and_edges() -> None:
    rng = random.Random(7)
    for _ in range(400):
        texts = [_long_runs(rng) if rng.random() < 0.7 else rng.choice(["", "a", "3", "a3", "3a", "😀a3"])
                 for _ in range(rng.randint(1, 6))]
        assert folded_runs_batch(texts) == {j: r for j, t in enumerate(texts) if (r := folded_runs(t))}
    assert folded_runs_batch([]) == {}
    assert folded_runs_batch(["", ""]) == {}
    run = "a" + "3" * (5 * _REACH) + "b"  # a run far longer than the reach on both sides of its pair
    assert folded_runs_batch(["中" + run + "中", run]) == {0: folded_runs("中" + run + "中"), 1: folded_runs(run)}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab3s0$@ x_1中-9zE5t4i7o.\n😀", max_size=60))
def test_fold_leet_equals_the_substitution(t: str) -> None:
    assert _fold_leet(t) == _LEET_RUN.sub(lambda m: m.group(0).translate(_LEET), t)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_folded_runs_equal_folding_the_whole_text(t: str) -> None:
    """`folded_runs` (with its quick test for a letter next to a look-alike) against the
    normaliser's expression applied to the whole text."""
    assert fold_lookalikes(t, folded_runs(t)) == _LEET_RUN.sub(lambda m: m.group(0).translate(_LEET), t)


@pytest.fixture(scope="module")
def allow_det(tmp_path_factory: pytest.TempPathFactory) -> KeywordDetector:
    """Leetspeak-prone terms, a long one, and allow-contexts longer than the terms they suppress."""
    d = tmp_path_factory.mktemp("kwfast")
    p = d / "l.txt"
    p.write_text(
        "# hegui-lexicon 1\n"
        "sex\tA.1.f\tweak\tsex education class\n"
        "badword\tA.1.h\tstrong\tnot a badword here|the badword list\n"
        "best中\tA.1.h\t\t\n"
        "中tea\tA.1.h\tweak\n"
        "a very long term about tea and sex\tA.1.h\tstrong\n",
        encoding="utf-8",
    )
    a = d / "allow.txt"
    a.write_text("sexy tea time at the bar\n", encoding="utf-8")
    return KeywordDetector(extra=[p], allow=[a], use_default_library=False, cache_dir=d / "c")


_ALLOW_TEXT = st.lists(st.sampled_from([
    "s3x", "5ex", "$ex", "sex", "b4dword", "badw0rd", "not a b4dword here", "the b@dword list", "sex education class",
    "s3x educati0n class", "sexy tea time at the bar", "s3xy t3a time", "best中", "b3st中", "中tea", "中t3a",
    "a very long term about t3a and s3x", " ", "中", "\n", "x", "😀", "\u200b", "Ａ", "輪",
]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ALLOW_TEXT, max_size=6))
def test_folded_window_of_one_pattern_length_is_enough(allow_det: KeywordDetector, texts: list[str]) -> None:
    """The folded text is re-scanned one longest-pattern length around each run; it was two."""
    norms = [normalize(t) for t in texts]
    got = [allow_det.detect(n) for n in norms]
    assert allow_det.detect_batch(norms) == got
    wide = allow_det._max_len
    try:
        allow_det._max_len = 2 * wide  # `_windows`' margin as it was
        assert [allow_det.detect(n) for n in norms] == got
        assert allow_det.detect_batch(norms) == got
    finally:
        allow_det._max_len = wide


def _findings_reference(det: KeywordDetector, hits: list[tuple[int, int, int]]) -> list[Finding]:
    """`KeywordDetector._findings` as it was before its single-hit path and tuple sort."""
    infos = [det._entry(eid) for eid, _s, _e in hits]
    terms_by_risk: dict[str, set[int]] = {}
    strong_risks: set[str] = set()
    for info in infos:
        terms_by_risk.setdefault(info[0], set()).add(info[4])
        if info[1]:
            strong_risks.add(info[0])
    strong_score = round(det.strong_score, 4)
    lifted = round(max(det.weak_score, det.strong_score - 0.2), 4)
    out: list[Finding] = []
    seen: set[tuple[str, int, int]] = set()
    for (_eid, s, e), (risk, strong, lex, src, _d, evidence) in sorted(
        zip(hits, infos, strict=True), key=lambda item: (item[0][1], item[0][2], item[0][0])
    ):
        if (risk, s, e) in seen:
            continue
        seen.add((risk, s, e))
        if strong:
            out.append(Finding(risk, s, e, strong_score, det.name, evidence, {"strength": "strong", "lexicon": lex, "source": src}))
            continue
        k = len(terms_by_risk[risk])
        score = lifted if risk in strong_risks else round(min(det.weak_score + det.cooccur_step * (k - 1), det.weak_cap), 4)
        out.append(Finding(risk, s, e, score, det.name, evidence,
                           {"strength": "weak", "lexicon": lex, "source": src, "cooccurring_terms": k}))
    return out


def test_findings_equal_the_reference(tmp_path: Path) -> None:
    lex = tmp_path / "l.txt"
    lex.write_text("# hegui-lexicon 1\n" + "".join(
        f"term{i}\tA.{1 + i % 3}.a\t{'strong' if i % 4 == 0 else 'weak'}\n" for i in range(40)), encoding="utf-8")
    rng = random.Random(3)
    for scores in ({}, {"weak_score": 0.35, "cooccur_step": 0.07, "weak_cap": 0.44, "strong_score": 0.85}):
        det = KeywordDetector(extra=[lex], use_default_library=False, cache_dir=tmp_path / "c", **scores)  # type: ignore[arg-type]
        n = det.compiled.n_entries
        for _ in range(500):
            hits = []
            for _ in range(rng.choice([1, 1, 1, 2, 3, 5, 12])):
                s = rng.randint(0, 30)
                hits.append((rng.randrange(n), s, s + rng.randint(1, 6)))
            if rng.random() < 0.2:
                hits.append(hits[0])  # the same hit twice, and the same span for another entry
                hits.append((rng.randrange(n), hits[0][1], hits[0][2]))
            assert det._findings(hits) == _findings_reference(det, hits)


def test_detect_batch_on_odd_text(allow_det: KeywordDetector) -> None:
    texts = ["", "\u200b", "😀s3x😀", "\ud800s3x", "ｓ３ｘ", "輪s3x國", "s\u200b3\u200dx", "$", "a" * 100 + "3" + "b" * 100]
    norms = [n for n in normalize_batch(texts) if n is not None]
    assert all(isinstance(n, NormalizedText) for n in norms)
    assert allow_det.detect_batch(norms) == [allow_det.detect(n) for n in norms]


# -- the matcher's two databases ---------------------------------------------------------------

_PATTERNS = ["法轮", "轮功", "ab", "b", "a?b", "?", "wh?", "😀a", "\U00020000", "a\u200b", "0134", "é", "caf", "café",
             "s3x", "sex", "x y", "中a"]
_MATCH_TEXT = st.lists(st.sampled_from([*_PATTERNS, "中", "?", " ", "a", "b", "😀", "é", "\U00020000", "x"]),
                       max_size=12).map("".join)


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed on this platform")
@settings(max_examples=300, deadline=None)
@given(st.lists(_MATCH_TEXT, max_size=8))
def test_two_databases_equal_one_automaton(texts: list[str]) -> None:
    """ASCII patterns (less ``?``) are matched on one byte a character, the rest on UTF-16: the
    occurrences are pyahocorasick's, which matches characters directly."""
    hs, aho = HyperscanMatcher(_PATTERNS), AhoCorasickMatcher(_PATTERNS)
    loaded = HyperscanMatcher(None, serialized=hs.serialize(), lengths=(hs._blens, hs._clens))
    want = [sorted(aho.scan(t)) for t in texts]
    for m in (hs, loaded):
        assert [sorted(m.scan(t)) for t in texts] == want
        assert [sorted(x) for x in m.scan_many(texts)] == want
        joined = "\n".join(texts)
        assert [sorted(x) for x in m.scan_many(texts, joined=joined, narrow=ascii_bytes(joined))] == want


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed on this platform")
def test_one_database_only() -> None:
    for patterns in (["ab", "cd"], ["法轮", "?"]):
        m = HyperscanMatcher(patterns)
        assert (m._wide is None) == all(p.isascii() and "?" not in p for p in patterns)
        loaded = HyperscanMatcher(None, serialized=m.serialize(), lengths=(m._blens, m._clens))
        for t in ["ab cd 法轮?", "", "😀ab"]:
            assert sorted(loaded.scan(t)) == sorted(m.scan(t)) == sorted(AhoCorasickMatcher(patterns).scan(t))
    with pytest.raises(ValueError):
        HyperscanMatcher(None, serialized=b"not a database", lengths=([], []))


def test_ascii_bytes_keep_offsets() -> None:
    for t in ["", "abc", "中a😀b\ud800c?", "é\U00020000"]:
        b = ascii_bytes(t)
        assert len(b) == len(t)
        assert all((chr(x) == c) if c.isascii() else x == ord("?") for x, c in zip(b, t, strict=True))
