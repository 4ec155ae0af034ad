"""The detector contract: every detector takes normalised text and returns `Finding`s.

One `Finding` type serves the gateway, the corpus scanner and the assessment judge, so a fix in a
detector fixes all three. Detectors see a `NormalizedText` and report spans in *normalised*
offsets; `Guard` maps them back to the original text with the normaliser's offset map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from hegui.text import NormalizedText


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a detector found.

    ``start``/``end`` are character offsets (end exclusive); a detector reports them on the
    normalised text, `Guard` rewrites them to the original. ``-1`` means the finding concerns the
    whole text (a classifier score, say) rather than a span. ``evidence`` is safe to log: a
    detector must never put personal information in it (the PII recognisers put the type there,
    not the value).
    """

    risk: str
    start: int
    end: int
    score: float
    detector: str
    evidence: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_span(self) -> bool:
        return self.start >= 0 and self.end > self.start

    def with_span(self, start: int, end: int) -> Finding:
        # The constructor, not `dataclasses.replace`: replace costs ~20 µs, which added up to
        # seconds on a text with 100,000+ findings.
        return Finding(self.risk, start, end, self.score, self.detector, self.evidence, self.meta)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "risk": self.risk,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 4),
            "detector": self.detector,
        }
        if self.evidence:
            d["evidence"] = self.evidence
        if self.meta:
            d["meta"] = self.meta
        return d


@runtime_checkable
class Detector(Protocol):
    """What `Guard` needs from a detector.

    ``name`` is unique per instance in a Guard. ``detect`` must be thread-safe and must not
    mutate its input. A detector that cannot decide raises an exception: `Guard` turns that into
    a fail-closed verdict, never into an "allow".
    """

    name: str

    def detect(self, text: NormalizedText) -> list[Finding]: ...


class BatchDetector(Detector, Protocol):
    """A detector that is faster on many texts at once (the classifier, the scanner's path)."""

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]: ...


class DetectorError(RuntimeError):
    """A detector failed; the caller must fail closed."""


DetectorFactory = Callable[..., Detector]


class DetectorRegistry:
    """Named factories, so config can say `detectors: [keywords, pii, classifier]`.

    Later issues register their detectors here (classifier, blocklist, judge) without touching
    `Guard`.
    """

    _factories: ClassVar[dict[str, DetectorFactory]] = {}

    @classmethod
    def register(cls, name: str) -> Callable[[DetectorFactory], DetectorFactory]:
        def deco(factory: DetectorFactory) -> DetectorFactory:
            cls._factories[name] = factory
            return factory

        return deco

    @classmethod
    def create(cls, name: str, **options: Any) -> Detector:
        if name not in cls._factories:
            known = ", ".join(sorted(cls._factories)) or "none"
            raise KeyError(f"unknown detector {name!r}; registered detectors: {known}")
        return cls._factories[name](**options)

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls._factories)


def detect_all(detectors: Iterable[Detector], text: NormalizedText) -> list[Finding]:
    out: list[Finding] = []
    for d in detectors:
        out.extend(d.detect(text))
    return out
