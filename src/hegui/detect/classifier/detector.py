"""The ``classifier`` detector: whole-text findings with calibrated per-head scores.

A finding is emitted for each head whose calibrated score is at least ``min_score`` (default 0.2,
a low floor): the policy, not the detector, decides. Calibrated scores put each head's dev-chosen
threshold at 0.5, the policy's default threshold (see ``model.py``).

Texts with fewer than ``min_chars`` informative characters (a CJK character counts 1, a Latin
letter 1/3, digits and punctuation 0) get no findings: an n-gram model has nothing to go on in "好的",
"1" or "女人", and scored them 0.94 unsafe request, 0.86 prompt injection and 1.0 discrimination.
Short explicit abuse is the keyword library's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hegui.detect.base import DetectorRegistry, Finding
from hegui.detect.classifier.model import ClassifierModel
from hegui.text import NormalizedText

DEFAULT_MODEL = "risk-zh.npz"


def default_model_path() -> Path:
    return Path(str(resources.files("hegui") / "data" / "models" / DEFAULT_MODEL))


@lru_cache(maxsize=4)
def _load(path: str) -> ClassifierModel:
    return ClassifierModel.load(path)


def informative_chars(text: str, enough: float = float("inf")) -> float:
    """CJK and other non-Latin letters count 1, Latin letters 1/3; stops counting at ``enough``."""
    n = 0.0
    for ch in text:
        if ch.isalpha():
            n += 1 / 3 if ch < "\u0250" else 1.0
            if n >= enough:
                break
    return n


class ClassifierDetector:
    """Runs the linear heads; thread-safe (the model is read-only)."""

    def __init__(
        self,
        model: ClassifierModel | None = None,
        *,
        model_path: str | Path | None = None,
        min_score: float = 0.2,
        heads: Sequence[str] | None = None,
        name: str = "classifier",
        min_chars: float = 5.0,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.model = model if model is not None else _load(str(Path(model_path or default_model_path()).resolve()))
        self.name = name
        self.min_score = min_score
        if min_chars < 0:
            raise ValueError(f"min_chars must be ≥ 0, got {min_chars}")
        self.min_chars = min_chars
        names = self.model.head_names
        if heads is not None:
            unknown = sorted(set(heads) - set(names))
            if unknown:
                raise ValueError(f"unknown classifier heads {unknown}; the model has {names}")
        self._cols = [i for i, n in enumerate(names) if heads is None or n in heads]

    def scores(self, texts: Sequence[NormalizedText]) -> np.ndarray:
        """Calibrated scores for every head, shape (len(texts), n_heads)."""
        return self.model.scores([t.text for t in texts])

    def detect(self, text: NormalizedText) -> list[Finding]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in texts]
        # Only texts with enough to go on are scored: rows are independent, so their scores are
        # the same as in the whole batch's, and a short gateway message costs no featurisation.
        keep = [i for i, t in enumerate(texts) if informative_chars(t.text, self.min_chars) >= self.min_chars]
        if not keep:
            return out
        cols = self._cols
        if len(keep) == 1:  # one gateway message: the loop below without the 2-D index arrays
            row = self.scores([texts[keep[0]]])[0]
            ok, values, found = (row >= self.min_score).tolist(), row.tolist(), out[keep[0]]
            for c in cols:
                if ok[c]:
                    h = self.model.heads[c]
                    found.append(Finding(h.risk, -1, -1, values[c], self.name, evidence=f"head={h.name}", meta={"head": h.name}))
            return out
        s = self.scores([texts[i] for i in keep])[:, cols]
        rows, heads_at = np.nonzero(s >= self.min_score)  # row-major: each text's heads in order
        heads = self.model.heads
        for r, c, score in zip(rows.tolist(), heads_at.tolist(), s[rows, heads_at].tolist(), strict=True):
            h = heads[cols[c]]
            out[keep[r]].append(Finding(h.risk, -1, -1, score, self.name, evidence=f"head={h.name}", meta={"head": h.name}))
        return out


@DetectorRegistry.register("classifier")
def _factory(**options: Any) -> ClassifierDetector:
    return ClassifierDetector(**options)
