"""The scan report through the shared renderer (HTML, Markdown, JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hegui.reports import Report, write_report


def build_report(data: dict[str, Any], lang: str = "zh") -> Report:
    title = "训练语料合规扫描报告" if lang.startswith("zh") else "Training-data compliance scan"
    return Report(template="scan", title=title, data={"scan": data}, lang=lang)


def write_scan_report(data: dict[str, Any], out_dir: Path, lang: str = "zh") -> dict[str, Path]:
    """Write report.html, report.md and report.json (the JSON is ``data`` at the top level)."""
    rep = build_report(data, lang)
    paths = write_report(rep, out_dir, formats=("html", "md"))
    # report.json carries the data at the top level (plus title/generated_at), stable for issue 9.
    flat = Report(template="scan", title=rep.title, data=data, lang=lang, generated_at=rep.generated_at)
    paths.update(write_report(flat, out_dir, formats=("json",)))
    return paths
