"""Property tests: the recognisers never crash, and every span stays inside the text."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.pii import PiiDetector
from hegui.detect.pii.validators import make_resident_id
from hegui.text import normalize

DET = PiiDetector(min_score=0.0)

# Characters that exercise the patterns: digits (ASCII and full-width), separators, letters used by
# passports/plates/keys, CJK cue words, and odd code points.
_ALPHABET = st.sampled_from(
    list("0123456789０１２３４５６７８９ -.:@+()xXeEaAkKsS_#/=")
    + list("京粤路号栋室身份证手机我叫王先生护照通行证")
    + ["\u200b", "\ud800", "\x00", "\n", "ß", "ﬁ", "㍿"]
)
_TEXTS = st.one_of(st.text(max_size=200), st.text(_ALPHABET, max_size=200))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_never_crash_and_spans_inside(text: str) -> None:
    norm = normalize(text)
    for f in DET.detect(norm):
        assert 0 <= f.start < f.end <= len(norm.text)
        assert 0.0 <= f.score <= 1.0
        s, e = norm.to_original(f.start, f.end)
        assert 0 <= s <= e <= len(text)


@settings(max_examples=100, deadline=None)
@given(
    st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2020, 12, 31)),
    st.integers(0, 999),
    st.text(st.sampled_from(list("的了是我你他，。好")), max_size=10),
    st.text(st.sampled_from(list("的了是我你他，。好")), max_size=10),
)
def test_generated_ids_found_anywhere_in_chinese(birth: dt.date, seq: int, pre: str, post: str) -> None:
    idn = make_resident_id("420106", birth, seq)
    norm = normalize(pre + idn + post)
    ids = [norm.text[f.start : f.end] for f in DET.detect(norm) if f.risk == "pii.id_card"]
    assert ids == [idn.lower()]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 9), st.integers(1, 9))
def test_id_inside_a_digit_run_never_matches(a: int, b: int) -> None:
    idn = make_resident_id("420106", dt.date(1999, 9, 9), 10)
    norm = normalize(f"{a}{idn}{b}")
    assert not [f for f in DET.detect(norm) if f.risk == "pii.id_card"]
