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
    ordered = sorted(results, key=_better_first)
    kept: list[RecognizerResult] = []
    if len(ordered) <= _FEW:
        # A few candidates (a text's usual case): the comparison with every kept span, which the
        # tree below answers the same way, without building the tree.
        for r in ordered:
            s, e = r.start, r.end
            for k in kept:
                if k.start <= s and k.end >= e:
                    break
            else:
                kept.append(r)
        kept.sort(key=_by_start)
        return kept
    # "Is r inside a kept span?" = "the largest end among kept spans starting at or before r.start
    # is >= r.end": a Fenwick tree of prefix maxima over the distinct starts answers it in
    # O(log n). (Comparing with every kept span was quadratic: 25,000 JWT-shaped tokens in 1 MB
    # took 18 s.)
    starts = sorted({r.start for r in results})
    rank = {s: i + 1 for i, s in enumerate(starts)}
    tree = [-1] * (len(starts) + 1)
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
    kept.sort(key=_by_start)
    return kept


# Up to this many candidates `resolve_overlaps` compares spans pairwise (at most 120 comparisons).
_FEW = 16


def _better_first(r: RecognizerResult) -> tuple[float, int, int]:
    return (-r.score, -(r.end - r.start), r.start)


def _by_start(r: RecognizerResult) -> tuple[int, float]:
    return (r.start, -r.score)


# What runs on one text: (recogniser, None): its ``analyze``; (recogniser, clause bits): its
# ``analyze_clauses``. Recognisers, not bound methods: a method patched later is still the one called.
_Plan = tuple[tuple[PatternRecognizer, int | None], ...]


class _Gated:
    """The detector's recognisers, their `GateSet` and the run plan per set of gate expressions found.

    Why plans: texts share few distinct sets of expressions (most hold none), so "which
    recognisers run, and which of their gate clauses hold" is worked out once per set and the
    per-text loop only calls what the plan lists.
    """

    __slots__ = ("_aware", "_plans", "gates", "key", "recs")

    def __init__(self, key: tuple[int, ...], recs: list[PatternRecognizer], gates: GateSet) -> None:
        self.key = key
        self.recs = recs
        self.gates = gates
        # Told its clauses only when the class that declares the gate also declares the hook.
        self._aware = [
            "analyze_clauses" in vars(type(r)) and vars(type(r)).get("gate") is not None for r in recs
        ]
        self._plans: dict[int, _Plan] = {}

    def plans(self, texts: Sequence[str]) -> list[_Plan]:
        """The plan for each text (an empty plan: nothing can be found)."""
        gates = self.gates
        if not gates.active:
            everything: _Plan = tuple((r, None) for r in self.recs)
            return [everything for _ in texts]
        plans, plan_for = self._plans, self._plan_for
        return [plan_for(found) if (p := plans.get(found)) is None else p for found in gates.found_many(texts)]

    def _plan_for(self, found: int) -> _Plan:
        gates = self.gates
        runs = gates.runs(found)
        plan = tuple(
            (r, gates.clauses(i, found)) if self._aware[i] else (r, None)
            for i, r in enumerate(self.recs)
            if runs >> i & 1
        )
        if len(self._plans) < 4096:
            self._plans[found] = plan
        return plan


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
        # (recogniser ids, recognisers, their gates, plans), rebuilt when the registry changes.
        self._gates: _Gated | None = None
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

    def _state(self) -> _Gated:
        """The recognisers in order, their gates and run plans, built once per registry."""
        recs = list(self.registry)
        key = tuple(map(id, recs))
        cached = self._gates
        if cached is None or cached.key != key:
            # Only the class that declares a gate gets it (a subclass may have changed the patterns).
            cached = self._gates = _Gated(key, recs, GateSet([type(r).__dict__.get("gate") for r in recs]))
        return cached

    def _gated(self) -> tuple[list[PatternRecognizer], GateSet]:
        """The recognisers in order and their gates (`hegui.detect.pii.gates`), compiled once per registry."""
        state = self._state()
        return state.recs, state.gates

    def analyze(self, text: str) -> list[RecognizerResult]:
        """All results over ``min_score`` on an already-normalised string (overlaps resolved).

        One hyperscan pass over the text first says which recognisers can find anything at all;
        the others are skipped (they would return nothing: see `hegui.detect.pii.gates`).
        """
        state = self._state()
        return self._analyze(text, state.plans((text,))[0])

    def _analyze(self, text: str, plan: _Plan) -> list[RecognizerResult]:
        raw: list[RecognizerResult] = []
        min_score = self.min_score
        for rec, clauses in plan:
            for r in rec.analyze(text) if clauses is None else rec.analyze_clauses(text, clauses):
                if r.score >= min_score:
                    raw.append(r)
        # Filtering first is equivalent (a candidate under min_score is never "better" than one
        # over it, so it can only be dropped, never drop another) and keeps the overlap pass small.
        # One result has nothing to overlap (`resolve_overlaps` would return it as it is).
        return resolve_overlaps(raw) if len(raw) > 1 else raw

    def detect(self, text: NormalizedText) -> list[Finding]:
        return [self._finding(r) for r in self.analyze(text.text)]

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        """`detect` for each text, with the registry, gate database and plans looked up once."""
        strs = [t.text for t in texts]
        analyze, finding = self._analyze, self._finding
        return [
            [finding(r) for r in analyze(s, plan)] if plan else []
            for s, plan in zip(strs, self._state().plans(strs), strict=True)
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
