"""Identity documents: resident ID, passport, HK/Macau/Taiwan travel permits, unified social credit code."""

from __future__ import annotations

import datetime as _dt
from typing import ClassVar

from hegui.detect.pii import validators as v
from hegui.detect.pii.gates import OTHER_DIGIT, Gate, digits
from hegui.detect.pii.recognizer import (
    DIGIT_START,
    NOT_ALNUM_AFTER,
    Check,
    Pattern,
    PatternRecognizer,
    alnum_start,
)
from hegui.detect.pii.textfeatures import max_digit_run


class ResidentIdRecognizer(PatternRecognizer):
    """18-digit resident ID (GB 11643): region prefix, birth date, check digit; also the 15-digit form.

    An 18-digit number whose region and birth date are right but whose check digit is wrong is kept
    with a low score (a typo of a real ID is still personal information): it is reported only when
    a context word such as 身份证 is near.
    """

    name = "id_card"
    risk = "pii.id_card"
    patterns = (
        Pattern("id18", DIGIT_START + r"\d{16}[0-9x]" + r"(?![0-9x])", 0.9),
        Pattern("id15", DIGIT_START + r"\d{14}" + r"(?![0-9x])", 0.3),
    )
    context_words = ("身份证", "身份号", "证件号", "公民身份", "居民身份", "id card", "id number", "id no", "sfz")

    def __init__(self, today: _dt.date | None = None) -> None:
        super().__init__()
        self._today = today

    gate = Gate.any_of(digits(15), OTHER_DIGIT)

    def prefilter(self, text: str) -> bool:
        return max_digit_run(text) >= 15

    def validate(self, value: str, pattern: Pattern) -> Check:
        r = v.check_resident_id(value, today=self._today or _dt.date.today(), allow_15=True)
        if r.valid:
            return Check(True, "region, birth date and check digit ok" if r.length == 18 else "region, birth date ok")
        if r.length == 18 and r.region_code and r.birth_date:
            return Check(False, "check digit mismatch", score=0.3)
        return Check(False, r.reason)


class PassportRecognizer(PatternRecognizer):
    """PRC passports: E + 8 digits, E + letter + 7 digits (e-passport), G/P/S/D + digits.

    The bare shape collides with product codes, so the base score is low and context (护照) decides.
    """

    name = "passport"
    risk = "pii.passport"
    patterns = (
        Pattern("e_passport", alnum_start("e") + r"(?:\d{8}|[a-hj-np-z]\d{7})" + NOT_ALNUM_AFTER, 0.35),
        Pattern("g_passport", alnum_start("g") + r"\d{8}" + NOT_ALNUM_AFTER, 0.3),
        Pattern("official", alnum_start("[dps]") + r"e?\d{7}" + NOT_ALNUM_AFTER, 0.2),
    )
    context_words = ("护照", "passport", "证件号", "护照号")
    context_boost = 0.4
    # e + 8 digits, e + letter + 7 digits, g + 8 digits, [dps] + e? + 7 digits.
    gate = Gate.any_of("[degps][a-z]?" + digits(7), OTHER_DIGIT)

    def prefilter(self, text: str) -> bool:
        return max_digit_run(text) >= 7


class HmtPermitRecognizer(PatternRecognizer):
    """Travel permits between the mainland and Hong Kong, Macau and Taiwan.

    往来港澳通行证 C + 8 chars (old W + 8 digits); 港澳居民来往内地通行证 (回乡证) H/M + 8 or 10 digits;
    大陆居民往来台湾通行证 L/T + 8 digits; 台湾居民来往大陆通行证 (台胞证) 8 bare digits, reported only
    with context (an 8-digit number alone is anything).
    """

    name = "hmt_permit"
    risk = "pii.hmt_permit"
    patterns = (
        Pattern("hk_macau_pass", alnum_start("c") + r"[0-9a-hj-np-z]\d{7}" + NOT_ALNUM_AFTER, 0.35),
        Pattern("hk_macau_pass_old", alnum_start("w") + r"\d{8}" + NOT_ALNUM_AFTER, 0.35),
        Pattern("home_return", alnum_start("[hm]") + r"\d{8}(?:\d{2})?" + NOT_ALNUM_AFTER, 0.35),
        Pattern("taiwan_pass", alnum_start("[lt]") + r"\d{8}" + NOT_ALNUM_AFTER, 0.3),
        Pattern("mtp", alnum_start(r"\d") + r"\d{7}(?:\(?[a-z]\)?)?" + NOT_ALNUM_AFTER, 0.0),
    )
    context_words = (
        "通行证", "回乡证", "台胞证", "港澳证", "来往内地", "来往大陆", "往来港澳", "往来台湾", "permit",
        "home return", "mtp",
    )
    context_boost = 0.4
    context_floor = 0.5
    # Each pattern's letter and digits; the bare 8 digits (mtp) with its boundaries: no letter or
    # digit before, no digit after (an 11-digit phone number is not one).
    gate = Gate.any_of(
        "c[0-9a-z]" + digits(7),
        "[hmltw]" + digits(8),
        "(?:^|[^0-9a-z])" + digits(8) + "(?:[^0-9]|$)",
        OTHER_DIGIT,
    )

    def prefilter(self, text: str) -> bool:
        return max_digit_run(text) >= 7

    def validate(self, value: str, pattern: Pattern) -> Check:
        if pattern.name == "mtp":
            # Bare 8 digits: only with context, and not something that reads as a date.
            if value[:2] in ("19", "20") and _looks_like_date(value[:8]):
                return Check(False, "reads as a date")
            return Check(None, "context only")
        return Check(None)


def _looks_like_date(s: str) -> bool:
    try:
        _dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return False
    return True


class UsccRecognizer(PatternRecognizer):
    """Unified social credit code (GB 32100): 18 characters, check character mod 31."""

    name = "uscc"
    risk = "pii.uscc"
    _cls = "[0-9a-hj-np-rtuwxy]"
    patterns = (
        Pattern("uscc", alnum_start(_cls) + f"{_cls}\\d{{6}}{_cls}{{10}}" + NOT_ALNUM_AFTER, 0.85),
    )
    context_words: ClassVar[tuple[str, ...]] = (
        "信用代码", "社会信用", "统一社会", "税号", "纳税人识别号", "营业执照", "credit code", "uscc",
    )
    context_boost = 0.15

    gate = Gate.any_of("[0-9a-z]{2}" + digits(6) + "[0-9a-z]{10}", OTHER_DIGIT)

    def prefilter(self, text: str) -> bool:
        return max_digit_run(text) >= 6

    def validate(self, value: str, pattern: Pattern) -> Check:
        if v.is_valid_uscc(value):
            if value.isdigit():  # an all-digit code is rare; keep it below an ID/card that validates
                return Check(True, "check character ok", score=0.6)
            return Check(True, "check character ok")
        return Check(False, "check character mismatch")
