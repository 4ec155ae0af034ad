"""Keyword-library statistics against TC260-003 §8.1: size floors per risk and age.

TC260 asks for ≥ 10,000 terms in all, ≥ 200 per A.1 risk, ≥ 100 per A.2 risk, and a weekly
update. Counts are distinct (normalised term, risk) pairs, weak and strong together (both are in the
library; the split is reported), with hegui's own ids counted under their TC260 parent (hg.gambling
→ A.1.h). The JSON shape is what ``hegui report assessment --keywords`` reads (``total``, ``ok``,
``floors`` with an ``ok`` each).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hegui import taxonomy
from hegui.assess.thresholds import THRESHOLDS
from hegui.detect.keywords.lexicon import Lexicon, load_lexicon

SCHEMA = "hegui.keywords.stats/1"


def library_stats(lexicons: Sequence[Lexicon], *, today: dt.date | None = None) -> dict[str, Any]:
    """Counts per TC260 risk, floors, and age, for the lexicons a detector would load."""
    from hegui.detect.keywords.compiled import _normalize_many

    today = today or dt.datetime.now(dt.UTC).date()
    # Count what the matcher sees: normalised terms (one vectorised call for all of them).
    norm = _normalize_many([e.term for lex in lexicons for e in lex.entries])
    seen: dict[tuple[str, str], str] = {}  # (term, tc260 risk) → strength (strong wins)
    for lex in lexicons:
        for e in lex.entries:
            term = norm[e.term][0].strip() if e.term in norm else e.term
            key = (term, taxonomy.get(e.risk).tc260)
            if seen.get(key) != "strong":
                seen[key] = e.strength.value
    per: dict[str, dict[str, int]] = {r: {"total": 0, "strong": 0, "weak": 0} for r in taxonomy.TC260_RISKS}
    for (_t, risk), strength in seen.items():
        per[risk]["total"] += 1
        per[risk][strength] += 1
    min_total = int(THRESHOLDS["keywords_min_total"].value)
    min_a1 = int(THRESHOLDS["keywords_min_per_a1"].value)
    min_a2 = int(THRESHOLDS["keywords_min_per_a2"].value)
    max_age = int(THRESHOLDS["keywords_update_max_days"].value)
    floors: list[dict[str, Any]] = [
        {"name": "total", "required": min_total, "actual": len(seen), "ok": len(seen) >= min_total},
    ]
    per_risk: dict[str, dict[str, Any]] = {}
    for rid, c in per.items():
        floor = min_a1 if rid.startswith("A.1.") else min_a2 if rid.startswith("A.2.") else None
        row: dict[str, Any] = {**c, "name_zh": taxonomy.get(rid).name_zh, "name_en": taxonomy.get(rid).name_en}
        if floor is not None:
            row["floor"] = floor
            row["ok"] = c["total"] >= floor
            floors.append({"name": rid, "required": floor, "actual": c["total"], "ok": row["ok"]})
        per_risk[rid] = row
    dates = [lex.date for lex in lexicons if lex.date is not None]
    newest = max(dates) if dates else None
    age = (today - newest).days if newest else None
    floors.append({"name": "update_age_days", "required": max_age, "actual": age,
                   "ok": age is not None and age <= max_age, "max": True})
    return {
        "schema": SCHEMA,
        "total": len(seen),
        "strong": sum(c["strong"] for c in per.values()),
        "weak": sum(c["weak"] for c in per.values()),
        "ok": all(f["ok"] for f in floors),
        "age_days": age,
        "updated": newest.isoformat() if newest else None,
        "today": today.isoformat(),
        "floors": floors,
        "per_risk": per_risk,
        "lexicons": [
            {"name": lex.name, "path": str(lex.path) if lex.path else None, "version": lex.version,
             "date": lex.date.isoformat() if lex.date else None, "entries": len(lex),
             "age_days": (today - lex.date).days if lex.date else None}
            for lex in lexicons
        ],
        "count_basis": "distinct (normalised term, TC260 risk) pairs; strong and weak; hegui ids under their TC260 parent",
    }


def stats_for_files(files: Sequence[str | Path], *, today: dt.date | None = None) -> dict[str, Any]:
    return library_stats([load_lexicon(p) for p in files], today=today)


def render_text(s: dict[str, Any], lang: str = "en") -> str:
    """The readable form: one line per floor, then the other risks' counts."""
    zh = lang.startswith("zh")
    mark = {True: "OK  ", False: "FAIL"}
    lines = [
        ("关键词库：" if zh else "Keyword library: ")
        + f"{s['total']:,} " + ("条" if zh else "terms")
        + f" ({s['strong']:,} strong, {s['weak']:,} weak); "
        + ("最近更新 " if zh else "updated ") + f"{s['updated'] or '?'}"
        + ((f"（{s['age_days']} 天前）" if zh else f" ({s['age_days']} days ago)") if s["age_days"] is not None else ""),
        "",
    ]
    for f in s["floors"]:
        if f["name"] == "total":
            label = "总量" if zh else "total"
            lines.append(f"{mark[f['ok']]} {_cell(label)} {f['actual']:>8,} ≥ {f['required']:,}")
        elif f["name"] == "update_age_days":
            label = "更新间隔（天）" if zh else "age (days)"
            actual = "?" if f["actual"] is None else f"{f['actual']:,}"
            lines.append(f"{mark[f['ok']]} {_cell(label)} {actual:>8} ≤ {f['required']:,}")
        else:
            r = s["per_risk"][f["name"]]
            name = r["name_zh"] if zh else r["name_en"]
            # CJK characters are two columns wide: cut Chinese names shorter to keep the columns.
            label = f"{f['name']} {name[:8]}" if zh else f"{f['name']} {name}"[:28]
            lines.append(f"{mark[f['ok']]} {_cell(label)} {f['actual']:>8,} ≥ {f['required']:,}  "
                         f"(strong {r['strong']:,}, weak {r['weak']:,})")
    others = [(rid, r) for rid, r in s["per_risk"].items() if "floor" not in r and r["total"]]
    if others:
        lines += ["", "其他风险（无下限）：" if zh else "Other risks (no floor):"]
        lines += [f"     {rid:<28} {r['total']:>8,}" for rid, r in others]
    lines += ["", ("全部达标" if zh else "All floors met") if s["ok"] else ("未达标" if zh else "Floors NOT met")]
    return "\n".join(lines)


def _cell(label: str, width: int = 28) -> str:
    """``label`` padded to ``width`` terminal columns (CJK characters take two)."""
    cols = len(label) + sum(1 for ch in label if ord(ch) >= 0x2E80)
    return label + " " * max(width - cols, 1)
