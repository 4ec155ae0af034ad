"""Gates: one hyperscan pass per text that says which recognisers can possibly find something in it.

Why: most texts hold no personal information (≈ 8 % of the documents in a training-data shard
do), yet every recogniser used to run its own pre-filter and regexes over every text: 15 Python
regex passes per text, each at Python-regex speed (tens of ns per character). A gate is a
*necessary condition* for a recogniser to return any candidate ("a run of 15 digits", "an @", "a
road suffix and a house-number or admin character"), written so that it holds whenever the
recogniser's own pre-filter or window logic would let a match through. All gates of all
recognisers are compiled into one hyperscan database and a text is scanned once; a recogniser
whose gate fails is skipped, and it would have returned ``[]`` anyway, so findings are identical.
A gate may pass where the recogniser then finds nothing (that only costs time), never the other
way round: every expression here is a relaxation of the recogniser's own test.

The text is scanned as UTF-8 (``surrogatepass``: lone surrogates must not crash), which is
self-synchronising: an expression that starts with a character's first byte can only match at
a character boundary, so a literal matches exactly where the string holds it. Expressions are
built from the byte-level pieces below. Python's ``\\d`` is every Unicode decimal digit, but
digit runs in real text are ASCII: `digits` matches ASCII runs only, and a gate on digits also
passes on `OTHER_DIGIT`, any non-ASCII decimal digit anywhere in the text (a run of n ``\\d``
characters is either n ASCII digits or holds one of those).

Without hyperscan (non-x86-64 platforms) every gate passes: the recognisers then run exactly as
before, only without the shortcut.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("hegui.pii")

# -- byte-level pieces over UTF-8 ----------------------------------------------------------------


def _enc(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def _bytes(b: bytes) -> str:
    return "".join(f"\\x{x:02x}" for x in b)


def lit(s: str) -> str:
    """The literal string ``s``."""
    return _bytes(_enc(s))


def chars(cs: Iterable[str]) -> str:
    """Any one of the characters ``cs`` (grouped by all bytes but the last: one class per group)."""
    groups: dict[bytes, list[int]] = {}
    for c in set(cs):
        b = _enc(c)
        groups.setdefault(b[:-1], []).append(b[-1])
    alts = []
    for head, lasts in sorted(groups.items()):
        alts.append(_bytes(head) + "[" + _bytes(bytes(sorted(lasts))) + "]")
    return alt(*alts)


def alt(*pieces: str) -> str:
    return "(?:" + "|".join(pieces) + ")"


# Any one character: a leading byte and up to three continuation bytes (a superset of UTF-8).
ANY = r"[\x00-\x7f\xc0-\xff][\x80-\xbf]{0,3}"


def any_chars(lo: int, hi: int) -> str:
    """Between ``lo`` and ``hi`` characters of anything."""
    return f"(?:{ANY}){{{lo},{hi}}}"


# Any character of U+4000-9FFF (the CJK unified ideographs U+4E00-9FFF and a little more).
CJK = r"[\xe4-\xe9][\x80-\xbf]{2}"


# Placeholder for `_other_digit()`, expanded when the database is compiled (the table takes a
# few ms to build, so not at import).
OTHER_DIGIT = "@other-digit@"


@lru_cache(maxsize=1)
def _other_digit() -> str:
    """Any non-ASCII character Python's ``\\d`` accepts (``str.isdecimal``: the same property).

    BMP digits are listed. Outside the BMP a superset keeps the database small (the exact list of
    290 took 0.1 s to compile): any character of plane 1 except U+1F000-1FFFF (emoji; its only
    digits, U+1FBF0-1FBF9, are listed) and any character beyond plane 1 (no decimal digits there
    today; this stays safe if some are added).
    """
    bmp = [chr(cp) for cp in range(0x80, 0x10000) if chr(cp).isdecimal()]
    emoji_plane = [chr(cp) for cp in range(0x1F000, 0x20000) if chr(cp).isdecimal()]
    return alt(chars(bmp + emoji_plane), r"\xf0[\x90-\x9e]", r"\xf0[\xa0-\xbf]", r"[\xf1-\xf4]")


def digits(n: int, most: int | None = None) -> str:
    """``n`` ASCII digits, or between ``n`` and ``most`` of them (pair with `OTHER_DIGIT`)."""
    return f"[0-9]{{{n}}}" if most is None else f"[0-9]{{{n},{most}}}"


# -- gates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A necessary condition: any clause whose expressions are all found in the text.

    ``clauses`` is a disjunction of conjunctions of hyperscan expressions (bytes-level, see above).
    """

    clauses: tuple[tuple[str, ...], ...]

    @classmethod
    def any_of(cls, *exprs: str) -> Gate:
        return cls(tuple((e,) for e in exprs))


class GateSet:
    """The gates of a list of recognisers compiled into one database; `passes` gives, per text, who runs.

    ``gates[i]`` is recogniser i's gate or ``None`` (always runs: a recogniser without a declared
    gate, such as a user's own).
    """

    def __init__(self, gates: Sequence[Gate | None]) -> None:
        self._gates = list(gates)
        self._n = len(gates)
        exprs: dict[str, int] = {}
        self._clauses: list[list[int] | None] = []
        for g in gates:
            if g is None:
                self._clauses.append(None)
                continue
            masks = []
            for clause in g.clauses:
                m = 0
                for e in clause:
                    m |= 1 << exprs.setdefault(e, len(exprs))
                masks.append(m)
            self._clauses.append(masks)
        self._all = (1 << self._n) - 1
        # Per distinct atom mask, which recognisers pass: texts share few distinct masks.
        self._memo: dict[int, int] = {}
        self._exprs = tuple(exprs)  # in atom-bit order
        self._db = _compile(self._exprs) if exprs else None
        self._local = threading.local()

    def __getstate__(self) -> dict[str, object]:
        # A hyperscan database and thread-local scratch do not pickle (process pools and Ray send
        # detectors to workers): send the gates, compile again on the other side (cached there).
        return {"gates": self._gates}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["gates"])  # type: ignore[misc]

    @property
    def active(self) -> bool:
        """False when hyperscan is missing (or nothing is gated): every recogniser always runs."""
        return self._db is not None

    def _scratch(self):  # type: ignore[no-untyped-def]
        # Scratch space is per thread: hyperscan forbids sharing it between concurrent scans.
        s = getattr(self._local, "scratch", None)
        if s is None:
            import hyperscan

            s = self._local.scratch = hyperscan.Scratch(self._db)
        return s

    def passes(self, text: str) -> int:
        """Bit i set: recogniser i may find something in ``text`` (all bits when inactive)."""
        return self.passes_many((text,))[0]

    def passes_many(self, texts: Iterable[str]) -> list[int]:
        """`passes` for each text, with the per-call look-ups done once."""
        if self._db is None:
            return [self._all for _ in texts]
        memo, resolve = self._memo, self._resolve
        return [resolve(found) if (runs := memo.get(found)) is None else runs for found in self.found_many(texts)]

    def found_many(self, texts: Iterable[str]) -> list[int]:
        """Per text, which expressions it holds (bit k: expression k); only when `active`.

        `runs` turns such a set into "who runs", `clauses` into which clauses of one gate hold:
        the detector memoises both per distinct set (texts share few), so it scans here and
        looks the rest up.
        """
        db = self._db
        assert db is not None, "found_many needs hyperscan (see `active`)"
        scan, scratch = db.scan, self._scratch()
        hits: list[int] = []
        out: list[int] = []
        for text in texts:
            # Positional (data, handler, flags, context, scratch): no keyword parsing per text.
            scan(text.encode("utf-8", "surrogatepass"), _collect, 0, hits, scratch)
            found = 0
            for pid in hits:
                found |= 1 << pid
            hits.clear()
            out.append(found)
        return out

    def runs(self, found: int) -> int:
        """Bit i set: recogniser i runs on a text holding the expressions ``found`` (`found_many`)."""
        runs = self._memo.get(found)
        return self._resolve(found) if runs is None else runs

    def clauses(self, i: int, found: int) -> int:
        """Bit j set: clause j of recogniser i's gate holds, given the expressions ``found``.

        Why: a clause can be a necessary condition for *part* of a recogniser (the name
        recogniser's cue clause for its cue pattern, the title clause for its title search); a
        recogniser that says so (`PatternRecognizer.analyze_clauses`) skips the parts whose
        clauses fail. An ungated recogniser (``None``) gets 0: it is never asked.
        """
        masks = self._clauses[i]
        out = 0
        if masks is not None:
            for j, m in enumerate(masks):
                if found & m == m:
                    out |= 1 << j
        return out

    def _resolve(self, found: int) -> int:
        """Which recognisers run, given the set of expressions found (memoised: texts share few sets)."""
        out = 0
        for i, masks in enumerate(self._clauses):
            if masks is None or any(found & m == m for m in masks):
                out |= 1 << i
        if len(self._memo) < 4096:
            self._memo[found] = out
        return out


def _collect(pid: int, _from: int, _to: int, _flags: int, hits: list[int]) -> None:
    hits.append(pid)


CACHE_FORMAT = 1
_MAGIC = b"HGPG%d\n" % CACHE_FORMAT


def cache_key(exprs: tuple[str, ...]) -> str:
    """Hash of everything that determines the compiled database.

    The expressions themselves, this module's source (the `OTHER_DIGIT` expansion, the compile
    flags), the Unicode version (`_other_digit` reads ``str.isdecimal``) and the hyperscan version:
    change a gate, and the key changes, so a stale database is never loaded.
    """
    import hashlib
    import unicodedata

    import hyperscan

    h = hashlib.sha256(b"hegui-pii-gates-cache/%d\n" % CACHE_FORMAT)
    h.update(Path(__file__).read_bytes())
    h.update(f"unicode/{unicodedata.unidata_version}\nhyperscan/{hyperscan.__version__}\n".encode())
    for e in exprs:
        h.update(hashlib.sha256(e.encode("utf-8", "surrogatepass")).digest())
    return h.hexdigest()


def _cache_path(key: str) -> Path:
    from hegui.detect.keywords.compiled import default_cache_dir  # the keyword cache's directory

    return default_cache_dir() / f"pii-gates-{key[:32]}.hsdb"


def _read_cache(path: Path, key: str):  # type: ignore[no-untyped-def]
    """The cached database, or ``None`` when missing, unreadable or not this key's (then compiled)."""
    import hyperscan

    try:
        raw = path.read_bytes()
    except OSError:
        return None
    head = _MAGIC + key.encode("ascii") + b"\n"
    if not raw.startswith(head):
        return None
    try:  # hyperscan checks the serialised database (version, platform, CRC) on loading
        return hyperscan.loadb(raw[len(head) :], hyperscan.HS_MODE_BLOCK)
    except Exception as e:  # any failure means: compile instead
        log.warning("PII gate cache unreadable, recompiling", extra={"path": str(path), "error": type(e).__name__})
        return None


def _write_cache(path: Path, key: str, db) -> None:  # type: ignore[no-untyped-def]
    """Written like the keyword cache (atomic; an unwritable directory only costs the compile)."""
    import hyperscan

    from hegui.detect.keywords.compiled import write_cache_file

    write_cache_file(path, _MAGIC + key.encode("ascii") + b"\n" + bytes(hyperscan.dumpb(db)), prefix=".pii-gates-",
                     log_as=log, what="PII gate cache")


@lru_cache(maxsize=8)
def _compile(exprs: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """One block-mode database, each expression reported at most once per scan (None without hyperscan).

    Compiling takes ≈ 0.2 CPU s, paid by every process that builds a `PiiDetector` (each scan
    worker, each gateway worker), so the serialised database is cached next to the keyword
    library's (`_cache_path`) and loaded in well under a millisecond when the key matches.
    """
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - depends on the platform
        return None
    key = cache_key(exprs)
    path = _cache_path(key)
    db = _read_cache(path, key)
    if db is not None:
        return db
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[e.replace(OTHER_DIGIT, _other_digit()).encode("ascii") for e in exprs],
        ids=list(range(len(exprs))),
        elements=len(exprs),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(exprs),
    )
    _write_cache(path, key, db)
    return db
