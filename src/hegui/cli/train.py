"""`hegui train` and `hegui eval`: build the risk classifier and measure any detector set on JSONL."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_DATA = Path("../shared/data")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("eval")(evaluate)


def _die(msg: str) -> None:
    typer.echo(f"错误 / error: {msg}", err=True)
    raise typer.Exit(2)


def train(
    data: Annotated[Path | None, typer.Option("--data", help="Your JSONL (text, labels). Default: the public sets in --shared.")] = None,
    shared: Annotated[Path, typer.Option("--shared", help="The shared data folder (for the shipped model).")] = DEFAULT_DATA,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Model file to write (default: the shipped model in the package).")] = None,
    export_test: Annotated[Path | None, typer.Option("--export-test", help="Also write the held-out test split as eval JSONL here.")] = None,
    c: Annotated[float, typer.Option("--c", help="Inverse regularisation strength.")] = 8.0,
) -> None:
    """Train the risk classifier reproducibly (same data → same bytes). 训练风险分类模型。"""
    from hegui.detect.classifier import default_model_path
    from hegui.detect.classifier.data import CALIBRATION, HEADS, DataError, load_jsonl, load_public
    from hegui.detect.classifier.train import TrainParams, fit

    t0 = time.perf_counter()
    try:
        if data is not None:
            examples, heads = load_jsonl(data)
            calibration: dict[str, str] = {}
            source = {"data": data.name}
        else:
            examples, heads, calibration = load_public(shared), HEADS, CALIBRATION
            source = {"data": "shared/data (COLD, SWSR, Davidson, JADE, XSTest, CyberSecEval, CValues, benign MIT/Apache rows)"}
        model = fit(examples, heads, calibration, TrainParams(c=c), meta={**source, "c": c})
    except (DataError, ValueError) as e:
        _die(str(e))
    target = out or default_model_path()
    model.save(target)
    if export_test is not None:
        write_eval_jsonl([e for e in examples if e.split == "test"], heads, export_test)
    typer.echo(json.dumps({"model": str(target),
                           "heads": [{"name": h.name, "risk": h.risk, "threshold": h.threshold} for h in model.heads],
                           "dev": model.meta["dev_report"], "seconds": round(time.perf_counter() - t0, 1)},
                          ensure_ascii=False, indent=1))


def write_eval_jsonl(examples: list[Any], heads: dict[str, str], path: Path) -> None:
    """Eval rows: ``labels`` = positive risk ids, ``scope`` = risk ids the source annotates, ``dataset``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for e in examples:
            row = {"text": e.text, "labels": sorted(heads[h] for h, y in e.labels.items() if y),
                   "scope": sorted(heads[h] for h in e.labels), **e.fields, "dataset": e.source}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def evaluate(
    data: Annotated[Path, typer.Argument(help="JSONL with text, labels (risk ids); optional scope (risk ids annotated).")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config YAML (detectors, options).")] = None,
    detectors: Annotated[str | None, typer.Option("--detectors", "-d", help="Comma-separated detector names (default: from config).")] = None,
    threshold: Annotated[float, typer.Option("--threshold", help="A finding counts as positive at this score.")] = 0.5,
    by_field: Annotated[list[str] | None, typer.Option("--by-field", help="Break results down by this input field (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Precision, recall, F1 per risk and overall, confusion table and latency. 评测检测效果。"""
    from hegui.config import ConfigError, load_settings
    from hegui.guard import Guard

    rows = _read_eval(data)
    try:
        settings = load_settings(config)
        if detectors:
            settings.guard.detectors = [d.strip() for d in detectors.split(",") if d.strip()]
        guard = Guard.from_settings(settings)
    except (ConfigError, KeyError, ValueError) as e:
        _die(str(e))
    predicted: list[set[str]] = []
    lat: list[float] = []
    errors = 0
    for r in rows:
        v = guard.check(r["text"], r.get("role", "input"))
        lat.append(v.latency_ms)
        if v.error:  # failed closed: counts as flagged for every risk the row is scored on
            errors += 1
            predicted.append(set(r.get("scope") or r["labels"]) or {"error"})
        else:
            predicted.append({f.risk for f in v.findings if f.score >= threshold})
    report = {"n": len(rows), "errors": errors, "overall": _metrics(rows, predicted), "latency_ms": _lat(lat)}
    for fld in by_field or []:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[str(r.get(fld, ""))].append(i)
        report[f"by:{fld}"] = {
            k: _metrics([rows[i] for i in ix], [predicted[i] for i in ix]) for k, ix in sorted(groups.items())
        }
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        _print(report)


def _read_eval(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        fh = path.open(encoding="utf-8-sig")
    except OSError as e:
        _die(f"cannot read {path}: {e.strerror}")
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                _die(f"{path}:{n}: not valid JSON ({e.msg}) / 第 {n} 行不是有效的 JSON")
            if not isinstance(r, dict) or not isinstance(r.get("text"), str):
                _die(f"{path}:{n}: each line needs a string field \"text\" / 每行需要字符串字段 text")
            labels = r.get("labels", [])
            if isinstance(labels, str):
                labels = [labels]
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                _die(f"{path}:{n}: \"labels\" must be a list of risk ids / labels 必须是风险编号列表")
            if r.get("role", "input") not in ("input", "output"):
                _die(f"{path}:{n}: role must be input or output / role 只能是 input 或 output")
            r["labels"] = labels
            rows.append(r)
    if not rows:
        _die(f"{path} has no rows / 评测数据为空")
    return rows


def _metrics(rows: list[dict[str, Any]], predicted: list[set[str]]) -> dict[str, Any]:
    """Per risk (within each row's scope, if given) and micro-averaged overall; confusion counts."""
    risks = sorted({x for r in rows for x in r["labels"]} | {x for p in predicted for x in p})
    per: dict[str, dict[str, float]] = {}
    tot = Counter()
    for risk in risks:
        c = Counter()
        for r, p in zip(rows, predicted, strict=True):
            scope = r.get("scope")
            if scope is not None and risk not in scope:
                continue
            truth, pred = risk in r["labels"], risk in p
            c["tp" if truth and pred else "fn" if truth else "fp" if pred else "tn"] += 1
        per[risk] = _prf(c)
        tot.update(c)
    # Text-level confusion: does the text carry any expected risk / any predicted risk?
    conf = Counter()
    for r, p in zip(rows, predicted, strict=True):
        conf[f"{'risky' if r['labels'] else 'clean'}->{'flagged' if p else 'passed'}"] += 1
    return {"per_risk": per, "micro": _prf(tot), "confusion": dict(sorted(conf.items()))}


def _prf(c: Counter) -> dict[str, float]:
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": round(p, 4), "recall": round(rc, 4), "f1": round(f1, 4), "fpr": round(fpr, 4),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def _lat(ms: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.array(ms) if ms else np.zeros(1)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p99": round(float(np.percentile(a, 99)), 3)}


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console(file=sys.stdout)

    def table(title: str, m: dict[str, Any]) -> None:
        t = Table(title=title)
        for col in ("risk 风险", "P", "R", "F1", "FPR", "TP", "FP", "FN", "TN"):
            t.add_column(col)
        for risk, s in [*m["per_risk"].items(), ("micro 总体", m["micro"])]:
            t.add_row(risk, *(f"{s[k]:.3f}" for k in ("precision", "recall", "f1", "fpr")),
                      *(str(s[k]) for k in ("tp", "fp", "fn", "tn")))
        con.print(t)
        con.print("confusion 混淆: " + ", ".join(f"{k}={v}" for k, v in m["confusion"].items()))

    table(f"{report['n']} rows / 条", report["overall"])
    con.print(f"latency 延迟 (ms): p50={report['latency_ms']['p50']} p99={report['latency_ms']['p99']}")
    for k, groups in report.items():
        if k.startswith("by:"):
            for g, m in groups.items():
                table(f"{k[3:]} = {g}", m)
