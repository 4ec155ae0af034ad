"""The model file: one weight matrix over hashed n-grams, one bias and one threshold per head.

Format: a NumPy ``.npz`` (no pickle) holding ``weights`` (buckets × heads, float16 to halve the
file; computation is float32), ``bias``, ``thresholds`` and a JSON ``meta`` string (feature spec,
head names and risk ids, training summary). Loading never executes code from the file.

Scores: a head's raw probability ``p`` is mapped piecewise-linearly so that the head's calibrated
threshold ``t`` lands on 0.5 — the policy's default threshold. ``p = t`` → 0.5, ``p = 0`` → 0,
``p = 1`` → 1. A policy threshold of 0.5 therefore means "the calibrated operating point"; a
higher policy threshold asks for more confidence than calibration chose.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from hegui import native
from hegui.detect.classifier.features import FeatureSpec, featurize_batch

FORMAT = "hegui-classifier/1"
_AT0 = np.zeros(1, dtype=np.intp)  # reduceat's one segment start for a single row
_BLOCK = 32768  # features per block of rows in `probabilities` (1 MB of gathered rows)
_ROW_SCALE_MIN = 256  # mean features per row from which a block is scaled row by row


_NATIVE_MAX_BUCKETS = 1 << 24  # the C path's bitmap of seen buckets is at most 2 MB
_NATIVE_MAX_HEADS = 64  # and its per-text sums live on the stack


class ModelFormatError(ValueError):
    """A model file that is missing, corrupt or of an unknown format, with the reason in words."""


@dataclass(frozen=True, slots=True)
class Head:
    """One output: a name, the taxonomy risk id it reports, and its calibrated threshold."""

    name: str
    risk: str
    threshold: float = 0.5


@dataclass(slots=True)
class ClassifierModel:
    """Linear heads over hashed character n-grams. Thread-safe: inference only reads."""

    spec: FeatureSpec
    heads: list[Head]
    weights: np.ndarray  # (n_buckets, n_heads) float32
    bias: np.ndarray  # (n_heads,) float32
    meta: dict[str, Any] = field(default_factory=dict)
    _thr: np.ndarray = field(init=False, repr=False, compare=False)
    _rows: np.ndarray = field(init=False, repr=False, compare=False)
    _t: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The weights live in rows padded to 2, 4 or 8 floats (``weights`` is a view of the
        # first columns, so there is one copy): `np.take` moves rows of 8, 16 or 32 bytes with a
        # typed copy but any other size with memmove, and aligned rows do not straddle cache
        # lines. Gathering six heads' 24-byte rows took longer than hashing the n-grams.
        w = np.asarray(self.weights, dtype=np.float32)
        width = w.shape[1] if w.ndim == 2 else 0
        padded = next((p for p in (1, 2, 4, 8) if p >= width), width)
        if w.ndim == 2 and padded != width:
            self._rows = np.zeros((w.shape[0], padded), dtype=np.float32)
            self._rows[:, :width] = w
            self.weights = self._rows[:, :width]
        else:
            self.weights = self._rows = np.ascontiguousarray(w)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weights.shape != (self.spec.n_buckets, len(self.heads)):
            raise ModelFormatError(
                f"weights have shape {self.weights.shape}, expected ({self.spec.n_buckets}, {len(self.heads)})"
            )
        if self.bias.shape != (len(self.heads),):
            raise ModelFormatError(f"bias has shape {self.bias.shape}, expected ({len(self.heads)},)")
        self._thr = np.array([h.threshold for h in self.heads], dtype=np.float32)
        t = np.clip(self._thr, 1e-6, 1 - 1e-6)
        self._t = (t, 1 - t)

    @property
    def head_names(self) -> list[str]:
        return [h.name for h in self.heads]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Raw per-head probabilities, shape (len(texts), n_heads)."""
        nat = native.get()
        if nat is not None and self.spec.n_buckets <= _NATIVE_MAX_BUCKETS and len(self.heads) <= _NATIVE_MAX_HEADS:
            logits = self._logits_native(nat, texts)
        else:
            logits = self._logits_numpy(texts)
        # 1 / (1 + exp(-clip(logits, -30, 30))) in float32, in place (clip as max then min).
        np.maximum(logits, -30, out=logits)
        np.minimum(logits, 30, out=logits)
        np.negative(logits, out=logits)
        np.exp(logits, out=logits)
        logits += 1.0
        return np.divide(1.0, logits, out=logits)

    def _logits_native(self, nat: ModuleType, texts: list[str]) -> np.ndarray:
        """Bias plus each text's feature sum, from the C extension: one pass per text, no
        temporaries (≈ 2.7x faster than `_logits_numpy` on a corpus shard), the same bits."""
        logits = np.broadcast_to(self.bias, (len(texts), len(self.heads))).copy()
        bits = self.spec.n_buckets.bit_length() - 1
        nat.ngram_logits(texts, self._rows, len(self.heads), self.spec.n_min, self.spec.n_max, bits, logits)
        return logits

    def _logits_numpy(self, texts: list[str]) -> np.ndarray:
        """Bias plus each text's feature sum, in numpy: the reference the C extension matches."""
        indptr, indices, values = featurize_batch(texts, self.spec)
        n = len(texts)
        h = len(self.heads)
        nnz = indices.shape[0]
        if n == 1 and nnz:  # one gateway message: the general path below in 8 numpy calls
            c = np.take(self._rows, indices, axis=0)
            c *= values[0]
            logits = np.add.reduceat(c[:, :h], _AT0, axis=0)
            logits += self.bias  # sum + bias: the same float32 sum as bias + sum below
        else:
            logits = np.broadcast_to(self.bias, (n, h)).copy()
        if nnz and n > 1:
            # Per row: take of the padded weight rows, scaled in place, summed over the real
            # columns by reduceat: the same float32 products and sums, in the same order, as
            # weights[indices] * values[:, None] (bit-identical scores, tested). A large batch
            # goes in blocks of whole rows with about _BLOCK features through one reused
            # buffer that stays in cache: gathering the whole batch's rows (~8 MB) at once took
            # 1.5x as long and pushed the weight table, which the gather reads at random, out
            # of the cache.
            nonempty = np.flatnonzero(indptr[1:] > indptr[:-1])
            first = indptr[nonempty]  # each non-empty row's first feature, ascending from 0
            ne = nonempty.shape[0]
            if nnz <= _BLOCK:
                rcut, fcut = [0, ne], [0, nnz]
            else:
                cuts = np.unique(np.searchsorted(first, np.arange(0, nnz, _BLOCK)))
                rcut = [*cuts[cuts < ne].tolist(), ne]
                fcut = [*first[rcut[:-1]].tolist(), nnz]
            width = max(b - a for a, b in itertools.pairwise(fcut))
            buf = np.empty((width, self._rows.shape[1]), dtype=np.float32)
            sums = np.empty((ne, h), dtype=np.float32)
            for r0, r1, fa, fb in zip(rcut[:-1], rcut[1:], fcut[:-1], fcut[1:], strict=True):
                c = buf[: fb - fa]
                # mode="clip" (indices are buckets, always in range): with out=, "raise" buffers.
                np.take(self._rows, indices[fa:fb], axis=0, out=c, mode="clip")
                # Each row scaled by its value (the same products as c * values[:, None], whose
                # 8-element inner loop was the slowest way). Rows of a few hundred features or
                # more: one in-place multiply by the row's scalar each (3/5 of the time of the
                # alternative on the bench shard); shorter rows, where the per-call cost would
                # dominate: one flat multiply by the values repeated per column.
                starts = first[r0:r1]
                if fb - fa >= _ROW_SCALE_MIN * (r1 - r0):
                    bounds = [*(starts - fa).tolist(), fb - fa]
                    for a, b, scale in zip(bounds[:-1], bounds[1:], values[starts].tolist(), strict=True):
                        seg = c[a:b]
                        np.multiply(seg, np.float32(scale), out=seg)
                else:
                    flat = c.reshape(-1)
                    np.multiply(flat, np.repeat(values[fa:fb], c.shape[1]), out=flat)
                np.add.reduceat(c[:, :h], starts - fa, axis=0, out=sums[r0:r1])
            logits[nonempty] += sums
        return logits

    def scores(self, texts: list[str]) -> np.ndarray:
        """Calibrated scores: each head's threshold maps to 0.5 (see the module docstring)."""
        return _calibrated(self.probabilities(texts), *self._t)  # threshold terms computed at load

    # -- files --------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the model; the same model always gives the same bytes (reproducible builds)."""
        meta = {
            "format": FORMAT,
            "spec": {"n_min": self.spec.n_min, "n_max": self.spec.n_max, "n_buckets": self.spec.n_buckets},
            "heads": [{"name": h.name, "risk": h.risk, "threshold": h.threshold} for h in self.heads],
            **{k: v for k, v in self.meta.items() if k not in {"format", "spec", "heads"}},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "meta": np.frombuffer(json.dumps(meta, sort_keys=True, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
        }
        # np.savez_compressed stamps zip entries with the current time; write entries ourselves.
        import io
        import zipfile

        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.save(buf, arrays[name], allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> ClassifierModel:
        path = Path(path)
        if not path.is_file():
            raise ModelFormatError(f"classifier model not found: {path} / 找不到分类模型文件")
        try:
            with np.load(path, allow_pickle=False) as z:
                weights = z["weights"].astype(np.float32)
                bias = z["bias"]
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
        except (OSError, ValueError, KeyError) as e:
            raise ModelFormatError(f"{path} is not a hegui classifier model ({type(e).__name__}: {e}) / 不是有效的分类模型文件") from None
        if meta.get("format") != FORMAT:
            raise ModelFormatError(f"{path}: unknown model format {meta.get('format')!r}, expected {FORMAT!r}")
        spec = FeatureSpec(**meta["spec"])
        heads = [Head(h["name"], h["risk"], float(h["threshold"])) for h in meta["heads"]]
        rest = {k: v for k, v in meta.items() if k not in {"format", "spec", "heads"}}
        return cls(spec, heads, weights, bias, rest)


def calibrate(p: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """Map probabilities so that per-head threshold ``thr`` → 0.5, monotone, 0 → 0 and 1 → 1."""
    t = np.clip(thr, 1e-6, 1 - 1e-6)
    return _calibrated(p, t, 1 - t).astype(np.float32)


def _calibrated(p: np.ndarray, t: np.ndarray, one_minus_t: np.ndarray) -> np.ndarray:
    """`calibrate` given the clipped thresholds ``t`` and ``1 - t`` (the model computes them once)."""
    low = 0.5 * p / t
    high = 0.5 + 0.5 * (p - t) / one_minus_t
    return np.where(p < t, low, high)
