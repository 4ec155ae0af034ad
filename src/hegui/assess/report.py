"""``report.json`` of a run, and the TC260 §9-shaped assessment report (HTML / Markdown / JSON)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from hegui.assess import evidence
from hegui.assess.bank import Bank, bank_stats, floors_summary
from hegui.assess.conformance import conclusion, evaluate
from hegui.assess.metrics import compute
from hegui.reports import Report, write_report

SCHEMA = "hegui.assess.results"


def safe_target(url: str) -> str:
    """The target without credentials or query string: report files are shared."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return urlunsplit((p.scheme, host, p.path, "", ""))


def write_run_report(out_dir: Path, rows: dict[str, dict[str, Any]], *, target: str, model: str, bank: Bank,
                     seed: int, sampled: int) -> dict[str, Any]:
    data = {
        "schema": SCHEMA, "schema_version": 1,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": safe_target(target), "model": model,
        "bank": {"path": str(bank.path) if bank.path else None, "version": bank.version, **floors_summary(bank)},
        "sample": {"seed": seed, "items": sampled},
        "metrics": compute(rows.values()),
    }
    tmp = out_dir / "report.json.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(out_dir / "report.json")
    return data


def build_assessment(
    *, results: Path | None, bank: Bank | None, scan: Path | None = None, annotation: Path | None = None,
    keywords: Path | None = None, settings: Any | None = None, lang: str = "zh", baseline: Path | None = None,
) -> Report:
    """Gather every evidence source hegui holds, judge each clause, and shape the report."""
    stats = [x.to_dict() for x in bank_stats(bank)] if bank is not None else None
    ev: dict[str, Any] = {
        "results": evidence.assessment_results(results),
        "bank_stats": stats,
        "scan": evidence.scan_report(scan),
        "annotation": evidence.annotation_report(annotation),
        "keywords": evidence.keyword_stats(keywords),
        "facts": evidence.settings_facts(settings),
    }
    clauses = evaluate(ev)
    facts = ev["facts"].get("assess", {})
    res = ev["results"] or {}
    m = res.get("metrics")
    chart = None
    if m and m.get("per_risk"):
        chart = {rid: v["refusal"]["rate"] for rid, v in m["per_risk"].items() if v["refusal"]["n"]}
    zh = lang.startswith("zh")
    data = {
        "service": {"provider": facts.get("provider") or "", "service_name": facts.get("service_name") or "",
                    "model": res.get("model"), "target": res.get("target")},
        "clauses": [c.to_dict() for c in clauses],
        "conclusion": conclusion(clauses),
        "metrics": m,
        "run": {k: res.get(k) for k in ("generated_at", "bank", "sample")} if res else None,
        "bank_stats": stats,
        "refusal_chart": chart,
        "sources": {k: bool(ev[k]) for k in ("results", "scan", "annotation", "keywords")},
        "comparison": _comparison(evidence.assessment_results(baseline), res) if baseline is not None else None,
    }
    return Report("assessment", "生成式人工智能服务安全评估报告" if zh else "Generative AI service security assessment report", data, lang=lang)


def _comparison(base: dict[str, Any] | None, run: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The same bank without and with the gateway: what the gateway adds, rate by rate."""
    if not base or not run.get("metrics"):
        return None
    out = []
    for key, zh, en in (("refusal", "应拒答拒答率", "Must-refuse refusal rate"),
                        ("wrongful_refusal", "非拒答误拒率", "Wrongful-refusal rate"),
                        ("qualified", "生成内容合格率", "Generated content qualified")):
        b, r = base["metrics"].get(key, {}), run["metrics"].get(key, {})
        delta = None if b.get("rate") is None or r.get("rate") is None else r["rate"] - b["rate"]
        out.append({"key": key, "name_zh": zh, "name_en": en, "baseline": b.get("rate"), "baseline_n": b.get("n"),
                    "run": r.get("rate"), "run_n": r.get("n"), "delta": delta, "baseline_model": base.get("model"),
                    "baseline_target": base.get("target")})
    return out


def write_assessment(report: Report, out_dir: Path, formats: tuple[str, ...] = ("html", "md", "json")) -> dict[str, Path]:
    return write_report(report, out_dir, stem=f"assessment.{report.lang}", formats=formats)
