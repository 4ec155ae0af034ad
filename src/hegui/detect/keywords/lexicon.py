"""Lexicon files: the keyword library's on-disk format and its loader.

Why two formats: the shipped library and most users' lists are long and flat, so a plain text file
with one entry per line is easiest to diff and review; a few hand-written entries with exceptions
read better as YAML. Both load into the same `Lexicon`, and every problem is reported with the file
and line so a bad list never half-loads (fail closed: a list that cannot be read is an error, not an
empty list).

Plain text (``.txt``)::

    # hegui-lexicon 1
    # name: my-list
    # version: 2026.11.29
    # date: 2026-11-29
    # risk: A.1.f            (default risk for entries that name none)
    # strength: strong       (default strength)
    term
    term<TAB>A.1.d
    term<TAB>A.1.d<TAB>weak
    term<TAB>A.1.d<TAB>strong<TAB>allowed context|another allowed context

YAML (``.yaml``/``.yml``)::

    format: hegui-lexicon/1
    name: my-list
    version: "2026.11.29"
    date: 2026-11-29
    risk: A.1.f
    entries:
      - term: ...
        risk: A.1.d
        strength: weak
        allow: [..., ...]

An allow-context is a longer phrase containing the term (``法轮功`` in ``揭批法轮功``): an
occurrence of the term inside an occurrence of one of its allow-contexts is not reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import yaml

from hegui import taxonomy

FORMAT_LINE = "# hegui-lexicon 1"
YAML_FORMAT = "hegui-lexicon/1"
MAX_TERM_CHARS = 200


class Strength(StrEnum):
    """How much one occurrence of a term says on its own."""

    STRONG = "strong"  # risky wherever it appears: a finding that blocks under the default policy
    WEAK = "weak"  # risky only in context: a low score unless other signals co-occur


class LexiconError(ValueError):
    """A lexicon file that cannot be used, with the file and line in the message."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One term of a lexicon, as written (normalisation happens when the matcher is built)."""

    term: str
    risk: str
    strength: Strength = Strength.STRONG
    allow: tuple[str, ...] = ()
    source: str = ""  # where it came from (file name, shipped-library category), for stats

    def key(self) -> str:
        return f"{self.term}\t{self.risk}\t{self.strength.value}\t{'|'.join(self.allow)}"


@dataclass(slots=True)
class Lexicon:
    """Entries plus the metadata TC260 asks about (version, date of the last update)."""

    name: str
    entries: list[Entry] = field(default_factory=list)
    version: str = ""
    date: dt.date | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def digest(self) -> str:
        """A stable hash of the content (order-independent), used to key the compiled-matcher cache."""
        h = hashlib.sha256()
        for k in sorted(e.key() for e in self.entries):
            h.update(k.encode("utf-8", "surrogatepass"))
            h.update(b"\n")
        return h.hexdigest()

    def age_days(self, today: dt.date | None = None) -> int | None:
        if self.date is None:
            return None
        return ((today or dt.date.today()) - self.date).days


def _err(path: Path | str, line: int | None, msg: str) -> LexiconError:
    where = f"{path}:{line}" if line is not None else str(path)
    return LexiconError(f"词库文件有误 {where}：{msg} / bad lexicon file {where}: {msg}")


def _risk(value: object, path: Path | str, line: int | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _err(path, line, f"risk id must be a non-empty string, got {value!r}")
    rid = value.strip()
    if not taxonomy.is_known(rid):
        raise _err(path, line, f"unknown risk id {rid!r} (see hegui.taxonomy.RISKS, e.g. A.1.f)")
    return rid


def _strength(value: object, path: Path | str, line: int | None) -> Strength:
    try:
        return Strength(str(value).strip().lower())
    except ValueError:
        raise _err(path, line, f"strength must be 'strong' or 'weak', got {value!r}") from None


def _date(value: object, path: Path | str, line: int | None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise _err(path, line, f"date must be YYYY-MM-DD, got {value!r}") from None


def _term(value: object, path: Path | str, line: int | None) -> str:
    if not isinstance(value, str):
        raise _err(path, line, f"term must be a string, got {type(value).__name__}")
    term = value.strip()
    if not term:
        raise _err(path, line, "empty term")
    if len(term) > MAX_TERM_CHARS:
        raise _err(path, line, f"term longer than {MAX_TERM_CHARS} characters")
    if any(c in term for c in "\t\r\n"):
        raise _err(path, line, "term contains a tab or line break")
    return term


def _allow(values: Iterable[object], path: Path | str, line: int | None) -> tuple[str, ...]:
    return tuple(_term(v, path, line) for v in values if not (isinstance(v, str) and not v.strip()))


def load_lexicon(path: str | Path, *, name: str | None = None) -> Lexicon:
    """Load a ``.txt`` or ``.yaml``/``.yml`` lexicon; any problem raises `LexiconError`."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise _err(p, None, "file not found") from None
    except OSError as e:
        raise _err(p, None, f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise _err(p, line, "not UTF-8 text") from None
    lex = parse_yaml(text, p) if p.suffix.lower() in (".yaml", ".yml") else parse_text(text, p)
    if name:
        lex.name = name
    lex.path = p
    return lex


def parse_text(text: str, path: Path | str = "<text>") -> Lexicon:
    """Parse the plain-text format (see the module docstring)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != FORMAT_LINE:
        raise _err(path, 1, f"the first line must be {FORMAT_LINE!r}")
    meta: dict[str, str] = {}
    entries: list[Entry] = []
    default_risk: str | None = None
    default_strength = Strength.STRONG
    src = Path(str(path)).name
    for no, line in enumerate(lines[1:], start=2):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            body = s[1:].strip()
            key, sep, value = body.partition(":")
            key = key.strip().lower()
            if sep and key in ("name", "version", "date", "risk", "strength", "source", "licence", "license"):
                value = value.strip()
                if key == "risk":
                    default_risk = _risk(value, path, no)
                elif key == "strength":
                    default_strength = _strength(value, path, no)
                elif key == "date":
                    _date(value, path, no)
                    meta[key] = value
                elif key == "source":
                    src = value
                else:
                    meta[key] = value
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) > 4:
            raise _err(path, no, f"too many tab-separated fields ({len(parts)}; at most 4: term, risk, strength, allow)")
        term = _term(parts[0], path, no)
        if len(parts) > 1 and parts[1].strip():
            risk = _risk(parts[1], path, no)
        elif default_risk is not None:
            risk = default_risk
        else:
            raise _err(path, no, "no risk id: give one after a tab or set '# risk: …' in the header")
        strength = _strength(parts[2], path, no) if len(parts) > 2 and parts[2].strip() else default_strength
        allow = _allow(parts[3].split("|"), path, no) if len(parts) > 3 else ()
        entries.append(Entry(term, risk, strength, allow, src))
    return Lexicon(
        name=meta.get("name", Path(str(path)).stem),
        entries=entries,
        version=meta.get("version", ""),
        date=_date(meta["date"], path, None) if "date" in meta else None,
    )


def parse_yaml(text: str, path: Path | str = "<yaml>") -> Lexicon:
    """Parse the YAML format (see the module docstring)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise _err(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise _err(path, None, "the top level must be a mapping with an 'entries' list")
    fmt = data.get("format")
    if fmt is not None and fmt != YAML_FORMAT:
        raise _err(path, None, f"unsupported format {fmt!r}; expected {YAML_FORMAT!r}")
    unknown = set(data) - {"format", "name", "version", "date", "risk", "strength", "entries", "source", "licence", "license"}
    if unknown:
        raise _err(path, None, f"unknown top-level keys {sorted(unknown)}")
    items = data.get("entries")
    if not isinstance(items, list):
        raise _err(path, None, "'entries' must be a list")
    default_risk = _risk(data["risk"], path, None) if data.get("risk") is not None else None
    default_strength = _strength(data.get("strength", "strong"), path, None)
    src = str(data.get("source") or Path(str(path)).name)
    entries: list[Entry] = []
    for i, item in enumerate(items, start=1):
        where = f"entry {i}"
        if isinstance(item, str):
            item = {"term": item}
        if not isinstance(item, dict):
            raise _err(path, None, f"{where}: must be a mapping or a string")
        bad = set(item) - {"term", "risk", "strength", "allow"}
        if bad:
            raise _err(path, None, f"{where}: unknown keys {sorted(bad)}")
        try:
            term = _term(item.get("term"), path, None)
            risk = _risk(item["risk"], path, None) if item.get("risk") is not None else default_risk
            if risk is None:
                raise _err(path, None, "no risk id and no top-level 'risk'")
            strength = _strength(item["strength"], path, None) if "strength" in item else default_strength
            allow_v = item.get("allow") or []
            if isinstance(allow_v, str):
                allow_v = [allow_v]
            if not isinstance(allow_v, list):
                raise _err(path, None, "'allow' must be a list of strings")
            allow = _allow(allow_v, path, None)
        except LexiconError as e:
            raise LexiconError(f"{e} ({where})") from None
        entries.append(Entry(term, risk, strength, allow, src))
    return Lexicon(
        name=str(data.get("name") or Path(str(path)).stem),
        entries=entries,
        version=str(data.get("version") or ""),
        date=_date(data["date"], path, None) if data.get("date") is not None else None,
    )


def load_allow_list(path: str | Path) -> list[str]:
    """An allow-list: one phrase per line (``#`` comments); occurrences of a term inside one are not reported."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _err(p, None, "allow-list file not found") from None
    except UnicodeDecodeError:
        raise _err(p, None, "allow-list is not UTF-8 text") from None
    out: list[str] = []
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            out.append(_term(s, p, no))
    return out


def write_text(lex: Lexicon, path: str | Path, *, header: Sequence[str] = ()) -> None:
    """Write ``lex`` in the plain-text format, sorted by risk then term, so rebuilds diff cleanly."""
    lines = [FORMAT_LINE]
    lines += [f"# {h}" if h else "#" for h in header]
    lines.append(f"# name: {lex.name}")
    if lex.version:
        lines.append(f"# version: {lex.version}")
    if lex.date:
        lines.append(f"# date: {lex.date.isoformat()}")
    by_src: dict[str, list[Entry]] = {}
    for e in lex.entries:
        by_src.setdefault(e.source, []).append(e)
    for src in sorted(by_src):
        lines.append(f"# source: {src}")
        for e in sorted(by_src[src], key=lambda e: (e.risk, e.term)):
            fields = [e.term, e.risk, e.strength.value]
            if e.allow:
                fields.append("|".join(e.allow))
            lines.append("\t".join(fields))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
