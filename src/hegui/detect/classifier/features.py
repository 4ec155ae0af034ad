"""Character n-gram features by feature hashing, in numpy only.

Why hashing: no vocabulary to ship or look up, so the model file is one dense weight matrix and the
per-call path is a few vectorised numpy operations (no scikit-learn, no Python loop per n-gram).
The hash is our own (a polynomial over code points, then a 64-bit finaliser), so it is stable across
processes and Python versions — ``hash()`` is salted per process and could not be used.

Features of a text are binary (n-gram present or not) and L2-normalised, so a long text does not
score higher just because it is long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_MUL = np.uint64(1_000_003)
_MIX1 = np.uint64(0xFF51AFD7ED558CCD)
_MIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Which n-grams and how many hash buckets; stored in the model file so inference matches training."""

    n_min: int = 1
    n_max: int = 3
    n_buckets: int = 1 << 19

    def __post_init__(self) -> None:
        if not 1 <= self.n_min <= self.n_max <= 8:
            raise ValueError(f"n-gram range must satisfy 1 <= n_min <= n_max <= 8, got {self.n_min}..{self.n_max}")
        if self.n_buckets <= 0 or self.n_buckets & (self.n_buckets - 1):
            raise ValueError(f"n_buckets must be a power of two, got {self.n_buckets}")


def _codepoints(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (broken client input) is a feature, not a crash.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _S33)
    h = h * _MIX1
    h = h ^ (h >> _S33)
    h = h * _MIX2
    return h ^ (h >> _S33)


def hashed_ngrams(text: str, spec: FeatureSpec) -> np.ndarray:
    """Sorted unique bucket indices (int64) of the text's character n-grams."""
    cp = _codepoints(text)
    n_chars = cp.shape[0]
    if n_chars == 0:
        return np.zeros(0, dtype=np.int64)
    parts: list[np.ndarray] = []
    with np.errstate(over="ignore"):
        h = cp.copy()
        for n in range(1, spec.n_max + 1):
            if n > 1:
                h = h[:-1] * _MUL + cp[n - 1 :]
            if h.shape[0] == 0:
                break
            if n >= spec.n_min:
                parts.append(_mix(h + np.uint64(n) * _MIX2))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    idx = np.sort((np.concatenate(parts) & np.uint64(spec.n_buckets - 1)).astype(np.int64))
    # Sort + mask is np.unique's result; numpy ≥ 2.3's hash-based unique is 2× slower on these sizes.
    keep = np.empty(idx.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(idx[1:], idx[:-1], out=keep[1:])
    return idx[keep]


def featurize_batch(texts: Sequence[str], spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (indptr, indices, values) for many texts; values are 1/sqrt(#features) per row."""
    rows = [hashed_ngrams(t, spec) for t in texts]
    lengths = np.fromiter((r.shape[0] for r in rows), dtype=np.int64, count=len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    scale = np.where(lengths > 0, 1.0 / np.sqrt(np.maximum(lengths, 1)), 0.0).astype(np.float32)
    values = np.repeat(scale, lengths)
    return indptr, indices, values
