"""The PII recognisers end to end through `Guard`: spans mapped to the original, redaction operators."""

from __future__ import annotations

import datetime as dt

import pytest

from hegui.config import Settings
from hegui.detect.pii import PiiDetector
from hegui.detect.pii.validators import make_resident_id
from hegui.guard import Guard
from hegui.policy import Action, Policy, RedactOperator, Rule

ID = make_resident_id("310104", dt.date(1985, 11, 2), 457)


def guard(op: RedactOperator = RedactOperator.TAG, key: bytes = b"test-key", **pii: object) -> Guard:
    policy = Policy(
        name="pii-test",
        rules=[
            Rule(risk="pii.*", input=Action.REDACT, output=Action.REDACT, redact=op),
            Rule(risk="hg.secret", input=Action.REDACT, output=Action.REDACT, redact=op),
        ],
    )
    return Guard([PiiDetector(**pii)], policy, hash_key=key)  # type: ignore[arg-type]


def test_tags_replace_values_in_the_original() -> None:
    text = f"我叫王小明，身份证{ID}，手机１３８ １２３４ ５６７８。"
    v = guard().check(text)
    assert v.action is Action.REDACT
    assert v.redacted == "我叫<PERSON_NAME>，身份证<ID_CARD>，手机<MOBILE>。"
    spans = {f.risk: text[f.start : f.end] for f in v.findings}
    assert spans["pii.mobile"] == "１３８ １２３４ ５６７８"  # full-width original, mapped back
    assert spans["pii.id_card"] == ID


def test_traditional_and_zero_width_are_mapped_back() -> None:
    text = "手機號：138\u200b1234\u200b5678，謝謝"
    v = guard().check(text)
    assert v.redacted == "手機號：<MOBILE>，謝謝"


def test_mask_keeps_only_a_few_characters() -> None:
    text = f"身份证{ID}"
    v = guard(RedactOperator.MASK).check(text)
    masked = v.redacted.removeprefix("身份证")
    assert len(masked) == len(ID) and ID not in v.redacted
    assert masked[:3] == ID[:3] and masked[-4:] == ID[-4:]
    assert masked.count("*") >= len(ID) - 7


def test_hash_is_keyed_and_stable() -> None:
    text = "手机13812345678，备用13812345678"
    a = guard(RedactOperator.HASH, b"k1").check(text).redacted
    b = guard(RedactOperator.HASH, b"k1").check("联系13812345678").redacted
    c = guard(RedactOperator.HASH, b"k2").check(text).redacted
    assert "13812345678" not in a
    tok = a.split("，")[0].removeprefix("手机")
    assert tok.startswith("<MOBILE:") and a.count(tok) == 2
    assert tok in b  # stable across calls
    assert tok not in c  # depends on the key


def test_drop_removes_the_value() -> None:
    v = guard(RedactOperator.DROP).check("邮箱 zs@example.com 谢谢")
    assert v.redacted == "邮箱  谢谢"


def test_secrets_redacted_as_secret_tag() -> None:
    v = guard().check("export OPENAI_API_KEY=sk-proj-Abc123Def456Ghi789Jkl012Mno345")
    assert "<SECRET>" in v.redacted and "Abc123" not in v.redacted


def test_disable_a_recogniser_through_settings() -> None:
    s = Settings(
        pii={"disabled": ["person_name"], "min_score": 0.5}, guard={"detectors": ["pii"]}, secret_key="test-key"
    )
    g = Guard.from_settings(s)
    v = g.check("我叫王小明，手机13812345678")
    assert [f.risk for f in v.findings] == ["pii.mobile"]


def test_default_preset_redacts_pii() -> None:
    g = Guard([PiiDetector()], "interim-2023")
    v = g.check(f"身份证号码：{ID}")
    assert v.action is Action.REDACT and v.redacted == "身份证号码：<ID_CARD>"


@pytest.mark.parametrize("text", ["", "\x00\x01", "\ud800abc", "a" * 10, "１" * 500, "\u200b" * 50])
def test_odd_input_gives_a_verdict(text: str) -> None:
    v = guard().check(text)
    assert v.error is None
