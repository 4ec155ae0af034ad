"""The keyword library in matchable form, and its on-disk cache.

Why a cache: normalising ~20,000 terms and compiling a hyperscan database takes a second or two;
`hegui check` and every gateway worker would pay it at each start. The compiled form (normalised
patterns, what each pattern means, and the serialised hyperscan database) is written once under a
cache directory, keyed by a hash of everything that determines it: the bytes of every lexicon and
allow-list file, the normaliser's source, and the hyperscan version. Any change gives a new key, so
a stale cache is never used; a cache that cannot be read or written is rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from hegui.detect.keywords.lexicon import Lexicon, Strength
from hegui.detect.keywords.matcher import (
    AhoCorasickMatcher,
    HyperscanMatcher,
    Matcher,
    encoded_len,
    hyperscan_available,
)

log = logging.getLogger("hegui.keywords")

CACHE_FORMAT = 4  # 3: UTF-16 patterns, regex-mode database; 4: ASCII patterns in a one-byte database of their own
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
    """Patterns (normalised literals) and what each one means, in flat arrays.

    Flat arrays because a library of ~100,000 terms must load in a few milliseconds: one Python
    object per entry would cost more than scanning a document. For pattern ``pid``:
    ``term_ids[term_off[pid]:term_off[pid + 1]]`` are the entry ids it reports; ``allows.get(pid)``
    the entry ids it suppresses (``GLOBAL`` = all); ``bounded[pid]`` bit 1/2 = needs a
    non-alphanumeric character before/after it (Latin terms such as ``av`` must not fire inside
    ``java``). For entry ``e``: ``risks[risk_idx[e]]``, ``strong[e]``, ``lexicons[lex_idx[e]]``,
    ``sources[src_idx[e]]``, and ``dist[e]`` (the id of its distinct normalised term, for
    co-occurrence counting).
    """

    patterns_blob: str  # patterns joined by "\n" (a term never contains a line break)
    term_off: array
    term_ids: array
    allows: dict[int, list[int]]
    bounded: bytes
    risk_idx: array
    strong: bytes
    lex_idx: array
    src_idx: array
    dist: array
    clen: array  # pattern length in characters
    blen: array  # pattern length in the matcher's encoding (UTF-16-LE bytes)
    risks: list[str]
    lexicons: list[str]
    sources: list[str]
    hsdb: bytes | None = None
    _patterns: list[str] | None = field(default=None, repr=False)

    @property
    def patterns(self) -> list[str]:
        if self._patterns is None:
            self._patterns = self.patterns_blob.split("\n") if self.patterns_blob else []
        return self._patterns

    @property
    def n_entries(self) -> int:
        return len(self.strong)

    def entry(self, eid: int) -> tuple[str, str, str, str]:
        """(risk, strength, lexicon name, source) of entry ``eid``."""
        return (
            self.risks[self.risk_idx[eid]],
            "strong" if self.strong[eid] else "weak",
            self.lexicons[self.lex_idx[eid]],
            self.sources[self.src_idx[eid]],
        )

    def entries_of(self, pid: int) -> array:
        return self.term_ids[self.term_off[pid] : self.term_off[pid + 1]]

    _ARRAYS = ("term_off", "term_ids", "risk_idx", "lex_idx", "src_idx", "dist", "clen", "blen")

    def dump(self) -> bytes:
        meta = {
            "allows": {str(k): v for k, v in self.allows.items()},
            "risks": self.risks, "lexicons": self.lexicons, "sources": self.sources,
            "arrays": {n: [getattr(self, n).typecode, len(getattr(self, n))] for n in self._ARRAYS},
            "n_bounded": len(self.bounded), "n_strong": len(self.strong),
        }
        parts = [json.dumps(meta, ensure_ascii=False).encode("utf-8"), self.patterns_blob.encode("utf-8", "surrogatepass")]
        parts += [getattr(self, n).tobytes() for n in self._ARRAYS]
        parts += [self.bounded, self.strong, self.hsdb or b""]
        return b"".join(struct.pack("<Q", len(p)) + p for p in parts)

    @classmethod
    def load(cls, raw: bytes) -> Compiled:
        parts: list[bytes] = []
        off = 0
        while off < len(raw):
            (n,) = struct.unpack_from("<Q", raw, off)
            off += 8
            if off + n > len(raw):
                raise ValueError("truncated")
            parts.append(raw[off : off + n])
            off += n
        if len(parts) != 2 + len(cls._ARRAYS) + 3:
            raise ValueError("wrong number of sections")
        meta = json.loads(parts[0].decode("utf-8"))
        arrays = {}
        for i, name in enumerate(cls._ARRAYS):
            code, length = meta["arrays"][name]
            a = array(code)
            a.frombytes(parts[2 + i])
            if len(a) != length:
                raise ValueError(f"array {name} has the wrong length")
            arrays[name] = a
        bounded, strong, hsdb = parts[-3], parts[-2], parts[-1]
        if len(bounded) != meta["n_bounded"] or len(strong) != meta["n_strong"]:
            raise ValueError("flag arrays have the wrong length")
        return cls(
            patterns_blob=parts[1].decode("utf-8", "surrogatepass"),
            allows={int(k): list(v) for k, v in meta["allows"].items()},
            bounded=bounded, strong=strong, risks=list(meta["risks"]), lexicons=list(meta["lexicons"]),
            sources=list(meta["sources"]), hsdb=hsdb or None, **arrays,
        )


def _normalize_one(s: str) -> tuple[str, str]:
    from hegui.text import normalize

    n = normalize(s)
    return n.text, n.folded


def _normalize_many(terms: list[str]) -> dict[str, tuple[str, str]]:
    """Normalised (text, folded) per term, from one call on all terms joined by line breaks."""
    from hegui.text import normalize

    uniq = list(dict.fromkeys(t for t in terms if "\n" not in t and "\r" not in t))
    n = normalize("\n".join(uniq))
    texts, folded = n.text.split("\n"), n.folded.split("\n")
    if len(texts) != len(uniq) or len(folded) != len(uniq):  # pragma: no cover - defensive
        return {}
    return dict(zip(uniq, zip(texts, folded, strict=True), strict=True))


def compile_lexicons(lexicons: list[Lexicon], allow_phrases: list[str]) -> Compiled:
    """Normalise every term and allow-context exactly as text is normalised, and index them."""
    index: dict[str, int] = {}
    patterns: list[str] = []
    terms: list[list[int]] = []
    allows: dict[int, list[int]] = {}

    def pid_for(s: str) -> int:
        pid = index.get(s)
        if pid is None:
            pid = index[s] = len(patterns)
            patterns.append(s)
            terms.append([])
        return pid

    # Normalise every term and allow-context in one call (one vectorised pass instead of 100,000):
    # terms never contain a line break and normalisation keeps line breaks, so split recovers them.
    raw_terms = [e.term for lex in lexicons for e in lex.entries]
    raw_terms += [a for lex in lexicons for e in lex.entries for a in e.allow] + list(allow_phrases)
    cache = _normalize_many(raw_terms)

    def forms(s: str) -> list[str]:
        text, folded = cache.get(s) or _normalize_one(s)
        return [f for f in dict.fromkeys((text.strip(), folded.strip())) if f and "\n" not in f]

    tables: dict[str, dict[str, int]] = {"risk": {}, "lex": {}, "src": {}}
    risk_idx, lex_idx, src_idx, dist = array("H"), array("H"), array("H"), array("I")
    strong = bytearray()
    distinct: dict[tuple[str, str], int] = {}
    skipped = 0
    for lex in lexicons:
        for e in lex.entries:
            fs = forms(e.term)
            if not fs:
                skipped += 1
                continue
            eid = len(strong)
            risk_idx.append(tables["risk"].setdefault(e.risk, len(tables["risk"])))
            lex_idx.append(tables["lex"].setdefault(lex.name, len(tables["lex"])))
            src_idx.append(tables["src"].setdefault(e.source, len(tables["src"])))
            strong.append(1 if e.strength is Strength.STRONG else 0)
            dist.append(distinct.setdefault((fs[0], e.risk), len(distinct)))
            for f in fs:
                terms[pid_for(f)].append(eid)
            for a in e.allow:
                for f in forms(a):
                    allows.setdefault(pid_for(f), []).append(eid)
    for a in allow_phrases:
        for f in forms(a):
            allows.setdefault(pid_for(f), []).append(GLOBAL)
    if skipped:
        log.warning("keyword terms empty after normalisation were skipped", extra={"count": skipped})
    term_off, term_ids = array("I", [0]), array("I")
    for t in terms:
        term_ids.extend(t)
        term_off.append(len(term_ids))
    bounded = bytes((1 if _is_word(p[0]) else 0) | (2 if _is_word(p[-1]) else 0) for p in patterns)
    return Compiled(
        "\n".join(patterns), term_off, term_ids, allows, bounded, risk_idx, bytes(strong), lex_idx, src_idx, dist,
        array("I", (len(p) for p in patterns)), array("I", (encoded_len(p) for p in patterns)),
        list(tables["risk"]), list(tables["lex"]), list(tables["src"]), _patterns=patterns,
    )


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
        return Compiled.load(raw[len(_MAGIC) :])
    except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError) as e:
        log.warning("keyword cache unreadable, rebuilding", extra={"path": str(path), "error": type(e).__name__})
        return None


def write_cache(path: Path, compiled: Compiled) -> bool:
    """Write atomically (temp file + rename), so a concurrent reader never sees half a file."""
    return write_cache_file(path, _MAGIC + compiled.dump(), prefix=".kw-", log_as=log, what="keyword cache")


def write_cache_file(path: Path, blob: bytes, *, prefix: str, log_as: logging.Logger, what: str) -> bool:
    """Write a cache file atomically (temp file in the same directory + rename): a concurrent
    reader sees the old file or the whole new one. An unwritable cache directory is not an error
    (the caller just rebuilds at each start): logged as ``what``, and False. Shared by the caches
    in the cache directory (keyword library, PII gates)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return True
    except OSError as e:
        log_as.warning(f"{what} not written", extra={"path": str(path), "error": type(e).__name__})
        return False


def make_matcher(compiled: Compiled, backend: str = "auto") -> Matcher:
    """A matcher over ``compiled.patterns``; uses (and fills) ``compiled.hsdb`` for hyperscan."""
    if backend not in ("auto", "hyperscan", "ahocorasick"):
        raise ValueError(f"keyword matcher backend must be auto, hyperscan or ahocorasick, got {backend!r}")
    if backend == "ahocorasick" or (backend == "auto" and not hyperscan_available()) or not compiled.blen:
        # An empty library (only comments, or only allow-lists) needs no database: nothing matches.
        return AhoCorasickMatcher(compiled.patterns)
    if compiled.hsdb is not None:
        try:
            return HyperscanMatcher(None, serialized=compiled.hsdb, lengths=(compiled.blen, compiled.clen))
        except Exception as e:  # another platform's or version's database: recompile
            log.warning("serialised hyperscan database unusable, recompiling", extra={"error": type(e).__name__})
    m = HyperscanMatcher(compiled.patterns, lengths=(compiled.blen, compiled.clen))
    compiled.hsdb = m.serialize()
    return m


__all__ = ["GLOBAL", "Compiled", "cache_key", "compile_lexicons", "default_cache_dir", "make_matcher", "read_cache", "write_cache",
           "write_cache_file"]
