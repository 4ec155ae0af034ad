"""The batch path gives, text by text, exactly what the per-text path gives.

`Guard.check_batch` (what the corpus scanner runs) normalises a whole batch at once
(`normalize_batch`), scans it with one keyword-matcher call (`KeywordDetector.detect_batch`),
and maps spans back by bisection instead of a numpy offset map. Each of these is compared here
with the per-text path it replaces — `normalize`, `KeywordDetector.detect`, `_index_map`,
`Guard.check` — on more than 20,000 real texts from ``../shared/data`` (benign prompts, CED Weibo
posts, COLD comments), on evasive rewrites of them (zero-width and full-width characters,
homoglyphs, leetspeak, symbols between characters, traditional characters, pinyin, emoji, lone
surrogates, NUL) and on random text.
"""

from __future__ import annotations

import csv
import importlib
import json
import random
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.keywords import KeywordDetector
from hegui.detect.keywords.detector import folded_runs, folded_runs_batch
from hegui.detect.keywords.matcher import AhoCorasickMatcher, HyperscanMatcher, hyperscan_available
from hegui.guard import Guard, Verdict
from hegui.policy import Role
from hegui.text import normalize
from hegui.text.normalize import NormalizedText, normalize_batch

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not (DATA / "cold/train.csv").exists(), reason="shared data not present")

# -- corpus --------------------------------------------------------------------------------------

_ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u202e", "\u180e"]
_NOISE = ["*", " ", ".", "-", "_", "·", "•", "★", "~", "|", "/", "\u3000", "…", "!!", "  ", "*_*", "......."]
_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "k": "κ", "n": "η"}
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7", "l": "1"}
_ODD = ["😀", "👍🏽", "\U00020000", "\U0010ffff", "\ud800", "\udfff", "\ud83d", "\x00", "\x07", "\x7f", "\ufffd",
        "\ufe0f", "\u0301", "㍿", "①", "ﬁ", "ß", "Ⅲ", "℃", "‼", "\r\n", "\t"]
_PINYIN = ["falungong", "fa lun gong", "xijinping", "liusi", "taidu", "zangdu", "dubo", "qiangzhi", "maiyin"]
_PII = ["13812345678", "138 1234 5678", "110101199003074514", "user@example.com", "6222021234567890123", "192.168.1.1"]


def _strong_terms() -> list[str]:
    """A sample of the shipped library's strong and weak terms, so evasive texts contain real hits."""
    path = Path(__file__).resolve().parents[1] / "src" / "hegui" / "data" / "keywords" / "default.txt"
    terms = [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#") and "\t" in line]
    return random.Random(7).sample(terms, 400)


def real_texts(per_source: int = 8000) -> list[str]:
    """Up to ``per_source`` texts from each of three real sources, in a fixed order."""
    out: list[str] = []
    with open(DATA / "prompts/benign/train.jsonl", encoding="utf-8") as fh:
        out += [json.loads(x)["text"] for x in islice(fh, per_source)]
    with open(DATA / "rumours/ced_posts.jsonl", encoding="utf-8") as fh:
        out += [json.loads(x)["text"] for x in islice(fh, per_source)]
    with open(DATA / "cold/train.csv", encoding="utf-8-sig", newline="") as fh:
        out += [r["TEXT"] for r in islice(csv.DictReader(fh), per_source)]
    return out


def evade(text: str, rng: random.Random, terms: list[str]) -> str:
    """An evasive rewrite: a planted term or PII value, then a few random disguises."""
    chars = list(text[:400])
    if rng.random() < 0.7:
        chars[rng.randint(0, len(chars)):0] = list(rng.choice(terms + _PINYIN + _PII))
    for _ in range(rng.randint(1, 4)):
        chars = list("".join(chars))
        kind = rng.randrange(7)
        if kind == 0:  # symbols or zero-width characters between characters
            pool = _ZERO_WIDTH if rng.random() < 0.5 else _NOISE
            chars = [c + (rng.choice(pool) if rng.random() < 0.3 else "") for c in chars]
        elif kind == 1:  # full-width ASCII
            chars = [chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and rng.random() < 0.5 else c for c in chars]
        elif kind == 2:  # homoglyphs and case
            chars = [_HOMOGLYPHS.get(c.lower(), c) if rng.random() < 0.5 else c.upper() for c in chars]
        elif kind == 3:  # leetspeak
            chars = [_LEET.get(c, c) if rng.random() < 0.6 else c for c in chars]
        elif kind == 4:  # traditional characters (a few common ones)
            trad = {"轮": "輪", "国": "國", "发": "發", "学": "學", "会": "會", "为": "為", "这": "這", "说": "說"}
            chars = [trad.get(c, c) for c in chars]
        elif kind == 5:  # emoji, astral characters, lone surrogates, controls, NUL
            for _ in range(rng.randint(1, 5)):
                chars.insert(rng.randint(0, len(chars)), rng.choice(_ODD))
        else:  # pinyin spliced in
            chars.insert(rng.randint(0, len(chars)), " " + rng.choice(_PINYIN) + " ")
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    alphabet = ([chr(c) for c in range(0x4E00, 0x4E00 + 200)] + list("法轮功輪國我你，。！？abcdeios ABC0134579@$*.-_\n")
                + _ZERO_WIDTH + _ODD + ["Ａ", "ａ", "１", "а", "ο", "ᴀ"])
    return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 2, 3, rng.randint(4, 60), rng.randint(60, 700)])))


def corpus(per_source: int = 8000, n_evasive: int = 8000, n_random: int = 3000, seed: int = 0) -> list[str]:
    """Real texts, evasive rewrites of some of them, and random texts (deterministic)."""
    rng = random.Random(seed)
    real = real_texts(per_source)
    terms = _strong_terms()
    return (real + [evade(rng.choice(real), rng, terms) for _ in range(n_evasive)]
            + [random_text(rng) for _ in range(n_random)])


def verdict_key(v: Verdict) -> dict[str, Any]:
    """Everything a verdict says, less its latency."""
    return v.to_dict() | {"latency_ms": 0, "decisive": [f.to_dict() for f in v.decisive]}


def _norm_key(n: NormalizedText | None) -> tuple[Any, ...] | None:
    return None if n is None else (n.original, n.text, n._stage1, n._stage2, n.is_identity)


# -- the whole Guard ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_guard() -> Guard:
    """The scanner's and the gateway's default: keywords, PII and classifier, preset draft-2023."""
    return Guard.from_settings()


@needs_data
@pytest.mark.timeout(600)
def test_check_batch_equals_check_on_real_and_evasive_texts(default_guard: Guard) -> None:
    texts = corpus()
    assert sum(1 for t in texts if t) >= 20_000
    got: list[Verdict] = []
    for i in range(0, len(texts), 256):  # batches of the scanner's size, alternating the role
        role = Role.OUTPUT if i // 256 % 2 else Role.INPUT
        batch = texts[i : i + 256]
        got += default_guard.check_batch(batch, role)
        for text, v in zip(batch, got[i:], strict=False):
            assert verdict_key(v) == verdict_key(default_guard.check(text, role)), text
    # Findings, redactions and blocks all occurred, or the comparison would prove little.
    assert sum(1 for v in got if v.findings) > 3000
    assert sum(1 for t, v in zip(texts, got, strict=True) if v.redacted != t.replace("\ud800", "\ufffd")) > 500
    assert sum(1 for v in got if v.blocked) > 300


# -- the pieces ----------------------------------------------------------------------------------


_INTERESTING = st.sampled_from(
    [c for c in [*"法轮功輪國我你，。！？abcABC0134579@$ *.-_·★~|/\\\n\t\r…", *_ZERO_WIDTH, *_ODD, "\u3000", "Ａ", "ａ", "１",
                 "а", "ο", "ᴀ"] if len(c) == 1]
)
TEXTS = st.lists(st.one_of(st.text(max_size=80), st.text(_INTERESTING, max_size=80)), max_size=12)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS, st.integers(0, 90))
def test_normalize_batch_equals_normalize(texts: list[str], limit: int) -> None:
    got = normalize_batch(texts, max_chars=limit)
    want = [normalize(t) if len(t) <= limit else None for t in texts]
    assert [_norm_key(n) for n in got] == [_norm_key(n) for n in want]
    # A text is only ever said to be free of lone surrogates when it is (then `decide` skips
    # replacing them); in a batch of several non-empty texts, it is always said.
    several = sum(1 for n in got if n is not None and n.original) > 1
    for n in got:
        if n is not None and n.original:
            has = any("\ud800" <= c <= "\udfff" for c in n.original)
            assert n.surrogate_free == (not has) if several else not (n.surrogate_free and has)


@needs_data
def test_normalize_batch_equals_normalize_on_the_corpus() -> None:
    texts = corpus(per_source=3000, n_evasive=4000, n_random=1000, seed=1)
    got = [n for i in range(0, len(texts), 200) for n in normalize_batch(texts[i : i + 200])]
    assert [_norm_key(n) for n in got] == [_norm_key(normalize(t)) for t in texts]


def test_batches_are_joined_in_bounded_groups(shipped: KeywordDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over `BATCH_CHARS` characters, a batch is joined group by group (a long text alone)."""
    normmod = importlib.import_module("hegui.text.normalize")  # `hegui.text.normalize` is also a function
    monkeypatch.setattr(normmod, "BATCH_CHARS", 40)
    assert normmod.batch_groups([10, 10, 10, 100, 5, 30, 3]) == [(0, 3), (3, 4), (4, 7)]  # joined: 32, 100, 40
    rng = random.Random(3)
    texts = [evade("法轮功是邪教 s3x 13812345678" * rng.randint(0, 4), rng, ["法轮功", "s3x"]) for _ in range(60)]
    assert [_norm_key(n) for n in normalize_batch(texts)] == [_norm_key(normalize(t)) for t in texts]
    norms = [normalize(t) for t in texts]
    assert shipped.detect_batch(norms) == [shipped.detect(n) for n in norms]


def test_normalize_batch_refuses_bytes_and_handles_odd_batches() -> None:
    with pytest.raises(TypeError):
        normalize_batch(["ok", b"bytes"])  # type: ignore[list-item]
    assert normalize_batch([]) == []
    assert [_norm_key(n) for n in normalize_batch(["", "", "a"])] == [_norm_key(normalize(t)) for t in ("", "", "a")]


@SETTINGS
@given(st.one_of(st.text(max_size=200), st.text(_INTERESTING, max_size=200)))
def test_bisected_offsets_equal_the_index_map(text: str) -> None:
    norm = normalize(text)
    if norm.is_identity:
        return
    m = norm._index_map()
    assert [norm._to_original_index(i) for i in range(len(norm.text) + 1)] == m.tolist()


@pytest.fixture(scope="module")
def shipped() -> KeywordDetector:
    return KeywordDetector()


_LEETY = st.sampled_from(["s3x", "pr0n", "h@ck", "$hit", "a55", "f4ck", "sex", "av", "java", "b2b", "user1@example.com",
                          "法轮功", "法*轮*功", "毒品", "😀", "\U00020000", " ", "\n", "x", "1", "@", "$"])
KW_TEXTS = st.lists(st.lists(st.one_of(_LEETY, st.text(_INTERESTING, max_size=6)), max_size=10).map("".join), max_size=10)


@SETTINGS
@given(KW_TEXTS)
def test_keyword_detect_batch_equals_detect(shipped: KeywordDetector, texts: list[str]) -> None:
    norms = [normalize(t) for t in texts]
    assert shipped.detect_batch(norms) == [shipped.detect(n) for n in norms]
    strs = [n.text for n in norms]
    assert folded_runs_batch(strs) == {j: r for j, t in enumerate(strs) if (r := folded_runs(t))}


@needs_data
def test_keyword_detect_batch_equals_detect_on_the_corpus(shipped: KeywordDetector) -> None:
    norms = [normalize(t) for t in corpus(per_source=3000, n_evasive=6000, n_random=1000, seed=2)]
    got = [fs for i in range(0, len(norms), 256) for fs in shipped.detect_batch(norms[i : i + 256])]
    assert got == [shipped.detect(n) for n in norms]
    assert sum(1 for fs in got if fs) > 1000


@pytest.mark.skipif(not hyperscan_available(), reason="hyperscan not installed on this platform")
@SETTINGS
@given(st.lists(st.text(_INTERESTING.filter(lambda c: not "\ud800" <= c <= "\udfff"), max_size=30), max_size=8))
def test_scan_many_equals_scan(texts: list[str]) -> None:
    # Without lone surrogates: in UTF-16 "\ud83d\ude00" and "😀" are the same units, so the
    # matchers' offsets assume none (normalised text, all a detector scans, has none).
    patterns = ["法轮", "轮功", "ab", "b", "😀a", "\U00020000", "a\u200b", "0134"]
    for m in (HyperscanMatcher(patterns), AhoCorasickMatcher(patterns), HyperscanMatcher([*patterns, "a\nb"])):
        assert [sorted(x) for x in m.scan_many(texts)] == [sorted(m.scan(t)) for t in texts]
