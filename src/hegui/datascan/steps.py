"""Pipeline steps: small objects that annotate a batch of records in place.

The split follows Hugging Face datatrove: a pipeline is a list of steps over documents, and the
executors (local processes, Ray Data) know nothing about what the steps do. Every step is
deterministic, so any executor, any worker count and any resume give the same bytes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hegui.datascan.readers import Document
from hegui.datascan.signals import detect_lang, quality


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
        return not self.doc.text.strip()


class Step(Protocol):
    """A pipeline step. ``__call__`` annotates the records of a batch in place."""

    name: str

    def __call__(self, records: list[Record]) -> None: ...


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

    def __call__(self, records: list[Record]) -> None:
        todo = [r for r in records if not r.empty]
        # The language SignalsStep found saves Guard a second guess (it only picks the refusal's language).
        langs = [r.ann["lang"] for r in todo] if all("lang" in r.ann for r in todo) else None
        verdicts = self.guard.check_batch([r.doc.text for r in todo], role="output", langs=langs) if todo else []
        for r, v in zip(todo, verdicts, strict=True):
            pii = Counter(f.risk.split(".", 1)[1] for f in v.findings if f.risk.startswith("pii."))
            content = [risk for risk in v.risks if not risk.startswith("pii.")]
            illegal = bool(content) or v.error is not None
            r.ann["action"] = v.action.value
            r.ann["illegal"] = illegal
            r.ann["risks"] = content
            r.ann["pii"] = dict(sorted(pii.items()))
            r.ann["findings"] = [
                {"risk": f.risk, "start": f.start, "end": f.end, "score": round(float(f.score), 4), "detector": f.detector}
                for f in v.findings
            ]
            if v.error:
                r.ann["error"] = v.error
                r.reasons.append("check_error")
            if content:
                r.reasons.extend(f"risk:{x}" for x in content)
        for r in records:
            if r.empty:
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

    def __call__(self, records: list[Record]) -> None:
        for r in records:
            sig, flags = quality(r.doc.text, **self.thresholds)
            r.ann["lang"] = detect_lang(r.doc.text) if not r.empty else "und"
            r.ann["quality"] = sig
            r.ann["flags"] = flags
            r.reasons.extend(f"quality:{f}" for f in flags if f in self.reject_flags)


class MinHashStep:
    """MinHash (rensa, Rust) over character 5-gram shingles, cut into LSH band keys.

    12 bands of 10 rows: documents with a shingle Jaccard similarity of about 0.8 or more share a
    band key with high probability (0.93 at 0.85), pairs at 0.5 only 1 % of the time. The global
    band index is built once, in document order, by `dedup.assign_duplicates`.
    """

    name = "minhash"

    def __init__(self, num_perm: int = 128, bands: int = 12, rows: int = 10, ngram: int = 5, seed: int = 42) -> None:
        if bands * rows > num_perm:
            raise ValueError("bands × rows must not exceed num_perm")
        self.num_perm, self.bands_n, self.rows, self.ngram, self.seed = num_perm, bands, rows, ngram, seed

    @property
    def config(self) -> dict[str, Any]:
        return {"num_perm": self.num_perm, "bands": self.bands_n, "rows": self.rows, "ngram": self.ngram, "seed": self.seed}

    def __call__(self, records: list[Record]) -> None:
        import numpy as np
        import rensa

        n = self.ngram
        todo: list[Record] = []
        shingle_sets: list[list[str]] = []
        for r in records:
            text = "".join(r.doc.text.split())  # whitespace does not make a document different
            r.bands = []
            if len(text) >= n:
                todo.append(r)
                # A minimum ignores order and repeats: no set needed (rensa hashes faster than a set dedups).
                shingle_sets.append([text[i : i + n] for i in range(len(text) - n + 1)])
        if not todo:
            return
        # One RMinHash per document. Not rensa's bulk `digests_from_token_sets`: it runs on a
        # thread pool that deadlocks in a worker forked after the parent used it.
        digests = []
        for shingles in shingle_sets:
            m = rensa.RMinHash(num_perm=self.num_perm, seed=self.seed)
            try:
                m.update(shingles)
            except UnicodeEncodeError:  # a lone surrogate (a "\ud800" escape in JSON) cannot be UTF-8
                m = rensa.RMinHash(num_perm=self.num_perm, seed=self.seed)
                text = shingles[0][:-1] + "".join(sh[-1] for sh in shingles)  # the text back from its shingles
                text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")  # each one → U+FFFD
                m.update([text[i : i + n] for i in range(len(text) - n + 1)])
            digests.append(m.digest())
        sigs = np.array(digests, dtype=np.uint64) & np.uint64(0xFFFFFFFF)
        rows = self.rows
        # Band b of a document hashes the little-endian bytes of (b, its `rows` digest values).
        packed = np.empty((len(todo), self.bands_n, rows + 1), dtype="<u4")
        packed[:, :, 0] = np.arange(self.bands_n, dtype=np.uint32)
        packed[:, :, 1:] = sigs[:, : self.bands_n * rows].reshape(len(todo), self.bands_n, rows)
        width = (rows + 1) * 4
        blake = hashlib.blake2b
        for r, buf in zip(todo, _chunks(packed.tobytes(), width * self.bands_n), strict=True):
            r.bands = [int.from_bytes(blake(buf[i : i + width], digest_size=8).digest(), "little")
                       for i in range(0, len(buf), width)]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


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
