"""MinHash sketches and LSH band keys for a whole batch of texts, in numpy.

Why not rensa (Rust) any more: feeding it meant one Python string per character 5-gram, which
cost three times what the hashing did (0.43 of 0.57 CPU s per 4 MB shard). Here the n-grams are
hashed straight from the batch's code points, and the sketch is *fast similarity sketching*
(Dahlgaard, Knudsen, Thorup, FOCS 2017) instead of 128 independent permutations, so each n-gram
is hashed a few times rather than 128 times.

The sketch has ``k`` bins. In round ``r`` (``r < k``) every n-gram of a document goes to a random
bin with the value ``r + u`` (``u`` uniform in [0, 1), kept as ``r << 32 | 32 random bits``);
in round ``k + j`` every n-gram goes to bin ``j``. A bin keeps its minimum. Since a later round
only has larger values, rounds can stop once every bin holds one: the result is that of all
``2k`` rounds, whatever the batch, worker or executor. For two documents a bin agrees exactly
when the element of the union with the smallest (first round, value) in it belongs to both, which
every element of the union is equally likely to be: ``P[bin equal] = Jaccard``, as with classic
MinHash (tests compare the estimates with rensa's on the same pairs). Documents of a few hundred
characters need two or three rounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_U = np.uint64
_MASK32 = _U(0xFFFFFFFF)
_ODD = _U(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: seeds and combining
_EMPTY = _U(0xFFFFFFFFFFFFFFFF)
SKETCH = "fss-v2"  # part of MinHashStep.config: band keys of other sketches are not comparable


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijection of 64-bit integers with good avalanche)."""
    x = x ^ (x >> _U(30))
    x *= _U(0xBF58476D1CE4E5B9)
    x ^= x >> _U(27)
    x *= _U(0x94D049BB133111EB)
    x ^= x >> _U(31)
    return x


def hash_columns(cols: Sequence[np.ndarray], seed: int | np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of code-point columns (each < 2^21), seeded per row or overall.

    Three code points fill 63 bits exactly, so each step ``h = mix64(h + packed)`` is injective
    in the packed code points for a given ``h``: no polynomial hash, whose short lattice vectors
    make n-grams that differ by small code-point offsets collide.
    """
    h: np.ndarray | np.uint64
    if np.ndim(seed):
        h = mix64(np.asarray(seed, dtype=_U) + _ODD)
    else:
        h = mix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=_U) + _ODD)[0]
    for g in range(0, len(cols), 3):
        packed = cols[g].astype(_U)
        for c in cols[g + 1 : g + 3]:
            packed <<= _U(21)
            packed |= c
        packed += h
        h = mix64(packed)
    assert isinstance(h, np.ndarray)
    return h


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of the batch concatenated (a lone surrogate is one, like any other) and
    each text's start offset (``len(texts) + 1`` entries)."""
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, starts


def shingle_hashes(texts: Sequence[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every character n-gram of each text with whitespace removed, and their text.

    Whitespace is what ``str.split()`` splits on (the code-point table's space bit, tested equal
    to ``str.isspace`` over all code points), so ``"a b"`` and ``"ab"`` give the same n-grams.
    """
    from hegui.datascan.signals import _SPACE_BIT, _luts

    cps, starts = codepoints(texts)
    nd = len(texts)
    doc = np.repeat(np.arange(nd, dtype=np.int64), np.diff(starts))
    solid = (_luts()[1][cps] & _SPACE_BIT) == 0
    cps, doc = cps[solid], doc[solid]
    if len(cps) < n:
        return np.zeros(0, dtype=_U), np.zeros(0, dtype=np.int64)
    count = len(cps) - n + 1
    h = hash_columns([cps[j : j + count] for j in range(n)], seed)
    ok = doc[:count] == doc[n - 1 :]  # the n-gram ends in the text it starts in
    return h[ok], doc[:count][ok]


def sketch(h: np.ndarray, doc: np.ndarray, nd: int, k: int, seed: int) -> np.ndarray:
    """The ``(nd, k)`` fast-similarity sketch of each text's n-gram hashes (all bins
    ``2^64 - 1`` for a text without n-grams).

    One 64-bit hash serves two rounds, one per 32-bit half ``u``: bin ``u·k >> 32``, value
    ``u·k mod 2^32`` (the rest of ``u`` below the bin: uniform, and independent of the other
    half). Rounds 0 and 1 use the n-gram hash itself, rounds 2j and 2j+1 ``mix64(h ^ salt[j])``.
    """
    sig = np.full(nd * k, _EMPTY, dtype=_U)
    view = sig.reshape(nd, k)
    if not len(h):
        return view
    salt = mix64(np.arange(2 * k, dtype=_U) + _U(seed & 0xFFFFFFFF) * _U(2 * k))
    k64 = _U(k)

    def place(x: np.ndarray, first: int, dk: np.ndarray) -> None:
        """Rounds first + 2i and first + 2i + 1 (those below k) from column i of x, one per
        32-bit half; x is (n-grams,) for one pair of rounds or (n-grams, pairs)."""
        rounds = _U(first) if x.ndim == 1 else np.arange(first, first + 2 * x.shape[1], 2, dtype=_U)
        for r, half in ((rounds, x >> _U(32)), (rounds + _U(1), x & _MASK32)):
            u = half * k64
            bins = u >> _U(32)
            bins += dk
            u &= _MASK32
            u |= r << _U(32)
            if np.any(r >= k64):  # k odd: the last pair has one round only
                keep = np.broadcast_to(r < k64, u.shape)
                bins, u = bins[keep], u[keep]
            np.minimum.at(sig, bins.ravel(), u.ravel())

    dk = doc.astype(_U) * k64
    place(h, 0, dk)  # rounds 0 and 1: the n-gram hash itself (already seeded)
    first, pairs = 2, 1
    hs, ds, dks = h, doc, dk  # the n-grams of texts with empty bins, fewer at each step
    while first < k:
        need = (view == _EMPTY).any(axis=1)[ds]
        if not need.any():
            return view
        if not need.all():
            hs, ds, dks = hs[need], ds[need], dks[need]
        pairs = min(pairs, (k - first + 1) // 2)
        if pairs == 1:
            place(mix64(hs ^ salt[first // 2]), first, dks)
        else:
            place(mix64(hs[:, None] ^ salt[first // 2 : first // 2 + pairs][None, :]), first, dks[:, None])
        first += 2 * pairs
        pairs = min(2 * pairs, 16)
    # Round k + j: every n-gram of the text to bin j (only texts with a handful of n-grams get here).
    need = (view == _EMPTY).any(axis=1)[ds]
    if need.any():
        hs, ds = hs[need], ds[need]
        last = np.full(nd * k, _EMPTY, dtype=_U)
        vals = (mix64(hs[:, None] ^ salt[None, k:]) & _MASK32) | (np.arange(k, 2 * k, dtype=_U) << _U(32))[None, :]
        np.minimum.at(last, (ds[:, None] * k + np.arange(k)[None, :]).ravel(), vals.ravel())
        np.copyto(view, last.reshape(nd, k), where=view == _EMPTY)
    return view


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(docs, bands)`` 64-bit LSH keys: band ``b`` hashes its ``rows`` sketch values and ``b``."""
    nd = sig.shape[0]
    h = np.broadcast_to(mix64(np.arange(bands, dtype=_U) + _ODD), (nd, bands)).copy()
    cut = sig[:, : bands * rows].reshape(nd, bands, rows)
    for j in range(rows):
        h = mix64(h * _ODD + cut[:, :, j])
    return h


def estimate_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of bins where two sketches agree (the Jaccard estimate)."""
    return float(np.mean(a == b))
