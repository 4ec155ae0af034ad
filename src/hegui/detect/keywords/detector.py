"""`KeywordDetector`: the keyword library as a detector (registered as ``"keywords"``).

Scoring says what a keyword can and cannot prove. A *strong* term is risky wherever it appears
(a finding at ``strong_score``, which blocks under the default policy). A *weak* term is risky
only in context (a bare leader's name, 手枪, 毒品…): alone it scores ``weak_score``; each further
distinct term of the same risk adds ``cooccur_step`` up to ``weak_cap`` (below the default block
threshold of 0.5, so weak terms alone are reported, and flagged where the policy sets a flag
threshold, but never block); a strong term of the same risk in the same text lifts its weak terms to
``strong_score - 0.2`` (they block with it and are redacted with it).
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hegui.detect.base import DetectorRegistry, Finding
from hegui.detect.keywords.compiled import (
    GLOBAL,
    Compiled,
    cache_key,
    compile_lexicons,
    default_cache_dir,
    make_matcher,
    read_cache,
    write_cache,
)
from hegui.detect.keywords.lexicon import LexiconError, load_allow_list, load_lexicon
from hegui.detect.keywords.matcher import ascii_bytes
from hegui.text import NormalizedText
from hegui.text.normalize import batch_groups

# Every match of hegui.text.normalize's look-alike folding has a folded character next to a Latin letter.
_LEET_NEAR = re.compile(r"[a-z][013457@$]|[013457@$][a-z]")
_RUN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789@$")


def folded_runs(text: str) -> list[tuple[int, int, str]]:
    """Where `NormalizedText.folded` (s3x → sex) differs from ``text``: ``(start, end, folded run)``.

    Why not ``NormalizedText.folded``: its regular expression runs at ~15 MB/s over the whole text,
    a third of the keyword path's budget. Folding only ever changes a run of Latin letters, digits,
    ``@`` and ``$``, and depends only on that run and the character either side of it, so applying
    the same expression to each run that has a letter next to a look-alike gives the same result
    (a property test checks it). Folding keeps the length, so offsets are shared.
    """
    from hegui.text.normalize import _LEET, _LEET_RUN

    # Most texts have no letter next to a look-alike: two `bytes.find`s over the texts' codes
    # (see `_leet_codes`) say so far faster than the regular expression, which tries every
    # position (a third of `detect`'s time on a gateway request).
    codes = ascii_bytes(text).translate(_leet_codes())
    if b"\x01\x02" not in codes and b"\x02\x01" not in codes:
        return []
    hit = _LEET_NEAR.search(text)
    if hit is None:
        return []
    n = len(text)
    runs: list[tuple[int, int, str]] = []
    done = 0
    while hit is not None:
        i = hit.start()
        if i >= done:
            a, b = i, hit.end()
            while a > 0 and text[a - 1] in _RUN_CHARS:
                a -= 1
            while b < n and text[b] in _RUN_CHARS:
                b += 1
            ws, we = max(0, a - 1), min(n, b + 1)
            window = text[ws:we]
            folded = _LEET_RUN.sub(lambda m: m.group(0).translate(_LEET), window)
            if folded != window:
                # Keep the neighbours as they are: only the run itself can change.
                runs.append((a, b, folded[a - ws : len(folded) - (we - b)]))
            done = b
        hit = _LEET_NEAR.search(text, max(done, i + 1))
    return runs


def fold_lookalikes(text: str, runs: list[tuple[int, int, str]] | None = None) -> str:
    """``text`` with its look-alike runs folded (``text`` itself when nothing changes)."""
    runs = folded_runs(text) if runs is None else runs
    if not runs:
        return text
    pieces: list[str] = []
    pos = 0
    for a, b, run in runs:
        pieces.append(text[pos:a])
        pieces.append(run)
        pos = b
    pieces.append(text[pos:])
    return "".join(pieces)


DEFAULT_LIBRARY_DIR = Path(__file__).resolve().parents[2] / "data" / "keywords"


def default_library_files() -> list[Path]:
    """The shipped library's lexicon files, in a stable order."""
    return sorted(p for p in DEFAULT_LIBRARY_DIR.glob("*") if p.suffix in (".txt", ".yaml", ".yml") and p.is_file())


class KeywordDetector:
    """Matches the keyword library on normalised text.

    Loading: the compiled form is read from the cache when one matches the files (a few tens of
    ms); otherwise the lexicons are parsed, normalised and compiled, and the cache is written.
    ``load_seconds`` and ``compiled_now`` say which happened.
    """

    def __init__(
        self,
        name: str = "keywords",
        *,
        extra: Sequence[str | Path] = (),
        allow: Sequence[str | Path] = (),
        use_default_library: bool = True,
        cache_dir: str | Path | None = None,
        backend: str = "auto",
        strong_score: float = 0.9,
        weak_score: float = 0.3,
        cooccur_step: float = 0.1,
        weak_cap: float = 0.45,
    ) -> None:
        for k, v in (("strong_score", strong_score), ("weak_score", weak_score), ("cooccur_step", cooccur_step), ("weak_cap", weak_cap)):
            if not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"{k} 必须在 0 到 1 之间 / {k} must be between 0 and 1, got {v}")
        if backend not in ("auto", "hyperscan", "ahocorasick"):
            raise ValueError(f"keyword matcher backend must be auto, hyperscan or ahocorasick, got {backend!r}")
        if backend == "hyperscan" and not _hs():
            raise ValueError("backend 'hyperscan' was asked for but hyperscan is not installed on this platform")
        self.name = name
        self.strong_score = float(strong_score)
        self.weak_score = float(weak_score)
        self.cooccur_step = float(cooccur_step)
        self.weak_cap = float(weak_cap)
        self.lexicon_files = (default_library_files() if use_default_library else []) + [Path(p) for p in extra]
        self.allow_files = [Path(p) for p in allow]
        if not self.lexicon_files and not self.allow_files:
            raise ValueError(
                "关键词检测器没有任何词库（use_default_library 为 false 且未配置 extra） / "
                "the keyword detector has no lexicon (use_default_library is false and no extra lists)"
            )
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.backend_option = backend
        t0 = time.perf_counter()
        self.compiled, self.compiled_now = self._load()
        had_db = self.compiled.hsdb is not None
        self.matcher = make_matcher(self.compiled, backend)
        if self.matcher.backend == "hyperscan" and not had_db:  # cached without one: add the database
            self.compiled_now = True
            write_cache(self.cache_path, self.compiled)
        self._max_len = max(self.compiled.clen, default=1)
        self._entries: dict[int, tuple[str, bool, str, str, int, str]] = {}
        self.load_seconds = time.perf_counter() - t0

    @property
    def backend(self) -> str:
        return self.matcher.backend

    @property
    def size(self) -> int:
        return self.compiled.n_entries

    def _read(self, p: Path, what: str) -> bytes:
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise LexiconError(f"{what}不存在：{p} / {what} file not found: {p}") from None
        except OSError as e:
            raise LexiconError(f"无法读取 {p} / cannot read {what} file {p}: {e.strerror or e}") from None

    def _load(self) -> tuple[Compiled, bool]:
        parts = [b"L" + str(p.name).encode() + b"\0" + self._read(p, "lexicon") for p in self.lexicon_files]
        parts += [b"A" + self._read(p, "allow-list") for p in self.allow_files]
        key = cache_key(parts)
        self.cache_path = self.cache_dir / f"keywords-{key[:32]}.bin"
        cached = read_cache(self.cache_path)
        if cached is not None:
            return cached, False
        # Several gateway workers may start at once on a cold cache: one compiles, the others wait
        # for it and load its result instead of compiling the same database in parallel.
        with _build_lock(self.cache_dir):
            cached = read_cache(self.cache_path)
            if cached is not None:
                return cached, False
            return self._build(), True

    def _build(self) -> Compiled:
        lexicons = [load_lexicon(p) for p in self.lexicon_files]
        phrases = [a for p in self.allow_files for a in load_allow_list(p)]
        compiled = compile_lexicons(lexicons, phrases)
        if self.backend_option == "ahocorasick" or not _hs():
            write_cache(self.cache_path, compiled)
        else:  # compile the hyperscan database now, still under the lock, and cache it with the rest
            make_matcher(compiled, "hyperscan" if self.backend_option != "auto" else "auto")
            write_cache(self.cache_path, compiled)
        return compiled

    # -- matching -----------------------------------------------------------------------------

    def matches(self, text: str, lo: int = 0, hi: int | None = None) -> list[tuple[int, int, int]]:
        """``(entry id, start, end)`` for every unsuppressed term occurrence in ``text`` (normalised).

        With ``lo``/``hi``, only ``text[lo:hi]`` is scanned (offsets stay those of ``text``, and
        word boundaries are checked against the whole text).
        """
        if lo or hi is not None:
            raw = [(pid, s + lo, e + lo) for pid, s, e in self.matcher.scan(text[lo:hi])]
        else:
            raw = self.matcher.scan(text)
        return self._keep(text, raw) if raw else []

    def _keep(self, text: str, raw: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Raw pattern occurrences in ``text`` → entry hits, less word-boundary misses and allowed ones."""
        c = self.compiled
        n = len(text)
        allowed: list[tuple[int, int, int]] = []  # (start, end, entry or GLOBAL)
        hits: list[tuple[int, int, int]] = []
        bounded, allows = c.bounded, c.allows
        for pid, s, e in raw:
            b = bounded[pid]
            if b and ((b & 1 and s > 0 and _word(text[s - 1])) or (b & 2 and e < n and _word(text[e]))):
                continue
            if allows:
                for target in allows.get(pid, ()):
                    allowed.append((s, e, target))
            for eid in c.entries_of(pid):
                hits.append((eid, s, e))
        if allowed:
            hits = [
                h for h in hits
                if not any(a_s <= h[1] and h[2] <= a_e and (t == GLOBAL or t == h[0]) for a_s, a_e, t in allowed)
            ]
        return hits

    def _windows(self, t: str, runs: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
        """Where to re-scan the folded text: around each folded run, with a margin of the longest
        pattern.

        Why that margin is enough: only hits that overlap a run are kept (`_add_folded`), and such
        a hit lies within one pattern length of the run; an allow-context can only suppress a hit
        it contains, so it overlaps the run too and also lies within one pattern length of it.
        (It was two lengths; the folded scan was a tenth of the keyword path.)
        """
        margin = self._max_len
        return _merge((max(0, a - margin), min(len(t), b + margin)) for a, b, _ in runs)

    def detect(self, text: NormalizedText) -> list[Finding]:
        t = text.text
        hits = self.matches(t)
        runs = folded_runs(t)
        if runs:
            # A term found only in the folded text overlaps a folded run: scan the folded text only
            # around the runs.
            folded = fold_lookalikes(t, runs)
            found = [h for lo, hi in self._windows(t, runs) for h in self.matches(folded, lo, hi)]
            _add_folded(hits, found, runs)
        if not hits:
            return []
        return self._findings(hits)

    def detect_batch(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        """`detect` for each text, with one matcher call for the batch and one for its folded runs.

        Why: per text, the matcher call and the look-alike search cost more than the scan of a
        500-character document. The matcher scans the batch joined (see `scan_many`); the texts
        folded runs come from one vectorised pass (`folded_runs_batch`), and the folded text around
        them is scanned in one more call. Results equal `detect`'s text by text (tested).
        """
        out: list[list[Finding]] = []
        for a, b in batch_groups([len(t.text) for t in texts]):  # bounded joins (memory)
            out += [self.detect(texts[a])] if b - a == 1 else self._detect_joined(texts[a:b])
        return out

    def _detect_joined(self, texts: Sequence[NormalizedText]) -> list[list[Finding]]:
        strs = [t.text for t in texts]
        # The joined text and its one-byte form serve both the matcher and the look-alike search.
        joined = "\n".join(strs)
        narrow = ascii_bytes(joined)
        raw_all = self.matcher.scan_many(strs, joined=joined, narrow=narrow)
        hits = [self._keep(t, raw) if raw else [] for t, raw in zip(strs, raw_all, strict=True)]
        jobs = [(j, runs, fold_lookalikes(strs[j], runs), self._windows(strs[j], runs))
                for j, runs in folded_runs_batch(strs, joined=joined, narrow=narrow).items()]
        if jobs:
            pieces = [folded[lo:hi] for _, _, folded, windows in jobs for lo, hi in windows]
            scanned = iter(self.matcher.scan_many(pieces))
            for j, runs, folded, windows in jobs:
                raw = [(pid, s + lo, e + lo) for lo, _hi in windows for pid, s, e in next(scanned)]
                if raw:
                    _add_folded(hits[j], self._keep(folded, raw), runs)
        return [self._findings(h) if h else [] for h in hits]

    def _entry(self, eid: int) -> tuple[str, bool, str, str, int, str]:
        """(risk, strong, lexicon, source, distinct-term id, evidence) of entry ``eid``, cached:
        a batch of documents reports the same few hundred entries thousands of times."""
        info = self._entries.get(eid)
        if info is None:
            c = self.compiled
            risk, strength, lex, src = c.entry(eid)
            info = (risk, strength == "strong", lex, src, c.dist[eid], f"keyword/{strength} ({lex}: {src})")
            self._entries[eid] = info  # a race only stores the same value twice
        return info

    def _findings(self, hits: list[tuple[int, int, int]]) -> list[Finding]:
        entry = self._entries.get
        name = self.name
        if len(hits) == 1:  # most texts with a hit have one: no co-occurrence to count, nothing to sort
            eid, s, e = hits[0]
            risk, strong, lex, src, _d, evidence = entry(eid) or self._entry(eid)
            if strong:
                return [Finding(risk, s, e, round(self.strong_score, 4), name, evidence,
                                {"strength": "strong", "lexicon": lex, "source": src})]
            score = round(min(self.weak_score + self.cooccur_step * (1 - 1), self.weak_cap), 4)
            return [Finding(risk, s, e, score, name, evidence,
                            {"strength": "weak", "lexicon": lex, "source": src, "cooccurring_terms": 1})]
        infos = [entry(eid) or self._entry(eid) for eid, _s, _e in hits]
        # Distinct terms per risk, and which risks have a strong term: the co-occurrence signals.
        terms_by_risk: dict[str, set[int]] = {}
        strong_risks: set[str] = set()
        for info in infos:
            terms_by_risk.setdefault(info[0], set()).add(info[4])
            if info[1]:
                strong_risks.add(info[0])
        strong_score = round(self.strong_score, 4)
        lifted = round(max(self.weak_score, self.strong_score - 0.2), 4)
        out: list[Finding] = []
        seen: set[tuple[str, int, int]] = set()
        # Sorted by (start, end, entry id): plain tuples compare in C, a key function per hit did not.
        order = sorted([(s, e, eid, i) for i, (eid, s, e) in enumerate(hits)])
        for s, e, _eid, i in order:
            risk, strong, lex, src, _d, evidence = infos[i]
            if (risk, s, e) in seen:
                continue
            seen.add((risk, s, e))
            # Evidence names the strength and list, never the matched text (spans locate it).
            if strong:
                out.append(Finding(risk, s, e, strong_score, name, evidence, {"strength": "strong", "lexicon": lex, "source": src}))
                continue
            k = len(terms_by_risk[risk])
            if risk in strong_risks:
                score = lifted
            else:  # weak terms alone stay in the flag range however many co-occur
                score = round(min(self.weak_score + self.cooccur_step * (k - 1), self.weak_cap), 4)
            meta = {"strength": "weak", "lexicon": lex, "source": src, "cooccurring_terms": k}
            out.append(Finding(risk, s, e, score, name, evidence, meta))
        return out


@contextlib.contextmanager
def _build_lock(cache_dir: Path) -> Iterator[None]:
    """An exclusive lock file in the cache directory (no lock, and no waiting, where none can be made)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fh = open(cache_dir / ".keywords.lock", "a+b")  # noqa: SIM115 - held across the yield
    except OSError:
        yield
        return
    try:
        import fcntl

        fcntl.flock(fh, fcntl.LOCK_EX)
    except (ImportError, OSError):  # pragma: no cover - non-POSIX or a filesystem without locks
        pass
    try:
        yield
    finally:
        fh.close()


def _add_folded(hits: list[tuple[int, int, int]], found: list[tuple[int, int, int]], runs: list[tuple[int, int, str]]) -> None:
    """Append the hits of the folded text that overlap a folded run and are not in ``hits`` yet."""
    seen = set(hits)
    for h in found:
        if h not in seen and any(h[1] < b and a < h[2] for a, b, _ in runs):
            seen.add(h)
            hits.append(h)


@functools.lru_cache(maxsize=1)
def _leet_codes() -> bytes:
    """A `bytes.translate` table over `ascii_bytes`: 1 for ``a``–``z``, 2 for a look-alike
    (``_LEET_NEAR``'s two classes), 4 for the other characters of ``_RUN_CHARS``, else 0 (``?``,
    which stands for every character that is not ASCII, is none of these)."""
    codes = bytearray(256)
    for ch in _RUN_CHARS:
        codes[ord(ch)] = 4
    for o in range(ord("a"), ord("z") + 1):
        codes[o] = 1
    for ch in "013457@$":
        codes[ord(ch)] = 2
    return bytes(codes)


@functools.lru_cache(maxsize=1)
def _leet_split() -> re.Pattern[str]:
    """``_LEET_RUN`` in a capturing group, for `_fold_leet`."""
    from hegui.text.normalize import _LEET_RUN

    return re.compile(f"({_LEET_RUN.pattern})")


def _fold_leet(s: str) -> str:
    """``_LEET_RUN.sub(lambda m: m.group(0).translate(_LEET), s)`` without a Python call per match.

    Why: `re.split` with the pattern in a group returns the same matches (the same search) with
    the text between them, all in C; the matches are translated in one call, joined by a
    character they never hold (a match is only look-alike characters). A call back per match
    was most of `folded_runs_batch`'s time.
    """
    from hegui.text.normalize import _LEET

    parts = _leet_split().split(s)
    if len(parts) == 1:
        return s
    parts[1::2] = "\n".join(parts[1::2]).translate(_LEET).split("\n")
    return "".join(parts)


_REACH = 32  # how far `folded_runs_batch` looks either side of a pair, vectorised, for its run's ends
_RUN_END = re.compile(r"[0-9a-z@$]*")  # matches exactly the characters of `_RUN_CHARS`


def folded_runs_batch(
    texts: list[str], *, joined: str | None = None, narrow: bytes | None = None
) -> dict[int, list[tuple[int, int, str]]]:
    """`folded_runs` of each text (only the texts that have some, by index), for a whole batch
    (``joined`` = ``"\\n".join(texts)`` and ``narrow`` = its `ascii_bytes`, where the caller has them).

    Why: `folded_runs` searches every text with a regular expression, one call per look-alike
    pair; on a batch of documents that cost more than matching the keywords. Here one translation
    of the batch's `ascii_bytes` (the matcher's, one byte a character) finds the pairs (neighbours whose codes OR to 3 are a letter and a
    look-alike); the ends of the maximal run of ``_RUN_CHARS`` around each pair come from a
    gather of `_REACH` codes either side of it (a pass over the whole batch to find every run's
    ends cost more than the rest together), with a loop for the rare longer run. The line
    breaks that join the texts have code 0, so no pair or run spans two texts.

    The runs are then folded with one substitution over all of them joined by line breaks,
    not one per run: the look-alike expression looks at most one character past a run, where
    `folded_runs` sees the character next to the run (never one of ``_RUN_CHARS``) or the end of
    the text, and here a line break or the end; the expression treats all of these alike
    (none is in any of its classes, and a match never starts on one), so each run folds exactly
    as in `folded_runs` (a property test compares the two).
    """
    out: dict[int, list[tuple[int, int, str]]] = {}
    if not texts:
        return out
    if joined is None:
        joined = "\n".join(texts)
    c = np.frombuffer((ascii_bytes(joined) if narrow is None else narrow).translate(_leet_codes()), dtype=np.uint8)
    pos = np.flatnonzero((c[:-1] | c[1:]) == 3)
    if not pos.size:
        return out
    n = c.size
    step = np.arange(1, _REACH + 1)
    # Left of the pair (p, p+1): c[p-1], c[p-2], ...; out of range counts as a non-run character.
    left = pos[:, None] - step
    in_run = (np.take(c, left, mode="clip") != 0) & (left >= 0)
    k = np.argmin(in_run, axis=1)  # the first non-run character; 0 also when there is none
    starts = pos - k
    for i in np.flatnonzero(in_run[:, 0] & (k == 0)).tolist():  # a run longer than the reach
        a = int(pos[i])
        while a > 0 and joined[a - 1] in _RUN_CHARS:
            a -= 1
        starts[i] = a
    # Right of it: c[p+2], c[p+3], ...
    right = pos[:, None] + 1 + step
    in_run = (np.take(c, right, mode="clip") != 0) & (right < n)
    k = np.argmin(in_run, axis=1)
    ends = pos + 2 + k
    for i in np.flatnonzero(in_run[:, 0] & (k == 0)).tolist():
        ends[i] = _RUN_END.match(joined, int(pos[i]) + 2).end()  # type: ignore[union-attr]
    first = np.ones(starts.size, dtype=bool)  # one entry per run (a run may hold several pairs)
    first[1:] = starts[1:] != starts[:-1]
    starts, ends = starts[first], ends[first]
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1
    text_ends = sizes.cumsum()
    owner = np.searchsorted(text_ends, starts, side="right")
    base = (text_ends - sizes)[owner]
    a_list, b_list = starts.tolist(), ends.tolist()
    runs = [joined[a:b] for a, b in zip(a_list, b_list, strict=True)]
    together = "\n".join(runs)
    folded = _fold_leet(together)
    if folded == together:
        return out
    for j, a, b, run, f in zip(owner.tolist(), (starts - base).tolist(), (ends - base).tolist(), runs,
                               folded.split("\n"), strict=True):
        if f != run:
            out.setdefault(j, []).append((a, b, f))
    return out


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _hs() -> bool:
    from hegui.detect.keywords.matcher import hyperscan_available

    return hyperscan_available()


_OPTIONS = {"name", "extra", "allow", "use_default_library", "cache_dir", "backend", "strong_score", "weak_score", "cooccur_step", "weak_cap"}


@DetectorRegistry.register("keywords")
def _factory(**options: Any) -> KeywordDetector:
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ValueError(
            f"keywords 检测器不支持的选项：{sorted(unknown)} / unknown options for the keywords detector: "
            f"{sorted(unknown)} (known: {sorted(_OPTIONS)})"
        )
    return KeywordDetector(**options)
