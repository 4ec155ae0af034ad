"""The TC260-003 sampling protocol (§5, §9.2) and the manual-review round trip.

* a source whose illegal-content rate exceeds 5 % must not be collected or trained on;
* an automated check (keywords, classifier…) over ≥ 10 % of the corpus must find ≥ 98 % qualified;
* a random manual sample of ≥ 4,000 items must be ≥ 96 % qualified.

The manual sample is drawn with a keyed hash of (seed, source, id), so the same corpus and seed
give the same sample on any machine and executor.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hegui.stats import wilson_interval

SOURCE_MAX_ILLEGAL = 0.05
AUTO_MIN_FRACTION = 0.10
AUTO_MIN_QUALIFIED = 0.98
MANUAL_MIN_ITEMS = 4000
MANUAL_MIN_QUALIFIED = 0.96
REVIEW_COLUMNS = ("key", "id", "source", "text", "auto_illegal", "auto_risks", "verdict", "risk", "reviewer", "note")
_QUALIFIED = {"合格", "qualified", "pass", "ok", "1", "true", "yes", "是", "clean"}
_UNQUALIFIED = {"不合格", "unqualified", "fail", "0", "false", "no", "否", "illegal", "违法不良"}


class ReviewImportError(ValueError):
    """The reviewers' file cannot be used (missing columns, unknown verdicts, wrong sample)."""


def verdict(passed: bool | None) -> str:
    return "pending" if passed is None else ("pass" if passed else "fail")


def source_rule(illegal: int, docs: int) -> dict[str, Any]:
    rate = illegal / docs if docs else 0.0
    lo, hi = wilson_interval(illegal, docs) if docs else (0.0, 1.0)
    return {"illegal": illegal, "docs": docs, "rate": rate, "ci95": [lo, hi], "threshold": SOURCE_MAX_ILLEGAL,
            "result": verdict(rate <= SOURCE_MAX_ILLEGAL if docs else None)}


def auto_rule(sampled: int, qualified: int, total: int) -> dict[str, Any]:
    frac = sampled / total if total else 0.0
    rate = qualified / sampled if sampled else 0.0
    lo, hi = wilson_interval(qualified, sampled) if sampled else (0.0, 1.0)
    ok = sampled > 0 and frac >= AUTO_MIN_FRACTION - 1e-12 and rate >= AUTO_MIN_QUALIFIED
    return {"sampled": sampled, "total": total, "fraction": frac, "min_fraction": AUTO_MIN_FRACTION,
            "qualified": qualified, "rate": rate, "ci95": [lo, hi], "threshold": AUTO_MIN_QUALIFIED,
            "result": verdict(ok if total else None)}


def merge_review(parts: Iterable[Iterator[dict[str, Any]]], n: int) -> list[dict[str, Any]]:
    """The ``n`` items with the smallest keys over all shards (each part sorted by key)."""
    merged = heapq.merge(*parts, key=lambda d: (d["key"], d["id"]))
    out: list[dict[str, Any]] = []
    for d in merged:
        if len(out) >= n:
            break
        out.append(d)
    return out


def write_review(items: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Write the manual-review sample as CSV (UTF-8 with BOM, opens in Excel) and XLSX."""
    rows = [[str(d["key"]), _utf8(d["id"]), d["source"], _utf8(d["text"]), "是" if d.get("auto_illegal") else "否",
             ";".join(d.get("auto_risks", [])), "", "", "", ""] for d in items]
    csv_path = out_dir / "review_sample.csv"
    # The BOM by hand: the "utf-8-sig" codec is pure Python, called once per row (a third of the
    # CSV's time); "utf-8" after "\ufeff" writes the same bytes.
    with open(csv_path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")
        w = csv.writer(fh)
        w.writerow(REVIEW_COLUMNS)
        w.writerows(rows)
    xlsx_path = out_dir / "review_sample.xlsx"
    write_xlsx(xlsx_path, "review", [list(REVIEW_COLUMNS), *rows])
    return {"csv": csv_path, "xlsx": xlsx_path}


def _utf8(v: str) -> str:
    """Lone surrogates (from "\\ud800" escapes in JSON input) become U+FFFD: CSV and XLSX need UTF-8."""
    try:
        v.encode("utf-8")
        return v
    except UnicodeEncodeError:
        return v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


_XLSX_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XLSX_MAX_CHARS = 32_000


def _xlsx_safe(v: str) -> str:
    # Excel cells hold at most 32,767 characters and no control characters (tab, CR, LF are fine);
    # U+FFFE and U+FFFF are not allowed in XML either. A regex, not a per-character generator:
    # that took half of an 8 MB scan's time.
    return _XLSX_CONTROL.sub("", v)[:_XLSX_MAX_CHARS]


def _xml_text(v: str) -> str:
    # CR as a character reference: a parser would turn a literal one into LF.
    return v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _xlsx_col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    "xl/styles.xml": (
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    ),
}


def write_xlsx(path: Path, sheet: str, rows: list[list[str]]) -> None:
    """A one-sheet workbook of text cells (inline strings), written directly as XML in UTF-8.

    openpyxl took ≈ 0.8 CPU s for the 4,000-row review sample (per-cell objects, every
    non-ASCII character written as a ``&#NNNNN;`` reference: a 14 MB sheet to deflate); this
    writes the same cell values (openpyxl reads them back identically, tested) in ≈ 0.13 s, and
    the same rows always give the same bytes (no timestamps). Empty strings are blank cells.
    Deflate level 1: a third of level 6's time, and the file (3.0 MB for the 4,000 rows of a
    Chinese corpus) still smaller than openpyxl's (3.3 MB).
    """
    import zipfile

    cols = [_xlsx_col(i) for i in range(max((len(r) for r in rows), default=0))]
    # `_xlsx_safe` of every cell: one search over the whole sheet finds the cells that hold a
    # control character (a quarter of the time of a substitution per cell), the rest only need
    # the length cut.
    flat = [v for row in rows for v in row]
    hits = [m.start() for m in _XLSX_CONTROL.finditer("".join(flat))]
    if hits:
        ends = list(itertools.accumulate(map(len, flat)))
        for i in {bisect.bisect_right(ends, at) for at in hits}:
            flat[i] = _xlsx_safe(flat[i])
    flat = [v[:_XLSX_MAX_CHARS] if len(v) > _XLSX_MAX_CHARS else v for v in flat]
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    k = 0
    for n, row in enumerate(rows, start=1):
        out.append(f'<row r="{n}">')
        for c in cols[: len(row)]:
            v = flat[k]
            if not v:
                out.append(f'<c r="{c}{n}"/>')  # a blank cell: readers give every row all columns
            else:
                space = ' xml:space="preserve"' if v[0].isspace() or v[-1].isspace() else ""
                out.append(f'<c r="{c}{n}" t="inlineStr"><is><t{space}>{_xml_text(v)}</t></is></c>')
            k += 1
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    parts = {name: '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml.replace("{sheet}", _xml_text(sheet))
             for name, xml in _XLSX_PARTS.items()}
    parts["xl/worksheets/sheet1.xml"] = "".join(out)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, xml.encode("utf-8"), compresslevel=1)
    tmp.replace(path)


def _read_rows(path: Path) -> list[dict[str, str]]:
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        ws = wb.active
        if ws is None:
            raise ReviewImportError(f"表格为空 empty workbook: {path}")
        it = ws.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(it, ())]
        return [{h: "" if v is None else str(v) for h, v in zip(header, row, strict=False)} for row in it]
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def import_review(path: Path, sample_path: Path | None = None) -> dict[str, Any]:
    """Reviewers' verdicts → the manual qualified rate with a Wilson 95 % interval, against 96 %.

    Every row must carry a verdict (合格/不合格 or qualified/unqualified…); an unknown verdict is an
    error naming the row, never silently skipped. With ``sample_path`` (the exported sample) the
    ids must match it, so a reviewer cannot drop awkward items.
    """
    if not path.exists():
        raise ReviewImportError(f"文件不存在 file not found: {path}")
    rows = _read_rows(path)
    if rows and ("id" not in rows[0] or "verdict" not in rows[0]):
        raise ReviewImportError("需要 id 与 verdict 两列 the file needs 'id' and 'verdict' columns")
    qualified = 0
    missing: list[str] = []
    seen: set[tuple[str, str]] = set()
    by_source: dict[str, list[int]] = {}
    risks: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        v = (row.get("verdict") or "").strip().lower()
        key = (row.get("source", ""), row["id"])
        if key in seen:
            raise ReviewImportError(f"第 {n} 行重复 row {n} repeats id {row['id']!r}")
        seen.add(key)
        if not v:
            missing.append(row["id"])
            continue
        if v in _QUALIFIED:
            ok = True
        elif v in _UNQUALIFIED:
            ok = False
        else:
            raise ReviewImportError(f"第 {n} 行结论无法识别 row {n}: unknown verdict {row.get('verdict')!r} (use 合格/不合格)")
        qualified += ok
        acc = by_source.setdefault(row.get("source", ""), [0, 0])
        acc[0] += ok
        acc[1] += 1
        if not ok and row.get("risk"):
            risks[row["risk"].strip()] = risks.get(row["risk"].strip(), 0) + 1
    if missing:
        raise ReviewImportError(f"{len(missing)} 条未给出结论 {len(missing)} rows have no verdict (first: {missing[0]!r})")
    if sample_path is not None:
        expected = {(d["source"], d["id"]) for d in (json.loads(x) for x in sample_path.read_text("utf-8").splitlines() if x)}
        if expected != seen:
            raise ReviewImportError(
                f"审核结果与导出样本不一致 reviewed ids differ from the exported sample: "
                f"{len(expected - seen)} missing, {len(seen - expected)} unexpected")
    n = len(seen)
    rate = qualified / n if n else 0.0
    lo, hi = wilson_interval(qualified, n) if n else (0.0, 1.0)
    ok = n >= MANUAL_MIN_ITEMS and rate >= MANUAL_MIN_QUALIFIED
    return {
        "reviewed": n, "qualified": qualified, "rate": rate, "ci95": [lo, hi],
        "threshold": MANUAL_MIN_QUALIFIED, "min_items": MANUAL_MIN_ITEMS,
        "enough_items": n >= MANUAL_MIN_ITEMS,
        "lower_bound_meets_threshold": lo >= MANUAL_MIN_QUALIFIED,
        "result": verdict(ok),
        "by_source": {s: {"reviewed": t, "qualified": q, "rate": q / t if t else 0.0} for s, (q, t) in sorted(by_source.items())},
        "unqualified_risks": dict(sorted(risks.items(), key=lambda kv: -kv[1])),
    }
