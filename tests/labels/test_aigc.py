"""The Appendix E label model: JSON shape, field order, character set, first-write rule."""

from __future__ import annotations

import json

import pytest

from hegui.config import Settings
from hegui.labels.aigc import FIELDS, AIGCLabel, LabelError, charset_problem, first_write, propagate


def test_json_shape_and_field_order() -> None:
    lab = first_write("001ABC", "id123")
    s = lab.to_json()
    assert s.startswith(
        '{"AIGC":{"Label":"1","ContentProducer":"001ABC","ProduceID":"id123","ReservedCode1":""'
    )
    assert list(json.loads(s)["AIGC"]) == list(FIELDS)
    assert " " not in s  # compact, as in Appendix E
    assert AIGCLabel.from_json(s) == lab


def test_first_write_rule_copies_producer_into_propagator() -> None:
    lab = first_write("001ABC")
    assert lab.ContentPropagator == lab.ContentProducer
    assert lab.PropagateID == lab.ProduceID
    assert len(lab.ProduceID) == 32


def test_propagate_keeps_producer_fields() -> None:
    lab = first_write("001ABC", "p1").with_fields(ReservedCode1="sig")
    p = propagate(lab, "PLATFORM9", "x9")
    assert (p.ContentProducer, p.ProduceID, p.ReservedCode1) == ("001ABC", "p1", "sig")
    assert (p.ContentPropagator, p.PropagateID) == ("PLATFORM9", "x9")


@pytest.mark.parametrize("bad", ["含中文", "a b", 'a"b', "a\\b", "tab\t"])
def test_charset_rejects(bad: str) -> None:
    assert charset_problem(bad)
    with pytest.raises(LabelError, match="character set"):
        first_write(bad)


def test_charset_allows_escaped_quote_and_ascii() -> None:
    assert charset_problem('a\\"b') is None
    assert charset_problem("001191110102MAD55U9H0F10002!#$%&'()*+,-./:;<=>?@[]^_`{|}~") is None


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"AIGC":{"Label":"1"}}', "lacks required"),
        ('{"AIGC":{"Label":"1","ContentProducer":"a","ProduceID":"b","Extra":"x"}}', "unknown fields"),
        ('{"AIGC":{"Label":1,"ContentProducer":"a","ProduceID":"b"}}', "must be a string"),
    ],
)
def test_from_json_errors(text: str, msg: str) -> None:
    with pytest.raises(LabelError, match=msg):
        AIGCLabel.from_json(text)


def test_problems_lists_every_issue() -> None:
    lab = AIGCLabel(Label="4", ContentProducer="", ProduceID="中")
    probs = lab.problems()
    assert any("Label must be" in p for p in probs)
    assert any("ContentProducer is empty" in p for p in probs)
    assert any("ProduceID:" in p for p in probs)


def test_settings_section_validates_provider_code_and_text() -> None:
    assert Settings(labels={"provider_code": "001X"}).labels.provider_code == "001X"
    with pytest.raises(ValueError, match="provider_code"):
        Settings(labels={"provider_code": "某公司"})
    with pytest.raises(ValueError, match="label_text"):
        Settings(labels={"label_text": "水印"})
    with pytest.raises(ValueError):
        Settings(labels={"text_height": 0.04})  # below the standard's 5 %
