"""`PiiDetector`: runs the recognisers on normalised text and turns their results into `Finding`s.

Why a registry of recognisers: users disable one by name (``person_name`` is the noisiest) or add
their own without touching the others; overlapping candidates of different types are resolved here
once (an 18-digit run that is a valid ID is not also reported as a bank card).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hegui.detect.base import DetectorRegistry, Finding
from hegui.detect.pii.gates import GateSet
from hegui.detect.pii.recognizer import PatternRecognizer, RecognizerResult
from hegui.detect.pii.recognizers import BUILTIN_RECOGNIZERS
from hegui.text import NormalizedText


class RecognizerRegistry:
    """Named recognisers; ``disabled`` names are left out, unknown names are an error (fail closed)."""

    def __init__(self, recognizers: Iterable[PatternRecognizer] | None = None) -> None:
        self._by_name: dict[str, PatternRecognizer] = {}
        for r in recognizers if recognizers is not None else (cls() for cls in BUILTIN_RECOGNIZERS):
            self.add(r)

    def add(self, recognizer: PatternRecognizer) -> None:
        if recognizer.name in self._by_name:
            raise ValueError(f"recogniser name {recognizer.name!r} is already registered")
        self._by_name[recognizer.name] = recognizer

    def remove(self, name: str) -> None:
        if name not in self._by_name:
            raise KeyError(self._unknown(name))
        del self._by_name[name]

    def names(self) -> list[str]:
        return list(self._by_name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def _unknown(self, name: str) -> str:
        return (
            f"未知的个人信息识别器 {name!r}（可用：{', '.join(self._by_name)}） / "
            f"unknown PII recogniser {name!r} (known: {', '.join(self._by_name)})"
        )


def builtin_names() -> list[str]:
    return [cls.name for cls in BUILTIN_RECOGNIZERS]


def resolve_overlaps(results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Drop a candidate that lies inside a better one (of any recogniser: ``+86 138…`` and ``138…``).

    Better = higher score; on a tie, the longer span, then the earlier recogniser. Candidates that
    only partly overlap are both kept (redaction merges them).
    """
    ordered = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start))
    # "Is r inside a kept span?" = "the largest end among kept spans starting at or before r.start
    # is >= r.end": a Fenwick tree of prefix maxima over the distinct starts answers it in
    # O(log n). (Comparing with every kept span was quadratic: 25,000 JWT-shaped tokens in 1 MB
    # took 18 s.)
    starts = sorted({r.start for r in results})
    rank = {s: i + 1 for i, s in enumerate(starts)}
    tree = [-1] * (len(starts) + 1)
    kept: list[RecognizerResult] = []
    for r in ordered:
        i = rank[r.start]
        best = -1
        while i > 0:
            if tree[i] > best:
                best = tree[i]
            i -= i & -i
        if best >= r.end:
            continue
        kept.append(r)
        i = rank[r.start]
        while i < len(tree):
            if tree[i] < r.end:
                tree[i] = r.end
            i += i & -i
    kept.sort(key=lambda r: (r.start, -r.score))
    return kept


class PiiDetector:
    """The ``pii`` detector: every enabled recogniser, one `Finding` per surviving candidate."""

    def __init__(
        self,
        name: str = "pii",
        *,
        disabled: Sequence[str] = (),
        min_score: float = 0.5,
        recognizers: Iterable[PatternRecognizer] | None = None,
    ) -> None:
        if not 0.0 <= float(min_score) <= 1.0:
            raise ValueError(
                f"min_score 必须在 0 到 1 之间，实际为 {min_score} / min_score must be between 0 and 1, got {min_score}"
            )
        self.name = name
        self.min_score = float(min_score)
        self.registry = RecognizerRegistry(recognizers)
        for n in disabled:
            self.registry.remove(n)
        # (recogniser ids, recognisers, their gates), rebuilt when the registry changes.
        self._gates: tuple[tuple[int, ...], list[PatternRecognizer], GateSet] | None = None
        self._gated()  # load (or compile, ≈ 0.2 s, and cache) the gate database now, not on a first request

    @property
    def recognizers(self) -> list[str]:
        return self.registry.names()

    def __getstate__(self) -> dict[str, Any]:
        # The gate database does not pickle (process pools and Ray send detectors to workers):
        # it is compiled again on first use there (once per process: `gates._compile` caches).
        state = self.__dict__.copy()
        state["_gates"] = None
        return state

    def _gated(self) -> tuple[list[PatternRecognizer], GateSet]:
        """The recognisers in order and their gates (`hegui.detect.pii.gates`), compiled once per registry."""
        recs = list(self.registry)
        key = tuple(map(id, recs))
        cached = self._gates
        if cached is None or cached[0] != key:
            # Only the class that declares a gate gets it (a subclass may have changed the patterns).
            cached = (key, recs, GateSet([type(r).__dict__.get("gate") for r in recs]))
            self._gates = cached
        return cached[1], cached[2]

    def analyze(self, text: str) -> list[RecognizerResult]:
        """All results over ``min_score`` on an already-normalised string (overlaps resolved).

        One hyperscan pass over the text first says which recognisers can find anything at all;
        the others are skipped (they would return nothing: see `hegui.detect.pii.gates`).
        """
        recs, gates = self._gated()
        return self._analyze(text, recs, gates.passes(text))

    def _analyze(self, text: str, recs: list[PatternRecognizer], runs: int) -> list[RecognizerResult]:
        raw: list[RecognizerResult] = []
        min_score = self.min_score
        i = 0
        while runs:
            if runs & 1:
                for r in recs[i].analyze(text):
                    if r.score >= min_score:
                        raw.append(r)
            runs >>= 1
            i += 1
        # Filtering first is equivalent (a candidate under min_score is never "better" than one
        # over it, so it can only be dropped, never drop another) and keeps the overlap pass small.
        return resolve_overlaps(raw) if raw else raw

    def detect(self, text: NormalizedText) -> list[Finding]:
        return [self._finding(r) for r in self.analyze(text.text)]

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        """`detect` for each text, with the registry and gate database looked up once."""
        recs, gates = self._gated()
        strs = [t.text for t in texts]
        analyze, finding = self._analyze, self._finding
        return [
            [finding(r) for r in analyze(s, recs, runs)] if runs else []
            for s, runs in zip(strs, gates.passes_many(strs), strict=True)
        ]

    def _finding(self, r: RecognizerResult) -> Finding:
        # Evidence names the recogniser, the pattern and the check outcome: never the value.
        outcome = {True: "validated", False: "failed", None: "unchecked"}[r.validated]
        evidence = f"{r.recognizer}/{r.pattern}: {outcome}" + (f" ({r.reason})" if r.reason else "")
        meta: dict[str, Any] = {"recognizer": r.recognizer, "pattern": r.pattern, "context": r.context}
        if r.validated is not None:
            meta["validated"] = r.validated
        return Finding(r.risk, r.start, r.end, r.score, self.name, evidence, meta)


@DetectorRegistry.register("pii")
def _factory(**options: Any) -> PiiDetector:
    known = {"name", "disabled", "min_score"}
    unknown = set(options) - known
    if unknown:
        raise ValueError(
            f"pii 检测器不支持的选项：{sorted(unknown)} / unknown options for the pii detector: {sorted(unknown)}"
        )
    return PiiDetector(
        options.get("name", "pii"),
        disabled=list(options.get("disabled", [])),
        min_score=options.get("min_score", 0.5),
    )
