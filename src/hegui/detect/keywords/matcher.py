"""Multi-literal matchers: hyperscan when it is installed, pyahocorasick otherwise.

Why two: hyperscan scans hundreds of MB/s with a database that is compiled once and serialised,
but it is x86-64 only; pyahocorasick runs everywhere. Both take the same list of normalised
literal patterns and return ``(pattern id, start, end)`` in *character* offsets, so the detector
does not care which one runs (a test checks that they agree).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol


class Matcher(Protocol):
    backend: str

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence of every pattern: ``(pattern id, start, end)``, character offsets."""
        ...


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the platform
        return False
    return True


def _encode(s: str) -> bytes:
    # Normalised text has no lone surrogates, but a user pattern might: never crash on them.
    return s.encode("utf-8", "surrogatepass")


class HyperscanMatcher:
    """Literal patterns in a hyperscan block-mode database.

    Matching is on UTF-8 bytes. UTF-8 is self-synchronising, so a match of a whole encoded pattern
    always starts and ends on character boundaries; byte offsets become character offsets with one
    cumulative count, computed only for texts that have a match. Literal patterns need no
    start-of-match tracking: start = end - pattern length.
    """

    backend = "hyperscan"

    def __init__(
        self,
        patterns: Sequence[str] | None,
        *,
        serialized: bytes | None = None,
        lengths: tuple[Sequence[int], Sequence[int]] | None = None,
    ) -> None:
        """Compile ``patterns``, or load ``serialized`` (then ``lengths`` = (bytes, chars) per pattern)."""
        import hyperscan

        self._hs = hyperscan
        if lengths is not None:
            self._blens, self._clens = lengths
        elif patterns is not None:
            self._blens = [len(_encode(p)) for p in patterns]
            self._clens = [len(p) for p in patterns]
        else:
            raise ValueError("HyperscanMatcher needs patterns or their lengths")
        self.compiled = False
        if serialized is not None:
            self._db = hyperscan.loadb(serialized, hyperscan.HS_MODE_BLOCK)
        else:
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            if not patterns:
                raise ValueError("HyperscanMatcher needs patterns to compile")
            else:
                self._db.compile(
                    expressions=[_encode(p) for p in patterns],
                    ids=list(range(len(patterns))),
                    elements=len(patterns),
                    flags=0,
                    literal=True,
                )
            self.compiled = True
        self._empty = len(self._blens) == 0
        self._local = threading.local()

    def serialize(self) -> bytes:
        return bytes(self._hs.dumpb(self._db))

    def _scratch(self):  # type: ignore[no-untyped-def]
        # Scratch space is per thread: hyperscan forbids sharing it between concurrent scans.
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = self._hs.Scratch(self._db)
            self._local.scratch = s
        return s

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        if self._empty or not text:
            return []
        data = _encode(text)
        hits: list[tuple[int, int]] = []

        def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            hits.append((pid, to))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        if not hits:
            return []
        if len(data) == len(text):  # ASCII: bytes are characters
            return [(pid, to - self._blens[pid], to) for pid, to in hits]
        chars_before = _char_index(data)
        out = []
        for pid, to in hits:
            end = int(chars_before[to])
            out.append((pid, end - self._clens[pid], end))
        return out


def _char_index(data: bytes):  # type: ignore[no-untyped-def]
    """Array: byte offset → number of characters before it (length len(data)+1)."""
    import numpy as np

    b = np.frombuffer(data, dtype=np.uint8)
    starts = (b & 0xC0) != 0x80
    out = np.empty(len(b) + 1, dtype=np.int64)
    out[0] = 0
    np.cumsum(starts, out=out[1:])
    return out


class AhoCorasickMatcher:
    """The same contract on pyahocorasick (pure C extension, any platform)."""

    backend = "ahocorasick"

    def __init__(self, patterns: Sequence[str]) -> None:
        import ahocorasick

        self.compiled = True
        self._a = ahocorasick.Automaton()
        for pid, p in enumerate(patterns):
            if p:
                self._a.add_word(p, (pid, len(p)))
        self._empty = len(self._a) == 0
        if not self._empty:
            self._a.make_automaton()

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        if self._empty or not text:
            return []
        return [(pid, end + 1 - n, end + 1) for end, (pid, n) in self._a.iter(text)]
