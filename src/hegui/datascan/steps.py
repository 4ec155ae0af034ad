"""Pipeline steps: small objects that annotate a batch of records in place.

The split follows Hugging Face datatrove: a pipeline is a list of steps over documents, and the
executors (local processes, Ray Data) know nothing about what the steps do. Every step is
deterministic, so any executor, any worker count and any resume give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hegui.datascan import minhash
from hegui.datascan.readers import Document
from hegui.datascan.signals import analyse_batch


@dataclass(slots=True)
class Record:
    """One document on its way through the pipeline, with its annotation so far."""

    doc: Document
    source: str
    file: str
    ann: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # why --filter would reject it
    bands: list[int] = field(default_factory=list)  # MinHash LSH band keys

    @property
    def empty(self) -> bool:
        # = not text.strip(), without copying the text (isspace stops at the first non-space)
        text = self.doc.text
        return not text or text.isspace()


class Step(Protocol):
    """A pipeline step. ``__call__`` annotates the records of a batch in place.

    A step may also have ``prepare()``: build now what it would otherwise build lazily on its first
    batch (a detector, a lookup table). The local executor calls it once in the driver before it
    forks its workers, so they inherit the result instead of each building it again.
    """

    name: str

    def __call__(self, records: list[Record]) -> None: ...


# Long enough (> 2,000 characters) for the batched code paths, with CJK, Latin, digits and PII-like
# runs, so that the lazily built tables of every step are built by one call.
_WARM_TEXT = ("今天天气很好，我们去公园散步。Hello world 123, call 13800000000 或 a@b.cn。\n" * 40)


def _warm_batch() -> list[Record]:
    return [Record(Document("warm-up", _WARM_TEXT, len(_WARM_TEXT.encode())), "warm-up", "warm-up")]


class GuardStep:
    """Risk findings and PII counts through the very detectors `Guard` runs in the gateway.

    A document is *illegal* (违法不良) when a decisive finding is a content risk (not ``pii.*``);
    PII is counted by type, never copied. A detector failure fails closed: the document counts
    as illegal with ``error`` set.
    """

    name = "guard"

    def __init__(self, settings: Any | None = None) -> None:
        self.settings = settings
        self._guard: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "_guard": None}  # the guard is rebuilt in each worker

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self._guard = None

    @property
    def guard(self) -> Any:
        if self._guard is None:
            from hegui.guard import Guard

            self._guard = Guard.from_settings(self.settings)
        return self._guard

    def prepare(self) -> None:
        """Build the guard and its detectors' lazily built tables (one small batch through it)."""
        self(_warm_batch())

    def __call__(self, records: list[Record]) -> None:
        todo: list[Record] = []
        empty: list[Record] = []
        for r in records:
            (empty if r.empty else todo).append(r)
        # The language SignalsStep found saves Guard a second guess (it only picks the refusal's language).
        langs = [r.ann["lang"] for r in todo] if all("lang" in r.ann for r in todo) else None
        verdicts = self.guard.check_batch([r.doc.text for r in todo], role="output", langs=langs) if todo else []
        values: dict[Any, str] = {}  # Action.value is an enum descriptor call: once per action
        for r, v in zip(todo, verdicts, strict=True):
            # One plain loop for the PII counts and the finding rows (a Counter over a generator
            # cost more than building the rows).
            pii: dict[str, int] = {}
            rows = []
            for f in v.findings:
                risk = f.risk
                if risk.startswith("pii."):
                    kind = risk[4:]
                    pii[kind] = pii.get(kind, 0) + 1
                rows.append({"risk": risk, "start": f.start, "end": f.end, "score": round(float(f.score), 4), "detector": f.detector})
            risks = v.risks
            content = [risk for risk in risks if not risk.startswith("pii.")] if risks else []
            action = v.action
            value = values.get(action)
            if value is None:
                value = values[action] = action.value
            ann = r.ann
            ann["action"] = value
            ann["illegal"] = bool(content) or v.error is not None
            ann["risks"] = content
            ann["pii"] = dict(sorted(pii.items())) if pii else {}
            ann["findings"] = rows
            if v.error:
                ann["error"] = v.error
                r.reasons.append("check_error")
            if content:
                r.reasons.extend(f"risk:{x}" for x in content)
        for r in empty:
            r.ann.update(action="allow", illegal=False, risks=[], pii={}, findings=[])


class SignalsStep:
    """Language id plus length and quality signals; quality flags become reject reasons."""

    name = "signals"

    def __init__(
        self, reject_flags: Sequence[str] = ("empty", "too_short", "symbols", "repetitive"),
        thresholds: dict[str, Any] | None = None,
    ) -> None:
        self.reject_flags = tuple(reject_flags)
        self.thresholds = dict(thresholds or {})  # keyword arguments of `signals.quality`

    @property
    def config(self) -> dict[str, Any]:
        """What changes the output (part of the resume fingerprint)."""
        return {"reject_flags": list(self.reject_flags), **self.thresholds}

    def prepare(self) -> None:
        self(_warm_batch())  # the code-point tables

    def __call__(self, records: list[Record]) -> None:
        # The whole batch in one pass over its code points (same values as text by text).
        results = analyse_batch([r.doc.text for r in records], **self.thresholds)
        reject = self.reject_flags
        for r, (lang, sig, flags) in zip(records, results, strict=True):
            ann = r.ann
            ann["lang"] = lang
            ann["quality"] = sig
            ann["flags"] = flags
            if flags:  # most texts have none: no generator to build
                r.reasons.extend(f"quality:{f}" for f in flags if f in reject)


class MinHashStep:
    """MinHash over character n-gram shingles (whitespace removed), cut into LSH band keys.

    The sketch is computed for the whole batch (`hegui.datascan.minhash`, in C or numpy: fast
    similarity sketching, whose per-bin agreement is the Jaccard similarity, as with classic
    MinHash). 12 bands of 10 rows: documents with a shingle Jaccard similarity of about 0.8 or
    more share a band key with high probability (0.93 at 0.85), pairs at 0.5 only 1 % of the
    time. The global band index is built once, in document order, by `dedup.assign_duplicates`.
    """

    name = "minhash"

    def __init__(self, num_perm: int = 128, bands: int = 12, rows: int = 10, ngram: int = 5, seed: int = 42) -> None:
        if bands * rows > num_perm:
            raise ValueError("bands × rows must not exceed num_perm")
        self.num_perm, self.bands_n, self.rows, self.ngram, self.seed = num_perm, bands, rows, ngram, seed

    @property
    def config(self) -> dict[str, Any]:
        # "sketch": band keys of another sketch are not comparable, so a resume must start over.
        return {"num_perm": self.num_perm, "bands": self.bands_n, "rows": self.rows, "ngram": self.ngram,
                "seed": self.seed, "sketch": minhash.SKETCH}

    def prepare(self) -> None:
        self(_warm_batch())

    def __call__(self, records: list[Record]) -> None:
        keys = minhash.text_band_keys([r.doc.text for r in records], self.ngram, self.seed, self.num_perm, self.bands_n, self.rows)
        for r, k in zip(records, keys, strict=True):
            r.bands = k


def default_steps(settings: Any | None = None) -> list[Step]:
    """The full check list `hegui scan` runs, set by the ``scan`` section of the settings.

    ``scan.detectors`` (when not empty) replaces ``guard.detectors`` for the scan only; options,
    policy and keys stay the gateway's, so a document is judged as an answer would be.
    """
    from hegui.datascan.config import ScanConfig

    cfg: ScanConfig = getattr(settings, "scan", None) or ScanConfig()
    guard_settings = settings
    if settings is not None and cfg.detectors:
        guard_settings = settings.model_copy(update={"guard": settings.guard.model_copy(update={"detectors": list(cfg.detectors)})})
    return [
        SignalsStep(cfg.reject_flags, cfg.quality.model_dump()),
        GuardStep(guard_settings),
        MinHashStep(**cfg.minhash.model_dump()),
    ]
