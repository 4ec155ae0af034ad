"""Language id and quality signals: cheap, deterministic, no model download.

Language comes from the share of each script (Han, Kana, Hangul, Cyrillic, Arabic, Latin); Latin
text is split between English, French, German and Spanish by stopword hits. It is good enough to
report a corpus's language mix and to notice a source that does not match its manifest.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from types import ModuleType

import numpy as np

from hegui import native
from hegui.datascan.minhash import hash_columns, mix64

_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("han", re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")),
    ("kana", re.compile(r"[\u3040-\u30ff]")),
    ("hangul", re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("arabic", re.compile(r"[\u0600-\u06ff]")),
    ("latin", re.compile(r"[A-Za-z\u00c0-\u024f]")),
)
_WORD = re.compile(r"[a-zà-ÿ]+")
_STOP = {
    "en": frozenset(["the", "and", "of", "to", "is", "in", "that", "it", "for", "was", "on", "are", "with", "as", "be", "this", "have", "not"]),
    "fr": frozenset(["le", "la", "les", "et", "des", "est", "une", "que", "pour", "dans", "pas", "qui", "sur", "avec", "du", "au"]),
    "de": frozenset(["der", "die", "und", "das", "ist", "nicht", "ein", "eine", "zu", "den", "mit", "von", "sich", "auf", "für"]),
    "es": frozenset(["el", "la", "los", "las", "y", "que", "es", "en", "un", "una", "por", "con", "para", "del", "se", "no"]),
}
_SYMBOL = re.compile(r"[^\w\s\u3000-\u303f\uff00-\uffef，。！？；：、“”‘’（）《》【】…—]")
_DIGIT = re.compile(r"\d")
_SCRIPT_NAMES = tuple(name for name, _ in _SCRIPTS)


# The script regexes above are plain code-point ranges: the tables take the ranges themselves.
_SCRIPT_RANGES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)),
    ((0x3040, 0x30FF),),
    ((0xAC00, 0xD7AF), (0x1100, 0x11FF)),
    ((0x0400, 0x04FF),),
    ((0x0600, 0x06FF),),
    ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)),
)
# What _SYMBOL excludes besides \w and \s.
_SYMBOL_EXTRA_RANGES = ((0x3000, 0x303F), (0xFF00, 0xFFEF))
_SYMBOL_EXTRA = "，。！？；：、“”‘’（）《》【】…—"
_SYM_BIT, _DIGIT_BIT, _SPACE_BIT = 1, 2, 4
_BREAK_BIT = 64  # in the combined table only: a line boundary of str.splitlines (all are spaces)
_LINE_BREAKS = "\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029"


def _regex_hits(rx: re.Pattern[str], every: str) -> np.ndarray:
    """Which code points ``rx`` matches (one substitution pass over all of them)."""
    hit = np.frombuffer(rx.sub("\0", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0
    hit[0] = False  # U+0000 itself is matched by none of the classes used here
    return hit


@functools.cache
def _luts() -> tuple[np.ndarray, np.ndarray]:
    r"""Per code point: its script (index into _SCRIPTS, len = none) and symbol/digit/space bits.

    Built once per process (a scan worker's set-up). Scripts come from the ranges of their regexes;
    the symbol class ``[^\w\s…]`` is the complement of three cheap passes (\w, \s, the listed
    punctuation) instead of a substitution that touched almost every code point (0.24 s of the
    0.5 s this took). A test checks both tables against the regexes over every code point.
    """
    script = np.full(0x110000, len(_SCRIPTS), dtype=np.uint8)
    for i, ranges in enumerate(_SCRIPT_RANGES):
        for lo, hi in ranges:
            script[lo : hi + 1] = i  # the ranges of different scripts do not overlap
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    space = _regex_hits(re.compile(r"\s"), every)
    not_symbol = _regex_hits(re.compile(r"\w"), every) | space
    for lo, hi in _SYMBOL_EXTRA_RANGES:
        not_symbol[lo : hi + 1] = True
    not_symbol[[ord(c) for c in _SYMBOL_EXTRA]] = True
    cls = np.where(not_symbol, 0, _SYM_BIT).astype(np.uint8)
    cls[_regex_hits(_DIGIT, every)] |= _DIGIT_BIT
    cls[space] |= _SPACE_BIT
    return script, cls


@functools.cache
def _combined_lut() -> np.ndarray:
    """Line-break bit | script index << 3 | symbol/digit/space bits: one lookup for all."""
    script, cls = _luts()
    comb = (script << 3) | cls
    comb[[ord(c) for c in _LINE_BREAKS]] |= _BREAK_BIT
    return comb


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


Signals = dict[str, float | int]


def detect_lang(text: str, sample: int = 4000) -> str:
    """ISO 639-1 code (zh, ja, ko, ru, ar, en, fr, de, es), "und" when there is no letter."""
    return analyse_batch([text], sample=sample)[0][0]


def quality(
    text: str, *, min_chars: int = 10, max_symbol_ratio: float = 0.3, max_digit_ratio: float = 0.5,
    max_repetition: float = 0.3,
) -> tuple[Signals, list[str]]:
    """Length and quality signals plus flags (``too_short``, ``symbols``, ``repetitive``…).

    The thresholds follow the Gopher/C4 heuristics datatrove ships, adapted to Chinese (no
    word count: characters instead).
    """
    _, sig, flags = analyse_batch([text], min_chars=min_chars, max_symbol_ratio=max_symbol_ratio,
                                  max_digit_ratio=max_digit_ratio, max_repetition=max_repetition)[0]
    return sig, flags


def analyse_batch(
    texts: Sequence[str], *, sample: int = 4000, min_chars: int = 10, max_symbol_ratio: float = 0.3,
    max_digit_ratio: float = 0.5, max_repetition: float = 0.3,
) -> list[tuple[str, Signals, list[str]]]:
    """Language, quality signals and flags of each text: `detect_lang` and `quality` for a batch.

    The counts come from the C extension (`_counts_native`) or, without it, from one numpy pass
    over the whole batch's code points (`_counts_numpy`; per-text numpy calls cost more than the
    counting on short documents); only the final decisions stay per text. Results are the same as
    text by text (tests compare them with the earlier per-text code, and the two paths).
    """
    nat = native.get()
    counts = _counts_native(nat, texts, sample) if nat is not None else _counts_numpy(texts, sample)
    s0, s1, symbols, digits, nonspace, per_script, nlines, line_chars, maybe_dup, reps = counts
    langs = _langs(per_script, texts, sample)
    out: list[tuple[str, Signals, list[str]]] = []
    for i, text in enumerate(texts):
        n = len(text)
        if s1[i] <= s0[i]:
            out.append(("und", {"chars": n, "lines": 0}, ["empty"]))
            continue
        n_lines, n_line_chars, dup_line_chars = nlines[i], line_chars[i], 0
        if i in maybe_dup:  # two lines look alike: the lines themselves decide
            lines = [s for s in map(str.strip, text.splitlines()) if s]
            if len(set(lines)) != len(lines):
                dup_line_chars = sum(len(ln) * (c - 1) for ln, c in Counter(lines).items() if c > 1)
        rep = reps[i]
        nsp = nonspace[i] or 1
        sym, dig = symbols[i], digits[i]
        # round() only where the ratio is not 0 (round(0 / nsp, 4) is 0.0): most texts have no digit
        symbol_ratio = round(sym / nsp, 4) if sym else 0.0
        digit_ratio = round(dig / nsp, 4) if dig else 0.0
        dup_line_ratio = round(dup_line_chars / max(1, n_line_chars), 4) if dup_line_chars else 0.0
        sig: Signals = {
            "chars": n,
            "lines": n_lines,
            "symbol_ratio": symbol_ratio,
            "digit_ratio": digit_ratio,
            "dup_line_ratio": dup_line_ratio,
            "rep_ngram_ratio": round(rep, 4) if rep else 0.0,
        }
        flags: list[str] = []
        if s1[i] - s0[i] < min_chars:
            flags.append("too_short")
        if symbol_ratio > max_symbol_ratio:
            flags.append("symbols")
        if digit_ratio > max_digit_ratio:
            flags.append("digits")
        if dup_line_ratio > max_repetition or rep > max_repetition:
            flags.append("repetitive")
        out.append((langs[i], sig, flags))
    return out


_Counts = tuple[list[int], list[int], list[int], list[int], list[int], np.ndarray, list[int], list[int], set[int], list[float]]


def _counts_numpy(texts: Sequence[str], sample: int) -> _Counts:
    """Per text: strip bounds, symbol/digit/non-space counts, script counts over the first
    ``sample`` characters, line count and length, texts that may repeat a line, and the repeated
    10-gram ratio; the code points of the whole batch looked up and counted in one numpy pass."""
    nd = len(texts)
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=nd)
    starts = np.zeros(nd + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    cps = _codepoints("".join(texts))
    # script << 3 | symbol/digit/space bits; np.take: half the time of indexing with a uint32 array
    comb = np.take(_combined_lut(), cps)
    doc128 = np.repeat(np.arange(0, 128 * nd, 128, dtype=np.int64), lens)
    # text, break bit, script, bits (the break bit is counted apart and dropped: a line break is a space)
    counts = np.bincount(doc128 + comb, minlength=nd * 128).reshape(nd, 2, 8, 8).sum(axis=1)
    bits = counts.sum(axis=1)
    cols = np.arange(8)
    symbols = bits[:, (cols & _SYM_BIT) > 0].sum(axis=1).tolist()
    digits = bits[:, (cols & _DIGIT_BIT) > 0].sum(axis=1).tolist()
    nonspace = (lens - bits[:, (cols & _SPACE_BIT) > 0].sum(axis=1)).tolist()
    per_script = counts.sum(axis=2)[:, : len(_SCRIPTS)]
    if nd and int(lens.max()) > sample:  # language looks at the first `sample` characters only
        doc = doc128 >> 7
        tail = np.flatnonzero(np.arange(len(cps), dtype=np.int64) >= (starts[:-1] + sample)[doc])
        extra = np.bincount(doc[tail] * 8 + ((comb[tail] >> 3) & 7), minlength=nd * 8).reshape(nd, 8)
        per_script = per_script - extra[:, : len(_SCRIPTS)]
    solid = np.flatnonzero((comb & _SPACE_BIT) == 0)
    s0, s1, first_solid = _stripped_bounds(solid, starts)
    reps = _repeated_ngram_ratios(cps, s0, s1, texts)
    nlines, line_chars, maybe_dup = _line_stats(cps, comb, solid, first_solid, starts)
    return s0, s1, symbols, digits, nonspace, per_script, nlines, line_chars, maybe_dup, reps


_REP_N, _REP_CAP = 10, 20_000  # `_repeated_ngram_ratios`' gram size and length cap


def _counts_native(nat: ModuleType, texts: Sequence[str], sample: int) -> _Counts:
    """`_counts_numpy` from the C extension's `text_signals`: one pass per text (strip bounds are
    offsets into the text instead of the batch; only their difference is used). The same counts,
    tested on random and edge-case text."""
    out = np.empty((len(texts), 16), dtype=np.int64)
    nat.text_signals(texts, _combined_lut(), sample, _REP_N, _REP_CAP, out)
    cols = out.T.tolist()
    maybe_dup = set(np.flatnonzero(out[:, 13]).tolist())
    reps = [c / n if c else 0.0 for c, n in zip(cols[14], cols[15], strict=True)]
    return cols[0], cols[1], cols[2], cols[3], cols[4], out[:, 5:11], cols[11], cols[12], maybe_dup, reps


_SCRIPT_LANG = ("zh", "ja", "ko", "ru", "ar", "")  # by script index; Latin: by stopwords


def _langs(per_script: np.ndarray, texts: Sequence[str], sample: int) -> list[str]:
    """Each text's language from its script counts (the rules of the per-text version, as arrays;
    only texts where Latin leads go on to the stopword count)."""
    han, kana = per_script[:, 0], per_script[:, 1]
    weighted = per_script.copy()
    weighted[:, 0] *= 3  # a Han character carries about as much as a short Latin word
    top = weighted.argmax(axis=1)  # the first of equals, like max() over the scripts in order
    japanese = (kana > 0.1 * (han + kana)) & (kana >= 5)
    none = ~per_script.any(axis=1)
    out = [_SCRIPT_LANG[t] for t in top.tolist()]
    for i in np.flatnonzero(japanese).tolist():
        out[i] = "ja"
    for i in np.flatnonzero(none).tolist():
        out[i] = "und"
    for i in np.flatnonzero(~japanese & ~none & (top == len(_SCRIPTS) - 1)).tolist():
        words = Counter(_WORD.findall(texts[i][:sample].lower()))
        hits = {lang: sum(words[w] for w in stop if w in words) for lang, stop in _STOP.items()}
        best = max(hits, key=lambda k: hits[k])
        out[i] = best if hits[best] > 0 else "en"
    return out


def _stripped_bounds(solid: np.ndarray, starts: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    """Per text, where ``text.strip()`` starts and ends (batch offsets; equal when it is empty),
    and the index in ``solid`` (the batch's non-space offsets) of each text's first one."""
    at = np.searchsorted(solid, starts)  # each text's non-space characters: solid[at[i]:at[i + 1]]
    lo, hi = at[:-1], at[1:]
    has = hi > lo
    s0 = starts[:-1].copy()
    s1 = starts[:-1].copy()
    s0[has] = solid[lo[has]]
    s1[has] = solid[hi[has] - 1] + 1
    return s0.tolist(), s1.tolist(), lo[has]


def _line_stats(cps: np.ndarray, comb: np.ndarray, solid: np.ndarray, first_solid: np.ndarray,
                starts: np.ndarray) -> tuple[list[int], list[int], set[int]]:
    """Per text, the number and total length of its non-empty stripped lines (``s.strip()`` of
    ``text.splitlines()``), and the texts where two such lines might be equal.

    Line breaks are spaces, so a stripped line is a run of non-space characters with no break
    between them and within one text: a line starts at the first non-space character after a
    break or of a text, and spans from there to the last one before the next line's start. Equal
    lines have equal (text, length, first, middle and last code point); texts where two lines
    share those get the exact per-line comparison, the others have no repeated line.
    """
    nd = len(starts) - 1
    nlines = [0] * nd
    chars = [0] * nd
    if not len(solid):
        return nlines, chars, set()
    after_break = np.searchsorted(solid, np.flatnonzero(comb >= _BREAK_BIT))  # a bool mask: 5× faster
    gs = np.sort(np.concatenate((after_break[after_break < len(solid)], first_solid)))
    gs = gs[np.concatenate(([True], gs[1:] != gs[:-1]))]  # each line's first (index in solid)
    ge = np.empty_like(gs)
    ge[:-1] = gs[1:] - 1
    ge[-1] = len(solid) - 1
    a, b = solid[gs], solid[ge]
    gdoc = np.searchsorted(starts, a, side="right") - 1
    glen = b - a + 1
    nlines = np.bincount(gdoc, minlength=nd).tolist()
    chars = np.bincount(gdoc, weights=glen, minlength=nd).astype(np.int64).tolist()  # exact: < 2^53
    if len(gs) < 2:
        return nlines, chars, set()
    # One hash of (text, length, first, middle, last): equal lines give equal hashes (a collision
    # only sends a text to the exact comparison). A sort of one key: a tenth of a lexsort's time.
    u = np.uint64
    h = mix64(glen.astype(u) * _GRAM_MUL + gdoc.astype(u))
    h ^= (cps[a].astype(u) << u(42)) | (cps[b].astype(u) << u(21)) | cps[(a + b) // 2]
    h = mix64(h)
    order = np.argsort(h)
    hs = h[order]
    return nlines, chars, set(gdoc[order[1:][hs[1:] == hs[:-1]]].tolist())


_GRAM_MUL = np.uint64(0x9E3779B97F4A7C15)
_DOC_MUL = np.uint64(0xC2B2AE3D27D4EB4F)


def _repeated_ngram_ratios(cps: np.ndarray, s0: list[int], s1: list[int], texts: Sequence[str],
                           n: int = 10, cap: int = 20_000) -> list[float]:
    """`_repeated_ngram_ratio` of each stripped text, with hashes over the batch's code points.

    A gram (10 characters, every 5th position) is two 5-character chunks, so the chunks of all
    texts are hashed once and each gram's hash combines two chunk hashes and the text's index
    (equal grams of different texts never share a hash). One sort of the hashes' top halves finds
    those that come back; only those grams are grouped by full hash and compared code point by
    code point with the first gram of their group, so the result is exact (a text where a group
    holds different grams, a 64-bit collision, gets the per-text function). The characters
    covered by repeated grams are 5 × the chunks inside one.
    """
    if n % 2:
        return [_repeated_ngram_ratio(t.strip(), n, cap) for t in texts]
    step = n // 2
    nd = len(s0)
    out = [0.0] * nd
    lo = np.asarray(s0, dtype=np.int64)
    slen = np.minimum(np.asarray(s1, dtype=np.int64) - lo, cap)
    m = np.where(slen >= 2 * n, (slen - n) // step + 1, 0)  # grams per text
    total = int(m.sum())
    if total == 0:
        return out
    mc = np.where(m > 0, m + 1, 0)  # chunks per text
    cfirst = np.zeros(nd, dtype=np.int64)  # each text's first chunk
    np.cumsum(mc[:-1], out=cfirst[1:])
    nchunks = int(cfirst[-1] + mc[-1])
    with_chunks = np.flatnonzero(mc)
    # Chunk g of text i starts at lo[i] + step·(g - cfirst[i]); its code points are gathered one
    # column at a time (contiguous columns for the hashing, no (chunks, step) copy of the batch).
    pos = np.repeat(lo - step * cfirst, mc)
    pos += step * np.arange(nchunks, dtype=np.int64)
    hc = hash_columns([np.take(cps[j:], pos) for j in range(step)], 0)
    text_start = np.zeros(nchunks, dtype=bool)  # the first chunk of a text
    text_start[cfirst[with_chunks]] = True
    gram_start = np.ones(nchunks, dtype=bool)  # a gram's first chunk: all but a text's last
    gram_start[cfirst[with_chunks] + mc[with_chunks] - 1] = False
    gram_chunk = np.flatnonzero(gram_start)  # in text order
    # the text's index in the gram's hash: equal grams of different texts never share one
    h = hc[gram_chunk] * _GRAM_MUL
    h += hc[gram_chunk + 1]
    h += np.repeat(np.arange(nd, dtype=np.uint64) * _DOC_MUL, m)
    h = mix64(h)
    # Repeats of the top 32 bits (a cheaper sort) give the candidates; 64-bit groups decide.
    top = (h >> np.uint64(32)).astype(np.uint32)
    st = np.sort(top)
    again = st[1:][st[1:] == st[:-1]]
    if not len(again):
        return out  # the usual case: no gram comes back in any text
    again = again[np.concatenate(([True], again[1:] != again[:-1]))]  # sorted already: no np.unique
    # a 2^16-bit table of the repeated values' low bits keeps the exact search to few grams
    table = np.zeros(1 << 16, dtype=bool)
    table[again & 0xFFFF] = True
    cand = np.flatnonzero(np.take(table, top & 0xFFFF))
    cand = cand[again[np.minimum(np.searchsorted(again, top[cand]), len(again) - 1)] == top[cand]]
    order = cand[np.argsort(h[cand], kind="stable")]  # stable: a group lists its grams in text order
    hs = h[order]
    head = np.ones(len(order), dtype=bool)
    head[1:] = hs[1:] != hs[:-1]
    leader = order[np.maximum.accumulate(np.where(head, np.arange(len(order)), 0))]
    fol, lead = order[~head], leader[~head]
    cf, cl = gram_chunk[fol], gram_chunk[lead]
    text_of = np.searchsorted(cfirst[with_chunks], cf, side="right") - 1  # into with_chunks
    cols = np.arange(2 * step, dtype=np.int64)  # a gram's code points: its two chunks, adjacent
    same = ((text_of == np.searchsorted(cfirst[with_chunks], cl, side="right") - 1)
            & (cps[pos[cf][:, None] + cols] == cps[pos[cl][:, None] + cols]).all(axis=1))
    rep = np.zeros(nchunks, dtype=bool)  # by the gram's first chunk
    rep[cf] = True
    # chunk k is covered when gram k or gram k-1 repeats (grams start at chunk 0 … mc-2)
    covered = rep.copy()
    covered[1:] |= rep[:-1] & ~text_start[1:]
    counts = np.add.reduceat(covered, cfirst[with_chunks], dtype=np.int64)
    lens = slen.tolist()
    for i, c in zip(with_chunks.tolist(), counts.tolist(), strict=True):
        if c:
            out[i] = c * step / lens[i]
    for i in set(with_chunks[text_of[~same]].tolist()):  # a hash collision: the exact per-text function
        out[i] = _repeated_ngram_ratio(texts[i].strip(), n, cap)
    return out


def _repeated_ngram_ratio(text: str, n: int = 10, cap: int = 20_000) -> float:
    """Share of characters covered by a character 10-gram seen earlier (copy-paste spam)."""
    s = text[:cap]
    if len(s) < 2 * n:
        return 0.0
    step = n // 2
    grams = [s[i : i + n] for i in range(0, len(s) - n + 1, step)]
    if len(set(grams)) == len(grams):
        return 0.0  # the usual case: no 10-gram comes back, nothing to mark
    seen: set[str] = set()
    covered = bytearray(len(s))
    for k, g in enumerate(grams):
        if g in seen:
            i = k * step
            covered[i : i + n] = b"\x01" * n
        else:
            seen.add(g)
    return covered.count(1) / len(s)
