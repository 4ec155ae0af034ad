"""The pure validators that the identity module reuses: ID, mobile, Luhn, USCC."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hegui.detect.pii import validators as v

TODAY = dt.date(2026, 6, 1)


def test_id_check_char_known_vector() -> None:
    # GB 11643 worked example: 11010519491231002 → X
    assert v.id_check_char("11010519491231002") == "X"
    assert v.is_valid_resident_id("11010519491231002X", today=TODAY)
    assert v.is_valid_resident_id("11010519491231002x", today=TODAY)


def test_check_resident_id_derives_birth_sex_region_age() -> None:
    idn = v.make_resident_id("440305", dt.date(2010, 7, 15), 124)
    r = v.check_resident_id(idn, today=TODAY)
    assert r.valid and r.reason == "ok" and r.checksum_ok
    assert r.birth_date == dt.date(2010, 7, 15)
    assert r.sex == "female"
    assert r.region_code == "440305" and r.province == "广东省"
    assert r.age(TODAY) == 15 and r.is_minor(TODAY) is True
    assert r.is_minor(dt.date(2028, 7, 15)) is False


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("110105199003071230", "check digit mismatch"),
        ("990105199003071235", "unknown region code"),
        ("110000199003071235", "unknown region code"),
        ("110105199002301235", "invalid birth date"),
        ("110105189912311235", "birth date out of range"),
        ("12345", "wrong length or characters"),
        ("11010519900307123a", "wrong length or characters"),
    ],
)
def test_check_resident_id_reasons(value: str, reason: str) -> None:
    r = v.check_resident_id(value, today=TODAY)
    assert not r.valid
    assert reason in r.reason
    assert value not in r.reason  # reasons never echo the number


def test_future_birth_date_is_invalid() -> None:
    idn = v.make_resident_id("110105", dt.date(2027, 1, 1), 1)
    assert not v.check_resident_id(idn, today=TODAY).valid
    assert v.check_resident_id(idn, today=dt.date(2027, 1, 2)).valid


def test_fifteen_digit_form_and_upgrade() -> None:
    old = "110105900307123"
    r = v.check_resident_id(old, today=TODAY)
    assert r.valid and r.length == 15 and r.checksum_ok is None
    assert r.birth_date == dt.date(1990, 3, 7)
    new = v.id15_to_18(old)
    assert len(new) == 18 and v.is_valid_resident_id(new, today=TODAY)
    assert not v.is_valid_resident_id(old, today=TODAY)  # 15 digits only when asked
    assert v.is_valid_resident_id(old, today=TODAY, allow_15=True)


def test_permit_regions() -> None:
    assert v.region_valid("810000") and v.region_valid("830000")
    assert not v.region_valid("810101")
    assert v.region_name("810000", "en") == "Hong Kong"


def test_age_on_leap_day() -> None:
    b = dt.date(2008, 2, 29)
    assert v.age_on(b, dt.date(2026, 2, 28)) == 17
    assert v.age_on(b, dt.date(2026, 3, 1)) == 18


@pytest.mark.parametrize(
    "value", ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "8613812345678", "199 9832 1312", "(+86)13812345678"]
)
def test_valid_mobiles(value: str) -> None:
    assert v.is_valid_mobile(value)
    assert v.normalize_mobile(value) in ("13812345678", "19998321312")


@pytest.mark.parametrize("value", ["12812345678", "14012345678", "15412345678", "1381234567", "138123456789", "1６８"])
def test_invalid_mobiles(value: str) -> None:
    assert not v.is_valid_mobile(value)


def test_luhn() -> None:
    assert v.luhn_valid("4111111111111111")
    assert not v.luhn_valid("4111111111111112")
    assert not v.luhn_valid("")
    assert not v.luhn_valid("41111x")
    body = "622202123456789012"
    card = body + v.luhn_check_digit(body)
    assert v.is_valid_bank_card(card) and v.is_valid_bank_card(" ".join([card[:4], card[4:8], card[8:]]))
    assert not v.is_valid_bank_card("4111111111111")  # too short


def test_uscc() -> None:
    code = v.make_uscc("91350100M000100Y4")
    assert code == "91350100M000100Y43"
    assert v.is_valid_uscc(code) and v.is_valid_uscc(code.lower())
    assert not v.is_valid_uscc(code[:-1] + "4")
    assert not v.is_valid_uscc("91350100M000100YI3")  # I is not in the alphabet
    with pytest.raises(ValueError):
        v.uscc_check_char("short")


@given(st.text(max_size=40))
def test_validators_never_crash(s: str) -> None:
    v.check_resident_id(s, today=TODAY)
    v.is_valid_mobile(s)
    v.luhn_valid(s)
    v.is_valid_bank_card(s)
    v.is_valid_uscc(s)
    v.region_valid(s)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), st.integers(0, 999))
def test_generated_ids_validate(birth: dt.date, seq: int) -> None:
    idn = v.make_resident_id("320102", birth, seq)
    r = v.check_resident_id(idn, today=TODAY)
    assert r.valid and r.birth_date == birth
    assert r.is_minor(TODAY) == (v.age_on(birth, TODAY) < 18)


def test_other_script_digits_in_an_id_are_a_checksum_mismatch_not_a_crash() -> None:
    # \d takes Arabic-Indic and other digits, and normalisation keeps them: the check digit used
    # to raise on them, failing the whole request closed.
    idn = v.make_resident_id("110105", dt.date(1990, 3, 7), 123)
    odd = idn[:15] + "٣" + idn[16:]  # in the sequence number: region and birth date stay valid
    r = v.check_resident_id(odd, today=TODAY)
    assert not r.valid and r.checksum_ok is False and "check digit mismatch" in r.reason
    from hegui.detect.pii import PiiDetector
    from hegui.text import normalize

    found = PiiDetector().detect(normalize(f"身份证号{odd}"))
    assert [(f.risk, round(f.score, 2)) for f in found] == [("pii.id_card", 0.65)]  # 0.3 + context
