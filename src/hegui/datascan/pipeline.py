"""One shard through the steps: the only code every executor runs.

`run_shard` returns the shard's outputs as bytes keyed by file name, so the local executor and
Ray ship the same payload back to the driver, which writes the checkpoint. Identical bytes from
both executors follow from this single code path.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from hegui.datascan import protocol
from hegui.datascan.readers import Document, ReaderOptions, ReadIssue, Shard, read_shard
from hegui.datascan.steps import Record, Step

BATCH = 256
# What a shard's checkpoint holds. 2: stats.json carries the shard's `SourceAgg` ("agg"), which the
# merge adds up instead of parsing every annotation line again. 3: review_keys.npy, the keys of the
# shard's review candidates, which may be cut by a `ReviewBound`. Part of the resume fingerprint,
# and `Checkpoints.done` wants it, so a checkpoint of another version is run again, never mixed in.
CHECKPOINT_VERSION = 3
NO_BOUND = 2**64 - 1  # review keys are 64-bit: every key is ≤ this


@dataclass
class Pipeline:
    """Steps plus what the protocol needs per document (sampling seeds, filter output)."""

    steps: list[Step]
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    seed: int = 20231
    review_n: int = 4000  # manual-review sample size (TC260: ≥ 4,000)
    auto_fraction: float = 1.0  # share of documents in the automated check (TC260: ≥ 10 %)
    keep_text: bool = False  # --filter: ship texts back for the clean corpus / rejects files


def sample_key(seed: int, salt: str, source: str, doc_id: str) -> int:
    """A keyed 64-bit hash: the document's place in a seeded random order (reproducible)."""
    return _finish_key(_key_prefix(seed, salt, source), doc_id)


def _key_prefix(seed: int, salt: str, source: str) -> Any:
    """The BLAKE2b state after ``"{seed}|{salt}|{source}|"``: `sample_key` hashes the document
    id after it (the prefix ends in "|", so its encoding and the id's concatenate to the whole
    string's)."""
    return hashlib.blake2b(f"{seed}|{salt}|{source}|".encode("utf-8", "surrogatepass"), digest_size=8)


def _finish_key(state: Any, doc_id: str) -> int:
    state.update(doc_id.encode("utf-8", "surrogatepass"))
    return int.from_bytes(state.digest(), "big")


def _auto_below(p: Pipeline) -> int | None:
    """Documents whose "auto" key is below this are in the automated check (None: every one)."""
    return None if p.auto_fraction >= 1.0 else int(p.auto_fraction * 2**64)


def in_auto_sample(p: Pipeline, source: str, doc_id: str) -> bool:
    below = _auto_below(p)
    return below is None or sample_key(p.seed, "auto", source, doc_id) < below


class _SampleKeys:
    """`sample_key` for one seed and salt, source by source: the hash of the common prefix is
    taken once and copied (BLAKE2b streams, so the digest is the same), a third less per key."""

    def __init__(self, seed: int, salt: str) -> None:
        self.seed, self.salt = seed, salt
        self._prefix: dict[str, Any] = {}

    def __call__(self, source: str, doc_id: str) -> int:
        base = self._prefix.get(source)
        if base is None:
            base = self._prefix[source] = _key_prefix(self.seed, self.salt, source)
        return _finish_key(base.copy(), doc_id)


def _dumps(obj: Any) -> bytes:
    """One JSON line, UTF-8, compact. orjson (Rust) writes the same bytes as ``json.dumps`` for
    what annotations hold, 3–5× faster; lone surrogates, NaN and huge ints fall back to json."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except (TypeError, orjson.JSONEncodeError):
        return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "surrogatepass")


def _loads(line: bytes) -> Any:
    """Parse a checkpoint line: orjson, else json (lone surrogates written with surrogatepass)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line.decode("utf-8", "surrogatepass"))


class SourceAgg:
    """The report's counts for a set of documents (one shard, one source, the whole corpus).

    Workers count their shard's annotations as they write them (`add_many`) and ship the counts in
    stats.json; the merge adds shards up in shard order (`merge`). Counters keep the order in which
    keys first appear (the report's tie order), and adding shards in order keeps it: a key first
    seen in shard i comes after every key of shards before i, in shard i's own order.
    """

    _INTS = ("docs", "bytes", "empty", "illegal", "errors", "dups", "auto_n", "auto_ok", "pii_docs", "non_utf8")
    _COUNTERS = ("risks", "pii", "langs", "flags", "issues")

    def __init__(self) -> None:
        self.docs = self.bytes = self.empty = self.illegal = self.errors = self.dups = 0
        self.auto_n = self.auto_ok = self.pii_docs = self.non_utf8 = 0
        self.risks: Counter[str] = Counter()
        self.pii: Counter[str] = Counter()
        self.langs: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.issues: Counter[str] = Counter()

    def add_many(self, anns: list[dict[str, Any]]) -> None:
        """Count ``anns`` in order (keys first seen in the order of the documents), a pass per
        field over the batch instead of a call per document."""
        self.docs += len(anns)
        self.bytes += sum([a["bytes"] for a in anns])
        flags = [a["flags"] for a in anns]
        self.empty += sum(["empty" in f for f in flags])
        illegal = [a["illegal"] for a in anns]
        self.illegal += sum(illegal)
        self.errors += sum(["error" in a for a in anns])
        self.dups += sum([a.get("dup_of") is not None for a in anns])
        self.non_utf8 += sum(["encoding" in a for a in anns])
        for a, bad in zip(anns, illegal, strict=True):
            if a["auto_sample"]:
                self.auto_n += 1
                self.auto_ok += not bad
        counts = self.pii
        for a in anns:
            pii = a["pii"]
            if pii:
                self.pii_docs += 1
                for k, v in pii.items():
                    counts[k] += v
        self.risks.update([k for a in anns for k in a["risks"]])  # Counter.update on a list: C, in order
        self.langs.update([a["lang"] for a in anns])
        self.flags.update([k for f in flags for k in f])

    def merge(self, other: SourceAgg) -> None:
        """Add ``other``'s counts (documents that come after ours)."""
        for k in self._INTS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for k in self._COUNTERS:
            mine: Counter[str] = getattr(self, k)
            for key, v in getattr(other, k).items():
                mine[key] += v

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self._INTS}, **{k: dict(getattr(self, k)) for k in self._COUNTERS}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SourceAgg:
        agg = cls()
        for k in cls._INTS:
            setattr(agg, k, d[k])
        for k in cls._COUNTERS:
            setattr(agg, k, Counter(d[k]))
        return agg

    def to_dict(self, total_docs: int | None = None) -> dict[str, Any]:
        return {
            "docs": self.docs, "bytes": self.bytes, "empty": self.empty, "check_errors": self.errors,
            "illegal": self.illegal, "near_duplicates": self.dups, "pii_docs": self.pii_docs,
            "non_utf8_docs": self.non_utf8,
            "risks": dict(self.risks.most_common()), "pii": dict(self.pii.most_common()),
            "languages": dict(self.langs.most_common()), "quality_flags": dict(self.flags.most_common()),
            "read_issues": dict(self.issues.most_common()),
            "tc260": {
                "source_illegal_rate": protocol.source_rule(self.illegal, self.docs),
                "automated_check": protocol.auto_rule(self.auto_n, self.auto_ok, self.docs),
            },
        }


class ReviewBound:
    """The ``n``-th smallest review key among the candidates of the shards finished so far.

    The exported sample is the ``n`` documents of the whole corpus with the smallest (key, id).
    Once finished shards hold ``n`` candidates with keys ≤ b, no document with a key above b can
    be among them, whichever shards are still to come: a shard that starts later keeps only
    candidates with keys ≤ b (`run_shard`'s ``review_bound``). The sample stays the same, but a
    shard's review.jsonl (the candidates' texts, up to ``n`` per shard) shrinks: with 4 MiB
    shards of a 32 MB corpus, 25,107 → ≈ 12,700 candidates written; with N full shards, the k-th
    to start keeps ≈ n / (k − 1), ≈ n × (ln N + 1.6) in all instead of n × N. Which candidates a
    shard keeps then depends on the order the shards finished in; the merged outputs do not.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._smallest = np.empty(0, dtype=np.uint64)

    def add(self, keys: np.ndarray) -> int:
        """Take a finished shard's candidate keys; returns the bound (`NO_BOUND` while fewer
        than ``n`` candidates are known)."""
        if self.n and len(keys):
            both = np.concatenate([self._smallest, keys.astype(np.uint64, copy=False)])
            self._smallest = np.sort(both)[: self.n]
        return self.value

    @property
    def value(self) -> int:
        return int(self._smallest[-1]) if self.n and len(self._smallest) >= self.n else NO_BOUND

    @property
    def smallest(self) -> np.ndarray:
        """The (at most ``n``) smallest keys seen, ascending: enough to rebuild the bound elsewhere."""
        return self._smallest.copy()


def review_keys(data: bytes) -> np.ndarray:
    """A checkpoint's review_keys.npy as an array (uint64, ascending)."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def run_shard(p: Pipeline, shard: Shard, review_bound: Callable[[], int] | None = None) -> dict[str, bytes]:
    """Process one shard. Keys are the checkpoint file names.

    ``review_bound`` (read once per batch) gives the largest review key still worth keeping (a
    `ReviewBound` the driver updates as shards finish); candidates above it are not kept.
    """
    ann = io.BytesIO()
    issues = io.BytesIO()
    kept = io.BytesIO()
    rejects = io.BytesIO()
    bands: list[list[int]] = []
    review: list[tuple[int, str, bytes]] = []  # a max-heap (negated keys) of the smallest review_n
    n_docs = n_issues = n_bytes = 0
    agg = SourceAgg()  # the report's counts (near-duplicates and read issues: the merge's)

    review_key = _SampleKeys(p.seed, "review")
    auto_key = _SampleKeys(p.seed, "auto")
    auto_below = _auto_below(p)

    def flush(batch: list[Record]) -> None:
        nonlocal n_docs, n_bytes
        if not batch:
            return
        for step in p.steps:
            step(batch)
        bound = review_bound() if review_bound is not None else NO_BOUND
        lines = []
        anns: list[dict[str, Any]] = []
        for r in batch:
            doc = r.doc
            doc_id = doc.id
            n_bytes += doc.nbytes
            a = {"id": doc_id, "source": r.source, "file": r.file, "bytes": doc.nbytes}
            if doc.encoding != "utf-8":
                a["encoding"] = doc.encoding
            a.update(r.ann)
            a["auto_sample"] = auto_below is None or auto_key(r.source, doc_id) < auto_below  # = in_auto_sample
            a["reasons"] = r.reasons
            lines.append(_dumps(a))
            anns.append(a)
            bands.append(r.bands)
            if p.review_n:
                k = review_key(r.source, doc_id)  # = sample_key(p.seed, "review", …)
                full = len(review) >= p.review_n
                # serialise only what may stay
                if k <= bound and (not full or (-k, doc_id) >= review[0][:2]):
                    item = (-k, doc_id, _dumps({"key": k, "id": doc_id, "source": r.source, "text": doc.text,
                                                "auto_illegal": a.get("illegal", False), "auto_risks": a.get("risks", [])}))
                    if not full:
                        heapq.heappush(review, item)
                    elif item > review[0]:
                        heapq.heapreplace(review, item)
            if p.keep_text:
                row = {"id": doc_id, "source": r.source, "text": doc.text}
                if r.reasons:
                    rejects.write(_dumps({**row, "reasons": r.reasons}))
                else:
                    kept.write(_dumps(row))
        n_docs += len(batch)
        ann.write(b"".join(lines))
        agg.add_many(anns)
        batch.clear()

    batch: list[Record] = []
    for item in read_shard(shard, p.reader):
        if isinstance(item, ReadIssue):
            n_issues += 1
            issues.write(_dumps({"source": shard.source, **item.to_dict()}))
            continue
        assert isinstance(item, Document)
        batch.append(Record(item, shard.source, shard.rel))
        if len(batch) >= BATCH:
            flush(batch)
    flush(batch)

    width = max((len(b) for b in bands), default=0)
    arr = np.zeros((len(bands), width), dtype=np.uint64)
    for i, b in enumerate(bands):
        if b:
            arr[i, :] = b
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    review_sorted = sorted(review, reverse=True)  # ascending key order
    review_bytes = b"".join(line for _, _, line in review_sorted)
    keys_buf = io.BytesIO()
    np.save(keys_buf, np.array([-k for k, _, _ in review_sorted], dtype=np.uint64), allow_pickle=False)
    stats = {"index": shard.index, "key": shard.key(), "docs": n_docs, "issues": n_issues, "bytes": n_bytes,
             "v": CHECKPOINT_VERSION, "agg": agg.to_json()}
    return {
        "annotations.jsonl": ann.getvalue(),
        "bands.npy": buf.getvalue(),
        "review.jsonl": review_bytes,
        "review_keys.npy": keys_buf.getvalue(),
        "issues.jsonl": issues.getvalue(),
        "kept.jsonl": kept.getvalue(),
        "rejects.jsonl": rejects.getvalue(),
        "stats.json": json.dumps(stats).encode(),
    }
