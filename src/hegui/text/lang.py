"""A cheap language guess (zh or en) for choosing the language of refusals and notices."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def guess_lang(text: str, default: str = "zh") -> str:
    """'zh' when CJK characters make up a fair share of the letters, else 'en' (default if empty)."""
    sample = text[:2000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    if cjk == 0 and latin == 0:
        return default
    # A Chinese character carries about as much as a 4-letter word.
    return "zh" if cjk * 4 >= latin else "en"
