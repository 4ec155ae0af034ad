"""The language guess that picks the refusal language."""

from __future__ import annotations

import pytest

from hegui.text import guess_lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("今天天气很好", "zh"),
        ("How is the weather today?", "en"),
        ("帮我写一个 Python function", "zh"),
        ("Please translate 你好 into English for me now", "en"),
        ("", "zh"),
        ("12345 !!!", "zh"),
    ],
)
def test_guess(text: str, lang: str) -> None:
    assert guess_lang(text) == lang


def test_default_when_nothing_to_go_on() -> None:
    assert guess_lang("", default="en") == "en"
