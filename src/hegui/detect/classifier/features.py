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
import itertools
import math
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


def _mix_inplace(h: np.ndarray, tmp: np.ndarray) -> None:
    """`_mix` in place, with ``tmp`` (same shape) as its one scratch array: the same values."""
    for mul in (_MIX1, _MIX2, None):  # xor-shift, multiply, xor-shift, multiply, xor-shift
        np.right_shift(h, _S33, out=tmp)
        np.bitwise_xor(h, tmp, out=h)
        if mul is not None:
            np.multiply(h, mul, out=h)


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
    as uint32 ``row << bits | bucket`` keys, sorted in groups of whole rows (`_chunk_keys`); one
    short text takes `_text_buckets`.
    """
    n = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    bits = spec.n_buckets.bit_length() - 1
    # Under ~2,000 characters in all (one gateway message) the batched path's fixed cost (≈ 25
    # numpy calls) exceeds the per-text one's; both give the same rows. Over 32 bucket bits the
    # keys would not fit in uint32.
    if bits >= 32 or int(lengths.sum()) < _BATCH_MIN_CHARS:
        if n == 1:  # one gateway message: three small arrays, no batch bookkeeping
            idx = _text_buckets(texts[0], spec)
            c = idx.shape[0]
            scale1 = np.float32(1.0 / math.sqrt(c)) if c else np.float32(0.0)  # as the batch's formula rounds
            return np.array([0, c], dtype=np.int64), idx, np.full(c, scale1, dtype=np.float32)
        rows = [_text_buckets(t, spec) for t in texts]
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


# k * _MIX2 mod 2**64, the order's offset in `hashed_ngrams`, computed in Python ints: numpy warns
# on (and `_text_buckets` would need an errstate block for) the wrapping scalar product.
_ORDER_OFFSET = [np.uint64(k * int(_MIX2) % (1 << 64)) for k in range(9)]


def _text_buckets(text: str, spec: FeatureSpec) -> np.ndarray:
    """`hashed_ngrams` of one short text in about half the time: for the gateway's one message.

    The same hashes, masks, sort and dedupe (tested bit for bit), with every order's n-grams
    hashed in one buffer by one in-place `_mix` and the polynomial updated in place: ~25 numpy
    calls instead of ~45, and at a few hundred characters the calls are the cost.
    """
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    n_chars = cp.shape[0]
    hi = min(spec.n_max, n_chars)
    if hi < spec.n_min:
        return np.zeros(0, dtype=np.int64)
    g = np.empty(sum(n_chars - k + 1 for k in range(spec.n_min, hi + 1)), dtype=np.uint64)
    poly = cp.copy() if hi > 1 else cp
    o = 0
    for k in range(1, hi + 1):
        m = n_chars - k + 1
        if k > 1:  # array arithmetic wraps silently (only scalar arithmetic warns)
            np.multiply(poly[:m], _MUL, out=poly[:m])
            np.add(poly[:m], cp[k - 1 :], out=poly[:m])
        if k >= spec.n_min:
            np.add(poly[:m], _ORDER_OFFSET[k], out=g[o : o + m])
            o += m
    _mix_inplace(g, np.empty_like(g))
    g &= np.uint64(spec.n_buckets - 1)
    idx = g.view(np.int64)  # every value is below 2**63: the same numbers as int64
    idx.sort()
    keep = np.empty(idx.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(idx[1:], idx[:-1], out=keep[1:])
    return idx[keep]


_SENTINEL = np.uint32(0xFFFFFFFF)
_BATCH_MIN_CHARS = 2000
_GROUP_CHARS = 5000  # characters per sort group: ~15,000 keys, 60 KB, in cache


@functools.lru_cache(maxsize=2)
def _unigram_buckets(n_buckets: int) -> np.ndarray:
    """The bucket of every code point as a unigram (uint32), as `hashed_ngrams` computes it."""
    h = np.arange(0x110000, dtype=np.uint64)
    h += _ORDER_OFFSET[1]
    _mix_inplace(h, np.empty_like(h))  # built once per process: 9 ms in place, 17 ms with `_mix`
    h &= np.uint64(n_buckets - 1)
    return h.astype(np.uint32)


def _chunk_keys(texts: Sequence[str], lengths: np.ndarray, spec: FeatureSpec, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row feature counts and the rows' sorted unique buckets, for fewer than 2**(32-bits) rows.

    The n-gram hash is a polynomial over the n code points only, so hashing the concatenation
    gives each text's own hashes. Each order's keys are uint32 ``row << bits | bucket`` with the
    row of the n-gram's first character; an n-gram that runs over its text's end is overwritten
    with that position's unigram key (a duplicate of a feature the row has, dropped with the
    other duplicates) or, without unigrams, with a sentinel above every key, removed at the end.
    Rows are then cut into groups of whole rows with about `_GROUP_CHARS` characters; a group's
    keys of every order are copied side by side and sorted in one call, and duplicates dropped
    in one pass over the chunk. The row bits keep rows apart and in order, so the result is each
    row's buckets ascending and unique, as `hashed_ngrams` gives them. Measured on the bench
    shard: the group copies cost a third of scattering every key into a per-row slot (the former
    layout), and ~320 sorts of ~15,000 keys in cache cost no more than ~3,300 per-row sorts;
    one sort of all of a chunk's keys took 1.25x as long.
    """
    n = len(texts)
    total = int(lengths.sum())
    orders = [k for k in range(spec.n_min, spec.n_max + 1) if k <= total]
    if not orders:  # no text, or every text shorter than n_min
        return np.zeros(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cp32 = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    rowkey = np.repeat(np.arange(n, dtype=np.uint32) << np.uint32(bits), lengths)
    ends = np.cumsum(lengths)
    mask = np.uint64(spec.n_buckets - 1)
    keys: list[np.ndarray] = []  # per order: the key of the n-gram starting at each position
    poly = cp32.astype(np.uint64) if orders[-1] > 1 else cp32  # the order-k polynomial hash
    g = np.empty(total, dtype=np.uint64)
    tmp = np.empty(total, dtype=np.uint64)
    for k in range(1, orders[-1] + 1):
        m = total - k + 1
        if k > 1:  # poly[i] = poly[i] * MUL + cp[i + k - 1], in place (array arithmetic wraps silently)
            np.multiply(poly[:m], _MUL, out=poly[:m])
            np.add(poly[:m], cp32[k - 1 :], out=poly[:m])
        if k < spec.n_min:
            continue
        kk = np.empty(m, dtype=np.uint32)
        if k == 1:  # a unigram's bucket depends on its code point only: one table lookup
            # (code points are <= 0x10FFFF; "clip" because with out= the default "raise" buffers)
            np.take(_unigram_buckets(spec.n_buckets), cp32, out=kk, mode="clip")
        else:
            gk, tk = g[:m], tmp[:m]
            np.add(poly[:m], _ORDER_OFFSET[k], out=gk)
            _mix_inplace(gk, tk)
            np.bitwise_and(gk, mask, out=gk)
            kk[...] = gk  # < 2**bits: exact in uint32
        kk |= rowkey[:m]
        for j in range(1, k):  # n-grams starting in a text's last k-1 characters cross its end
            bad = ends[lengths >= j] - j
            bad = bad[bad < m]
            kk[bad] = keys[0][bad] if spec.n_min == 1 else _SENTINEL
        keys.append(kk)
    # Groups of whole rows: char boundaries at the ends of the rows holding every _GROUP_CHARS-th char.
    bounds = np.unique(ends[np.searchsorted(ends, np.arange(_GROUP_CHARS, total, _GROUP_CHARS), side="left")])
    bounds = [0, *bounds.tolist()] if bounds.size and bounds[-1] == total else [0, *bounds.tolist(), total]
    key = np.empty(sum(kk.shape[0] for kk in keys), dtype=np.uint32)
    o = 0
    for a, b in itertools.pairwise(bounds):
        parts = [kk[a:b] for kk in keys]
        e = o + sum(p.shape[0] for p in parts)
        grp = key[o:e]
        np.concatenate(parts, out=grp)
        grp.sort()
        o = e
    keep = np.empty(key.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(key[1:], key[:-1], out=keep[1:])  # the row bits keep rows apart
    if spec.n_min > 1:  # at most one sentinel per group is left, at its end
        keep &= key != _SENTINEL
    key = key[keep]
    # Sorted keys: each row's features start where its row key would be inserted.
    starts = np.searchsorted(key, np.arange(n + 1, dtype=np.uint32) << np.uint32(bits))
    counts = np.diff(starts).astype(np.int64)
    key &= np.uint32(spec.n_buckets - 1)
    return counts, key.astype(np.int64)
