"""Normalisation against evasion, with a map back to the original offsets.

Users who want to slip a phrase past a filter write it in full-width letters, in traditional
characters, with zero-width characters or symbols between the characters (`法*轮`, `法 轮`), or
with look-alike letters from other scripts. Every detector sees the normalised text; every finding
is mapped back to the original so redaction removes the right characters.

Design for speed (the keyword path must stay well above 40 MB/s): one `str.translate` pass does
NFKC, case folding, traditional → simplified (a character table from OpenCC's dictionary),
homoglyphs and invisible-character removal; one regular-expression pass removes noise between CJK
characters. Where neither pass changed the length, the offset map is the identity and nothing else
is computed; otherwise the map is built lazily with numpy, only when a finding is mapped back.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Characters that render as nothing: zero-width spaces/joiners, BOM, soft hyphen, bidi controls,
# variation selectors, tags, and the C0/C1 controls other than tab/newline/CR.
_INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x0008), (0x000B, 0x000C), (0x000E, 0x001F), (0x007F, 0x009F),
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)

# Look-alike letters from Cyrillic and Greek (and a few symbols) that NFKC leaves alone.
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "һ": "h", "ӏ": "l", "ո": "n", "ս": "u",
    # Greek
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "ω": "w",
    # Latin look-alikes outside ASCII
    "ı": "i", "ȷ": "j", "ℓ": "l", "ɩ": "i", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d",
    "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n",
    "ᴏ": "o", "ᴘ": "p", "ꞯ": "q", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # CJK look-alikes used to split or disguise characters
    "〇": "零", "⼀": "一",
}

# Digits and symbols written for letters inside Latin words ("s3x", "pr0n", "h@ck"). Applied only in
# `NormalizedText.folded`, and only between letters, so phone numbers and IDs are never touched.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# Look-arounds rather than ``\b``: "@" and "$" are not word characters, so ``\b$hit`` never matched.
# The pattern starts with the character class and checks the character before it afterwards
# (``(?<=[a-z].)``): a leading look-behind makes `re` try every position, this lets it skip ahead
# (2x faster on Chinese text with digits).
_LEET_RUN = re.compile(
    r"[013457@$](?:(?<=[a-z].)[013457@$]*(?=[a-z])|(?<=[a-z].)[013457@$]*(?![0-9a-z@$])"
    r"|(?<![0-9a-z@$].)[013457@$]*(?=[a-z]{2}))"
)

# CJK ideographs (BMP and extension A/B+) plus the CJK compatibility block.
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2EBEF),
)
# What evaders put between CJK characters: whitespace (not newlines), ASCII symbols, and common
# decorative symbols. Chinese sentence punctuation (，。！？；：、) is kept: removing it would join
# sentences and let a keyword match across a boundary.
_NOISE_CHARS = (
    " \t\r\x0b\x0c-_.,*+~`'\"^|/\\#=<>!?;:()[]{}&%·•・°×÷※☆★○●◇◆□■△▲▽▼♡♥♪♫…‧∙⋅〃\u3000"
    + "".join(chr(c) for c in range(0x2010, 0x2016))
    + "".join(chr(c) for c in range(0x2020, 0x2028))
    + "".join(chr(c) for c in range(0x2030, 0x205F))
)
_MAX_NOISE_RUN = 5
_NCP = 0x110000

_OPENCC_T2S = "TSCharacters.txt"
# Full-width sentence punctuation stays as it is (NFKC would make it ASCII, and ASCII punctuation
# between CJK characters is removed as noise; these mark real sentence boundaries).
_KEEP_PUNCT = "，。！？；：、"


def _opencc_char_table() -> dict[str, str]:
    """Traditional → simplified, character by character, from OpenCC's own dictionary.

    Only single-character entries are used, so the mapping is length-preserving and offsets stay
    exact; OpenCC's phrase table matters for display, not for matching.
    """
    import opencc

    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", _OPENCC_T2S)
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            src, targets = parts[0], parts[1].split(" ")
            if len(src) == 1 and targets and len(targets[0]) == 1 and targets[0] != src:
                table[src] = targets[0]
    return table


# Code-point ranges whose NFKC form may differ from the character itself. Scanning these instead
# of all 1.1 million code points keeps import time low.
_NFKC_RANGES: tuple[tuple[int, int], ...] = (
    (0x00A0, 0x052F), (0x1D00, 0x1DBF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x2E80, 0x2FDF),
    (0x3000, 0x33FF), (0xA640, 0xA69F), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE10, 0xFE6F),
    (0xFF00, 0xFFEF), (0x1D400, 0x1D7FF), (0x1F100, 0x1F2FF), (0x2F800, 0x2FA1F),
)


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[int, str | None], re.Pattern[str] | None]:
    """Build the one translate table, and a pattern matching every character it does not map 1:1."""
    t2s = _opencc_char_table()
    table: dict[int, str | None] = {}

    def final(s: str) -> str:
        s = s.casefold()
        return "".join(_HOMOGLYPHS.get(ch, t2s.get(ch, ch)) for ch in s)

    for lo, hi in _NFKC_RANGES:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            n = unicodedata.normalize("NFKC", ch)
            if n != ch:
                table[cp] = final(n)
    for ch, simp in t2s.items():
        table.setdefault(ord(ch), final(simp))
    for ch, rep in _HOMOGLYPHS.items():
        table.setdefault(ord(ch), rep)
    for cp in range(0x41, 0x5B):  # ASCII upper → lower
        table[cp] = chr(cp + 32)
    for cp in range(0xC0, 0x250):  # Latin-1/Extended upper case
        ch = chr(cp)
        if cp not in table and ch.casefold() != ch:
            table[cp] = final(ch)
    for lo, hi in _INVISIBLE_RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = None
    # Keep line structure: tab/CR/LF are meaningful for splitting and never hide anything.
    for cp in (0x09, 0x0A, 0x0D):
        table.pop(cp, None)
    # NFKC turns some characters into a space (e.g. U+00A0, U+3000): keep them as a space.
    for ch in _KEEP_PUNCT:
        table.pop(ord(ch), None)
    uneven = sorted(cp for cp, v in table.items() if v is None or len(v) != 1)
    return table, (re.compile(_char_class(uneven)) if uneven else None)


def _char_class(cps: list[int]) -> str:
    """A regex character class for sorted code points, collapsed into ranges (far faster to match)."""
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


@dataclass(slots=True)
class NormalizedText:
    """Normalised text plus everything needed to map a span back to the original.

    ``text`` is what detectors match on. ``folded`` additionally maps digit/symbol look-alikes
    inside Latin words (same length as ``text``, so the same offsets). ``original`` is kept so
    callers can slice the original span of a finding.
    """

    original: str
    text: str
    # Stage 1 (translate): (original index, output length) for every character not mapped 1:1.
    _stage1: list[tuple[int, int]] = field(default_factory=list, repr=False)
    # Stage 2 (noise removal): (start, end) spans of stage-1 text that were removed.
    _stage2: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _map: np.ndarray | None = field(default=None, repr=False)
    _folded: str | None = field(default=None, repr=False)
    _tables: tuple[list[int], ...] | None = field(default=None, repr=False, compare=False)
    # False when the original is known to hold no lone surrogate (`normalize_batch` finds out
    # for the whole batch at once), None when nobody looked.
    _surrogates: bool | None = field(default=None, repr=False, compare=False)

    @property
    def surrogate_free(self) -> bool:
        """True when the original is known to hold no lone surrogate (U+D800–U+DFFF).

        `Guard.decide` then skips its regular-expression search for them in the redacted text
        (a redaction only writes ASCII tags or characters of the original).
        """
        return self._surrogates is False

    @property
    def is_identity(self) -> bool:
        """True when every normalised offset is the same offset in the original."""
        return not self._stage1 and not self._stage2

    @property
    def folded(self) -> str:
        if self._folded is None:
            t = self.text
            self._folded = _LEET_RUN.sub(lambda m: m.group(0).translate(_LEET), t) if _has_leet(t) else t
        return self._folded

    def _index_map(self) -> np.ndarray:
        """Array of length len(text)+1: normalised index → original index (last entry = len(original))."""
        if self._map is None:
            n0 = len(self.original)
            counts = np.ones(n0, dtype=np.int64)
            for i, k in self._stage1:
                counts[i] = k
            idx = np.repeat(np.arange(n0, dtype=np.int64), counts)
            if self._stage2:
                keep = np.ones(len(idx), dtype=bool)
                for s, e in self._stage2:
                    keep[s:e] = False
                idx = idx[keep]
            self._map = np.append(idx, n0)
        return self._map

    def _offset_tables(self) -> tuple[list[int], ...]:
        """Prefix tables that give `_index_map`'s entries by bisection, without building the map.

        Why: a document with a few findings needs a few entries, but the map costs a dozen numpy
        calls over the whole text (the scanner spent more on maps than on matching keywords).
        Stage 2: ``kept`` = normalised offset where each removed run was, ``gone`` = characters
        removed up to and including it. Stage 1: ``at`` = stage-1 offset where each uneven
        character's output begins, ``src``/``width`` = its original offset and output length,
        ``shift`` = stage-1 offset minus original offset just after it.
        """
        if self._tables is None:
            kept: list[int] = []
            gone: list[int] = []
            removed = 0
            for a, b in self._stage2:
                kept.append(a - removed)
                removed += b - a
                gone.append(removed)
            at: list[int] = []
            src: list[int] = []
            width: list[int] = []
            shift: list[int] = []
            d = 0
            for o, k in self._stage1:
                at.append(o + d)
                src.append(o)
                width.append(k)
                d += k - 1
                shift.append(d)
            self._tables = (kept, gone, at, src, width, shift)
        return self._tables

    def _to_original_index(self, i: int) -> int:
        """``_index_map()[i]`` for ``0 <= i <= len(text)``, by bisection (see `_offset_tables`)."""
        if i >= len(self.text):
            return len(self.original)
        kept, gone, at, src, width, shift = self._tables or self._offset_tables()
        if kept:
            k = bisect_right(kept, i)
            if k:
                i += gone[k - 1]  # now a stage-1 offset
        if at:
            u = bisect_right(at, i) - 1
            if u >= 0:
                # Inside the output of an uneven character: that character; past it: shifted back.
                return src[u] if i < at[u] + width[u] else i - shift[u]
        return i

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a normalised span [start, end) to the smallest original span that produced it."""
        n = len(self.text)
        # Clamped to 0 <= start <= end <= n with conditionals, and the identity test inline:
        # `Guard.decide` maps every finding, and min/max and property calls were a third of it.
        start = 0 if start < 0 else n if start > n else start
        end = start if end < start else n if end > n else end
        if not self._stage1 and not self._stage2:
            return start, end
        o_start = self._to_original_index(start)
        if end == start:
            return o_start, o_start
        o_end = self._to_original_index(end - 1) + 1
        # A character that expanded to several (e.g. "㍿" → "株式会社") maps back whole.
        return o_start, o_end if o_end > o_start else o_start + 1

    def original_span(self, start: int, end: int) -> str:
        s, e = self.to_original(start, end)
        return self.original[s:e]


_LEET_CHAR = re.compile(r"[013457@$]")
_ASCII_LOWER = re.compile(r"[a-z]")


def _has_leet(t: str) -> bool:
    # Two regex scans in C: a per-character generator cost as much as the keyword match on long text.
    return _LEET_CHAR.search(t) is not None and _ASCII_LOWER.search(t) is not None


class TextTooLargeError(ValueError):
    """Input larger than the configured limit."""


def normalize(text: str, *, max_chars: int | None = None) -> NormalizedText:
    """Normalise ``text`` for matching. Never raises on odd input (surrogates, controls, empty).

    Works on the UTF-32 code-point array with numpy lookup tables, so the cost is a few passes of
    vectorised indexing whatever the script. Lone surrogates become U+FFFD in the normalised text;
    the offset map still points to their original position.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalize() takes str, not {type(text).__name__}; decode bytes first")
    if max_chars is not None and len(text) > max_chars:
        raise TextTooLargeError(f"text has {len(text):,} characters; the limit is {max_chars:,}")
    if not text:
        return NormalizedText(text, text)
    lut = _luts()
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = np.take(lut.map, cps)  # np.take: 2-3x faster than fancy indexing on these sizes
    # ``.nonzero()[0]`` rather than ``np.flatnonzero``: the same offsets for a 1-D array, without
    # the wrapper calls (on a gateway request of a few hundred characters, fixed costs dominate).
    stage1: list[tuple[int, int]] = []
    uneven_pos = (mapped >= _UNEVEN).nonzero()[0]
    if uneven_pos.size:
        table = lut.table
        reps = [table[c] or "" for c in cps[uneven_pos].tolist()]
        klen = [len(r) for r in reps]
        stage1 = list(zip(uneven_pos.tolist(), klen, strict=True))
        mapped = _expand(mapped, uneven_pos, reps, np.array(klen, dtype=np.int64), lut.flags)
    if mapped.size > _RE_MAX_CHARS:  # a long text: stage 2 with numpy, as `normalize_batch` does
        stage2: list[tuple[int, int]] = []
        noise = (mapped >= _NOISE).nonzero()[0]  # the only flag left after stage 1
        if noise.size:
            starts, ends = _noise_run_bounds(noise, mapped, lut.cjk)  # (a run's neighbours carry no flag)
            stage2 = list(zip(starts.tolist(), ends.tolist(), strict=True))
        np.bitwise_and(mapped, _CP_MASK, out=mapped)  # the lookup's or `_expand`'s own array
        if stage2:
            keep = np.ones(mapped.size, dtype=bool)
            for a, b in stage2:
                keep[a:b] = False
            mapped = mapped[keep]
        return NormalizedText(text, _decode(mapped), stage1, stage2)
    np.bitwise_and(mapped, _CP_MASK, out=mapped)
    s1 = _decode(mapped)
    # Stage 2 on the string: one regular expression finds the same runs as `_noise_run_bounds`
    # (see `_noise_run_re`) at a fraction of its numpy calls' fixed cost on a short text.
    stage2 = [m.span() for m in _noise_run_re().finditer(s1)]
    if not stage2:
        return NormalizedText(text, s1, stage1, stage2)
    pieces: list[str] = []
    prev = 0
    for a, b in stage2:
        pieces.append(s1[prev:a])
        prev = b
    pieces.append(s1[prev:])
    return NormalizedText(text, "".join(pieces), stage1, stage2)


# Up to this many characters `normalize` finds noise runs with `_noise_run_re` (~7 ns a
# character, and next to no fixed cost), beyond with `_noise_run_bounds` (a few ns a character
# after some 20 numpy calls).
_RE_MAX_CHARS = 20_000


@functools.lru_cache(maxsize=1)
def _noise_run_re() -> re.Pattern[str]:
    """Maximal runs of at most ``_MAX_NOISE_RUN`` noise characters with a CJK character on both sides.

    It starts with the noise class, so `re` skips ahead to noise characters, and only then checks
    the character before (a leading look-behind would be tried at every position). A match can
    only start where the character before is CJK, so at the start of a run (CJK characters are
    not noise), and its look-ahead can only hold at the run's end, so a longer run never matches.
    """
    noise = "".join(re.escape(c) for c in sorted(set(_NOISE_CHARS)))
    cjk = "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in _CJK_RANGES)
    return re.compile(f"[{noise}](?<=[{cjk}].)[{noise}]{{0,{_MAX_NOISE_RUN - 1}}}(?=[{cjk}])")


def _decode(cps: np.ndarray) -> str:
    return cps.tobytes().decode("utf-32-le")


def _noise_run_bounds(noise: np.ndarray, mapped: np.ndarray, cjk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of at most ``_MAX_NOISE_RUN`` noise characters with a CJK
    character on both sides. ``noise`` holds the (sorted) offsets of the noise characters in
    ``mapped``; ``cjk`` is the lookup table over code points, indexed only at the runs' neighbours
    rather than over the whole text.

    Why offsets rather than a mask: a run's ends are where consecutive offsets jump, so the work
    is on the noise characters (a tenth of the text), not four passes over all of it.
    """
    jumps = np.flatnonzero(noise[1:] - noise[:-1] != 1)
    first = np.empty(jumps.size + 1, dtype=np.int64)
    first[0] = 0
    first[1:] = jumps + 1
    last = np.empty(jumps.size + 1, dtype=np.int64)
    last[:-1] = jumps
    last[-1] = noise.size - 1
    starts, ends = noise[first], noise[last] + 1
    ok = (starts > 0) & (ends < mapped.size) & (ends - starts <= _MAX_NOISE_RUN)
    starts, ends = starts[ok], ends[ok]
    ok = cjk[mapped[starts - 1]] & cjk[mapped[ends]]
    return starts[ok], ends[ok]


_SEP = "\n"  # joins a batch: not noise, not CJK, mapped to itself, so no run or match crosses it


def normalize_batch(texts: Sequence[str], *, max_chars: int | None = None) -> list[NormalizedText | None]:
    """`normalize` for many texts at once: the same `NormalizedText` for each, ``None`` for a text
    over ``max_chars``.

    Why: per text, `normalize` is a dozen small numpy calls whose fixed cost exceeds the work on a
    500-character document (the corpus scanner normalised at ~9 MB/s). Here the batch is joined
    with line breaks and every pass (lookup tables, expansions, noise runs, decoding) runs once
    over the whole batch; each text's result is then a slice of the joined output and its share of
    the offset records, rebased to the text. A line break maps to itself, is neither noise nor
    CJK, and no run of noise can cross it, so every text gets exactly what `normalize` gives it
    (tests compare both on real and random texts).
    """
    out: list[NormalizedText | None] = [None] * len(texts)
    where: list[int] = []
    todo: list[str] = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"normalize() takes str, not {type(t).__name__}; decode bytes first")
        if max_chars is not None and len(t) > max_chars:
            continue
        if not t:
            out[i] = NormalizedText(t, t)
            continue
        where.append(i)
        todo.append(t)
    for a, b in batch_groups([len(t) for t in todo]):
        if b - a == 1:  # nothing to share the fixed cost with
            out[where[a]] = normalize(todo[a])
        else:
            for i, norm in zip(where[a:b], _normalize_joined(todo[a:b]), strict=True):
                out[i] = norm
    return out


BATCH_CHARS = 1 << 20  # characters joined at most: bounds the temporaries (~40 bytes a character)


def batch_groups(lengths: Sequence[int], limit: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ``[a, b)`` groups of items whose lengths (plus one for each joining line
    break) sum to at most ``limit`` (default `BATCH_CHARS`; an item longer than that is a group
    of its own), for the batch passes that join their texts."""
    limit = BATCH_CHARS if limit is None else limit
    groups: list[tuple[int, int]] = []
    start = total = 0
    for i, n in enumerate(lengths):
        if total + n > limit and i > start:
            groups.append((start, i))
            start, total = i, 0
        total += n + 1
    if start < len(lengths):
        groups.append((start, len(lengths)))
    return groups


_CONCAT_MAX = 4096  # uneven characters up to which `_expand` splices slices rather than repeating


def _expand(mapped: np.ndarray, pos: np.ndarray, reps: list[str], klen: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """``mapped`` with the character at each offset in ``pos`` replaced by its ``reps`` entry
    (``klen`` = their lengths; an empty one deletes it), each inserted character with its bits
    from ``flags`` (`_Luts.flags`) like the rest of ``mapped``.

    Why two ways: for the few uneven characters of ordinary text (a handful per batch), one
    concatenation of the slices between them is a single copy; a per-character repeat count
    array (the way for thousands of them, where a Python loop over slices would cost more) is
    three passes over the whole batch.
    """
    rep_all = np.frombuffer("".join(reps).encode("utf-32-le"), dtype=np.uint32)
    rep_all = rep_all | np.take(flags, rep_all)
    if pos.size <= _CONCAT_MAX:
        pieces: list[np.ndarray] = []
        prev = r = 0
        for i, k in zip(pos.tolist(), klen.tolist(), strict=True):
            pieces.append(mapped[prev:i])
            if k:
                pieces.append(rep_all[r : r + k])
                r += k
            prev = i + 1
        pieces.append(mapped[prev:])
        return np.concatenate(pieces)
    counts = np.ones(mapped.size, dtype=np.int64)
    counts[pos] = klen
    expanded = np.repeat(mapped, counts)  # a deleted character goes, an expanding one repeats
    grow = klen > 0
    if grow.any():
        k = klen[grow]
        shift = np.cumsum(klen - 1)  # where each uneven character's output starts, from its
        at = (pos + shift - (klen - 1))[grow]  # offset and the growth before it
        first = np.cumsum(k) - k
        expanded[np.repeat(at - first, k) + np.arange(rep_all.size)] = rep_all
    return expanded


def _normalize_joined(todo: list[str]) -> list[NormalizedText]:
    """`normalize_batch`'s work on non-empty texts, joined by line breaks."""
    n = len(todo)
    lut = _luts()
    joined0 = _SEP.join(todo)
    try:  # strict first: lone surrogates are rare, and then no pass is needed to look for them
        raw = joined0.encode("utf-32-le")
        has_surrogates = False
    except UnicodeEncodeError:
        raw = joined0.encode("utf-32-le", "surrogatepass")
        has_surrogates = True
    cps = np.frombuffer(raw, dtype=np.uint32)
    lens0 = np.fromiter(map(len, todo), dtype=np.int64, count=n)
    starts0 = np.zeros(n, dtype=np.int64)
    np.cumsum(lens0[:-1] + 1, out=starts0[1:])
    mapped = np.take(lut.map, cps)  # np.take: 2-3x faster than fancy indexing on these sizes
    # Stage 1: characters that map to none or several (rare: "…", zero-width characters).
    uneven_pos = np.flatnonzero(mapped >= _UNEVEN)
    starts1, lens1 = starts0, lens0
    stage1_all: list[tuple[int, int]] = []
    s1_cut = np.zeros(n + 1, dtype=np.int64)
    if uneven_pos.size:
        table = lut.table
        reps = [table[c] or "" for c in cps[uneven_pos].tolist()]
        klen = np.fromiter(map(len, reps), dtype=np.int64, count=len(reps))
        owner = np.searchsorted(starts0, uneven_pos, side="right") - 1
        stage1_all = list(zip((uneven_pos - starts0[owner]).tolist(), klen.tolist(), strict=True))
        s1_cut = np.searchsorted(owner, np.arange(n + 1))
        mapped = _expand(mapped, uneven_pos, reps, klen, lut.flags)  # no `_UNEVEN` value is left
        lens1 = lens0 + np.bincount(owner, weights=klen - 1, minlength=n).astype(np.int64)
        starts1 = np.zeros(n, dtype=np.int64)
        np.cumsum(lens1[:-1] + 1, out=starts1[1:])
    # Stage 2: noise between CJK characters.
    stage2_all: list[tuple[int, int]] = []
    s2_cut = np.zeros(n + 1, dtype=np.int64)
    starts2, ends2 = starts1, starts1 + lens1
    noise = np.flatnonzero(mapped >= _NOISE)  # the only flag left after stage 1
    if noise.size:
        rs, re_ = _noise_run_bounds(noise, mapped, lut.cjk)  # (a run's neighbours carry no flag)
        if rs.size:
            owner = np.searchsorted(starts1, rs, side="right") - 1
            base = starts1[owner]
            stage2_all = list(zip((rs - base).tolist(), (re_ - base).tolist(), strict=True))
            s2_cut = np.searchsorted(owner, np.arange(n + 1))
            removed = np.zeros(rs.size + 1, dtype=np.int64)
            np.cumsum(re_ - rs, out=removed[1:])
            starts2 = starts1 - removed[np.searchsorted(rs, starts1)]
            ends2 = starts1 + lens1 - removed[np.searchsorted(rs, starts1 + lens1)]
            keep = np.ones(mapped.size, dtype=bool)
            width = re_ - rs
            keep[np.repeat(rs - (removed[1:] - width), width) + np.arange(int(removed[-1]))] = False
            mapped = mapped[keep]
    if noise.size:
        np.bitwise_and(mapped, _CP_MASK, out=mapped)  # a copy of the lookup's output, never a view of cps
    joined = _decode(mapped)
    with_surrogates: set[int] = set()
    if has_surrogates:  # which originals hold a lone surrogate
        surrogates = np.flatnonzero((cps >> 11) == 0xD800 >> 11)
        with_surrogates = set(np.searchsorted(starts0, surrogates, side="right").tolist())
    # Each text's records are a slice of the batch's (a list slice, not a list built per text).
    c1, c2 = s1_cut.tolist(), s2_cut.tolist()
    return [
        NormalizedText(t, joined[a:b], stage1_all[p1:q1], stage2_all[p2:q2], None, None, None, j in with_surrogates)
        for j, (t, a, b, p1, q1, p2, q2) in enumerate(
            zip(todo, starts2.tolist(), ends2.tolist(), c1, c1[1:], c2, c2[1:], strict=False), start=1
        )
    ]


_UNEVEN = np.uint32(1 << 31)  # flag in `_Luts.map`: the character maps to none or several (see `table`)
_NOISE = np.uint32(1 << 30)  # flag in `_Luts.map`: the character it maps to is noise (`_NOISE_CHARS`)
_CP_MASK = np.uint32((1 << 30) - 1)


@dataclass(frozen=True, slots=True)
class _Luts:
    """Lookup tables over all code points, built once per process."""

    # code point → normalised code point (the 1:1 part) with the `_NOISE` bit set where that is
    # noise; or the code point itself with the `_UNEVEN` bit set. One lookup gives the mapping,
    # where stage 1 must expand or delete, and where stage 2 may remove (a lookup table per flag
    # cost as much as the mapping's): an uneven character is always deleted or replaced (by
    # characters flagged with `flags`), so no `_UNEVEN` value is ever decoded, and the `_NOISE`
    # bits are cleared before decoding.
    map: np.ndarray
    flags: np.ndarray  # code point → its `_NOISE` bit (for the characters stage 1 inserts)
    noise: np.ndarray  # bool: removable between CJK characters
    cjk: np.ndarray  # bool: CJK ideograph
    table: dict[int, str | None]


@functools.lru_cache(maxsize=1)
def _luts() -> _Luts:
    table, _ = _tables()
    m = np.arange(_NCP, dtype=np.uint32)
    for cp, v in table.items():
        if v is not None and len(v) == 1:
            m[cp] = ord(v)
        else:
            m[cp] = cp | _UNEVEN
    m[0xD800:0xE000] = 0xFFFD
    noise = np.zeros(_NCP, dtype=bool)
    noise[[ord(c) for c in _NOISE_CHARS]] = True
    flags = np.where(noise, _NOISE, np.uint32(0)).astype(np.uint32)
    even = m < _UNEVEN
    m[even] |= flags[m[even]]
    cjk = np.zeros(_NCP, dtype=bool)
    for lo, hi in _CJK_RANGES:
        cjk[lo : hi + 1] = True
    return _Luts(m, flags, noise, cjk, table)


def normalize_term(term: str) -> str:
    """Normalise a lexicon term exactly as text is normalised, so both sides meet."""
    return normalize(term).text
