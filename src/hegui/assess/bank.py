"""Question banks: the versioned format, loading with validation, import, and the size/floor checks.

A bank is a directory of ``*.jsonl`` (or ``*.yaml``) files plus an optional ``bank.yaml`` with
``version`` and ``updated``. Every item names its kind, its risk id (TC260) or aspect, and where it
came from, so ``hegui bank stats`` can check the TC260-003 §8.2–8.3 floors line by line.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from hegui import taxonomy
from hegui.assess.thresholds import ASPECTS, THRESHOLDS, value

FORMAT_VERSION = 1
# A must-not-refuse question that tests wrongful refusal but none of the 13 aspects (counts to the total only).
GENERAL_ASPECT = "general"


class ItemKind(StrEnum):
    GENERATED = "generated-content"
    MUST_REFUSE = "must-refuse"
    MUST_NOT_REFUSE = "must-not-refuse"


class BankError(ValueError):
    """A bank file or item is malformed; the message names the file and line."""


@dataclass(slots=True)
class BankItem:
    """One test question. ``risk`` for generated/must-refuse items, ``aspect`` for must-not-refuse."""

    id: str
    text: str
    kind: ItemKind
    source: str
    language: str = "zh"
    added: str = ""
    risk: str | None = None
    aspect: str | None = None
    probe: str | None = None  # fairness probe id: items sharing it differ only in ``group``
    group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = str(self.kind)
        return {k: v for k, v in d.items() if v not in (None, "")}


def parse_item(raw: dict[str, Any], where: str) -> BankItem:
    """Validate one raw record; raise `BankError` naming ``where`` and the field at fault."""
    if not isinstance(raw, dict):
        raise BankError(f"{where}: expected an object, got {type(raw).__name__}")
    missing = [k for k in ("id", "text", "kind", "source") if not str(raw.get(k) or "").strip()]
    if missing:
        raise BankError(f"{where}: missing required field(s) {', '.join(missing)} / 缺少必填字段")
    try:
        kind = ItemKind(str(raw["kind"]).strip())
    except ValueError:
        raise BankError(
            f"{where}: kind {raw['kind']!r} is not one of {', '.join(k.value for k in ItemKind)} / 题型无效"
        ) from None
    risk = (str(raw.get("risk") or "").strip()) or None
    aspect = (str(raw.get("aspect") or "").strip()) or None
    if risk is not None and not taxonomy.is_known(risk):
        raise BankError(f"{where}: unknown risk id {risk!r} (use a TC260 id such as A.1.d) / 未知风险编号")
    if risk is not None:
        risk = taxonomy.get(risk).tc260
    if aspect is not None and aspect not in ASPECTS and aspect != GENERAL_ASPECT:
        raise BankError(
            f"{where}: unknown aspect {aspect!r}; choose one of {', '.join(ASPECTS)} or {GENERAL_ASPECT} / 未知方面"
        )
    if kind is ItemKind.MUST_NOT_REFUSE and aspect is None:
        raise BankError(f"{where}: a must-not-refuse item needs an aspect / 非拒答题需要 aspect")
    if kind is not ItemKind.MUST_NOT_REFUSE and risk is None:
        raise BankError(f"{where}: a {kind} item needs a risk id / 需要风险编号")
    if kind is ItemKind.MUST_REFUSE and not risk.startswith(("A.1.", "A.2.")):  # type: ignore[union-attr]
        raise BankError(f"{where}: must-refuse items cover the 17 A.1/A.2 risks, not {risk} / 应拒答题仅限 A.1/A.2")
    added = str(raw.get("added") or "").strip()
    if added:
        try:
            dt.date.fromisoformat(added)
        except ValueError:
            raise BankError(f"{where}: added {added!r} is not a date YYYY-MM-DD / 日期格式应为 YYYY-MM-DD") from None
    lang = str(raw.get("language") or "zh").strip()
    return BankItem(
        id=str(raw["id"]).strip(), text=str(raw["text"]), kind=kind, source=str(raw["source"]).strip(),
        language=lang, added=added, risk=risk, aspect=aspect,
        probe=(str(raw["probe"]) if raw.get("probe") else None), group=(str(raw["group"]) if raw.get("group") else None),
    )


@dataclass(slots=True)
class Bank:
    items: list[BankItem]
    version: str = "unversioned"
    updated: str | None = None
    path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def by_kind(self, kind: ItemKind) -> list[BankItem]:
        return [i for i in self.items if i.kind is kind]


def _read_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"{path.name}:{n}", json.loads(line)
                except json.JSONDecodeError as e:
                    raise BankError(f"{path.name}:{n}: not valid JSON ({e.msg}) / JSON 格式错误") from None
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise BankError(f"{path.name}: not valid YAML ({e}) / YAML 格式错误") from None
        items = data.get("items", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise BankError(f"{path.name}: expected a list of items / 应为题目列表")
        for n, rec in enumerate(items, start=1):
            yield f"{path.name}#{n}", rec


def load_bank(path: Path | str | None = None) -> Bank:
    """Load and validate a bank directory (default: the shipped starter bank). Duplicate ids are errors."""
    root = Path(path) if path is not None else starter_bank_path()
    if not root.is_dir():
        raise BankError(f"bank directory {root} does not exist / 题库目录不存在")
    meta: dict[str, Any] = {}
    meta_file = root / "bank.yaml"
    if meta_file.exists():
        meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    files = sorted(p for p in root.iterdir() if p.suffix in (".jsonl", ".yaml", ".yml") and p.name != "bank.yaml")
    if not files:
        raise BankError(f"bank directory {root} has no .jsonl or .yaml files / 题库目录中没有题目文件")
    items: list[BankItem] = []
    seen: dict[str, str] = {}
    for f in files:
        for where, rec in _read_records(f):
            item = parse_item(rec, where)
            if item.id in seen:
                raise BankError(f"{where}: duplicate id {item.id!r} (first at {seen[item.id]}) / 题目编号重复")
            seen[item.id] = where
            items.append(item)
    return Bank(items, str(meta.get("version", "unversioned")), meta.get("updated"), root, meta)


def starter_bank_path() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "banks" / "starter"


def import_items(src: Path, *, default_source: str | None = None, today: str | None = None) -> list[BankItem]:
    """Read CSV (header row with the field names) or JSONL; validate every row, report all errors at once."""
    if not src.exists():
        raise BankError(f"{src} does not exist / 文件不存在")
    today = today or dt.date.today().isoformat()
    records: list[tuple[str, dict[str, Any]]]
    if src.suffix.lower() == ".csv":
        with src.open(encoding="utf-8-sig", newline="") as fh:
            records = [(f"{src.name}:{n}", row) for n, row in enumerate(csv.DictReader(fh), start=2)]
    elif src.suffix.lower() == ".jsonl":
        records = list(_read_records(src))
    else:
        raise BankError(f"{src.name}: import takes .csv or .jsonl / 仅支持 CSV 或 JSONL")
    out: list[BankItem] = []
    errors: list[str] = []
    for where, rec in records:
        rec = dict(rec)
        if default_source and not rec.get("source"):
            rec["source"] = default_source
        rec.setdefault("added", today)
        if not rec.get("added"):
            rec["added"] = today
        try:
            out.append(parse_item(rec, where))
        except BankError as e:
            errors.append(str(e))
    if errors:
        shown = "\n".join(errors[:20]) + (f"\n… and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise BankError(f"{len(errors)} invalid row(s); nothing imported / 有无效行，未导入:\n{shown}")
    return out


def write_items(bank_dir: Path, name: str, items: Iterable[BankItem], *, existing: Bank | None = None) -> Path:
    """Append-safe write of a new bank file; refuses ids already in ``existing`` so nothing is overwritten."""
    items = list(items)
    if existing is not None:
        clash = sorted({i.id for i in items} & {i.id for i in existing.items})
        if clash:
            raise BankError(f"{len(clash)} id(s) already in the bank, e.g. {clash[0]!r} / 题目编号已存在")
    bank_dir.mkdir(parents=True, exist_ok=True)
    path = bank_dir / f"{name}.jsonl"
    if path.exists():
        raise BankError(f"{path} already exists; choose another --name / 文件已存在")
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


# -- stats against the floors ----------------------------------------------------------------------


@dataclass(slots=True)
class StatLine:
    check: str
    zh: str
    en: str
    actual: float
    required: float
    ok: bool
    confidence: str
    clause: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _a12() -> list[str]:
    return [r for r in taxonomy.RISKS if r.startswith(("A.1.", "A.2.")) and taxonomy.RISKS[r].kind is taxonomy.Kind.TC260]


def _all31() -> list[str]:
    return [r for r, v in taxonomy.RISKS.items() if v.kind is taxonomy.Kind.TC260 and r[:3] in ("A.1", "A.2", "A.3", "A.4", "A.5")]


def bank_stats(bank: Bank, today: dt.date | None = None) -> list[StatLine]:
    """One line per TC260 floor: totals, per risk, per aspect, and age of the newest item."""
    today = today or dt.date.today()
    lines: list[StatLine] = []

    def add(key: str, check: str, zh: str, en: str, actual: float, *, le: bool = False) -> None:
        th = THRESHOLDS[key]
        ok = actual <= th.value if le else actual >= th.value
        lines.append(StatLine(check, zh, en, actual, th.value, ok, th.confidence, th.clause))

    gen = Counter(i.risk for i in bank.by_kind(ItemKind.GENERATED))
    ref = Counter(i.risk for i in bank.by_kind(ItemKind.MUST_REFUSE))
    non = Counter(i.aspect for i in bank.by_kind(ItemKind.MUST_NOT_REFUSE))
    add("gen_min_total", "generated.total", "生成内容测试题总数", "generated-content total", sum(gen.values()))
    for r in _all31():
        key = "gen_min_per_a1_a2" if r.startswith(("A.1.", "A.2.")) else "gen_min_per_other"
        add(key, f"generated.{r}", f"生成内容 {r} {taxonomy.get(r).name_zh}", f"generated {r} {taxonomy.get(r).name_en}", gen.get(r, 0))
    add("refuse_min_total", "must_refuse.total", "应拒答题总数", "must-refuse total", sum(ref.values()))
    for r in _a12():
        add("refuse_min_per_risk", f"must_refuse.{r}", f"应拒答 {r} {taxonomy.get(r).name_zh}", f"must-refuse {r} {taxonomy.get(r).name_en}", ref.get(r, 0))
    add("nonrefuse_min_total", "must_not_refuse.total", "非拒答题总数", "must-not-refuse total", sum(non.values()))
    for a, (zh, en) in ASPECTS.items():
        add("nonrefuse_min_per_aspect", f"must_not_refuse.{a}", f"非拒答 {zh}", f"must-not-refuse {en}", non.get(a, 0))
    dates = [i.added for i in bank.items if i.added]
    newest = max([*dates, str(bank.updated or "")]) if (dates or bank.updated) else ""
    age = (today - dt.date.fromisoformat(newest)).days if newest else float("inf")
    add("bank_update_max_days", "age_days", "距最近更新天数", "days since last update", age, le=True)
    return lines


def stats_ok(lines: list[StatLine]) -> bool:
    return all(line.ok for line in lines)


def floors_summary(bank: Bank) -> dict[str, int]:
    return {
        "generated": len(bank.by_kind(ItemKind.GENERATED)),
        "must_refuse": len(bank.by_kind(ItemKind.MUST_REFUSE)),
        "must_not_refuse": len(bank.by_kind(ItemKind.MUST_NOT_REFUSE)),
        "total": len(bank.items),
        "gen_sample_target": int(value("gen_sample")),
    }
