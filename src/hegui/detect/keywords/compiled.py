"""The keyword library in matchable form, and its on-disk cache.

Why a cache: normalising ~20,000 terms and compiling a hyperscan database takes a second or two;
`hegui check` and every gateway worker would pay it at each start. The compiled form (normalised
patterns, what each pattern means, and the serialised hyperscan database) is written once under a
cache directory, keyed by a hash of everything that determines it: the bytes of every lexicon and
allow-list file, the normaliser's source, and the hyperscan version. Any change gives a new key, so
a stale cache is never used; a cache that cannot be read or written is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hegui.detect.keywords.lexicon import Lexicon, Strength
from hegui.detect.keywords.matcher import AhoCorasickMatcher, HyperscanMatcher, Matcher, hyperscan_available

log = logging.getLogger("hegui.keywords")

CACHE_FORMAT = 1
_MAGIC = b"HGKW%d\n" % CACHE_FORMAT
GLOBAL = -1  # allow-phrase target meaning "suppresses every entry"


def default_cache_dir() -> Path:
    """``$HEGUI_CACHE_DIR``, else ``$XDG_CACHE_HOME/hegui``, else ``~/.cache/hegui``."""
    env = os.environ.get("HEGUI_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hegui"


def _is_word(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass(slots=True)
class Compiled:
    """Patterns (normalised literals) and what each one means.

    ``terms[pid]`` lists entry ids the pattern reports; ``allows[pid]`` lists entry ids it
    suppresses (``GLOBAL`` = all). ``entries[i]`` = (risk, strength, lexicon name, source).
    ``bounded[pid]`` = (needs a non-alphanumeric before, after): Latin terms such as ``av`` or
    ``qq`` must not fire inside ``java`` or ``qqq123``.
    """

    patterns: list[str]
    terms: list[list[int]]
    allows: list[list[int]]
    bounded: list[tuple[bool, bool]]
    entries: list[tuple[str, str, str, str]]
    term_ids: list[int] = field(default_factory=list)  # entry id → distinct-term id (for co-occurrence)
    hsdb: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "patterns": self.patterns,
            "terms": self.terms,
            "allows": self.allows,
            "bounded": [[a, b] for a, b in self.bounded],
            "entries": [list(e) for e in self.entries],
            "term_ids": self.term_ids,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], hsdb: bytes | None) -> Compiled:
        return cls(
            patterns=list(d["patterns"]),
            terms=[list(x) for x in d["terms"]],
            allows=[list(x) for x in d["allows"]],
            bounded=[(bool(a), bool(b)) for a, b in d["bounded"]],
            entries=[(e[0], e[1], e[2], e[3]) for e in d["entries"]],
            term_ids=list(d["term_ids"]),
            hsdb=hsdb,
        )


def compile_lexicons(lexicons: list[Lexicon], allow_phrases: list[str]) -> Compiled:
    """Normalise every term and allow-context exactly as text is normalised, and index them."""
    from hegui.text import normalize

    index: dict[str, int] = {}
    patterns: list[str] = []
    terms: list[list[int]] = []
    allows: list[list[int]] = []

    def pid_for(s: str) -> int:
        pid = index.get(s)
        if pid is None:
            pid = index[s] = len(patterns)
            patterns.append(s)
            terms.append([])
            allows.append([])
        return pid

    def forms(s: str) -> list[str]:
        n = normalize(s)
        return [f for f in dict.fromkeys((n.text.strip(), n.folded.strip())) if f]

    entries: list[tuple[str, str, str, str]] = []
    term_ids: list[int] = []
    distinct: dict[tuple[str, str], int] = {}
    skipped = 0
    for lex in lexicons:
        for e in lex.entries:
            fs = forms(e.term)
            if not fs:
                skipped += 1
                continue
            eid = len(entries)
            entries.append((e.risk, e.strength.value, lex.name, e.source))
            term_ids.append(distinct.setdefault((fs[0], e.risk), len(distinct)))
            for f in fs:
                terms[pid_for(f)].append(eid)
            for a in e.allow:
                for f in forms(a):
                    allows[pid_for(f)].append(eid)
    for a in allow_phrases:
        for f in forms(a):
            allows[pid_for(f)].append(GLOBAL)
    if skipped:
        log.warning("keyword terms empty after normalisation were skipped", extra={"count": skipped})
    bounded = [(_is_word(p[0]), _is_word(p[-1])) for p in patterns]
    return Compiled(patterns, terms, allows, bounded, entries, term_ids)


def cache_key(parts: list[bytes]) -> str:
    """Hash of everything that determines the compiled form."""
    import importlib

    # ``hegui.text`` re-exports the function ``normalize``, so fetch the module itself.
    normmod = importlib.import_module("hegui.text.normalize")
    h = hashlib.sha256(b"hegui-keywords-cache/%d\n" % CACHE_FORMAT)
    h.update(Path(str(normmod.__file__)).read_bytes())
    try:
        import hyperscan

        h.update(f"hyperscan/{hyperscan.__version__}".encode())
    except ImportError:  # pragma: no cover
        h.update(b"no-hyperscan")
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()


def read_cache(path: Path) -> Compiled | None:
    """The cached compiled form, or ``None`` when missing or unreadable (it is then rebuilt)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        if not raw.startswith(_MAGIC):
            raise ValueError("bad magic")
        off = len(_MAGIC)
        (n,) = struct.unpack_from("<Q", raw, off)
        off += 8
        meta = json.loads(raw[off : off + n].decode("utf-8", "surrogatepass"))
        db = raw[off + n :] or None
        return Compiled.from_json(meta, db)
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as e:
        log.warning("keyword cache unreadable, rebuilding", extra={"path": str(path), "error": type(e).__name__})
        return None


def write_cache(path: Path, compiled: Compiled) -> bool:
    """Write atomically (temp file + rename), so a concurrent reader never sees half a file."""
    meta = json.dumps(compiled.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    blob = _MAGIC + struct.pack("<Q", len(meta)) + meta + (compiled.hsdb or b"")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kw-", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
        return True
    except OSError as e:
        log.warning("keyword cache not written", extra={"path": str(path), "error": type(e).__name__})
        return False


def make_matcher(compiled: Compiled, backend: str = "auto") -> Matcher:
    """A matcher over ``compiled.patterns``; uses (and fills) ``compiled.hsdb`` for hyperscan."""
    if backend not in ("auto", "hyperscan", "ahocorasick"):
        raise ValueError(f"keyword matcher backend must be auto, hyperscan or ahocorasick, got {backend!r}")
    if backend == "ahocorasick" or (backend == "auto" and not hyperscan_available()):
        return AhoCorasickMatcher(compiled.patterns)
    if compiled.hsdb is not None:
        try:
            return HyperscanMatcher(compiled.patterns, serialized=compiled.hsdb)
        except Exception as e:  # another platform's or version's database: recompile
            log.warning("serialised hyperscan database unusable, recompiling", extra={"error": type(e).__name__})
    m = HyperscanMatcher(compiled.patterns)
    compiled.hsdb = m.serialize()
    return m


__all__ = ["GLOBAL", "Compiled", "Strength", "cache_key", "compile_lexicons", "default_cache_dir", "make_matcher", "read_cache", "write_cache"]
