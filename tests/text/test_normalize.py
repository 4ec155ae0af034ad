"""Normalisation against evasion: what it undoes, and that every span maps back to the original."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hegui.text import NormalizedText, TextTooLargeError, normalize, normalize_term

# -- evasion cases -------------------------------------------------------------------------------

PHRASE = "法轮功"


@pytest.mark.parametrize(
    "evaded",
    [
        "法*轮*功",
        "法 轮 功",
        "法.轮.功",
        "法-轮_功",
        "法★轮☆功",
        "法·轮•功",
        "法\u3000轮\u3000功",  # ideographic space
        "法 ** 轮 ~~ 功",  # runs of several noise characters
        "法輪功",  # traditional
        "法\u200b轮\u200d功",  # zero-width space / joiner
        "法\ufeff轮\u2060功",  # BOM, word joiner
        "法\u00ad轮\u034f功",  # soft hyphen, combining grapheme joiner
        "法\u202e轮\u202c功",  # bidi controls
        "法\x00轮\x07功",  # C0 controls
        "法*輪\u200b 功",  # combined
    ],
)
def test_evaded_chinese_phrase_normalises_to_the_phrase(evaded: str) -> None:
    norm = normalize(evaded)
    assert PHRASE in norm.text
    start = norm.text.index(PHRASE)
    s, e = norm.to_original(start, start + len(PHRASE))
    # The mapped span covers the whole evaded phrase, first to last character.
    assert evaded[s] == "法"
    assert evaded[e - 1] in "功"
    assert (s, e) == (0, len(evaded))


@pytest.mark.parametrize(
    ("evaded", "expected"),
    [
        ("ＦＡＬＵＮ　ＧＯＮＧ", "falun gong"),  # full-width letters and space
        ("FaLuN", "falun"),  # case
        ("раураl", "paypal"),  # Cyrillic look-alikes
        ("αρple", "apple"),  # Greek look-alikes
        ("ᴘᴀʏᴘᴀʟ", "paypal"),  # small capitals
        ("ｆａｌｕｎ\u200bgong", "falungong"),
        ("①②③", "123"),  # enclosed digits (NFKC)
        ("ﬁle", "file"),  # ligature
        ("Straße", "strasse"),  # case folding expands
    ],
)
def test_latin_evasions(evaded: str, expected: str) -> None:
    assert normalize(evaded).text == expected


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("s3x", "sex"),
        ("pr0n", "pron"),
        ("h@ck", "hack"),
        ("p4ssw0rd", "password"),
        ("$hit", "shit"),
        ("@ss", "ass"),
        ("h@", "ha"),
    ],
)
def test_leet_is_undone_in_folded_only(text: str, folded: str) -> None:
    norm = normalize(text)
    assert norm.text == text.lower()  # `text` keeps digits: phone numbers and IDs must survive
    assert norm.folded == folded
    assert len(norm.folded) == len(norm.text)  # same offsets


@pytest.mark.parametrize("text", ["13812345678", "身份证110101199003071234", "价格 100 元", "2024年5月3日", "v 2.0"])
def test_leet_leaves_numbers_alone(text: str) -> None:
    norm = normalize(text)
    assert norm.folded == norm.text


def test_sentence_punctuation_is_kept_between_cjk() -> None:
    # Removing ，。 would join two sentences and let a keyword match across the boundary.
    assert normalize("法，轮。功").text == "法，轮。功"


def test_noise_only_between_cjk_and_only_short_runs() -> None:
    assert normalize("a b").text == "a b"
    assert normalize("法 a 轮").text == "法 a 轮"
    assert normalize("法" + " " * 6 + "轮").text == "法" + " " * 6 + "轮"  # a long gap is layout
    assert normalize("法\n轮").text == "法\n轮"  # newlines are structure


def test_identity_map_when_nothing_changes() -> None:
    norm = normalize("今天天气很好")
    assert norm.is_identity
    assert norm.to_original(2, 4) == (2, 4)


def test_expansion_maps_back_whole() -> None:
    norm = normalize("ab㍿cd")  # ㍿ → 株式会社
    assert norm.text == "ab株式会社cd"
    assert norm.to_original(3, 4) == (2, 3)  # 式 comes from ㍿
    assert norm.original_span(2, 6) == "㍿"
    assert norm.original_span(6, 8) == "cd"


def test_normalize_term_matches_text_normalisation() -> None:
    assert normalize_term("法輪功") == "法轮功"
    assert normalize_term("ＦＡＬＵＮ") == "falun"


# -- odd input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "\ud800", "a\udfffb", "\x00\x01\x02", "\u200b" * 10, "\U0010ffff", "\ufffd", "\r\n\t", "️"],
)
def test_odd_input_does_not_crash(text: str) -> None:
    norm = normalize(text)
    assert isinstance(norm, NormalizedText)
    for i in range(len(norm.text)):
        s, e = norm.to_original(i, i + 1)
        assert 0 <= s < e <= len(text)


def test_lone_surrogate_becomes_replacement_character() -> None:
    norm = normalize("法\ud800轮")
    assert norm.text == "法\ufffd轮"
    assert norm.to_original(1, 2) == (1, 2)
    norm.text.encode("utf-8")  # the normalised text is always encodable


def test_bytes_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="decode bytes first"):
        normalize(b"abc")  # type: ignore[arg-type]


def test_max_chars() -> None:
    with pytest.raises(TextTooLargeError, match="limit"):
        normalize("a" * 11, max_chars=10)
    assert normalize("a" * 10, max_chars=10).text == "a" * 10


@pytest.mark.timeout(60)
def test_ten_megabytes() -> None:
    text = ("法*轮 功\u200bＡＢＣ我的电话是13812345678。" * 400_000)[:10_000_000]
    norm = normalize(text)
    assert norm.text.startswith("法轮功abc")
    n = len(norm.text)
    s, e = norm.to_original(n - 5, n)
    assert 0 <= s < e <= len(text)


# -- properties ----------------------------------------------------------------------------------

# Characters that exercise every branch: CJK (simplified, traditional), noise symbols, invisible
# characters, full-width and look-alike letters, expansions, surrogates, controls, newlines.
_INTERESTING = st.sampled_from(
    [
        *"法轮功輪國我你，。！？abcABC019 *.-_·★~|/\\\n\t\r",
        "\u200b", "\u200d", "\ufeff", "\u00ad", "\u3000", "\ud800", "\udfff", "\x00", "\x7f", "\u202e",
        "Ａ", "ａ", "１", "а", "ο", "ᴀ", "ß", "ﬁ", "㍿", "①", "\U00020000", "\ufe0f", "\u0301",
    ]
)
TEXTS = st.one_of(st.text(max_size=300), st.text(_INTERESTING, max_size=300))
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS)
def test_never_crashes_and_every_span_maps_inside(text: str) -> None:
    norm = normalize(text)
    n = len(norm.text)
    assert len(norm.folded) == n
    m = norm._index_map() if not norm.is_identity else None
    if m is not None:
        assert len(m) == n + 1
        assert all(m[i] <= m[i + 1] for i in range(n))  # monotone: order is preserved
    for i in range(n):
        s, e = norm.to_original(i, i + 1)
        assert 0 <= s < e <= len(text)
    # Whole text and empty spans, including out-of-range requests (clamped, never an error).
    s, e = norm.to_original(0, n)
    assert 0 <= s <= e <= len(text)
    assert norm.to_original(-5, n + 10) == norm.to_original(0, n)
    s, e = norm.to_original(n, n)
    assert 0 <= s == e <= len(text)


@SETTINGS
@given(TEXTS, st.data())
def test_mapped_span_holds_the_normalised_characters(text: str, data: st.DataObject) -> None:
    """Redacting the mapped original span removes exactly the characters the finding covered."""
    norm = normalize(text)
    n = len(norm.text)
    assume(n > 0)
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(start + 1, n))
    s, e = norm.to_original(start, end)
    assert 0 <= s < e <= len(text)
    # The original span, normalised on its own, contains what the detector saw.
    assert norm.text[start:end] in normalize(text[s:e]).text
    # Redacting original[s:e] destroys nothing the detector did not cover: every normalised
    # character outside [start, end) comes from outside [s, e), unless one original character
    # expanded into characters on both sides of the edge (㍿ → 株式会社, cut in the middle).
    first, last = norm.to_original(start, start + 1)[0], norm.to_original(end - 1, end)[0]
    for i in range(n):
        if start <= i < end:
            continue
        o = norm.to_original(i, i + 1)[0]
        assert not (s <= o < e) or o in (first, last), (i, o, s, e)


@SETTINGS
@given(st.text(max_size=200))
def test_normalisation_is_idempotent_enough(text: str) -> None:
    """Normalising twice changes nothing more (except leet, which only `folded` applies)."""
    once = normalize(text).text
    assert normalize(once).text == once
