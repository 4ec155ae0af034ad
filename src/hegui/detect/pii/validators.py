"""Pure validation functions for Chinese identifiers: no regexes over free text, no I/O.

Why a separate module: the PII recognisers use these to tell a real identifier from a random digit
run, and the real-name identity module reuses the same functions (ID checksum, birth date, age and
the minor flag, region, mobile format), so one fix serves both. Every function takes the bare value
(case and separators are tolerated where the format allows) and never logs it.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

# -- resident identity card (GB 11643-1999) -----------------------------------------------------

# Province-level region codes (GB/T 2260 first two digits). 71 = Taiwan, 81/82 = Hong Kong/Macau
# (residence permits for HK/Macau/Taiwan residents use 810000/820000/830000).
PROVINCES: dict[str, tuple[str, str]] = {
    "11": ("北京市", "Beijing"),
    "12": ("天津市", "Tianjin"),
    "13": ("河北省", "Hebei"),
    "14": ("山西省", "Shanxi"),
    "15": ("内蒙古自治区", "Inner Mongolia"),
    "21": ("辽宁省", "Liaoning"),
    "22": ("吉林省", "Jilin"),
    "23": ("黑龙江省", "Heilongjiang"),
    "31": ("上海市", "Shanghai"),
    "32": ("江苏省", "Jiangsu"),
    "33": ("浙江省", "Zhejiang"),
    "34": ("安徽省", "Anhui"),
    "35": ("福建省", "Fujian"),
    "36": ("江西省", "Jiangxi"),
    "37": ("山东省", "Shandong"),
    "41": ("河南省", "Henan"),
    "42": ("湖北省", "Hubei"),
    "43": ("湖南省", "Hunan"),
    "44": ("广东省", "Guangdong"),
    "45": ("广西壮族自治区", "Guangxi"),
    "46": ("海南省", "Hainan"),
    "50": ("重庆市", "Chongqing"),
    "51": ("四川省", "Sichuan"),
    "52": ("贵州省", "Guizhou"),
    "53": ("云南省", "Yunnan"),
    "54": ("西藏自治区", "Tibet"),
    "61": ("陕西省", "Shaanxi"),
    "62": ("甘肃省", "Gansu"),
    "63": ("青海省", "Qinghai"),
    "64": ("宁夏回族自治区", "Ningxia"),
    "65": ("新疆维吾尔自治区", "Xinjiang"),
    "71": ("台湾省", "Taiwan"),
    "81": ("香港特别行政区", "Hong Kong"),
    "82": ("澳门特别行政区", "Macau"),
    "83": ("台湾地区(居住证)", "Taiwan (residence permit)"),
}
# Codes used only by residence permits, where the rest of the region code is zeros.
_PERMIT_PROVINCES = frozenset({"81", "82", "83"})

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_EARLIEST_BIRTH = _dt.date(1900, 1, 1)
ADULT_AGE = 18


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def region_valid(code: str) -> bool:
    """Whether a 6-digit administrative code has a known province and a plausible shape.

    The full GB/T 2260 county list changes every year and is not shipped; the province prefix is
    checked exactly, and prefecture/county digits of ``0000`` are only accepted for the HK, Macau and
    Taiwan residence-permit codes.
    """
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    prov = code[:2]
    if prov not in PROVINCES:
        return False
    if prov in _PERMIT_PROVINCES:
        return code[2:] == "0000"
    return code[2:] != "0000"


def region_name(code: str, lang: str = "zh") -> str | None:
    """The province-level name for a region code, or ``None`` when unknown."""
    p = PROVINCES.get(code[:2])
    if p is None:
        return None
    return p[0] if lang.startswith("zh") else p[1]


def _parse_date(yyyymmdd: str) -> _dt.date | None:
    try:
        return _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def age_on(birth: _dt.date, on: _dt.date) -> int:
    """Completed years between ``birth`` and ``on`` (a birthday on 29 Feb counts on 1 Mar)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years


@dataclass(frozen=True, slots=True)
class ResidentId:
    """The outcome of checking a resident ID number.

    ``reason`` says why it is invalid in words safe to log (it never contains the number). The
    derived fields are ``None`` when the part they come from is invalid.
    """

    valid: bool
    reason: str
    length: int
    region_code: str | None = None
    birth_date: _dt.date | None = None
    sex: str | None = None  # "male" / "female", from the parity of the sequence code
    checksum_ok: bool | None = None  # None for the 15-digit form, which has no check digit

    @property
    def province(self) -> str | None:
        return region_name(self.region_code) if self.region_code else None

    def age(self, on: _dt.date | None = None) -> int | None:
        if self.birth_date is None:
            return None
        return age_on(self.birth_date, on or _dt.date.today())

    def is_minor(self, on: _dt.date | None = None) -> bool | None:
        """True under 18 on ``on`` (today by default); ``None`` when the birth date is unknown."""
        a = self.age(on)
        return None if a is None else a < ADULT_AGE


_ID18 = re.compile(r"\d{17}[\dXx]")
_ID15 = re.compile(r"\d{15}")


def check_resident_id(value: str, *, today: _dt.date | None = None, allow_15: bool = True) -> ResidentId:
    """Check an 18-digit (or old 15-digit) resident ID: region, birth date, check digit.

    Spaces and hyphens are ignored; ``x`` and ``X`` are both accepted as the check character. The
    birth date must exist, be on or after 1900-01-01 and not be after ``today``.
    """
    today = today or _dt.date.today()
    v = value.replace(" ", "").replace("-", "")
    n = len(v)
    if n == 18 and _ID18.fullmatch(v):
        region, birth_s, seq = v[:6], v[6:14], v[14:17]
    elif n == 15 and allow_15 and _ID15.fullmatch(v):
        region, birth_s, seq = v[:6], "19" + v[6:12], v[12:15]
    else:
        return ResidentId(False, "wrong length or characters", n)
    region_ok = region_valid(region)
    birth = _parse_date(birth_s)
    birth_ok = birth is not None and _EARLIEST_BIRTH <= birth <= today
    sex = "male" if int(seq[-1]) % 2 else "female"
    checksum_ok: bool | None = None
    if n == 18:
        # ``\d`` also takes other scripts' digits (Arabic-Indic ٣, Bengali ৩…), which normalisation
        # keeps: such a value cannot carry a valid check digit (the checksum is defined on ASCII
        # digits), and computing it raised, which failed the whole request closed.
        checksum_ok = v[:17].isascii() and id_check_char(v[:17]) == v[17].upper()
    problems = []
    if not region_ok:
        problems.append("unknown region code")
    if not birth_ok:
        problems.append("invalid birth date" if birth is None else "birth date out of range")
    if checksum_ok is False:
        problems.append("check digit mismatch")
    return ResidentId(
        valid=not problems,
        reason="; ".join(problems) or "ok",
        length=n,
        region_code=region if region_ok else None,
        birth_date=birth if birth_ok else None,
        sex=sex,
        checksum_ok=checksum_ok,
    )


def is_valid_resident_id(value: str, *, today: _dt.date | None = None, allow_15: bool = False) -> bool:
    """Shorthand for ``check_resident_id(...).valid``; 18-digit only unless ``allow_15``."""
    return check_resident_id(value, today=today, allow_15=allow_15).valid


def id15_to_18(value: str) -> str:
    """Upgrade an old 15-digit ID to the 18-digit form (century 19, computed check digit)."""
    if not _ID15.fullmatch(value):
        raise ValueError("need exactly 15 ASCII digits")
    first17 = value[:6] + "19" + value[6:]
    return first17 + id_check_char(first17)


def make_resident_id(region: str, birth: _dt.date, seq: int) -> str:
    """Build a checksum-valid 18-digit ID (for tests and synthetic data; not a real person's)."""
    if not (0 <= seq <= 999):
        raise ValueError("seq must be 0..999")
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


# -- mobile numbers -----------------------------------------------------------------------------

# Three-digit prefixes allocated to mobile voice/SMS service by MIIT (China Mobile, Unicom, Telecom,
# Broadnet, MVNOs 170/171/167/162/165). 140-144 are 13-digit IoT numbers and 154/160/161/163/164/
# 168/169/179/194 are unallocated, so they are excluded.
MOBILE_PREFIXES: frozenset[str] = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "146", "147", "148", "149"]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["162", "165", "166", "167"]
    + ["170", "171", "172", "173", "174", "175", "176", "177", "178"]
    + [f"18{d}" for d in range(10)]
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
)

_MOBILE_STRIP = re.compile(r"[\s\-()（）.]")


def normalize_mobile(value: str) -> str | None:
    """The bare 11-digit mobile number, or ``None`` when ``value`` is not a valid one.

    Accepts ``+86``/``0086``/``86`` prefixes and spaces, hyphens, dots and brackets as separators.
    """
    v = _MOBILE_STRIP.sub("", value)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    elif v.startswith("86") and len(v) == 13:
        v = v[2:]
    if len(v) != 11 or not v.isascii() or not v.isdigit():
        return None
    return v if v[:3] in MOBILE_PREFIXES else None


def is_valid_mobile(value: str) -> bool:
    """Whether ``value`` is a mainland mobile number with an allocated prefix."""
    return normalize_mobile(value) is not None


# -- bank cards ---------------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by bank cards (ISO/IEC 7812)."""
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` pass the Luhn check."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise ValueError("need ASCII digits")  # unreachable for digit input


def is_valid_bank_card(value: str) -> bool:
    """16-19 digits (spaces/hyphens ignored) passing the Luhn check."""
    v = value.replace(" ", "").replace("-", "")
    return 16 <= len(v) <= 19 and luhn_valid(v)


# -- unified social credit code (GB 32100-2015) -------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters (case-insensitive)."""
    s = first17.upper()
    if len(s) != 17 or any(c not in _USCC_VALUE for c in s):
        raise ValueError("need 17 characters from the GB 32100 alphabet")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(s, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """Whether an 18-character unified social credit code has a valid shape and check character."""
    s = value.upper()
    if len(s) != 18 or any(c not in _USCC_VALUE for c in s):
        return False
    if not s[2:8].isdigit():  # the administrative division code
        return False
    return uscc_check_char(s[:17]) == s[17]


def make_uscc(first17: str) -> str:
    """Complete 17 characters into a valid code (for tests and synthetic data)."""
    return first17.upper() + uscc_check_char(first17)


__all__ = [
    "ADULT_AGE",
    "MOBILE_PREFIXES",
    "PROVINCES",
    "USCC_ALPHABET",
    "ResidentId",
    "age_on",
    "check_resident_id",
    "id15_to_18",
    "id_check_char",
    "is_valid_bank_card",
    "is_valid_mobile",
    "is_valid_resident_id",
    "is_valid_uscc",
    "luhn_check_digit",
    "luhn_valid",
    "make_resident_id",
    "make_uscc",
    "normalize_mobile",
    "region_name",
    "region_valid",
]
