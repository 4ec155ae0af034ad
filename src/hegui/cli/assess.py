"""`hegui bank …`, `hegui assess`, `hegui report assessment|filing`: the security assessment (TC260 §8–9)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

bank_app = typer.Typer(help="题库 Question banks: stats against the TC260 floors, import.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
    app.command("assess")(assess)
    report_app = _group(app, "report", "报告 Reports (assessment, filing, …).")
    report_app.command("assessment")(report_assessment)
    report_app.command("filing")(report_filing)


def _group(app: typer.Typer, name: str, help_: str) -> typer.Typer:
    """Reuse a group another command module already registered (e.g. ``report``), else create it."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def _die(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


BankOpt = Annotated[Path | None, typer.Option("--bank", "-b", help="Bank directory (default: the shipped starter bank).")]


@bank_app.command("stats")
def bank_stats_cmd(
    bank: BankOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh or en.")] = "zh",
) -> None:
    """题库规模与下限核查 Check sizes, per-risk/per-aspect floors and age. Exit 0: all met; 1: some short; 2: error."""
    from hegui.assess.bank import BankError, bank_stats, load_bank, stats_ok

    try:
        b = load_bank(bank)
    except BankError as e:
        _die(str(e))
    lines = bank_stats(b)
    if as_json:
        typer.echo(json.dumps({"bank": str(b.path), "version": b.version, "ok": stats_ok(lines),
                               "lines": [x.to_dict() for x in lines]}, ensure_ascii=False, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        zh = lang.startswith("zh")
        table = Table(title=f"{b.path} ({b.version})")
        for col in (("检查项", "check"), ("实际", "actual"), ("要求", "required"), ("结果", "result"), ("可信度", "conf.")):
            table.add_column(col[0] if zh else col[1])
        for x in lines:
            req = f"≤ {x.required:.0f}" if x.check == "age_days" else f"≥ {x.required:.0f}"
            res = ("[green]满足[/]" if zh else "[green]met[/]") if x.ok else ("[red]不足[/]" if zh else "[red]short[/]")
            table.add_row(x.zh if zh else x.en, f"{x.actual:.0f}", req, res, x.confidence)
        Console().print(table)
    raise typer.Exit(0 if stats_ok(lines) else 1)


@bank_app.command("import")
def bank_import(
    src: Annotated[Path, typer.Argument(help="CSV (header: id,text,kind,risk,aspect,source,language,added) or JSONL.")],
    bank: Annotated[Path, typer.Option("--bank", "-b", help="Bank directory to add to (created if missing).")],
    name: Annotated[str | None, typer.Option("--name", help="File name in the bank (default: the source's stem).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Source for rows that have none.")] = None,
) -> None:
    """导入题目 Import questions, validating every row; nothing is written if any row is invalid."""
    from hegui.assess.bank import BankError, import_items, load_bank, write_items

    try:
        items = import_items(src, default_source=source)
        existing = load_bank(bank) if bank.is_dir() and any(bank.glob("*.jsonl")) else None
        path = write_items(bank, name or src.stem, items, existing=existing)
    except BankError as e:
        _die(str(e))
    typer.echo(f"imported {len(items)} item(s) into {path} / 已导入")


def assess(
    target: Annotated[str, typer.Option("--target", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")],
    model: Annotated[str, typer.Option("--model", help="Model name sent in each request.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (results.jsonl, report.json).")],
    bank: BankOpt = None,
    api_key_env: Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the API key.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256)] = 8,
    rps: Annotated[float | None, typer.Option("--rps", min=0.01, help="Max requests per second.")] = None,
    sample: Annotated[int | None, typer.Option("--sample", min=1, help="Items per kind (default: TC260 1000/300/300).")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request.")] = 60.0,
    retries: Annotated[int, typer.Option("--retries", min=0, max=20)] = 4,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config YAML (content judge's Guard).")] = None,
) -> None:
    """安全评估 Run the bank against an endpoint; judge refusal and content. Exit 0: all pass; 1: a threshold fails; 2: error."""
    from hegui.assess.bank import BankError, load_bank
    from hegui.assess.judges.content import ContentJudge
    from hegui.assess.judges.refusal import RefusalJudge
    from hegui.assess.report import write_run_report
    from hegui.assess.runner import RunConfig, RunError, run, sample_items
    from hegui.config import ConfigError, load_settings

    key = None
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            _die(f"environment variable {api_key_env} is empty or unset / 未设置 API 密钥环境变量")
    try:
        b = load_bank(bank)
        settings = load_settings(config)
        content = ContentJudge.from_settings(settings)
        from hegui.policy import load_policy

        refusal = RefusalJudge.from_policy(load_policy(settings.policy))
    except (BankError, ConfigError, ValueError, FileNotFoundError, KeyError, RuntimeError) as e:
        _die(f"cannot set up the judges / 无法初始化评判: {e}")
    items = sample_items(b, seed=seed, per_kind=sample)
    cfg = RunConfig(target=target, model=model, api_key=key, concurrency=concurrency, rps=rps, timeout_s=timeout, retries=retries)
    try:
        rows = run(items, cfg, out, refusal=refusal, content=content, resume=resume, progress=sys.stderr.isatty())
    except RunError as e:
        _die(str(e))
    except KeyboardInterrupt:
        typer.echo(f"interrupted; finished items are in {out / 'results.jsonl'}: rerun with --resume / 已中断，可用 --resume 继续", err=True)
        raise typer.Exit(130) from None
    data = write_run_report(out, rows, target=target, model=model, bank=b, seed=seed, sampled=len(items))
    m = data["metrics"]
    summary = {k: {x: m[k][x] for x in ("rate", "k", "n", "ci95", "threshold", "pass")} for k in ("qualified", "refusal", "wrongful_refusal")}
    typer.echo(json.dumps({"out": str(out), "errors": m["errors"], **summary, "overall_pass": m["overall_pass"]}, ensure_ascii=False))
    raise typer.Exit(0 if m["overall_pass"] else 1)


def report_assessment(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for assessment.<lang>.{html,md,json}.")],
    results: Annotated[Path | None, typer.Option("--results", help="`hegui assess --out` directory.")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A run against the bare model, to show what the gateway adds.")] = None,
    bank: BankOpt = None,
    scan: Annotated[Path | None, typer.Option("--scan", help="`hegui scan --out` directory or its report.json.")] = None,
    annotation: Annotated[Path | None, typer.Option("--annotation", help="Annotation QA report JSON.")] = None,
    keywords: Annotated[Path | None, typer.Option("--keywords", help="`hegui keywords stats --json` output file.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh, en or both.")] = "both",
) -> None:
    """安全评估报告 The TC260 §9-shaped report: clause table, test results, conclusion."""
    from hegui.assess.bank import BankError, load_bank
    from hegui.assess.report import build_assessment, write_assessment
    from hegui.config import ConfigError, load_settings

    try:
        b = load_bank(bank)
        settings = load_settings(config)
    except (BankError, ConfigError) as e:
        _die(str(e))
    for lg in (("zh", "en") if lang == "both" else (lang,)):
        rep = build_assessment(results=results, bank=b, scan=scan, annotation=annotation, keywords=keywords, settings=settings, lang=lg, baseline=baseline)
        paths = write_assessment(rep, out)
        typer.echo(f"{lg}: {rep.data['conclusion']['status_en']} → {paths['html']}")


def report_filing(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for filing.<lang>.{md,docx,html,json}.")],
    scan: Annotated[Path | None, typer.Option("--scan")] = None,
    annotation: Annotated[Path | None, typer.Option("--annotation")] = None,
    results: Annotated[Path | None, typer.Option("--results", help="`hegui assess --out` directory.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh, en or both.")] = "both",
) -> None:
    """备案与信息披露材料 Art. 17 disclosure and algorithm-filing summary, as editable Markdown and DOCX."""
    from hegui.assess.filing import build_filing, write_filing
    from hegui.config import ConfigError, load_settings

    try:
        settings = load_settings(config)
    except ConfigError as e:
        _die(str(e))
    for lg in (("zh", "en") if lang == "both" else (lang,)):
        rep = build_filing(scan=scan, annotation=annotation, settings=settings, assessment=results, lang=lg)
        paths = write_filing(rep, out)
        typer.echo(f"{lg}: {rep.data['to_fill']} to fill in → {paths['docx']}")
