"""Cheap per-text features the recognisers' pre-filters share, computed once per text.

Why: most texts hold no identifier at all; one scan for the longest digit run lets the ID, card,
passport and permit recognisers skip their regexes entirely on ordinary prose.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DIGIT_RUN = re.compile(r"\d{6,}")


@lru_cache(maxsize=4)
def max_digit_run(text: str) -> int:
    """Length of the longest run of ASCII digits, counted only from 6 up (0 below that)."""
    best = 0
    for m in _DIGIT_RUN.finditer(text):
        n = m.end() - m.start()
        if n > best:
            best = n
    return best
