"""Gate clauses as per-part conditions: `PatternRecognizer.analyze_clauses` and the detector's plans.

A recogniser that declares ``analyze_clauses`` (names: cue vs title; address: road vs estate; IP:
IPv4 vs IPv6) skips the parts whose gate clauses fail. It must return exactly what ``analyze``
returns on every text its gate lets through, and the detector's memoised plans must run exactly
the recognisers the gates pass.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.pii import PiiDetector, RecognizerResult, resolve_overlaps
from hegui.detect.pii import detector as detector_mod
from hegui.detect.pii import gates as gates_mod
from hegui.detect.pii.gates import Gate, GateSet
from hegui.detect.pii.recognizer import Pattern, PatternRecognizer
from hegui.detect.pii.recognizers import (
    AddressRecognizer,
    IpRecognizer,
    MobileRecognizer,
    PersonNameRecognizer,
)
from hegui.text import normalize

from . import pii_samples as samples

DET = PiiDetector(min_score=0.0)
AWARE = {"person_name", "address", "ip_address"}


def _clauses_equal_analyze(texts: list[str]) -> int:
    """On every text a clause-aware recogniser's gate passes, ``analyze_clauses`` == ``analyze``."""
    state = DET._state()
    recs, gates = state.recs, state.gates
    aware = [i for i, r in enumerate(recs) if state._aware[i]]
    assert {recs[i].name for i in aware} == AWARE
    found_any = 0
    strs = [s for t in texts for s in (t, normalize(t).text)]
    for s, found, plan in zip(strs, gates.found_many(strs), state.plans(strs), strict=True):
        runs = gates.runs(found)
        assert runs == gates.passes(s)
        # The plan runs exactly the recognisers that pass, in order, told their clauses.
        assert [r.name for r, _ in plan] == [r.name for i, r in enumerate(recs) if runs >> i & 1]
        for i in aware:
            rec = recs[i]
            clauses = gates.clauses(i, found)
            assert (clauses != 0) == bool(runs >> i & 1)
            if clauses:
                want = rec.analyze(s)
                assert rec.analyze_clauses(s, clauses) == want, (rec.name, clauses, s)
                found_any += bool(want)
                # Telling it every clause holds is plain `analyze`.
                assert rec.analyze_clauses(s, (1 << len(type(rec).gate.clauses)) - 1) == want
    return found_any


def test_clauses_equal_analyze_on_planted_random_texts() -> None:
    assert _clauses_equal_analyze(samples.random_texts(1500)) > 300


@pytest.mark.skipif(not (samples.DATA / "cold" / "train.csv").exists(), reason="shared data not present")
def test_clauses_equal_analyze_on_real_texts_with_planted_pii() -> None:
    assert _clauses_equal_analyze(samples.corpus_texts(2000)) > 100


@pytest.mark.parametrize(
    "text",
    [
        "我叫王伟，王先生是老师",  # cue and title
        "联系人：李娜",  # cue only
        "谢谢张经理和欧阳老师",  # titles only
        "北京市朝阳区建国路88号",  # road with a house number
        "广东省深圳市南山区科技路",  # road with admin parts only
        "阳光花园3栋2单元501室",  # estate only
        "阳光花园小区和建国路12号",  # both
        "服务器 10.0.0.1 和 fe80::1",
        "v1.2.3.4 ::1",
        "١٢.٣٤.٥٦.٧٨",  # other-script digits: the IPv4 pattern's \d
    ],
)
def test_clauses_equal_analyze_on_edge_cases(text: str) -> None:
    _clauses_equal_analyze([text])


_ALPHABET = st.sampled_from(samples._ALPHABET)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=120), st.text(_ALPHABET, max_size=120)))
def test_clauses_equal_analyze_on_arbitrary_text(text: str) -> None:
    _clauses_equal_analyze([text])


def test_gateset_clauses_report_each_clause() -> None:
    a, b = "\\x61", "\\x62"
    gs = GateSet([Gate(((a, b), (b,))), None])
    found = gs.found_many(["a", "b", "ab", ""])
    assert [gs.clauses(0, f) for f in found] == [0b00, 0b10, 0b11, 0b00]
    assert [gs.clauses(1, f) for f in found] == [0, 0, 0, 0]  # ungated: never asked
    assert [gs.runs(f) for f in found] == gs.passes_many(["a", "b", "ab", ""])


def test_a_subclass_with_its_own_gate_is_not_told_its_parents_clauses() -> None:
    class Names(PersonNameRecognizer):  # a gate of its own, clauses in another order
        name = "names2"
        gate = Gate(tuple(reversed(PersonNameRecognizer.gate.clauses)))

    class Addresses(AddressRecognizer):  # inherits no gate: always runs, plainly
        name = "address2"

    class Ip(IpRecognizer):  # declares both: its own mapping
        name = "ip2"
        gate = IpRecognizer.gate

        def analyze_clauses(self, text: str, clauses: int):  # type: ignore[no-untyped-def]
            return self.analyze(text)

    det = PiiDetector(recognizers=[Names(), Addresses(), Ip()])
    assert det._state()._aware == [False, False, True]
    text = "联系人：李娜，谢谢张经理，北京市朝阳区建国路88号，10.0.0.1"
    assert det.analyze(text) == PiiDetector(recognizers=[Names(), Addresses(), Ip()], min_score=0.5).analyze(text)
    assert {r.recognizer for r in det.analyze(text)} == {"names2", "address2", "ip2"}


def test_plans_are_memoised_and_without_hyperscan_run_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    state = DET._state()
    p1, p2, p3 = state.plans(["手机13812345678", "手机13987654321", "今天天气很好"])
    assert p1 is p2 and p3 == ()
    monkeypatch.setattr(gates_mod, "_compile", lambda exprs: None)
    det = PiiDetector()
    (plan,) = det._state().plans(["x"])
    assert [(r.name, c) for r, c in plan] == [(r.name, None) for r in det._state().recs]


def test_a_recogniser_patched_after_the_plan_is_built_is_the_one_called() -> None:
    det = PiiDetector()
    text = "手机13812345678"
    assert det.analyze(text)
    mobile = next(r for r in det._state().recs if r.name == "mobile")
    mobile.patterns = (Pattern("none", "x^", 0.9),)
    mobile.__init__()  # type: ignore[misc]
    assert det.analyze(text) == []


_MOBILE = MobileRecognizer()


def _every_pattern(rec: PatternRecognizer, text: str) -> list[RecognizerResult]:
    """`PatternRecognizer.analyze` without the ``Pattern.requires`` skip: every pattern searched."""
    if not text or not rec.prefilter(text):
        return []
    return [r for pattern, rx in rec._compiled for r in rec._scan(text, pattern, rx)]


@pytest.mark.parametrize(
    "text",
    ["+86 138 1234 5678", "(86)13812345678", "(+86)-13812345678", "008613812345678", "8613812345678",
     "1861381234567", "13812345678", "电话：+86１３８１２３４５６７８", "٨٦13812345678", ""],
)
def test_mobile_without_86_skips_only_the_international_pattern(text: str) -> None:
    for s in (text, normalize(text).text):
        assert _MOBILE.analyze(s) == _every_pattern(_MOBILE, s)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text("0123456789+() -86１٨", max_size=40), st.text(_ALPHABET, max_size=120)))
def test_mobile_shortcut_equals_the_plain_analyze(text: str) -> None:
    assert _MOBILE.analyze(text) == _every_pattern(_MOBILE, text)


def test_mobile_shortcut_on_planted_random_texts() -> None:
    texts = samples.random_texts(1500)
    found = 0
    for s in texts:
        want = _every_pattern(_MOBILE, s)
        assert _MOBILE.analyze(s) == want
        found += any(r.pattern == "mobile_intl" for r in want)
    assert found > 20  # international numbers are planted, so the test can fail


def _tree_only(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """`resolve_overlaps` with the pairwise path switched off (the Fenwick tree for every size)."""
    old = detector_mod._FEW
    detector_mod._FEW = -1
    try:
        return resolve_overlaps(results)
    finally:
        detector_mod._FEW = old


_SPAN = st.tuples(st.integers(0, 12), st.integers(1, 6), st.sampled_from((0.3, 0.5, 0.7, 0.9)), st.integers(0, 3))


@settings(max_examples=500, deadline=None)
@given(st.lists(_SPAN, max_size=20))
def test_few_candidates_resolve_as_the_tree_does(spans: list[tuple[int, int, float, int]]) -> None:
    results = [
        RecognizerResult(s, s + n, score, "pii.x", f"r{rec}", "p", None, "", False) for s, n, score, rec in spans
    ]
    assert resolve_overlaps(results) == _tree_only(results)


def test_few_candidates_on_planted_texts() -> None:
    recs = DET._state().recs
    for s in samples.random_texts(400):
        raw = [r for rec in recs for r in rec.analyze(s)]
        assert resolve_overlaps(raw) == _tree_only(raw)
