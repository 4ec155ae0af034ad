"""The Chinese-aware sentence splitter used to check streamed answers piece by piece."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hegui.text import iter_sentences, last_boundary, sentence_spans, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("你好。今天天气很好！是吗？", ["你好。", "今天天气很好！", "是吗？"]),
        ("第一；第二；", ["第一；", "第二；"]),
        ("等一下……然后呢", ["等一下……", "然后呢"]),
        ("等一下…然后", ["等一下…", "然后"]),
        ("第一行\n第二行\n\n第三", ["第一行\n", "第二行\n\n", "第三"]),
        ("真的吗？！当然。", ["真的吗？！", "当然。"]),
        ("Hello world. This is fine! Really? yes", ["Hello world. ", "This is fine! ", "Really? ", "yes"]),
        ("wait... what", ["wait... ", "what"]),
        ("他说：“走吧。”然后走了。", ["他说：“走吧。”", "然后走了。"]),
        ("（注意！）下一句", ["（注意！）", "下一句"]),
        ("《书名》很好。", ["《书名》很好。"]),
    ],
)
def test_split(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


@pytest.mark.parametrize("text", ["价格是3.5元。", "版本 v1.2.3 已发布。", "pi is 3.14159 exactly.", "www.example.com 可以访问。"])
def test_decimal_points_and_dotted_names_do_not_split(text: str) -> None:
    assert split_sentences(text) == [text]


def test_no_boundary_and_empty() -> None:
    assert split_sentences("") == []
    assert sentence_spans("没有结束") == [(0, 4)]
    assert last_boundary("没有结束") == 0
    assert last_boundary("") == 0


def test_last_boundary_for_streaming() -> None:
    assert last_boundary("你好。今天") == 3
    assert last_boundary("你好。今天很好！") == 8
    assert last_boundary("Hello. Wor") == 7
    assert last_boundary("line one\nline") == 9
    assert last_boundary("3.5") == 0  # a decimal point is not the end of a sentence


def test_iter_sentences_regroups_chunks() -> None:
    chunks = ["你", "好。今", "天天气很", "好！是", "吗"]
    assert list(iter_sentences(iter(chunks))) == ["你好。", "今天天气很好！", "是吗"]


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list("你好a. 。！？；…\n”」)3")), max_size=80))
def test_spans_tile_the_text(text: str) -> None:
    spans = sentence_spans(text)
    assert "".join(text[s:e] for s, e in spans) == text
    assert all(e > s for s, e in spans)
    assert 0 <= last_boundary(text) <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("你好ab. 。！？\n")), max_size=60), st.lists(st.integers(1, 7), max_size=20))
def test_streaming_loses_nothing(text: str, cuts: list[int]) -> None:
    chunks, pos = [], 0
    for c in cuts:
        chunks.append(text[pos : pos + c])
        pos += c
    chunks.append(text[pos:])
    assert "".join(iter_sentences(iter(chunks))) == text


@pytest.mark.timeout(20)
def test_streaming_a_long_unpunctuated_text_is_linear() -> None:
    chunks = ["字" * 7] * 60_000  # 420,000 characters, no boundary until the end
    out = list(iter_sentences(iter([*chunks, "。结束"])))
    assert out == ["字" * 420_000 + "。", "结束"]
