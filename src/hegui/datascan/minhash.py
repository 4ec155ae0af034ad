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

import functools
from collections.abc import Sequence

import numpy as np

from hegui import native

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


def _mix64_inplace(x: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """`mix64` of ``x`` written over ``x``, with ``tmp`` (same shape) as scratch: the same values
    without the four temporary arrays (a third less time on a batch's million n-grams)."""
    np.right_shift(x, _U(30), out=tmp)
    x ^= tmp
    x *= _U(0xBF58476D1CE4E5B9)
    np.right_shift(x, _U(27), out=tmp)
    x ^= tmp
    x *= _U(0x94D049BB133111EB)
    np.right_shift(x, _U(31), out=tmp)
    x ^= tmp
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
    tmp: np.ndarray | None = None
    for g in range(0, len(cols), 3):
        packed = cols[g].astype(_U)
        for c in cols[g + 1 : g + 3]:
            packed <<= _U(21)
            packed |= c
        packed += h
        if tmp is None:
            tmp = np.empty_like(packed)
        h = _mix64_inplace(packed, tmp)
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
    """Hashes of every character n-gram of each text with whitespace removed, and their text
    (in text order: the text indices do not decrease).

    Whitespace is what ``str.split()`` splits on (the code-point table's space bit, tested equal
    to ``str.isspace`` over all code points), so ``"a b"`` and ``"ab"`` give the same n-grams.
    """
    cps, starts = codepoints(texts)
    nd = len(texts)
    solid = np.take(_solid_lut(), cps)  # take: half the time of lut[uint32 array]
    # Each text's non-space count, then only its n-grams: no per-character text index (an int64
    # array as long as the batch, compressed twice) as before; the same hashes and texts.
    nsolid = np.zeros(nd, dtype=np.int64)
    filled = np.flatnonzero(starts[1:] > starts[:-1])
    if len(filled):
        nsolid[filled] = np.add.reduceat(solid, starts[filled], dtype=np.int64)
    cps = cps[solid]
    if len(cps) < n:
        return np.zeros(0, dtype=_U), np.zeros(0, dtype=np.int64)
    count = len(cps) - n + 1
    h = hash_columns([cps[j : j + count] for j in range(n)], seed)
    # An n-gram starting at i crosses into the next text when a text starts in (i, i + n - 1].
    bounds = np.cumsum(nsolid)[:-1]  # where texts 1 … nd-1 start among the non-space characters
    cross = (bounds[:, None] - np.arange(1, n, dtype=np.int64)[None, :]).ravel()
    cross = cross[(cross >= 0) & (cross < count)]
    grams = np.maximum(nsolid - (n - 1), 0)  # n-grams inside each text
    doc = np.repeat(np.arange(nd, dtype=np.int64), grams)
    if not len(cross):
        return h, doc
    ok = np.ones(count, dtype=bool)
    ok[cross] = False
    return h[ok], doc


@functools.cache
def _solid_lut() -> np.ndarray:
    """Per code point: not whitespace (the space bit of `signals`' table, as a bool table)."""
    from hegui.datascan.signals import _SPACE_BIT, _luts

    return (_luts()[1] & _SPACE_BIT) == 0


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
    salt = _salts(k, seed)
    k64 = _U(k)
    shift = k.bit_length() - 1 if k & (k - 1) == 0 and 2 <= k <= 1 << 31 else 0  # k = 2^shift

    def place(x: np.ndarray, first: int, dk: np.ndarray) -> None:
        """Rounds first + 2i and first + 2i + 1 (those below k) from column i of x, one per
        32-bit half; x is (n-grams,) for one pair of rounds or (n-grams, pairs)."""
        rounds = _U(first) if x.ndim == 1 else np.arange(first, first + 2 * x.shape[1], 2, dtype=_U)
        u = np.empty_like(x)  # scratch for both halves: the arithmetic in place
        bins = np.empty_like(x)
        if shift:  # k = 2^b: the products are shifts, and both halves share x >> (32 - b)
            t = np.right_shift(x, _U(32 - shift))
            for r, high in ((rounds, True), (rounds + _U(1), False)):
                if high:  # u·k = (x >> 32) << b: bin = x >> (64 - b), value = t without its low b bits
                    np.right_shift(x, _U(64 - shift), out=bins)
                    np.bitwise_and(t, _MASK32 ^ (k64 - _U(1)), out=u)
                else:  # u·k = (x mod 2^32) << b: bin = t mod k, value = (x << b) mod 2^32
                    np.bitwise_and(t, k64 - _U(1), out=bins)
                    np.left_shift(x, _U(shift), out=u)
                    u &= _MASK32
                bins += dk
                if x.ndim > 1 or r:  # round 0 adds nothing
                    u |= r << _U(32)
                np.minimum.at(sig, bins.ravel().view(np.int64), u.ravel())  # k even: every round < k
            return
        for r, high in ((rounds, True), (rounds + _U(1), False)):
            if high:
                np.right_shift(x, _U(32), out=u)
            else:
                np.bitwise_and(x, _MASK32, out=u)
            u *= k64
            np.right_shift(u, _U(32), out=bins)
            bins += dk
            u &= _MASK32
            if x.ndim > 1 or r:  # round 0 adds nothing
                u |= r << _U(32)
            ub, bb = u, bins
            if np.any(r >= k64):  # k odd: the last pair has one round only
                keep = np.broadcast_to(r < k64, u.shape)
                bb, ub = bins[keep], u[keep]
            np.minimum.at(sig, bb.ravel().view(np.int64), ub.ravel())  # int64 indices: no cast (bins < 2^63)

    if len(doc) > 1 and bool((doc[1:] < doc[:-1]).any()):
        order = np.argsort(doc, kind="stable")  # a bin keeps a minimum: the order does not matter
        h, doc = h[order], doc[order]
    dk = doc.astype(_U)
    dk *= k64
    place(h, 0, dk)  # rounds 0 and 1: the n-gram hash itself (already seeded)
    # The n-grams of each text are a run (doc is sorted): the texts that still have an empty bin
    # select theirs by range, not by a mask over all n-grams of the batch at each step.
    gstart = np.searchsorted(doc, np.arange(nd + 1, dtype=doc.dtype))
    has = gstart[1:] > gstart[:-1]

    def grams_of_texts_with_empty_bins() -> np.ndarray | None:
        texts = np.flatnonzero((view == _EMPTY).any(axis=1) & has)
        if not len(texts):
            return None
        lo, n = gstart[texts], gstart[texts + 1] - gstart[texts]
        ends = np.cumsum(n)
        return np.repeat(lo - (ends - n), n) + np.arange(int(ends[-1]), dtype=np.int64)

    first, pairs = 2, 1
    while first < k:
        idx = grams_of_texts_with_empty_bins()
        if idx is None:
            return view
        hs, dks = h[idx], dk[idx]
        pairs = min(pairs, (k - first + 1) // 2)
        if pairs == 1:
            place(mix64(hs ^ salt[first // 2]), first, dks)
        else:
            place(mix64(hs[:, None] ^ salt[first // 2 : first // 2 + pairs][None, :]), first, dks[:, None])
        first += 2 * pairs
        pairs = min(2 * pairs, 16)
    # Round k + j: every n-gram of the text to bin j (only texts with a handful of n-grams get here).
    idx = grams_of_texts_with_empty_bins()
    if idx is not None:
        hs, ds = h[idx], doc[idx]
        last = np.full(nd * k, _EMPTY, dtype=_U)
        vals = (mix64(hs[:, None] ^ salt[None, k:]) & _MASK32) | (np.arange(k, 2 * k, dtype=_U) << _U(32))[None, :]
        np.minimum.at(last, (ds[:, None] * k + np.arange(k)[None, :]).ravel(), vals.ravel())
        np.copyto(view, last.reshape(nd, k), where=view == _EMPTY)
    return view


def _salts(k: int, seed: int) -> np.ndarray:
    """The ``2k`` salts of `sketch`: rounds 2j and 2j + 1 use salt j (j ≥ 1), round k + j salt k + j."""
    return mix64(np.arange(2 * k, dtype=_U) + _U(seed & 0xFFFFFFFF) * _U(2 * k))


def text_band_keys(texts: Sequence[str], n: int, seed: int, k: int, bands: int, rows: int) -> list[list[int]]:
    """Each text's LSH band keys (`shingle_hashes`, `sketch`, `band_keys`); ``[]`` for a text
    without an n-gram. The C extension's `minhash_bands` gives the same keys in one pass per text
    (a fifth of the numpy path's time on a corpus shard); numpy runs where it is missing."""
    nat = native.get()
    if nat is not None:
        out = np.empty((len(texts), bands), dtype=_U)
        has = nat.minhash_bands(texts, _solid_lut().view(np.uint8), n, seed & 0xFFFFFFFFFFFFFFFF, k, _salts(k, seed),
                                bands, rows, out)
        return [row if ok else [] for row, ok in zip(out.tolist(), has, strict=True)]
    keys: list[list[int]] = [[] for _ in texts]
    h, doc = shingle_hashes(texts, n, seed)
    if not len(h):
        return keys
    sig = sketch(h, doc, len(texts), k, seed)
    # texts with at least one n-gram get band keys (doc is in text order: a search per text,
    # not an assignment per n-gram)
    at = np.searchsorted(doc, np.arange(len(texts) + 1))
    has_grams = at[1:] > at[:-1]
    for i, row in zip(np.flatnonzero(has_grams).tolist(), band_keys(sig[has_grams], bands, rows).tolist(), strict=True):
        keys[i] = row
    return keys


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
