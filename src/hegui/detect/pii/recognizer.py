"""The recogniser shape, after Microsoft Presidio's ``PatternRecognizer``.

Why this shape: each PII type is one small class with its patterns (each with a base score), a
``validate`` hook for checksums and date checks, and context words that raise the score when they
appear near the match. A registry composes them (`hegui.detect.pii.detector`). Recognisers see the
*normalised* text (NFKC, case-folded, simplified), so patterns are written in lower case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from hegui.detect.pii.gates import Gate

# Digit and alphanumeric boundaries used by the patterns: an identifier inside a longer run of
# digits (or letters and digits) is not that identifier.
NOT_DIGIT_BEFORE = r"(?<![0-9])"
NOT_DIGIT_AFTER = r"(?![0-9])"
NOT_ALNUM_BEFORE = r"(?<![0-9a-z])"
NOT_ALNUM_AFTER = r"(?![0-9a-z])"
# Python's `re` only skips ahead quickly when a pattern starts with a character (class); a leading
# look-behind makes it try every position. So the boundary is checked *after* the first character:
# ``DIGIT_START`` = "a digit not preceded by a digit", ``alnum_start("e")`` = "an e not preceded by
# a letter or digit". Both are 3-10x faster than the leading look-behind on Chinese text.
DIGIT_START = r"\d(?<!\d\d)"


def merged_windows(anchors: Iterable[int], before: int, after: int, n: int) -> list[tuple[int, int]]:
    """Windows ``[a - before, a + after)`` around sorted anchor offsets, overlapping ones merged.

    Why: recognisers that search only near a marker ("@", a road suffix) must not rescan the same
    characters once per marker; on adversarial text (``a@a@a@…``, ``路路路…``) that made the scan
    quadratic. Merged, every character is scanned at most once.
    """
    out: list[tuple[int, int]] = []
    cur_lo = cur_hi = -1
    for a in anchors:  # sorted, so a + after only grows: no min/max in the hot loop
        if a - before <= cur_hi:
            cur_hi = a + after
        else:
            if cur_hi >= 0:
                out.append((cur_lo, cur_hi))
            cur_lo, cur_hi = a - before, a + after
    if cur_hi >= 0:
        out.append((cur_lo, cur_hi))
    return [(lo if lo > 0 else 0, hi if hi < n else n) for lo, hi in out]


def alnum_start(char_class: str) -> str:
    """``char_class`` (one character or ``[...]``) as the first character, with no letter/digit before it."""
    return f"{char_class}(?<![0-9a-z]{char_class})"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A named regular expression with the score a bare match gets before validation and context.

    If the regex has a group named ``v``, its span is the reported value (the rest is anchoring
    context such as ``password=``). ``requires``: a substring every match contains; the base
    `PatternRecognizer.analyze` does not search a text without it (one ``in`` test in place of a
    regex pass; a hint only, since such a text has no match anyway).
    """

    name: str
    regex: str
    score: float
    requires: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """What ``validate`` says about a candidate.

    ``ok``: ``True`` validated, ``False`` failed (dropped unless ``score`` is set), ``None`` no opinion.
    ``reason`` is safe to log: it describes the check, never the value.
    """

    ok: bool | None
    reason: str = ""
    score: float | None = None


@dataclass(frozen=True, slots=True)
class RecognizerResult:
    """One candidate span with its final score. Carries no value, only offsets."""

    start: int
    end: int
    score: float
    risk: str
    recognizer: str
    pattern: str
    validated: bool | None
    reason: str
    context: bool


class PatternRecognizer:
    """Base class: subclasses set the class variables and may override ``validate``/``prefilter``."""

    name: ClassVar[str]
    risk: ClassVar[str]
    patterns: ClassVar[tuple[Pattern, ...]]
    context_words: ClassVar[tuple[str, ...]] = ()
    # Characters before/after the match searched for context words.
    context_before: ClassVar[int] = 24
    context_after: ClassVar[int] = 8
    # Presidio's context enhancement: added to the score when a context word is near, with a floor.
    context_boost: ClassVar[float] = 0.35
    context_floor: ClassVar[float] = 0.4
    # Score when no context word is near and the recogniser needs one (e.g. bare 8-digit numbers).
    context_required: ClassVar[bool] = False
    # A necessary condition for any candidate, checked for all recognisers in one hyperscan pass
    # (`hegui.detect.pii.gates`). Only the class that declares it uses it: a subclass that changes
    # the patterns does not inherit a gate that may no longer hold (it then always runs).
    gate: ClassVar[Gate | None] = None

    def __init__(self) -> None:
        self._compiled: list[tuple[Pattern, re.Pattern[str]]] = [
            (p, re.compile(p.regex)) for p in self.patterns
        ]
        self._context: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(w) for w in sorted(self.context_words, key=len, reverse=True)))
            if self.context_words
            else None
        )

    # -- hooks ------------------------------------------------------------------------------------

    def prefilter(self, text: str) -> bool:
        """A cheap test that says the text may hold this type at all; ``False`` skips the regexes."""
        return True

    def validate(self, value: str, pattern: Pattern) -> Check:
        """Checksums, date and range checks. ``value`` is the matched text (normalised)."""
        return Check(None)

    def analyze_clauses(self, text: str, clauses: int) -> list[RecognizerResult]:
        """`analyze`, told which clauses of the gate hold in ``text`` (bit j: ``gate.clauses[j]``).

        Why: when a clause is a necessary condition for one part of the recogniser only (a
        pattern, a search), that part can be skipped where the clause fails, with the same
        results as `analyze`. The detector calls this only when the class that declares the
        gate also declares this method (a subclass with other clauses must not inherit the
        mapping), and only when at least one clause holds.
        """
        return self.analyze(text)

    # -- engine -----------------------------------------------------------------------------------

    def has_context(self, text: str, start: int, end: int) -> bool:
        if self._context is None:
            return False
        lo = max(0, start - self.context_before)
        hi = min(len(text), end + self.context_after)
        return self._context.search(text, lo, start) is not None or (
            self._context.search(text, end, hi) is not None
        )

    def analyze(self, text: str) -> list[RecognizerResult]:
        """Every candidate in ``text`` with its final score (no ``min_score`` filtering here)."""
        if not text or not self.prefilter(text):
            return []
        out: list[RecognizerResult] = []
        for pattern, rx in self._compiled:
            if pattern.requires and pattern.requires not in text:
                continue
            out.extend(self._scan(text, pattern, rx))
        return out

    def _scan(self, text: str, pattern: Pattern, rx: re.Pattern[str]) -> Iterable[RecognizerResult]:
        return self._scan_window(text, pattern, rx, 0, len(text))

    def _scan_window(
        self, text: str, pattern: Pattern, rx: re.Pattern[str], lo: int, hi: int
    ) -> Iterable[RecognizerResult]:
        """Candidates of one pattern in ``text[lo:hi]`` (look-arounds still see the whole text)."""
        has_v = "v" in rx.groupindex
        for m in rx.finditer(text, lo, hi):
            start, end = m.span("v") if has_v else m.span()
            if start < 0 or end <= start:
                continue
            value = text[start:end]
            check = self.validate(value, pattern)
            if check.ok is False and check.score is None:
                continue
            score = check.score if check.score is not None else pattern.score
            if check.ok is True and check.score is None:
                score = max(score, pattern.score)
            ctx = self.has_context(text, start, end)
            if ctx:
                score = max(self.context_floor, score + self.context_boost)
            elif self.context_required:
                score = min(score, 0.2)
            out_score = min(1.0, max(0.0, score))
            yield RecognizerResult(
                start, end, out_score, self.risk, self.name, pattern.name, check.ok, check.reason, ctx
            )
