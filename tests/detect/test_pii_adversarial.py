"""Adversarial inputs that made recognisers slow (quadratic rescans); each must stay linear.

Sizes are chosen so the old code took well over the timeout (the email recogniser ~10 s on 1 MB of
``a@a@…``, the private-key recogniser ~15 s on 20,000 headers without END, the address
recogniser ~2 minutes on 1 MB of 路), while the fixed code takes a fraction of a second.
"""

from __future__ import annotations

import pytest

from hegui.detect.pii import PiiDetector
from hegui.detect.pii.recognizers import BUILTIN_RECOGNIZERS
from hegui.text import normalize

MB = 1_000_000


def _rep(unit: str, n: int = MB) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _rec(name: str):  # type: ignore[no-untyped-def]
    return next(cls() for cls in BUILTIN_RECOGNIZERS if cls.name == name)


@pytest.mark.timeout(5)
def test_email_run_of_at_signs_is_linear() -> None:
    rec = _rec("email")
    assert rec.analyze(_rep("a@")) == []
    assert rec.analyze(_rep("a.b@c")) == []


@pytest.mark.timeout(5)
def test_email_still_found_among_many_at_signs() -> None:
    text = _rep("a@", 100_000) + " 邮箱 zhang.san@example.com " + _rep("@b", 100_000)
    found = [text[r.start : r.end] for r in _rec("email").analyze(text)]
    assert found == ["zhang.san@example.com"]


@pytest.mark.timeout(5)
def test_private_key_headers_without_end_are_linear() -> None:
    text = "-----begin rsa private key-----\n" * 40_000
    results = _rec("private_key").analyze(text)
    # Each header with the base64-looking lines after it is one truncated key, reported once.
    assert results and all(r.pattern == "pem_head" for r in results)


@pytest.mark.timeout(5)
def test_private_key_block_after_many_headers() -> None:
    key = "-----begin private key-----\nmiievqibadanbgkqhkig9w0baqefaasc\n-----end private key-----"
    text = "-----begin ec private key-----\n" * 20_000 + "x" * 30_000 + key
    results = _rec("private_key").analyze(text)
    assert [text[r.start : r.end] for r in results if r.pattern == "pem_block"] == [key]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("unit", ["路", "路小区", "小区3栋", "省市区", "区路号"])
def test_address_anchor_runs_are_linear(unit: str) -> None:
    _rec("address").analyze(_rep(unit, MB // 2))


@pytest.mark.timeout(10)
def test_address_still_found_after_anchor_run() -> None:
    text = _rep("路", 200_000) + "。我家住在北京市朝阳区建国路88号"
    found = [text[r.start : r.end] for r in _rec("address").analyze(text)]
    assert found[-1] == "北京市朝阳区建国路88号"


# Crafted 1 MB inputs for every recogniser: long digit runs, repeated context words, repeated
# separators and markers. The whole detector must get through each in a few seconds.
ADVERSARIAL = {
    "digits": "1" * MB,
    "digits_x": _rep("12345678901234567x"),
    "digit_space": _rep("1 "),
    "digit_dash": _rep("1234-"),
    "dots": _rep("1."),
    "ipv4ish": _rep("1.1.1.1."),
    "colons": _rep("a:"),
    "ipv6ish": _rep("ab:"),
    "double_colon": _rep("::"),
    "context_words": _rep("手机电话身份证银行卡"),
    "phone_prefixes": _rep("手机138"),
    "landline": _rep("010-"),
    "plus86": _rep("+86 "),
    "titles": _rep("先生"),
    "cues": _rep("我叫"),
    "assignments": _rep("token="),
    "passwords": _rep("密码是"),
    "jwt": _rep("eyjaaaaaaaaa."),
    "sk": _rep("sk-a"),
    "plates": _rep("京a"),
    "letters": "a" * MB,
    "pem_words": _rep("-----begin a a a a a "),
    "separators": _rep("-"),
    "spaces": " " * MB,
}


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_whole_detector_on_adversarial_megabyte(name: str) -> None:
    norm = normalize(ADVERSARIAL[name])
    for f in PiiDetector().detect(norm):
        assert 0 <= f.start < f.end <= len(norm.text)
