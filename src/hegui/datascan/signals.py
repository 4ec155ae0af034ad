"""Language id and quality signals: cheap, deterministic, no model download.

Language comes from the share of each script (Han, Kana, Hangul, Cyrillic, Arabic, Latin); Latin
text is split between English, French, German and Spanish by stopword hits. It is good enough to
report a corpus's language mix and to notice a source that does not match its manifest.
"""

from __future__ import annotations

import functools
import re
from collections import Counter

import numpy as np

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
_SYM_BIT, _DIGIT_BIT = 1, 2


@functools.cache
def _luts() -> tuple[np.ndarray, np.ndarray]:
    """Per code point: its script (index into _SCRIPTS, len = none) and symbol/digit bits.

    Built once per process by running the very regexes above over every code point, so a table
    lookup counts exactly what ``regex.subn`` counted, in one numpy pass instead of eight.
    """
    every = "".join(map(chr, range(0x110000)))
    script = np.full(0x110000, len(_SCRIPTS), dtype=np.uint8)
    for i, (_, rx) in enumerate(_SCRIPTS):
        hit = np.frombuffer(rx.sub("\0", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0
        hit[0] = False  # U+0000 is no letter (the substitution marks it like a hit)
        script[hit & (script == len(_SCRIPTS))] = i
    cls = np.zeros(0x110000, dtype=np.uint8)
    for bit, rx in ((_SYM_BIT, _SYMBOL), (_DIGIT_BIT, _DIGIT)):
        cls[np.frombuffer(rx.sub("\0", every).encode("utf-32-le", "surrogatepass"), dtype=np.uint32) == 0] |= bit
    cls[0] = _SYM_BIT  # U+0000 itself: not a word character, not space, not a digit
    return script, cls


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def detect_lang(text: str, sample: int = 4000) -> str:
    """ISO 639-1 code (zh, ja, ko, ru, ar, en, fr, de, es), "und" when there is no letter."""
    s = text[:sample]
    per_script = np.bincount(_luts()[0][_codepoints(s)], minlength=len(_SCRIPTS) + 1)
    counts = {name: int(per_script[i]) for i, name in enumerate(_SCRIPT_NAMES)}
    total = sum(counts.values())
    if total == 0:
        return "und"
    if counts["kana"] > 0.1 * (counts["han"] + counts["kana"]) and counts["kana"] >= 5:
        return "ja"
    # A Han character carries about as much as a short Latin word: weight it ×3.
    weighted = dict(counts, han=counts["han"] * 3)
    top = max(weighted, key=lambda k: weighted[k])
    if top == "han":
        return "zh"
    if top != "latin":
        return {"hangul": "ko", "cyrillic": "ru", "arabic": "ar", "kana": "ja"}[top]
    words = _WORD.findall(s.lower())
    hits = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOP.items()}
    best = max(hits, key=lambda k: hits[k])
    return best if hits[best] > 0 else "en"


def quality(
    text: str, *, min_chars: int = 10, max_symbol_ratio: float = 0.3, max_digit_ratio: float = 0.5,
    max_repetition: float = 0.3,
) -> tuple[dict[str, float | int], list[str]]:
    """Length and quality signals plus flags (``too_short``, ``symbols``, ``repetitive``…).

    The thresholds follow the Gopher/C4 heuristics datatrove ships, adapted to Chinese (no
    word count: characters instead).
    """
    n = len(text)
    stripped = text.strip()
    if not stripped:
        return {"chars": n, "lines": 0}, ["empty"]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    nonspace = len("".join(text.split())) or 1
    bits = np.bincount(_luts()[1][_codepoints(text)], minlength=4)
    symbols = int(bits[_SYM_BIT] + bits[_SYM_BIT | _DIGIT_BIT])
    digits = int(bits[_DIGIT_BIT] + bits[_SYM_BIT | _DIGIT_BIT])
    line_counts = Counter(lines)
    dup_line_chars = sum(len(ln) * (c - 1) for ln, c in line_counts.items() if c > 1)
    rep = _repeated_ngram_ratio(stripped)
    sig: dict[str, float | int] = {
        "chars": n,
        "lines": len(lines),
        "symbol_ratio": round(symbols / nonspace, 4),
        "digit_ratio": round(digits / nonspace, 4),
        "dup_line_ratio": round(dup_line_chars / max(1, sum(len(ln) for ln in lines)), 4),
        "rep_ngram_ratio": round(rep, 4),
    }
    flags: list[str] = []
    if len(stripped) < min_chars:
        flags.append("too_short")
    if sig["symbol_ratio"] > max_symbol_ratio:
        flags.append("symbols")
    if sig["digit_ratio"] > max_digit_ratio:
        flags.append("digits")
    if sig["dup_line_ratio"] > max_repetition or rep > max_repetition:
        flags.append("repetitive")
    return sig, flags


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
