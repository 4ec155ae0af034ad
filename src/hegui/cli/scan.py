"""`hegui scan`: the training-data compliance scan, and `hegui scan review-import`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup


class _DefaultRunGroup(TyperGroup):
    """`hegui scan PATH…` means `hegui scan run PATH…`; `hegui scan review-import` stays a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


scan_app = typer.Typer(
    cls=_DefaultRunGroup,
    help="训练语料合规扫描 training-data compliance scan (Art. 7, TC260-003 §5/§9.2). `hegui scan PATH… --out DIR` is short for `hegui scan run PATH… --out DIR`.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app, name="scan")


@scan_app.command("run")
def run(
    paths: Annotated[list[str], typer.Argument(help="Files, directories or globs (JSONL, JSON, CSV/TSV, Parquet, text; .gz/.zst).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (report.*, annotations.jsonl, review sample).")],
    manifest: Annotated[Path | None, typer.Option("--manifest", "-m", help="Source manifest YAML.")] = None,
    text_field: Annotated[str | None, typer.Option("--text-field", help="Field/column holding the text (default: scan.text_field, 'text').")] = None,
    id_field: Annotated[str | None, typer.Option("--id-field", help="Field/column holding the document id (default: scan.id_field).")] = None,
    text_unit: Annotated[str | None, typer.Option("--text-unit", help="Plain text: 'line' (one document per line) or 'file' (default: scan.text_unit).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="Force an input format: jsonl, json, csv, tsv, parquet, text.")] = None,
    annotations: Annotated[str | None, typer.Option("--annotations", help="Annotations file name in --out (or a path); .parquet writes Parquet, .jsonl JSONL.")] = None,
    annotations_format: Annotated[str | None, typer.Option("--annotations-format", help="jsonl or parquet (default: the --annotations extension, else scan.output_format).")] = None,
    executor: Annotated[str | None, typer.Option("--executor", "-e", help="local or ray (default: scan.executor, local).")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster address (with --executor ray).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-j", help="Worker processes (default: scan.workers; 0 = all cores).")] = None,
    filter_dir: Annotated[Path | None, typer.Option("--filter", help="Write clean.jsonl and rejects.jsonl here.")] = None,
    auto_fraction: Annotated[float | None, typer.Option("--auto-fraction", help="Share of documents in the automated check (≥ 0.10; 1 = all; default: scan.auto_fraction).")] = None,
    review_n: Annotated[int | None, typer.Option("--review-size", help="Manual-review sample size (TC260: ≥ 4000; default: scan.review_size).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the review and automated samples (default: scan.seed).")] = None,
    shard_mb: Annotated[int | None, typer.Option("--shard-mb", help="Largest shard (MB) uncompressed line files are split into; a small corpus is cut into 16 shards of ≥ 4 MiB (default: scan.shard_mb).")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Report language: zh or en.")] = "zh",
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config YAML (default: $HEGUI_CONFIG).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """扫描语料并生成报告 Scan a corpus and write the report. Exit 0: all thresholds pass; 1: a threshold fails; 2: error."""
    from hegui.config import ConfigError, load_settings
    from hegui.datascan import (
        ManifestError,
        Pipeline,
        ReaderError,
        ReaderOptions,
        ScanOptions,
        default_steps,
        load_manifest,
        scan,
    )
    from hegui.datascan.annotations import annotations_target
    from hegui.datascan.executors import ScanInterrupted
    from hegui.datascan.protocol import AUTO_MIN_FRACTION

    try:
        settings = load_settings(config)
        man = load_manifest(manifest) if manifest else None
    except (ConfigError, ManifestError) as e:
        _die(str(e))
    cfg = settings.scan  # the command line wins over the config file
    text_field = text_field if text_field is not None else cfg.text_field
    id_field = id_field if id_field is not None else cfg.id_field
    text_unit = text_unit or cfg.text_unit
    executor = executor or cfg.executor
    workers = workers if workers is not None else cfg.workers
    auto_fraction = auto_fraction if auto_fraction is not None else cfg.auto_fraction
    review_n = review_n if review_n is not None else cfg.review_size
    seed = seed if seed is not None else cfg.seed
    shard_mb = shard_mb if shard_mb is not None else cfg.shard_mb
    if not 0 < auto_fraction <= 1:
        _die("--auto-fraction 须在 (0, 1] 之间 must be in (0, 1]")
    if auto_fraction < AUTO_MIN_FRACTION:
        typer.echo(f"警告 warning: --auto-fraction {auto_fraction} < {AUTO_MIN_FRACTION}: the automated check will fail TC260", err=True)
    if text_unit not in ("line", "file"):
        _die("--text-unit 须为 line 或 file  must be 'line' or 'file'")
    if executor not in ("local", "ray"):
        _die("--executor 须为 local 或 ray  must be 'local' or 'ray'")
    if review_n < 0 or workers < 0 or shard_mb < 1:
        _die("--review-size, --workers 须 ≥ 0, --shard-mb ≥ 1  must be ≥ 0 / ≥ 1")
    try:
        ann_path, ann_format = annotations_target(out, annotations, annotations_format, cfg.output_format)
    except ValueError as e:
        _die(str(e))
    p = Pipeline(default_steps(settings), ReaderOptions(text_field, id_field, text_unit, fmt), seed=seed,
                 review_n=review_n, auto_fraction=auto_fraction, keep_text=filter_dir is not None)
    opts = ScanOptions(executor=executor, workers=workers or (os.cpu_count() or 1), address=address,
                       shard_bytes=shard_mb * 1024 * 1024, filter_dir=filter_dir, lang=lang,
                       annotations=ann_path, annotations_format=ann_format)
    try:
        if quiet:
            result = scan(paths, out, p, manifest=man, settings=settings, options=opts)
        else:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("扫描 scanning", total=None)
                opts.progress = lambda done, total: bar.update(task, completed=done, total=total)
                result = scan(paths, out, p, manifest=man, settings=settings, options=opts)
    except (ReaderError, ValueError) as e:
        _die(str(e))
    except ScanInterrupted as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(130) from None
    tc = result.report["tc260"]
    ov = result.report["overall"]
    typer.echo(json.dumps({
        "docs": ov["docs"], "illegal": ov["illegal"], "near_duplicates": ov["near_duplicates"],
        "source_rule": tc["source_rule"]["result"], "automated_check": tc["automated_check"]["result"],
        "manifest": tc["manifest"], "manual_review": tc["manual_review"]["result"],
        "shards_run": result.shards_run, "shards_total": result.shards_total,
        "report": str(result.files.get("html")),
    }, ensure_ascii=False))
    failed = any(tc[k] == "fail" for k in ("manifest",)) or any(
        tc[k]["result"] == "fail" for k in ("source_rule", "automated_check"))
    raise typer.Exit(1 if failed else 0)


@scan_app.command("review-import")
def review_import(
    file: Annotated[Path, typer.Argument(help="The reviewed sample (CSV or XLSX) with a 'verdict' column: 合格/不合格.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Scan output directory: checks ids and writes review.json, updates report.json.")] = None,
) -> None:
    """导入人工审核结论 Import reviewers' verdicts: qualified rate with a Wilson 95% interval against 96%."""
    from hegui.datascan.protocol import ReviewImportError, import_review

    sample = out / "review_sample.jsonl" if out else None
    try:
        res = import_review(file, sample if sample and sample.exists() else None)
    except ReviewImportError as e:
        _die(str(e))
    if out:
        (out / "review.json").write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
        rep = out / "report.json"
        if rep.exists():
            from hegui.datascan.report import write_scan_report

            data = json.loads(rep.read_text(encoding="utf-8"))
            lang = data.pop("lang", "zh")
            for k in ("title", "generated_at"):
                data.pop(k, None)
            data["tc260"]["manual_review"].update(res)
            write_scan_report(data, out, lang)
    typer.echo(json.dumps(res, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if res["result"] == "pass" else 1)


def _die(msg: str) -> None:
    typer.echo(f"错误 error: {msg}", err=True)
    raise typer.Exit(2)
