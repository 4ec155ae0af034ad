"""Pipeline steps: small objects that annotate a batch of records in place.

The split follows Hugging Face datatrove: a pipeline is a list of steps over documents, and the
executors (local processes, Ray Data) know nothing about what the steps do. Every step is
deterministic, so any executor, any worker count and any resume give the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
from collections import Counter
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
        verdicts = self.guard.check_batch([r.doc.text for r in todo], role="output") if todo else []
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

    def __init__(self, reject_flags: tuple[str, ...] = ("empty", "too_short", "symbols", "repetitive")) -> None:
        self.reject_flags = reject_flags

    def __call__(self, records: list[Record]) -> None:
        for r in records:
            sig, flags = quality(r.doc.text)
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

    def __call__(self, records: list[Record]) -> None:
        import rensa

        n = self.ngram
        for r in records:
            text = "".join(r.doc.text.split())  # whitespace does not make a document different
            if len(text) < n:
                r.bands = []
                continue
            shingles = {text[i : i + n] for i in range(len(text) - n + 1)}
            m = rensa.RMinHash(num_perm=self.num_perm, seed=self.seed)
            m.update(list(shingles))  # MinHash does not depend on order
            sig = m.digest()
            keys: list[int] = []
            for b in range(self.bands_n):
                chunk = struct.pack(f"<I{self.rows}I", b, *(v & 0xFFFFFFFF for v in sig[b * self.rows : (b + 1) * self.rows]))
                keys.append(int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "little"))
            r.bands = keys


def default_steps(settings: Any | None = None) -> list[Step]:
    """The full check list `hegui scan` runs."""
    return [SignalsStep(), GuardStep(settings), MinHashStep()]
