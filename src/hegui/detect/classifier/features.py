"""Character n-gram features by feature hashing, in numpy only.

Why hashing: no vocabulary to ship or look up, so the model file is one dense weight matrix and the
per-call path is a few vectorised numpy operations (no scikit-learn, no Python loop per n-gram).
The hash is our own (a polynomial over code points, then a 64-bit finaliser), so it is stable across
processes and Python versions — ``hash()`` is salted per process and could not be used.

Features of a text are binary (n-gram present or not) and L2-normalised, so a long text does not
score higher just because it is long.
"""

from __future__ import annotations

import functools
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
    """CSR parts (indptr, indices, values) for many texts; values are 1/sqrt(#features) per row.

    Row ``i`` holds exactly ``hashed_ngrams(texts[i], spec)`` (tested bit for bit: the shipped
    model depends on it), but the batch is hashed in one pass over the concatenated code points
    as uint32 ``row << bits | bucket`` keys, laid out row by row and sorted per row (`_chunk_keys`).
    """
    n = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    bits = spec.n_buckets.bit_length() - 1
    # Under ~2,000 characters in all (one gateway message) the batched path's fixed cost (≈ 25
    # numpy calls) exceeds the per-text one's; both give the same rows. Over 32 bucket bits the
    # keys would not fit in uint32.
    if bits >= 32 or int(lengths.sum()) < _BATCH_MIN_CHARS:
        rows = [hashed_ngrams(t, spec) for t in texts]
        counts = np.fromiter((r.shape[0] for r in rows), dtype=np.int64, count=n)
        indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    else:
        step = (1 << (32 - bits)) - 1  # rows per chunk: the largest key stays below the sentinel
        chunks = [_chunk_keys(texts[s : s + step], lengths[s : s + step], spec, bits) for s in range(0, n, step)]
        counts = np.concatenate([c for c, _ in chunks]) if chunks else np.zeros(0, dtype=np.int64)
        indices = np.concatenate([i for _, i in chunks]) if chunks else np.zeros(0, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    scale = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0).astype(np.float32)
    values = np.repeat(scale, counts)
    return indptr, indices, values


_SENTINEL = np.uint32(0xFFFFFFFF)
_BATCH_MIN_CHARS = 2000


def _mix_inplace(h: np.ndarray) -> np.ndarray:
    """`_mix` without its five temporaries (same values)."""
    h ^= h >> _S33
    h *= _MIX1
    h ^= h >> _S33
    h *= _MIX2
    h ^= h >> _S33
    return h


@functools.lru_cache(maxsize=2)
def _unigram_buckets(n_buckets: int) -> np.ndarray:
    """The bucket of every code point as a unigram (uint32), as `hashed_ngrams` computes it."""
    with np.errstate(over="ignore"):
        h = _mix(np.arange(0x110000, dtype=np.uint64) + np.uint64(1) * _MIX2)
    return (h & np.uint64(n_buckets - 1)).astype(np.uint32)


def _chunk_keys(texts: Sequence[str], lengths: np.ndarray, spec: FeatureSpec, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row feature counts and the rows' sorted unique buckets, for fewer than 2**(32-bits) rows.

    The n-gram hash is a polynomial over the n code points only, so hashing the concatenation
    gives each text's own hashes. Each order's keys (uint32 ``row << bits | bucket``) are then
    scattered into a row-major array (row r holds its unigrams, bigrams, trigrams, in a slot
    sized for them), n-grams that run over a text's end into a spare last slot that is cut off;
    each row's slot is sorted on its own and duplicates dropped. Sorting ~1,300 keys per row,
    in cache, took 40 % of the time one sort of the whole batch's keys did; the result (rows in
    order, each row's buckets ascending and unique) is the same. Every pass writes into buffers
    allocated once per chunk (``out=``): fresh megabyte temporaries cost page faults that took as
    long as the arithmetic.
    """
    n = len(texts)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cp32 = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cp = cp32.astype(np.uint64)
    rowkey = np.repeat(np.arange(n, dtype=np.uint32) << np.uint32(bits), lengths)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    orders = [k for k in range(spec.n_min, spec.n_max + 1) if k <= total]
    if not orders:  # every text shorter than n_min
        return np.zeros(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Row-major layout: row r's order-k n-grams (max(len - k + 1, 0) of them) at slot_k[r].
    per_order = [np.maximum(lengths - (k - 1), 0) for k in orders]
    row_len = np.sum(per_order, axis=0) if len(orders) > 1 else per_order[0]
    row_end = np.cumsum(row_len)
    n_keys = int(row_end[-1])
    key = np.empty(n_keys + 1, dtype=np.uint32)  # + the spare slot for n-grams that cross an end
    slot = row_end - row_len  # where order k starts in each row; moves on by that order's count
    poly = cp.copy()  # the order-k polynomial hash of the n-gram starting at each position
    g = np.empty(total, dtype=np.uint64)
    tmp = np.empty(total, dtype=np.uint64)
    kbuf = np.empty(total, dtype=np.uint32)
    pos = np.arange(total, dtype=np.int64)
    dest = np.empty(total, dtype=np.int64)
    mask = np.uint64(spec.n_buckets - 1)
    with np.errstate(over="ignore"):
        for k in range(1, orders[-1] + 1):
            m = total - k + 1
            if k > 1:  # poly[i] = poly[i] * MUL + cp[i + k - 1], in place on the first m entries
                np.multiply(poly[:m], _MUL, out=poly[:m])
                np.add(poly[:m], cp[k - 1 :], out=poly[:m])
            if k < spec.n_min:
                continue
            kk = kbuf[:m]
            if k == 1:  # a unigram's bucket depends on its code point only: one table lookup
                np.take(_unigram_buckets(spec.n_buckets), cp32, out=kk)
            else:
                gk, tk = g[:m], tmp[:m]
                np.add(poly[:m], np.uint64(k) * _MIX2, out=gk)
                for mul in (_MIX1, _MIX2, None):  # `_mix`: xor-shift, multiply, xor-shift, multiply, xor-shift
                    np.right_shift(gk, _S33, out=tk)
                    np.bitwise_xor(gk, tk, out=gk)
                    if mul is not None:
                        np.multiply(gk, mul, out=gk)
                np.bitwise_and(gk, mask, out=gk)
                kk[...] = gk  # < 2**bits: exact in uint32
            kk |= rowkey[:m]
            dk = dest[:m]
            np.add(np.repeat(slot - starts, lengths)[:m], pos[:m], out=dk)
            for j in range(1, k):  # n-grams starting in a text's last k-1 characters cross its end
                bad = ends[lengths >= j] - j
                dk[bad[bad < m]] = n_keys
            key[dk] = kk
            slot = slot + per_order[orders.index(k)]
    key = key[:n_keys]
    for a, b in zip((row_end - row_len).tolist(), row_end.tolist(), strict=True):
        if b - a > 1:
            key[a:b].sort()
    keep = np.empty(key.shape[0], dtype=bool)
    if key.shape[0]:
        keep[0] = True
        np.not_equal(key[1:], key[:-1], out=keep[1:])  # the row bits keep rows apart
    key = key[keep]
    # Sorted keys: each row's features start where its row key would be inserted.
    starts = np.searchsorted(key, np.arange(n + 1, dtype=np.uint32) << np.uint32(bits))
    counts = np.diff(starts).astype(np.int64)
    key &= np.uint32(spec.n_buckets - 1)
    return counts, key.astype(np.int64)
