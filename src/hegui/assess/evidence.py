"""Small adapters that read evidence other hegui surfaces produce. A missing or unreadable file is
``None`` (the clause becomes "needs evidence"), never a crash: the report must still be written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    p = path / "report.json" if path.is_dir() else path
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scan_report(path: Path | None) -> dict[str, Any] | None:
    """``hegui scan … --out DIR`` → DIR/report.json (schema hegui.scan.report, docs/scan.md)."""
    d = read_json(path)
    return d if d and "tc260" in d else None


def annotation_report(path: Path | None) -> dict[str, Any] | None:
    """The annotation QA report JSON (issue 10, docs/annotation.md); accepted as long as it is an object."""
    return read_json(path)


def keyword_stats(path: Path | None) -> dict[str, Any] | None:
    """``hegui keywords stats --json`` output saved to a file."""
    return read_json(path)


def assessment_results(path: Path | None) -> dict[str, Any] | None:
    """``hegui assess --out DIR`` → DIR/report.json."""
    d = read_json(path)
    return d if d and "metrics" in d else None


def settings_facts(settings: Any | None) -> dict[str, Any]:
    """What the gateway configuration says about labels, strikes, minors, retention and complaints."""
    if settings is None:
        return {}
    facts: dict[str, Any] = {"policy": getattr(settings, "policy", None)}
    guard = getattr(settings, "guard", None)
    facts["detectors"] = list(getattr(guard, "detectors", []) or [])
    try:
        from hegui.detect import DetectorRegistry

        facts["detectors_missing"] = [d for d in facts["detectors"] if d not in DetectorRegistry.names()]
    except Exception:
        facts["detectors_missing"] = list(facts["detectors"])
    try:
        from hegui.policy import load_policy

        pol = load_policy(settings.policy)
        facts["duties"] = pol.duties.model_dump()
    except Exception:
        facts["duties"] = None
    for name in ("labels", "retention", "complaints", "gateway"):
        sec = getattr(settings, name, None)
        if sec is not None:
            facts[name] = sec.model_dump(mode="json") if hasattr(sec, "model_dump") else sec
    a = getattr(settings, "assess", None)
    facts["assess"] = a.model_dump() if a is not None else {}
    return facts
