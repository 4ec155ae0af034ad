"""``blocklist``: content upheld in a complaint must not be generated again (Measures Art. 13).

Matching is on a canonical form — the shared normaliser's output (full-width, traditional, case,
homoglyphs, invisible characters folded) with every character that is not a letter or digit
removed — so inserted punctuation, spaces or symbols do not hide a copy. A text matches an entry
when it contains a large enough share (``containment``, default 0.7) of the entry's character
3-grams, found through an inverted index: exact copies and copies inside longer answers score 1.0,
a paraphrase that changes a few characters still scores high. Containment is computed exactly
from the index rather than estimated with MinHash: a blocklist holds hundreds to thousands of
entries, and MinHash's Jaccard estimate falls when the copy sits inside a longer answer.

The gateway fills the index from the store (``source``) and reloads it every ``refresh_s`` seconds
so an uphold in one worker reaches all; the worker that upholds adds the entry at once. The gateway
runs that reload in a background thread (`start_refresher`), so a check never waits on the store:
only after `invalidate` (an uphold in this process) does the next check reload first. Without the
thread (``refresh_s`` 0, or the detector used outside the gateway) a check reloads when due.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from hegui.detect.base import DetectorRegistry, Finding
from hegui.text import NormalizedText, normalize

log = logging.getLogger("hegui.blocklist")

RISK = "hg.blocklist"
MIN_CHARS = 4  # shorter entries would block ordinary words


def canonical_of(norm: NormalizedText) -> str:
    return "".join(c for c in norm.text if unicodedata.category(c)[0] in "LN")


def canonical(text: str) -> str:
    """The form entries are stored and matched in."""
    return canonical_of(normalize(text))


def digest(canon: str) -> str:
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


class Source(Protocol):
    """Where the entries live: a cheap ``version()`` (changes when entries change) and ``rows()``.

    A source whose version is ``(active count, highest id)`` may also offer ``rows_after(id)``; the
    detector then adds new entries without rebuilding its index (a removal still rebuilds).
    """

    def version(self) -> object: ...

    def rows(self) -> list[tuple[int, str]]: ...


class BlocklistDetector:
    """Finds texts that contain (near) copies of blocklisted content."""

    def __init__(self, entries: Iterable[str] = (), *, containment: float = 0.7, ngram: int = 3,
                 source: Source | None = None, refresh_s: float = 2.0, name: str = "blocklist") -> None:
        if not 0 < containment <= 1:
            raise ValueError("containment must be in (0, 1]")
        self.name, self.containment, self.n = name, containment, ngram
        self.source, self.refresh_s = source, refresh_s
        self._lock = threading.Lock()
        self._grams: dict[str, list[int]] = {}
        self._sizes: dict[int, int] = {}
        self._short: dict[int, str] = {}
        self._digests: dict[str, int] = {}
        self._next_local = -1  # ids for entries given in code (negative, never clash with the store's)
        self._version: object = None
        self._loaded_at = 0.0
        self._stale = True  # reload before the next check (set by `invalidate`)
        self._reload_lock = threading.Lock()  # one reload at a time (background thread vs. a check)
        self._refresher: threading.Thread | None = None
        self._stop = threading.Event()
        for e in entries:
            self.add(e)

    def __len__(self) -> int:
        return len(self._sizes) + len(self._short)

    def _grams_of(self, canon: str) -> set[str]:
        n = self.n
        return {canon[i : i + n] for i in range(len(canon) - n + 1)}

    def add(self, text: str, entry_id: int | None = None, *, is_canonical: bool = False) -> int:
        """Add an entry; returns its id. Raises ValueError for content too short to block safely."""
        canon = text if is_canonical else canonical(text)
        if len(canon) < MIN_CHARS:
            raise ValueError(f"blocklist content needs at least {MIN_CHARS} letters or digits / 内容过短，无法加入屏蔽库")
        with self._lock:
            d = digest(canon)
            if d in self._digests:
                return self._digests[d]
            if entry_id is None:
                entry_id, self._next_local = self._next_local, self._next_local - 1
            self._digests[d] = entry_id
            if len(canon) < self.n:
                self._short[entry_id] = canon
                return entry_id
            grams = self._grams_of(canon)
            self._sizes[entry_id] = len(grams)
            for g in grams:
                self._grams.setdefault(g, []).append(entry_id)
        return entry_id

    def _reload(self, *, force: bool = False) -> None:
        src = self.source
        if src is None or (not force and time.monotonic() - self._loaded_at < self.refresh_s):
            return
        with self._reload_lock:
            self._stale = False
            self._loaded_at = time.monotonic()
            self._reload_from(src)

    def _reload_from(self, src: Source) -> None:
        version = src.version()
        if version == self._version:
            return
        old = self._version
        after = getattr(src, "rows_after", None)
        if isinstance(old, tuple) and isinstance(version, tuple) and after is not None:
            # Entries only added since the last load (the common case): add those, no rebuild.
            fresh_rows = after(int(old[1] or 0))
            if int(old[0]) + len(fresh_rows) == int(version[0]):
                for eid, canon in fresh_rows:
                    self.add(canon, eid, is_canonical=True)
                self._version = version
                return
        fresh = BlocklistDetector(containment=self.containment, ngram=self.n)
        for eid, canon in src.rows():
            fresh.add(canon, eid, is_canonical=True)
        with self._lock:
            self._grams, self._sizes, self._short, self._digests = fresh._grams, fresh._sizes, fresh._short, fresh._digests
            self._version = version

    def invalidate(self) -> None:
        """Reload from the source on the next check (after an uphold in this process)."""
        self._loaded_at = 0.0
        self._stale = True

    def start_refresher(self) -> bool:
        """Reload every ``refresh_s`` seconds in a daemon thread instead of inside `detect` (the
        gateway, at start). No thread when there is no source or ``refresh_s`` is 0 (every check
        then reloads, as tests want). Returns whether a thread runs."""
        if self.source is None or self.refresh_s <= 0 or self._refresher is not None:
            return self._refresher is not None
        self._stop.clear()
        self._refresher = threading.Thread(target=self._refresh_loop, name="hegui-blocklist-refresh", daemon=True)
        self._refresher.start()
        return True

    def stop_refresher(self, timeout: float = 5.0) -> None:
        t, self._refresher = self._refresher, None
        if t is not None:
            self._stop.set()
            t.join(timeout)

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self._reload(force=True)
            except Exception as e:  # store down: keep the current index, try again next period
                log.error("blocklist refresh failed", extra={"error": type(e).__name__})

    def match(self, canon: str) -> list[tuple[int, float]]:
        """(entry id, containment) of the entries ``canon`` matches, best first."""
        with self._lock:
            grams, sizes, short = self._grams, self._sizes, self._short
        hits: Counter[int] = Counter()
        for g in self._grams_of(canon):
            for eid in grams.get(g, ()):
                hits[eid] += 1
        out = [(eid, h / sizes[eid]) for eid, h in hits.items() if h / sizes[eid] >= self.containment]
        out += [(eid, 1.0) for eid, s in short.items() if s in canon]
        return sorted(out, key=lambda x: -x[1])

    def detect(self, text: NormalizedText) -> list[Finding]:
        if self._refresher is None:
            self._reload()
        elif self._stale:
            self._reload(force=True)
        if not len(self):
            return []
        found = self.match(canonical_of(text))
        if not found:
            return []
        eid, score = found[0]
        return [Finding(RISK, -1, -1, round(min(1.0, score), 4), self.name, evidence=f"entry {eid}",
                        meta={"entries": [e for e, _ in found[:5]]})]


@DetectorRegistry.register("blocklist")
def _factory(**options: object) -> BlocklistDetector:
    return BlocklistDetector(**options)  # type: ignore[arg-type]
