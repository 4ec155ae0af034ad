"""The gate pass (`hegui.detect.pii.gates`) and the faster address/IP pre-tests change no finding.

Each gate must hold wherever its recogniser finds anything; the detector with gates must return
exactly what the recognisers return run one by one without them, with the address recogniser's
original anchors and no window skipping, and the IP recogniser's original quick tests.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hegui.detect.pii import PiiDetector, RecognizerResult, resolve_overlaps
from hegui.detect.pii import gates as gates_mod
from hegui.detect.pii.gates import GateSet
from hegui.detect.pii.recognizer import Pattern, PatternRecognizer, merged_windows
from hegui.detect.pii.recognizers import (
    BUILTIN_RECOGNIZERS,
    AddressRecognizer,
    IpRecognizer,
    MobileRecognizer,
)
from hegui.text import normalize
from hegui.text.normalize import NormalizedText

from . import pii_samples as samples


class _OriginalAddress(AddressRecognizer):
    """The address recogniser as it was: alternation anchors, every window searched."""

    _anchors: ClassVar[dict[str, re.Pattern[str]]] = {
        "road": re.compile(r"大道|大街|胡同|[路街巷弄]"),
        "estate": re.compile(r"小区|花园|公寓|大厦|新村|家园|[苑村]"),
    }

    def _windows(self, name: str, text: str) -> list[tuple[int, int]]:
        anchors = [a.start() for a in self._anchors[name].finditer(text)]
        return merged_windows(anchors, self._window_before, self._window_after, len(text))


class _OriginalIp(IpRecognizer):
    _v4 = re.compile(r"\d\.\d{1,3}\.\d")
    _v6 = re.compile(r"[0-9a-f]{0,4}:[0-9a-f]{0,4}:")


def _reference_recognizers() -> list[PatternRecognizer]:
    swap = {AddressRecognizer: _OriginalAddress, IpRecognizer: _OriginalIp}
    return [swap.get(cls, cls)() for cls in BUILTIN_RECOGNIZERS]


REF = _reference_recognizers()
DET = PiiDetector(min_score=0.0)
DET_DEFAULT = PiiDetector()


def _reference(text: str, min_score: float) -> list[RecognizerResult]:
    raw = [r for rec in REF for r in rec.analyze(text) if r.score >= min_score]
    return resolve_overlaps(raw)


def _check(texts: list[str]) -> None:
    """Gated == ungated for every text, raw and normalised, per text and as one batch, two min_scores."""
    for det in (DET, DET_DEFAULT):
        strs = [s for t in texts for s in (t, normalize(t).text)]
        batch = det.detect_batch([NormalizedText(s, s) for s in strs])
        for s, found in zip(strs, batch, strict=True):
            want = _reference(s, det.min_score)
            assert det.analyze(s) == want, s
            assert [(f.risk, f.start, f.end, f.score) for f in found] == [
                (r.risk, r.start, r.end, r.score) for r in want
            ]


def _gate_holds(texts: list[str]) -> int:
    """Every recogniser that finds something in a text had its gate pass; returns how many did."""
    recs, gates = DET._gated()
    assert gates.active
    hits = 0
    for t in texts:
        for s in (t, normalize(t).text):
            runs = gates.passes(s)
            for i, (rec, ref) in enumerate(zip(recs, REF, strict=True)):
                found = ref.analyze(s)
                assert rec.analyze(s) == found, (rec.name, s)
                if found:
                    hits += 1
                    assert runs >> i & 1, (rec.name, s)
    return hits


def test_gates_hold_on_planted_random_texts() -> None:
    texts = samples.random_texts(1500)
    assert _gate_holds(texts) > 800  # the planted values are found, so the test can fail
    _check(texts)


def test_every_recogniser_is_exercised_by_the_samples() -> None:
    texts = samples.random_texts(1500)
    found = {r.recognizer for t in texts for r in DET.analyze(t)}
    assert found == {cls.name for cls in BUILTIN_RECOGNIZERS}


@pytest.mark.skipif(not (samples.DATA / "cold" / "train.csv").exists(), reason="shared data not present")
def test_gates_hold_on_real_texts_with_planted_pii() -> None:
    texts = samples.corpus_texts(2000)
    assert len(texts) == 2000
    assert _gate_holds(texts) > 500
    _check(texts)


_ALPHABET = st.sampled_from(samples._ALPHABET)
_TEXTS = st.one_of(st.text(max_size=120), st.text(_ALPHABET, max_size=120))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXTS)
def test_gated_equals_ungated_on_arbitrary_text(text: str) -> None:
    _gate_holds([text])
    _check([text])


def test_other_script_digit_runs_pass_the_digit_gates() -> None:
    # Python's \d takes every script's decimal digits: these runs must reach the recognisers.
    recs, gates = DET._gated()
    digit_gated = {"id_card", "bank_card", "passport", "hmt_permit", "uscc"}
    for run in ("٣" * 18, "𝟏" * 18, "১" * 16, "🯱" * 8, "০১২৩৪৫৬৭৮৯০১২৩৪৫"):
        bits = gates.passes(run)
        assert {r.name for i, r in enumerate(recs) if bits >> i & 1} >= digit_gated


def test_plain_prose_runs_no_recogniser() -> None:
    _, gates = DET._gated()
    assert gates.passes("今天天气很好，我们去公园散步吧。") == 0
    assert gates.passes("") == 0


def test_without_hyperscan_every_recogniser_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gates_mod, "_compile", lambda exprs: None)
    det = PiiDetector()
    recs, gates = det._gated()
    assert not gates.active
    assert gates.passes("x") == (1 << len(recs)) - 1
    text = "我叫王伟，手机13812345678，住在北京市朝阳区建国路88号"
    assert det.analyze(text) == DET_DEFAULT.analyze(text)
    assert len(det.analyze(text)) == 3


def test_a_subclass_does_not_inherit_its_parents_gate() -> None:
    class Digits(MobileRecognizer):  # different patterns: the mobile gate no longer holds
        name = "digits"
        patterns = (Pattern("digits", r"\d{3}", 0.9),)

        def prefilter(self, text: str) -> bool:
            return True

        def validate(self, value: str, pattern: Pattern):  # type: ignore[no-untyped-def]
            return super(MobileRecognizer, self).validate(value, pattern)

    det = PiiDetector(recognizers=[Digits()])
    assert [(r.start, r.end) for r in det.analyze("abc 123")] == [(4, 7)]
    assert [[f.start for f in fs] for fs in det.detect_batch([normalize("abc 123")])] == [[4]]


def test_registry_changes_rebuild_the_gates() -> None:
    det = PiiDetector()
    text = "手机13812345678 邮箱 a@b.com"
    assert {r.risk for r in det.analyze(text)} == {"pii.mobile", "pii.email"}
    det.registry.remove("mobile")
    assert {r.risk for r in det.analyze(text)} == {"pii.email"}
    det.registry.add(MobileRecognizer())
    assert {r.risk for r in det.analyze(text)} == {"pii.mobile", "pii.email"}


def test_gateset_clauses_are_conjunctions() -> None:
    a, b = "\\x61", "\\x62"
    gs = GateSet([gates_mod.Gate(((a, b),)), None, gates_mod.Gate.any_of(a, b)])
    assert gs.passes_many(["a", "b", "ab", ""]) == [0b110, 0b110, 0b111, 0b010]


@pytest.mark.parametrize(
    "text",
    [
        "12345678 台胞证",
        "台胞证12345678",
        "台胞证 12345678(a)",
        "台胞证:X12345678",
        "12345678\n台胞证",
        "台胞证\n12345678\n",
    ],
)
def test_bare_permit_numbers_at_the_edges_pass_their_gate(text: str) -> None:
    found = DET.analyze(text)
    assert found == _reference(text, 0.0)
    assert "pii.hmt_permit" in {r.risk for r in found}


def test_detector_and_gates_pickle() -> None:
    # Process pools and Ray send detectors to their workers; a hyperscan database does not pickle.
    import pickle

    text = "我叫王伟，手机13812345678，住在北京市朝阳区建国路88号"
    det = pickle.loads(pickle.dumps(DET_DEFAULT))
    assert det.analyze(text) == DET_DEFAULT.analyze(text)
    assert len(det.analyze(text)) == 3
    _, gates = DET_DEFAULT._gated()
    copy = pickle.loads(pickle.dumps(gates))
    assert copy.active and copy.passes(text) == gates.passes(text)


def _uncached_compile(exprs: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return gates_mod._compile.__wrapped__(exprs)  # type: ignore[attr-defined]


def test_gate_database_is_cached_and_reloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan")
    import hyperscan

    monkeypatch.setenv("HEGUI_CACHE_DIR", str(tmp_path))
    _, ref = DET_DEFAULT._gated()
    exprs = tuple(ref._exprs)
    compiles: list[int] = []
    real = hyperscan.Database

    def counting(*a, **kw):  # type: ignore[no-untyped-def]
        compiles.append(1)  # a database made to compile (loading one does not come here)
        return real(*a, **kw)

    monkeypatch.setattr(hyperscan, "Database", counting)
    texts = ["我叫王伟，手机13812345678，住在北京市朝阳区建国路88号", "今天天气很好", "a@b.com ١٢٣٤٥٦٧٨٩٠١٢٣٤٥"]

    def passes(db) -> list[int]:  # type: ignore[no-untyped-def]
        # The reference gate set with this database in place of its own.
        gs = GateSet.__new__(GateSet)
        gs.__dict__.update(ref.__dict__)
        gs._db, gs._local, gs._memo = db, threading.local(), {}
        return gs.passes_many(texts)

    first = _uncached_compile(exprs)  # cold: compiles and writes the file
    files = list(tmp_path.glob("pii-gates-*.hsdb"))
    assert len(compiles) == 1 and len(files) == 1
    assert not list(tmp_path.glob(".pii-gates-*"))  # no temp file left behind
    again = _uncached_compile(exprs)  # warm: loaded, not compiled
    assert len(compiles) == 1
    assert passes(first) == passes(again) == ref.passes_many(texts)

    # A corrupt or truncated file is ignored and replaced; so is one holding another key.
    for bad in (b"garbage", files[0].read_bytes()[:-100], files[0].read_bytes().replace(b"HGPG1\n", b"HGPG1\n0", 1)):
        files[0].write_bytes(bad)
        db = _uncached_compile(exprs)
        assert passes(db) == ref.passes_many(texts)
    assert len(compiles) == 4
    assert _uncached_compile(exprs) is not None and len(compiles) == 4  # the rewritten file is good

    # Different expressions, different key: the old database is never loaded for them.
    assert gates_mod.cache_key(exprs) != gates_mod.cache_key(exprs[:-1])
    _uncached_compile(exprs[:-1])
    assert len(compiles) == 5 and len(list(tmp_path.glob("pii-gates-*.hsdb"))) == 2


def test_unwritable_gate_cache_still_compiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("HEGUI_CACHE_DIR", str(blocker / "sub"))
    _, ref = DET_DEFAULT._gated()
    assert _uncached_compile(tuple(ref._exprs)) is not None
