"""Multi-literal matchers: hyperscan when it is installed, pyahocorasick otherwise.

Why two: hyperscan scans hundreds of MB/s with a database that is compiled once and serialised,
but it is x86-64 only; pyahocorasick runs everywhere. Both take the same list of normalised
literal patterns and return ``(pattern id, start, end)`` in *character* offsets, so the detector
does not care which one runs (a test checks that they agree).
"""

from __future__ import annotations

import struct
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Protocol


class Matcher(Protocol):
    backend: str

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence of every pattern: ``(pattern id, start, end)``, character offsets."""
        ...

    def scan_many(
        self, texts: Sequence[str], *, joined: str | None = None, narrow: bytes | None = None
    ) -> list[list[tuple[int, int, int]]]:
        """``scan`` of each text (the same occurrences, in offsets of that text).

        ``joined`` may give ``"\\n".join(texts)`` and ``narrow`` its `ascii_bytes`, where the
        caller has them already.
        """
        ...


def ascii_bytes(text: str) -> bytes:
    """``text`` one byte per character: ASCII as it is, ``?`` for every other character (lone
    surrogates included), so byte offsets are character offsets."""
    return text.encode("ascii", "replace")


def _starts(texts: Sequence[str]) -> list[int]:
    """Offset of each text in ``"\\n".join(texts)`` (running sums in C: a generator per text cost
    more than the bisections they serve)."""
    return list(accumulate([len(t) + 1 for t in texts[:-1]], initial=0))


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the platform
        return False
    return True


def _encode(s: str) -> bytes:
    """UTF-16-LE: a copy, not a transcoding, for the BMP text Chinese is (2 bytes a character, not 3).

    ``surrogatepass`` because raw (unnormalised) text may hold lone surrogates: never crash on them.
    """
    return s.encode("utf-16-le", "surrogatepass")


def encoded_len(s: str) -> int:
    """Length of a pattern as the matcher scans it, in bytes."""
    return len(_encode(s))


def _narrow(p: str) -> bool:
    """Whether pattern ``p`` goes to the one-byte database (see `HyperscanMatcher`)."""
    return p.isascii() and "?" not in p


_PACK = b"HGHS2\n"  # two databases, serialised together (`HyperscanMatcher.serialize`)


def _compile_db(hyperscan: Any, encoded: list[bytes], ids: list[int]) -> Any:
    """A block-mode database of literal byte strings, reporting ``ids``.

    Regex mode with every byte escaped: the literal API stops at NUL bytes, which UTF-16 has in
    every ASCII character. Hyperscan still compiles these as literals.
    """
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=["".join(f"\\x{b:02x}" for b in e).encode("ascii") for e in encoded],
        ids=ids,
        elements=len(encoded),
        flags=0,
    )
    return db


class HyperscanMatcher:
    """Literal patterns in two hyperscan block-mode databases.

    Patterns of ASCII characters (less ``?``) are matched one byte per character, on the text
    encoded as ASCII with ``?`` for every other character; the rest on UTF-16-LE code units.
    Why two: in UTF-16 every ASCII character is a letter and a NUL byte, and the ~20,000 Latin
    terms, so encoded, cost hyperscan more than the ~65,000 Chinese ones (17 ms for a 4 MiB
    shard together; 8 ms for the Chinese alone, 1 ms for the Latin ones on the one-byte text).
    An ASCII pattern without ``?`` matches exactly where it matches in the text, since every
    other character became a ``?``; offsets are character offsets.

    On UTF-16 code units: for BMP text (all of Chinese) byte offset / 2 is the character offset,
    with no per-text offset table; a match at an odd byte offset straddles two characters and is
    discarded. Texts with characters outside the BMP (emoji) get a correction from a count of
    surrogate units, computed only when such a text has a match. Literal patterns need no
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
        self._wide: Any = None  # UTF-16 database, None when no pattern needs it
        self._narrow: Any = None  # one-byte database, likewise
        if serialized is not None:
            if not serialized.startswith(_PACK):
                raise ValueError("not a serialised pair of hyperscan databases")
            off = len(_PACK)
            (n_wide,) = struct.unpack_from("<Q", serialized, off)
            off += 8
            wide, narrow = serialized[off : off + n_wide], serialized[off + n_wide :]
            if len(wide) != n_wide:
                raise ValueError("truncated hyperscan databases")
            self._wide = hyperscan.loadb(wide, hyperscan.HS_MODE_BLOCK) if wide else None
            self._narrow = hyperscan.loadb(narrow, hyperscan.HS_MODE_BLOCK) if narrow else None
        else:
            if not patterns:
                raise ValueError("HyperscanMatcher needs patterns to compile")
            narrow_ids = [i for i, p in enumerate(patterns) if p and _narrow(p)]
            wide_ids = [i for i, p in enumerate(patterns) if p and not _narrow(p)]
            if wide_ids:
                self._wide = _compile_db(hyperscan, [_encode(patterns[i]) for i in wide_ids], wide_ids)
            if narrow_ids:
                self._narrow = _compile_db(hyperscan, [patterns[i].encode("ascii") for i in narrow_ids], narrow_ids)
            self.compiled = True
        self._empty = len(self._blens) == 0 or (self._wide is None and self._narrow is None)
        # A serialised database comes from `Compiled`, whose patterns are stored joined by line
        # breaks and so never hold one; `scan_many` joins texts with line breaks.
        self._joinable = patterns is None or not any("\n" in p for p in patterns)
        self._local = threading.local()

    def serialize(self) -> bytes:
        wide = bytes(self._hs.dumpb(self._wide)) if self._wide is not None else b""
        narrow = bytes(self._hs.dumpb(self._narrow)) if self._narrow is not None else b""
        return _PACK + struct.pack("<Q", len(wide)) + wide + narrow

    def _scratches(self) -> tuple[Any, Any]:
        # Scratch space is per thread: hyperscan forbids sharing it between concurrent scans.
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = (
                self._hs.Scratch(self._wide) if self._wide is not None else None,
                self._hs.Scratch(self._narrow) if self._narrow is not None else None,
            )
            self._local.scratch = s
        return s

    def _scan_narrow(self, data: bytes) -> list[tuple[int, int]]:
        """``(pattern id, end)`` of the one-byte database's matches in `ascii_bytes` ``data``
        (character offsets)."""
        hits: list[tuple[int, int]] = []

        def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            hits.append((pid, to))

        self._narrow.scan(data, match_event_handler=on_match, scratch=self._scratches()[1])
        return hits

    def _scan_wide(self, text: str) -> tuple[bytes, list[tuple[int, int]]]:
        """The UTF-16 data of ``text`` and ``(pattern id, end byte)`` of its even-aligned matches."""
        data = _encode(text)
        hits: list[tuple[int, int]] = []

        def on_match(pid: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            if not to & 1:
                hits.append((pid, to))

        self._wide.scan(data, match_event_handler=on_match, scratch=self._scratches()[0])
        return data, hits

    def scan(self, text: str) -> list[tuple[int, int, int]]:
        if self._empty or not text:
            return []
        out: list[tuple[int, int, int]] = []
        blens, clens = self._blens, self._clens
        if self._wide is not None:
            data, hits = self._scan_wide(text)
            if hits:
                if len(data) == 2 * len(text):  # BMP only: code unit = character
                    for pid, to in hits:
                        start = to - blens[pid]
                        if not start & 1:
                            end = to >> 1
                            out.append((pid, end - clens[pid], end))
                else:
                    units_before = _char_index_utf16(data)
                    for pid, to in hits:
                        if (to - blens[pid]) & 1:
                            continue
                        end = int(units_before[to >> 1])
                        out.append((pid, end - clens[pid], end))
        if self._narrow is not None:
            out += [(pid, to - clens[pid], to) for pid, to in self._scan_narrow(ascii_bytes(text))]
        return out

    def scan_many(
        self, texts: Sequence[str], *, joined: str | None = None, narrow: bytes | None = None
    ) -> list[list[tuple[int, int, int]]]:
        """`scan` of each text, from one scan (per database) of the texts joined by line breaks
        (``joined`` and ``narrow``: see `Matcher.scan_many`).

        Why: a scan call costs ~10 µs of set-up, more than scanning a 500-character document,
        and the corpus scanner checks documents 256 at a time. No pattern holds a line break (else
        this falls back to `scan` per text), and a match at an odd byte offset is discarded as in
        `scan`, so every match lies inside one text; it is given in that text's offsets. (Like
        `scan`'s, the offsets assume no lone surrogates: normalised text has none.)
        """
        if not self._joinable:
            return [self.scan(t) for t in texts]
        out: list[list[tuple[int, int, int]]] = [[] for _ in texts]
        if self._empty or not texts:
            return out
        if joined is None:
            joined = "\n".join(texts)
        blens, clens = self._blens, self._clens
        starts = _starts(texts)

        def put(pid: int, end: int) -> None:
            """File a match ending at character ``end`` of the joined text under its text."""
            start = end - clens[pid]
            j = bisect_right(starts, start) - 1
            base = starts[j]
            out[j].append((pid, start - base, end - base))

        if self._wide is not None:
            data, hits = self._scan_wide(joined)
            # Outside the BMP, a character is two code units: the character offset of a unit offset
            # is the unit offset less the low surrogates before it (few, so found once and bisected).
            lows = None if not hits or len(data) == 2 * len(joined) else _low_surrogates(data)
            for pid, to in hits:
                if not (to - blens[pid]) & 1:
                    put(pid, to >> 1 if lows is None else (to >> 1) - bisect_left(lows, to >> 1))
        if self._narrow is not None:
            for pid, end in self._scan_narrow(ascii_bytes(joined) if narrow is None else narrow):
                put(pid, end)
        return out


def _low_surrogates(data: bytes) -> list[int]:
    """Sorted code-unit offsets of the low surrogates in UTF-16-LE ``data``."""
    import numpy as np

    u = np.frombuffer(data, dtype="<u2")
    return np.flatnonzero((u & 0xFC00) == 0xDC00).tolist()


def _char_index_utf16(data: bytes):  # type: ignore[no-untyped-def]
    """Array: UTF-16 code-unit offset → number of characters before it (len(units)+1 entries)."""
    import numpy as np

    u = np.frombuffer(data, dtype="<u2")
    starts = (u & 0xFC00) != 0xDC00  # a low surrogate continues the character before it
    out = np.empty(len(u) + 1, dtype=np.int64)
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

    def scan_many(
        self, texts: Sequence[str], *, joined: str | None = None, narrow: bytes | None = None
    ) -> list[list[tuple[int, int, int]]]:
        # One call per text: pyahocorasick's per-call cost is small next to its scan.
        return [self.scan(t) for t in texts]
