"""The annotation QA report through the shared renderer (HTML, Markdown, JSON).

The JSON is the evaluation dict itself (schema ``hegui.annotation.report/1``): ``result`` and
``overall`` are what the assessment report's §5.3 row and the Art. 17 disclosure read
(:mod:`hegui.assess.evidence`); ``report.json`` in the output directory is the file to pass as
``hegui report assessment --annotation DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hegui.reports import Report, write_report

DECISIONS_ZH = {"accept": "接收", "re-annotate": "返工重标", "discard": "整批作废", "pending": "待审核"}


def build_report(data: dict[str, Any], lang: str = "zh") -> Report:
    title = "数据标注质量报告（第八条，TC260-003 §5.3）" if lang.startswith("zh") else "Annotation QA report (Art. 8, TC260-003 §5.3)"
    return Report("annotation", title, {**data, "decisions_zh": DECISIONS_ZH}, lang=lang)


def write_annotation_report(data: dict[str, Any], out_dir: Path, lang: str = "zh", stem: str = "report") -> dict[str, Path]:
    """``<stem>.{html,md,json}`` in ``out_dir``; ``report.json`` is what the assessment reads."""
    return write_report(build_report(data, lang), out_dir, stem=stem)
