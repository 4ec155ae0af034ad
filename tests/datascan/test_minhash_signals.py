"""The batch signals and the numpy MinHash: same signals as the per-text code they replaced,
and a sketch that estimates Jaccard similarity as well as rensa's MinHash did."""

from __future__ import annotations

import csv
import functools
import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rensa

from hegui.datascan import minhash, signals
from hegui.datascan.readers import Document
from hegui.datascan.steps import MinHashStep, Record, SignalsStep

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# --- the per-text code of commit 7c5abb8, verbatim apart from names: the reference ------------------


@functools.cache
def _ref_luts() -> tuple[np.ndarray, np.ndarray]:
    every = "".join(map(chr, range(0x110000)))
    script = np.full(0x110000, len(signals._SCRIPTS), dtype=np.uint8)
    for i, (_, rx) in enumerate(signals._SCRIPTS):
        hit = np.frombuffer(rx.sub("\0", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0
        hit[0] = False
        script[hit & (script == len(signals._SCRIPTS))] = i
    cls = np.zeros(0x110000, dtype=np.uint8)
    for bit, rx in ((1, signals._SYMBOL), (2, signals._DIGIT)):
        cls[np.frombuffer(rx.sub("\0", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0] |= bit
    cls[0] = 1
    return script, cls


def _cp(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _ref_lang(text: str, sample: int = 4000) -> str:
    s = text[:sample]
    per_script = np.bincount(_ref_luts()[0][_cp(s)], minlength=len(signals._SCRIPTS) + 1)
    counts = {name: int(per_script[i]) for i, name in enumerate(signals._SCRIPT_NAMES)}
    if sum(counts.values()) == 0:
        return "und"
    if counts["kana"] > 0.1 * (counts["han"] + counts["kana"]) and counts["kana"] >= 5:
        return "ja"
    weighted = dict(counts, han=counts["han"] * 3)
    top = max(weighted, key=lambda k: weighted[k])
    if top == "han":
        return "zh"
    if top != "latin":
        return {"hangul": "ko", "cyrillic": "ru", "arabic": "ar", "kana": "ja"}[top]
    words = signals._WORD.findall(s.lower())
    hits = {lang: sum(1 for w in words if w in stop) for lang, stop in signals._STOP.items()}
    best = max(hits, key=lambda k: hits[k])
    return best if hits[best] > 0 else "en"


def _ref_rep(text: str, n: int = 10, cap: int = 20_000) -> float:
    s = text[:cap]
    if len(s) < 2 * n:
        return 0.0
    seen: set[str] = set()
    covered = bytearray(len(s))
    for i in range(0, len(s) - n + 1, n // 2):
        g = s[i : i + n]
        if g in seen:
            covered[i : i + n] = b"\x01" * n
        else:
            seen.add(g)
    return covered.count(1) / len(s)


def _ref_quality(text: str, min_chars: int = 10, max_symbol_ratio: float = 0.3, max_digit_ratio: float = 0.5,
                 max_repetition: float = 0.3) -> tuple[dict[str, float | int], list[str]]:
    n = len(text)
    stripped = text.strip()
    if not stripped:
        return {"chars": n, "lines": 0}, ["empty"]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    nonspace = len("".join(text.split())) or 1
    bits = np.bincount(_ref_luts()[1][_cp(text)], minlength=4)
    symbols, digits = int(bits[1] + bits[3]), int(bits[2] + bits[3])
    dup_line_chars = sum(len(ln) * (c - 1) for ln, c in Counter(lines).items() if c > 1)
    rep = _ref_rep(stripped)
    sig: dict[str, float | int] = {
        "chars": n, "lines": len(lines), "symbol_ratio": round(symbols / nonspace, 4),
        "digit_ratio": round(digits / nonspace, 4),
        "dup_line_ratio": round(dup_line_chars / max(1, sum(len(ln) for ln in lines)), 4),
        "rep_ngram_ratio": round(rep, 4),
    }
    flags = []
    if len(stripped) < min_chars:
        flags.append("too_short")
    if sig["symbol_ratio"] > max_symbol_ratio:
        flags.append("symbols")
    if sig["digit_ratio"] > max_digit_ratio:
        flags.append("digits")
    if sig["dup_line_ratio"] > max_repetition or rep > max_repetition:
        flags.append("repetitive")
    return sig, flags


def _ref_all(text: str, **kw: float) -> tuple[str, dict[str, float | int], list[str]]:
    sig, flags = _ref_quality(text, **kw)  # type: ignore[arg-type]
    return (_ref_lang(text) if text.strip() else "und"), sig, flags


# --- inputs ---------------------------------------------------------------------------------------

WS = [" ", "\t", "\n", "\r\n", "\u3000", "\u00a0", "\u2028", "\x1c", "\x85", "\u200b", "\x0b"]


def _random_texts(n: int, seed: int) -> list[str]:
    """Mixed scripts, whitespace of every kind, lone surrogates, NUL, repeats aligned or not."""
    rng = random.Random(seed)
    alphabet = ([chr(c) for c in range(0x20, 0x250)] + [chr(c) for c in range(0x3000, 0x3100)]
                + list("中文测试数据一二三的了是我你他") + WS
                + [chr(c) for c in (0, 5, 0xD800, 0xDFFF, 0x1F600, 0x20001, 0x0660, 0x0966, 0xFF10, 0xB2, 0x30A2, 0xAC00)])
    words = ["the", "and", "le", "la", "der", "und", "el", "que", "hello", "你好世界", "点击领取免费大奖！"]
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.4:
            t = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        elif kind < 0.7:  # repeated pieces: 10-grams come back at many alignments
            piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
            t = rng.choice(WS).join(piece * rng.randint(1, 8) for _ in range(rng.randint(1, 6)))
        else:
            t = " ".join(rng.choice(words) for _ in range(rng.randint(0, 120)))
        if rng.random() < 0.2:
            t = rng.choice(WS) * rng.randint(1, 5) + t + rng.choice(WS) * rng.randint(0, 3)
        out.append(t)
    return out


def _corpus_texts(limit: int = 1500) -> list[str]:
    texts: list[str] = []
    with open(DATA / "prompts/benign/train.jsonl", encoding="utf-8") as fh:
        texts += [json.loads(x)["text"] for _, x in zip(range(limit), fh, strict=False)]
    with open(DATA / "cold/train.csv", encoding="utf-8-sig", newline="") as fh:
        texts += [r["TEXT"] for _, r in zip(range(limit), csv.DictReader(fh), strict=False)]
    rng = random.Random(4)
    docs = ["\n".join(rng.choice(texts) for _ in range(rng.randint(3, 12))) for _ in range(300)]
    spam = [("点击领取免费大奖！！！www.example-spam.cn " * rng.randint(5, 20)) for _ in range(20)]
    long = ["\n".join(rng.choice(texts) for _ in range(400))[:25_000] for _ in range(3)]  # past 4,000 and 20,000
    return texts + docs + spam + long


needs_data = pytest.mark.skipif(not (DATA / "cold/train.csv").exists(), reason="shared data not present")

# --- signals --------------------------------------------------------------------------------------


def test_tables_equal_the_regex_tables_over_every_code_point() -> None:
    script, cls = signals._luts()
    ref_script, ref_cls = _ref_luts()
    assert np.array_equal(script, ref_script)
    assert np.array_equal(cls & 3, ref_cls)
    space = np.array([chr(c).isspace() for c in range(0x110000)])
    assert np.array_equal((cls & signals._SPACE_BIT) > 0, space)  # what str.split/strip treat as space


def _batches(texts: list[str], rng: random.Random) -> list[list[str]]:
    out, i = [], 0
    while i < len(texts):
        k = rng.choice([1, 2, 7, 64, 256])
        out.append(texts[i : i + k])
        i += k
    return out


def test_batch_signals_equal_the_per_text_code_on_random_texts() -> None:
    texts = _random_texts(3000, seed=11)
    got = [x for b in _batches(texts, random.Random(1)) for x in signals.analyse_batch(b)]
    assert got == [_ref_all(t) for t in texts]
    reps = [x for b in _batches(texts, random.Random(2)) for x in signals._repeated_ngram_ratios(
        *_bounds(b), b)]
    assert reps == [_ref_rep(t.strip()) for t in texts]
    assert sum(r > 0 for r in reps) > 300  # the repeat path is exercised, not only the early return


def _bounds(texts: list[str]) -> tuple[np.ndarray, list[int], list[int]]:
    cps, starts = minhash.codepoints(texts)
    s0, s1 = [], []
    for t, st in zip(texts, starts.tolist(), strict=False):
        a = len(t) - len(t.lstrip())
        s0.append(st + a)
        s1.append(st + max(a, len(t.rstrip())))
    return cps, s0, s1


@needs_data
def test_batch_signals_equal_the_per_text_code_on_corpus_texts() -> None:
    texts = _corpus_texts()
    kw = {"min_chars": 30, "max_symbol_ratio": 0.1, "max_digit_ratio": 0.2, "max_repetition": 0.05}
    got = [x for b in _batches(texts, random.Random(3)) for x in signals.analyse_batch(b, **kw)]
    assert got == [_ref_all(t, **kw) for t in texts]
    assert {lang for lang, _, _ in got} >= {"zh", "en"}
    for t in texts[:50]:
        assert signals.quality(t) == _ref_quality(t) and signals.detect_lang(t) == _ref_lang(t)


def test_a_hash_collision_falls_back_to_the_exact_function(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _random_texts(300, seed=12)
    monkeypatch.setattr(signals, "mix64", lambda x: np.zeros_like(x))  # every gram in one hash group
    assert [x[1]["rep_ngram_ratio"] for x in signals.analyse_batch(texts) if len(x[1]) > 2] == [
        round(_ref_rep(t.strip()), 4) for t in texts if t.strip()]


def test_signals_step_annotates_as_before() -> None:
    texts = ["", "  ", "今天天气很好，我们去公园散步。" * 3, "the cat is on the mat", "！！！###@@@"]
    records = [Record(Document(f"d{i}", t, len(t), "utf-8"), "s", "f") for i, t in enumerate(texts)]
    SignalsStep(("empty", "symbols"), {"min_chars": 10})(records)
    for r, t in zip(records, texts, strict=True):
        lang, sig, flags = _ref_all(t, min_chars=10)
        assert r.ann == {"lang": lang, "quality": sig, "flags": flags}
        assert r.reasons == [f"quality:{f}" for f in flags if f in ("empty", "symbols")]


# --- MinHash --------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def _py_mix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _py_sketch(text: str, k: int = 128, n: int = 5, seed: int = 42) -> list[int] | None:
    """The sketch by its definition, one text, Python integers, all 2k rounds (no early stop)."""
    cps = [ord(c) for c in text if not c.isspace()]
    if len(cps) < n:
        return None
    h0 = _py_mix((seed + 0x9E3779B97F4A7C15) & _M64)
    hashes = set()
    for i in range(len(cps) - n + 1):
        h = h0
        for g in range(0, n, 3):
            packed = 0
            for c in cps[i + g : i + min(g + 3, n)]:
                packed = (packed << 21) | c
            h = _py_mix((h + packed) & _M64)
        hashes.add(h)
    salt = [_py_mix((r + seed * 2 * k) & _M64) for r in range(2 * k)]
    sig = [_M64] * k
    for h in hashes:
        for r in range(k):  # rounds 2j and 2j + 1 from the two halves of one hash
            x = h if r < 2 else _py_mix(h ^ salt[r // 2])
            u = (x >> 32 if r % 2 == 0 else x & 0xFFFFFFFF) * k
            b = u >> 32
            sig[b] = min(sig[b], (r << 32) | (u & 0xFFFFFFFF))
        for j in range(k):
            sig[j] = min(sig[j], ((k + j) << 32) | (_py_mix(h ^ salt[k + j]) & 0xFFFFFFFF))
    return sig


def test_sketch_is_its_definition_in_any_batch() -> None:
    """Early stopping, batching and the numpy hashing give the plain definition's values."""
    texts = ["", "abcd", "a b c d e", "\ud800\udfff lone", "\u3000\u3000中文 测试\n", *(_random_texts(25, seed=13))]
    texts += ["短短", "五个字符", "六个字符啊", "今天天气很好，我们去公园散步。" * 3]
    h, doc = minhash.shingle_hashes(texts, 5, 42)
    for k in (128, 37):  # a power of two or not, odd (the last pair of rounds has one)
        sig = minhash.sketch(h, doc, len(texts), k, 42)
        for i, t in enumerate(texts):
            want = _py_sketch(t, k=k)
            if want is None:
                assert not (doc == i).any()
            else:
                assert sig[i].tolist() == want, t


def _records(texts: list[str]) -> list[Record]:
    return [Record(Document(f"d{i}", t, len(t), "utf-8"), "s", "f") for i, t in enumerate(texts)]


def test_band_keys_ignore_whitespace_and_the_batch_around_a_text() -> None:
    base = "城市图书馆新增了两千册图书，欢迎市民前来借阅。开放时间为每天上午九点到晚上九点。"
    texts = [base, " ".join(base), base.replace("。", "。\n\u3000"), "坏的代理对\ud800在这里，后面还有文字。", "abcd", "   "]
    records = _records(texts)
    MinHashStep()(records)
    assert records[0].bands == records[1].bands == records[2].bands and len(records[0].bands) == 12
    assert len(set(records[0].bands)) == 12 and len(records[3].bands) == 12
    assert records[4].bands == [] and records[5].bands == []
    for i, t in enumerate(texts):  # alone, or among other texts: the same keys
        alone = _records([t])
        MinHashStep()(alone)
        assert alone[0].bands == records[i].bands
    other = _records(["别的文字，完全不一样的内容。", texts[3]])
    MinHashStep()(other)
    assert other[1].bands == records[3].bands
    s2 = _records([base])
    MinHashStep(seed=7)(s2)
    assert set(s2[0].bands).isdisjoint(records[0].bands)


def _mutate(rng: random.Random, text: str, p: float, alphabet: list[str]) -> str:
    return "".join(rng.choice(alphabet) if rng.random() < p else c for c in text)


def _shingles(t: str) -> set[str]:
    return {t[i : i + 5] for i in range(len(t) - 4)}


def _j(a: str, b: str) -> float:
    """Exact Jaccard similarity of the 5-gram sets, whitespace removed (what MinHashStep sketches)."""
    sa, sb = _shingles("".join(a.split())), _shingles("".join(b.split()))
    return len(sa & sb) / len(sa | sb)


@pytest.mark.parametrize("target", [0.3, 0.5, 0.8, 0.9])
def test_jaccard_estimates_are_as_good_as_rensa(target: float) -> None:
    """Pairs of generated texts at a given shingle Jaccard similarity (short and long texts):
    the estimates are unbiased and as close to the truth as rensa's 128-permutation MinHash."""
    rng = random.Random(int(target * 100))
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    # per-character mutation rate giving about the target similarity for 5-grams
    p = 1 - ((2 * target / (1 + target)) ** (1 / 5))
    ours, theirs, exact = [], [], []
    for i in range(240):
        length = [40, 120, 400, 1500][i % 4]
        a = "".join(rng.choice(alphabet) for _ in range(length))
        b = _mutate(rng, a, p, alphabet)
        sa, sb = _shingles(a), _shingles(b)
        exact.append(len(sa & sb) / len(sa | sb))
        h, doc = minhash.shingle_hashes([a, b], 5, 42)
        sig = minhash.sketch(h, doc, 2, 128, 42)
        ours.append(minhash.estimate_jaccard(sig[0], sig[1]))
        ra, rb = rensa.RMinHash(128, 42), rensa.RMinHash(128, 42)
        ra.update(list(sa))
        rb.update(list(sb))
        theirs.append(ra.jaccard(rb))
    j = np.array(exact)
    err, rerr = np.array(ours) - j, np.array(theirs) - j
    assert abs(j.mean() - target) < 0.08  # the generator hits the intended similarity
    assert abs(err.mean()) < 0.012  # unbiased (rensa's bias here is of the same order)
    rmse, rrmse = float(np.sqrt((err**2).mean())), float(np.sqrt((rerr**2).mean()))
    classic = float(np.sqrt((j * (1 - j)).mean() / 128))  # k independent permutations
    assert rmse < 1.2 * classic and rmse < 1.2 * rrmse + 0.003, (rmse, rrmse, classic)


@needs_data
def test_lsh_finds_planted_near_duplicates_and_not_unrelated_texts() -> None:
    rng = random.Random(5)
    pool = [t for t in _corpus_texts(3000) if 60 <= len(t) <= 3000]
    bases = rng.sample(pool, 400)
    near = []  # one sentence changed or a few characters edited: Jaccard ≥ 0.8
    for b in bases[:150]:
        k = rng.randrange(len(b) - 3)
        near.append(b[:k] + "！" + b[k + 2 :] if rng.random() < 0.5 else b.replace("，", "。", 1) + "好")
    mid = [_mutate(rng, b, 0.075, list("的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情面最女但现前些所同日手又行意动方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感")) for b in bases[150:250]]  # Jaccard ≈ 0.5
    records = _records(bases + near + mid)
    for i in range(0, len(records), 256):
        MinHashStep()(records[i : i + 256])
    index: dict[int, int] = {}
    for i, r in enumerate(records[:400]):
        for key in r.bands:
            index.setdefault(key, i)
    def match(r: Record) -> int | None:
        hits = [index[k] for k in r.bands if k in index]
        return min(hits) if hits else None
    js = [_j(b, n) for b, n in zip(bases, near, strict=False)]
    found = [match(r) == i for i, r in enumerate(records[400:550])]
    high = [f for f, j in zip(found, js, strict=True) if j >= 0.85]
    assert len(high) > 100 and sum(high) / len(high) >= 0.95
    assert sum(found) / len(found) >= 0.9
    assert sum(len(set(r.bands)) == 12 for r in records[:400]) == 400
    # the corpus itself holds a few real near-duplicates: every match among the bases must be one
    for i, r in enumerate(records[:400]):
        m = match(r)
        if m is not None and m != i:
            assert _j(bases[m], bases[i]) >= 0.5
    mid_js = [_j(b, m) for b, m in zip(bases[150:250], mid, strict=True)]
    mid_hits = sum(match(r) == 150 + i for i, r in enumerate(records[550:650]))
    # pairs near 0.5 rarely share a band: as often as the 12 × 10 design predicts for their similarity
    expected = sum(1 - (1 - j**10) ** 12 for j in mid_js)
    assert 0.4 < np.median(mid_js) < 0.6 and mid_hits <= 2 * expected + 3


def test_step_config_names_the_sketch() -> None:
    assert MinHashStep().config["sketch"] == minhash.SKETCH
    assert re.fullmatch(r"[a-z]+-v\d+", minhash.SKETCH)


def _ref_shingle_hashes(texts: list[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The per-character text index version `shingle_hashes` replaced."""
    _, cls = signals._luts()
    cps, starts = minhash.codepoints(texts)
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(starts))
    solid = (cls[cps] & signals._SPACE_BIT) == 0
    cps, doc = cps[solid], doc[solid]
    if len(cps) < n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    count = len(cps) - n + 1
    h = minhash.hash_columns([cps[j : j + count] for j in range(n)], seed)
    ok = doc[:count] == doc[n - 1 :]
    return h[ok], doc[:count][ok]


def test_shingle_hashes_and_sketch_equal_the_plain_versions() -> None:
    rng = random.Random(17)
    pool = ["", " ", "ab", "abcd", "abcde", " a b c d e ", "\u3000中\n文\t测试", "\ud800\udfff lone", *_random_texts(40, seed=19)]
    for _ in range(60):
        texts = [rng.choice(pool) for _ in range(rng.randint(0, 12))]
        for n in (1, 2, 5):
            h, doc = minhash.shingle_hashes(texts, n, 42)
            rh, rdoc = _ref_shingle_hashes(texts, n, 42)
            assert h.tolist() == rh.tolist() and doc.tolist() == rdoc.tolist() and doc.dtype == rdoc.dtype
        if len(h):  # the sketch does not depend on the order of the n-grams
            perm = np.random.default_rng(rng.randint(0, 99)).permutation(len(h))
            for k in (128, 37):
                assert (minhash.sketch(h[perm], doc[perm], len(texts), k, 42) == minhash.sketch(h, doc, len(texts), k, 42)).all()


def _line_texts(n: int, seed: int) -> list[str]:
    """Texts of lines from a small pool (repeats), every line break of str.splitlines, padding, and
    lines alike in length, first, middle and last character but not equal."""
    rng = random.Random(seed)
    pool = ["abc", "a c", "axc", "今天天气很好", "今天天气很好", "今天气天很好", "x", "x y", "\u3000x\u3000", "", "  ", "l\u2028l",
            "same length a", "same lxngth a", "ab\x00", "\ud800", "第一行。", "第二行。"]
    breaks = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\n\n", " \n\t"]
    out = []
    for _ in range(n):
        lines = [rng.choice([*WS[:2], ""]) + rng.choice(pool) + rng.choice(["", " ", "\t"]) for _ in range(rng.randint(0, 12))]
        t = "".join(ln + rng.choice(breaks) for ln in lines)
        out.append(t if rng.random() < 0.5 else t.rstrip("\n"))
    return out


def test_line_statistics_equal_the_per_text_code(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _line_texts(1500, seed=23) + _random_texts(300, seed=29)
    got = [x for b in _batches(texts, random.Random(3)) for x in signals.analyse_batch(b)]
    assert got == [_ref_all(t) for t in texts]
    assert sum(x[1].get("dup_line_ratio", 0) > 0 for x in got) > 100  # repeated lines are exercised
    monkeypatch.setattr(signals, "mix64", lambda x: np.zeros_like(x))  # every line alike: the exact path
    got = [x for b in _batches(texts[:300], random.Random(4)) for x in signals.analyse_batch(b)]
    assert got == [_ref_all(t) for t in texts[:300]]


def test_break_bit_is_what_splitlines_splits_on() -> None:
    breaks = np.flatnonzero(signals._combined_lut() >= signals._BREAK_BIT).tolist()
    assert breaks == [c for c in range(0x110000) if len(f"a{chr(c)}b".splitlines()) > 1]
    assert all(chr(c).isspace() for c in breaks)  # _line_stats relies on it


@pytest.mark.parametrize("k", [2, 4, 64, 256])
def test_power_of_two_sketch_is_its_definition(k: int) -> None:
    """k = 2^b takes the shift path in `sketch`: the definition's values still."""
    texts = ["", "abcdef", "a b c d e f g", "今天天气很好，我们去公园散步。" * 2, *(_random_texts(8, seed=31))]
    h, doc = minhash.shingle_hashes(texts, 5, 42)
    sig = minhash.sketch(h, doc, len(texts), k, 42)
    for i, t in enumerate(texts):
        want = _py_sketch(t, k=k)
        if want is not None:
            assert sig[i].tolist() == want, t
