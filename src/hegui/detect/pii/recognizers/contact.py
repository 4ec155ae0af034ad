"""Contact details: mobile and landline numbers, email addresses."""

from __future__ import annotations

import re

from hegui.detect.pii import validators as v
from hegui.detect.pii.gates import OTHER_DIGIT, Gate
from hegui.detect.pii.recognizer import (
    NOT_DIGIT_AFTER,
    Check,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
    merged_windows,
)

# After the 3-digit prefix: 8 digits, as 4+4 with separators (space, hyphen, dot) or plain.
_REST = r"(?:\d{8}|[ \-.]\d{4}[ \-.]\d{4}|\d{4}[ \-.]\d{4}|[ \-.]\d{8})" + NOT_DIGIT_AFTER


class MobileRecognizer(PatternRecognizer):
    """Mainland mobile numbers: allocated 1[3-9]x prefixes, optional +86/0086, 3-4-4 separators.

    Digit boundaries only: a number right after a Chinese character (手机13812345678) matches, one
    inside a longer digit run does not.
    """

    name = "mobile"
    risk = "pii.mobile"
    patterns = (
        Pattern("mobile", r"1(?<!\d1)[3-9]\d" + _REST, 0.7),
        # Every prefix of the international pattern holds the ASCII "86" (+86, (86), 0086, 86): one
        # substring test skips its regex on most texts with a mobile number.
        Pattern("mobile_intl", r"(?:\+86|\(\+?86\)|0086(?<!\d0086)|86(?<!\d86))[ \-]?1[3-9]\d" + _REST, 0.7,
                requires="86"),
    )
    context_words = ("手机", "电话", "联系", "号码", "致电", "拨打", "微信", "mobile", "phone", "tel", "call")
    context_boost = 0.25

    _quick = re.compile(r"1[3-9]\d")
    # Both patterns hold ``1[3-9]\d``, an optional separator and four more digits.
    gate = Gate.any_of(r"1[3-9][0-9][ \-.]?[0-9]{4}", OTHER_DIGIT)

    def prefilter(self, text: str) -> bool:
        return self._quick.search(text) is not None

    def validate(self, value: str, pattern: Pattern) -> Check:
        if v.is_valid_mobile(value):
            return Check(True, "allocated mobile prefix")
        return Check(False, "unallocated prefix")


# Three-digit area codes are 010 and 020-029; all others are four digits starting 03-09.
_AREA = r"(?:010|02\d|0[3-9]\d{2})"


class LandlineRecognizer(PatternRecognizer):
    """Landline numbers: area code + 7/8-digit local number, optional extension (转/ext/-).

    The area code needs its leading 0 (``010-…``, ``(0755)…``); the international form without it
    (``+86 10 …``) is not recognised.
    """

    name = "landline"
    risk = "pii.landline"
    patterns = (
        Pattern(
            "landline",
            r"(?:\(0|0(?<!\d0))(?:10|2\d|[3-9]\d{2})\)?[ \-]?[2-9]\d{6,7}"
            + r"(?:(?:-|转|ext\.?|x|#)\d{1,6})?"
            + NOT_DIGIT_AFTER,
            0.45,
        ),
    )
    context_words = ("电话", "座机", "固话", "联系", "致电", "拨打", "传真", "总机", "tel", "phone", "fax")

    _quick = re.compile(r"0[1-9]\d")
    # The pattern without its boundaries, ASCII digits for ``\d``.
    gate = Gate.any_of(r"0(?:10|2[0-9]|[3-9][0-9]{2})\)?[ \-]?[2-9][0-9]{6}", OTHER_DIGIT)

    def prefilter(self, text: str) -> bool:
        return self._quick.search(text) is not None

    def validate(self, value: str, pattern: Pattern) -> Check:
        m = _LANDLINE_PARTS.fullmatch(value)
        if m is None:
            return Check(False, "shape")
        area = m.group("a1") or m.group("a2")
        local = m.group("local")
        if len(area) == 3 and len(local) != 8:
            return Check(False, "local number length")
        separated = bool(m.group("sep")) or value.startswith("(")
        return Check(True, "area code and length ok", score=0.6 if separated else 0.45)


_LANDLINE_PARTS = re.compile(
    r"(?:\((?P<a1>" + _AREA + r")\)|(?P<a2>" + _AREA + r"))(?P<sep>[ \-]?)"
    r"(?P<local>[2-9]\d{6,7}?)(?:(?:-|转|ext\.?|x|#)\d{1,6})?"
)


_AT = re.compile("@")


class EmailRecognizer(PatternRecognizer):
    """Email addresses; the domain needs a dot and a 2-24 letter top-level domain."""

    name = "email"
    risk = "pii.email"
    patterns = (
        Pattern(
            "email",
            r"(?<![a-z0-9._%+\-])[a-z0-9](?:[a-z0-9._%+\-]{0,62}[a-z0-9_])?@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?![a-z0-9\-])",
            0.85,
        ),
    )
    context_words = ("邮箱", "邮件", "email", "e-mail", "mail")
    context_boost = 0.1
    # The local part's last character, "@", a domain label and the dot after it. The label's
    # length is left unbounded (a relaxation of ``{0,62}``): a bounded repeat cost the whole gate
    # scan ≈ 9 % more, and on a bench shard the same texts pass.
    gate = Gate.any_of(r"[a-z0-9_]@[a-z0-9][a-z0-9\-]*\.[a-z0-9]")

    def prefilter(self, text: str) -> bool:
        return "@" in text

    def analyze(self, text: str) -> list[RecognizerResult]:
        # Search only around each "@": the pattern would otherwise be tried at every letter. The
        # windows are merged so that a run of "@"s (a@a@a@…) is scanned once, not once per "@".
        if not text or "@" not in text:
            return []
        pattern, rx = self._compiled[0]
        ats = (m.start() for m in _AT.finditer(text))
        out: list[RecognizerResult] = []
        for lo, hi in merged_windows(ats, 64, 256, len(text)):
            out.extend(self._scan_window(text, pattern, rx, lo, hi))
        return out

    def validate(self, value: str, pattern: Pattern) -> Check:
        local = value.split("@", 1)[0]
        if ".." in local:
            return Check(False, "consecutive dots")
        return Check(True, "shape ok")
