"""Filing and disclosure materials: the Art. 17 disclosure and the algorithm-filing summary.

Interim Measures Art. 17 asks the provider to explain the source, scale, type and quality of the
training data, the labelling rules, and the basic algorithm. hegui fills what it holds (scan report,
annotation QA report, config) and leaves a visible "待填写 / to fill in" where only the provider
knows, in documents a compliance officer edits: Markdown and DOCX (plus HTML and JSON).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hegui.assess import evidence
from hegui.reports import Report, write_report

FILL = ("待填写", "to fill in")


def _v(x: Any, zh: bool) -> str:
    if x is None or x == "" or x == [] or x == {}:
        return FILL[0] if zh else FILL[1]
    if isinstance(x, bool):
        return ("是" if x else "否") if zh else ("yes" if x else "no")
    if isinstance(x, dict):
        return "; ".join(f"{k}: {v}" for k, v in x.items())
    if isinstance(x, list):
        return ", ".join(str(i) for i in x)
    if isinstance(x, float):
        return f"{x:.4g}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _row(zh_key: str, en_key: str, value: Any, src: str, zh: bool) -> dict[str, str]:
    return {"key": zh_key if zh else en_key, "value": _v(value, zh), "source": src}


def _training_data(scan: dict[str, Any] | None, zh: bool) -> list[dict[str, str]]:
    if not scan:
        return [_row("训练数据", "Training data", None, "hegui scan", zh)]
    ov = scan.get("overall", {})
    sources = scan.get("sources", {}) or {}
    kinds: dict[str, int] = {}
    licences: dict[str, int] = {}
    for s in sources.values():
        man = s.get("manifest") or {}
        kinds[str(man.get("type") or "?")] = kinds.get(str(man.get("type") or "?"), 0) + int(s.get("docs", 0))
        licences[str(man.get("license") or "?")] = licences.get(str(man.get("license") or "?"), 0) + 1
    tc = scan.get("tc260", {})
    auto = tc.get("automated_check", {})
    manual = tc.get("manual_review", {})
    src = "scan report.json"
    return [
        _row("来源（数量）", "Sources (count)", f"{len(sources)}: " + ", ".join(sorted(sources)) if sources else None, src, zh),
        _row("来源类型（文档数）", "Source types (documents)", kinds or None, src, zh),
        _row("授权方式（来源数）", "Licences (sources)", licences or None, src, zh),
        _row("规模：文档数", "Scale: documents", ov.get("docs"), src, zh),
        _row("规模：字节数", "Scale: bytes", ov.get("bytes"), src, zh),
        _row("语言分布", "Languages", ov.get("languages"), src, zh),
        _row("含违法不良信息文档", "Documents with illegal content", ov.get("illegal"), src, zh),
        _row("近重复文档", "Near-duplicate documents", ov.get("near_duplicates"), src, zh),
        _row("含个人信息文档", "Documents with personal information", ov.get("pii_docs"), src, zh),
        _row("技术抽检合格率", "Automated check qualified rate", auto.get("rate"), src, zh),
        _row("技术抽检结论", "Automated check result", auto.get("result"), src, zh),
        _row("人工抽检合格率", "Manual review qualified rate", manual.get("rate"), src, zh),
        _row("人工抽检结论", "Manual review result", manual.get("result"), src, zh),
    ]


def _annotation(ann: dict[str, Any] | None, zh: bool) -> list[dict[str, str]]:
    if not ann:
        return [_row("标注规则与规模", "Labelling rules and scale", None, "annotation QA", zh)]
    src = "annotation report"
    ov = ann.get("overall") if isinstance(ann.get("overall"), dict) else {}
    pick = lambda *ks: next((d[k] for d in (ann, ov) for k in ks if k in d), None)  # noqa: E731
    return [
        _row("标注规则", "Labelling rules", pick("rules", "guidelines", "rules_version"), src, zh),
        _row("标注数量", "Items labelled", pick("items", "labelled", "n_items", "total"), src, zh),
        _row("标注类型（条目数）", "Types labelled (items)", pick("types"), src, zh),
        _row("标注人员", "Annotators", pick("annotators", "n_annotators"), src, zh),
        _row("安全标注审核覆盖率", "Safety annotations reviewed", pick("safety_review_coverage"), src, zh),
        _row("批次决定", "Batch decisions", pick("decisions"), src, zh),
        _row("一致性（Krippendorff α）", "Agreement (Krippendorff α)", pick("alpha", "krippendorff_alpha", "agreement"), src, zh),
        _row("核验合格率", "Verification pass rate", pick("accuracy", "pass_rate", "rate"), src, zh),
        _row("结论", "Result", pick("result"), src, zh),
    ]


def build_filing(*, scan: Path | None = None, annotation: Path | None = None, settings: Any | None = None,
                 assessment: Path | None = None, lang: str = "zh") -> Report:
    zh = lang.startswith("zh")
    facts = evidence.settings_facts(settings)
    a = facts.get("assess", {})
    res = evidence.assessment_results(assessment)
    m = (res or {}).get("metrics") or {}
    cfg = "config assess.*"
    sections = [
        {"title": "一、服务基本信息" if zh else "1. Service", "rows": [
            _row("服务提供者", "Provider", a.get("provider"), cfg, zh),
            _row("服务名称", "Service name", a.get("service_name"), cfg, zh),
            _row("服务类型", "Service type", a.get("service_type"), cfg, zh),
            _row("服务对象", "Intended users", a.get("intended_users"), cfg, zh),
            _row("是否面向未成年人", "Serves minors", a.get("minors_served"), cfg, zh),
        ]},
        {"title": "二、模型与算法" if zh else "2. Model and algorithm", "rows": [
            _row("模型名称（对外公示）", "Model name (shown)", a.get("model_name"), cfg, zh),
            _row("基础模型", "Foundation model", a.get("base_model"), cfg, zh),
            _row("基础模型备案号", "Foundation model filing no.", a.get("base_model_filing_no"), cfg, zh),
            _row("算法基本原理", "Basic algorithm", a.get("algorithm_description"), cfg, zh),
            _row("安全检测（输入输出）", "Safety checks (input and output)", facts.get("detectors"), "config guard.detectors", zh),
            _row("安全策略", "Safety policy", facts.get("policy"), "config policy", zh),
        ]},
        {"title": "三、训练数据（第十七条）" if zh else "3. Training data (Art. 17)", "rows": _training_data(evidence.scan_report(scan), zh)},
        {"title": "四、数据标注（第八条、第十七条）" if zh else "4. Labelling (Arts. 8, 17)", "rows": _annotation(evidence.annotation_report(annotation), zh)},
        {"title": "五、安全措施" if zh else "5. Safety measures", "rows": [
            _row("违规处置（连续/单日）", "Sanctions (consecutive/daily)",
                 f"{(facts.get('duties') or {}).get('strikes_consecutive')}/{(facts.get('duties') or {}).get('strikes_per_day')}" if facts.get("duties") else None, "policy duties", zh),
            _row("投诉举报入口", "Complaints channel", a.get("complaint_channel"), cfg, zh),
            _row("反馈时限（天）", "Feedback time limit (days)", a.get("complaint_time_limit_days"), cfg, zh),
            _row("日志保存期限（天）", "Log retention (days)", a.get("retention_days"), cfg, zh),
            _row("显式标识", "Explicit labels", a.get("labels_explicit"), cfg, zh),
            _row("隐式标识", "Implicit labels", a.get("labels_implicit"), cfg, zh),
        ]},
        {"title": "六、安全评估结果" if zh else "6. Security assessment results", "rows": [
            _row("生成内容合格率", "Generated content qualified rate", (m.get("qualified") or {}).get("rate"), "hegui assess", zh),
            _row("应拒答拒答率", "Must-refuse refusal rate", (m.get("refusal") or {}).get("rate"), "hegui assess", zh),
            _row("非拒答误拒率", "Wrongful-refusal rate", (m.get("wrongful_refusal") or {}).get("rate"), "hegui assess", zh),
            _row("评估时间", "Assessed at", (res or {}).get("generated_at"), "hegui assess", zh),
        ]},
    ]
    missing = sum(r["value"] == (FILL[0] if zh else FILL[1]) for s in sections for r in s["rows"])
    title = "算法备案与第十七条信息披露材料（草稿）" if zh else "Algorithm filing and Art. 17 disclosure (draft)"
    return Report("filing", title, {"sections": sections, "to_fill": missing,
                                    "date": dt.date.today().isoformat()}, lang=lang)


def write_docx(report: Report, path: Path) -> Path:
    """The same content as an editable Word document (python-docx)."""
    from docx import Document

    zh = report.lang.startswith("zh")
    doc = Document()
    doc.add_heading(report.title, level=0)
    doc.add_paragraph(("生成时间" if zh else "Generated") + f": {report.generated_at} · hegui")
    doc.add_paragraph(
        f"待填写项 {report.data['to_fill']} 处；请核对每项并附证明材料。" if zh
        else f"{report.data['to_fill']} items to fill in; check every item and attach proof."
    )
    for sec in report.data["sections"]:
        doc.add_heading(sec["title"], level=1)
        table = doc.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        hdr = table.rows[0].cells
        hdr[0].text, hdr[1].text, hdr[2].text = ("项目", "内容", "来源") if zh else ("Item", "Value", "Source")
        for r in sec["rows"]:
            cells = table.add_row().cells
            cells[0].text, cells[1].text, cells[2].text = r["key"], r["value"], r["source"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".docx.tmp")
    doc.save(str(tmp))
    tmp.replace(path)
    return path


def write_filing(report: Report, out_dir: Path) -> dict[str, Path]:
    stem = f"filing.{report.lang}"
    paths = write_report(report, out_dir, stem=stem, formats=("html", "md", "json"))
    paths["docx"] = write_docx(report, out_dir / f"{stem}.docx")
    return paths
