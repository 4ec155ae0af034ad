"""Rendering: Jinja2 → HTML / Markdown, plus JSON, and a tiny dependency-free SVG bar chart."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import html
import json
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache

FORMATS = ("html", "md", "json")


@dataclass(slots=True)
class Report:
    """A report: a template name (without extension) and the data it shows."""

    template: str
    title: str
    data: dict[str, Any]
    lang: str = "zh"
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's per-user bytecode cache, where a cache file that cannot be read or written is no
    error (a read-only or full disk, a damaged file): the template is then compiled as without one."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):  # a damaged file
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache(autoescape: bool) -> jinja2.BytecodeCache | None:
    """Compiled templates kept between processes: compiling a report's templates took ≈ 0.035 CPU s
    of every `hegui scan` or `hegui assess` run, loading them takes ≈ 1 ms.

    Jinja's default directory (``<tmp>/_jinja2-cache-<uid>``, refused unless it is this user's and
    mode 0700: the files are code). Jinja checks each entry against the template's source and the
    Python version; the file name adds what else changes the compiled code: ``autoescape``, the
    environment's options (this file's digest) and the Jinja release. None when the directory is
    unusable.
    """
    tag = hashlib.sha256(Path(__file__).read_bytes() + jinja2.__version__.encode()).hexdigest()[:16]
    try:
        return _BytecodeCache(pattern=f"__hegui_report_%s.{tag}.{'html' if autoescape else 'text'}.cache")
    except (OSError, RuntimeError):  # RuntimeError: jinja found the directory unsafe
        return None


@functools.lru_cache(maxsize=4)
def _env(autoescape: bool) -> jinja2.Environment:
    """One environment per escaping mode for the process: it keeps the compiled templates."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hegui.reports", "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_bytecode_cache(autoescape),
    )
    env.globals["bar_chart_svg"] = bar_chart_svg
    env.filters["pct"] = lambda x, digits=1: "–" if x is None else f"{100 * float(x):.{digits}f}%"
    env.filters["num"] = lambda x: "–" if x is None else (f"{x:,}" if isinstance(x, int) else f"{x:,.3f}")
    return env


def render(report: Report, fmt: str = "html") -> str:
    """Render ``report`` as ``html``, ``md`` or ``json``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(
            {"title": report.title, "generated_at": report.generated_at, "lang": report.lang, **report.data},
            ensure_ascii=False,
            indent=2,
            default=str,
        )
    env = _env(fmt == "html")
    zh = report.lang.startswith("zh")
    tpl = env.get_template(f"{report.template}.{fmt}.j2")
    return tpl.render(
        title=report.title,
        generated_at=report.generated_at,
        lang=report.lang,
        t=lambda zh_text, en_text: zh_text if zh else en_text,
        **report.data,
    )


def write_report(report: Report, out_dir: Path, stem: str = "report", formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """Write the report in each format under ``out_dir``; returns {format: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(render(report, fmt), encoding="utf-8")
        tmp.replace(path)  # atomic: a crash never leaves half a report
        paths[fmt] = path
    return paths


def bar_chart_svg(
    data: Mapping[str, float],
    *,
    width: int = 560,
    bar_height: int = 18,
    max_value: float | None = None,
    fmt: str = "{:,.0f}",
    threshold: float | None = None,
) -> str:
    """A horizontal bar chart as inline SVG (safe: every label is escaped)."""
    items = list(data.items())
    if not items:
        return '<p class="empty">–</p>'
    top = max_value if max_value is not None else max((float(v) for _, v in items), default=1.0) or 1.0
    label_w, value_w = 170, 70
    plot_w = width - label_w - value_w
    h = bar_height * len(items) + 8
    rows = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * bar_height
        w = max(0.0, min(1.0, float(value) / top)) * plot_w
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar_height * 0.7:.1f}" text-anchor="end">{html.escape(str(label))}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_height - 4}" rx="2"></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height * 0.7:.1f}">{html.escape(fmt.format(value))}</text>'
        )
    if threshold is not None:
        x = label_w + max(0.0, min(1.0, threshold / top)) * plot_w
        rows.append(f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{h}"></line>')
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {h}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>'
    )
