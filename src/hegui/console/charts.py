"""A small stacked-column SVG chart for counts over time (the bar chart in `hegui.reports` is
horizontal, for rankings). No inline styles or scripts, so it passes the console's strict CSP;
every label is escaped and each column carries a <title> for screen readers and hover."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

PALETTE = ("#b42318", "#b54708", "#175cd3", "#067647", "#6941c6", "#c11574", "#344054")


def columns_svg(labels: Sequence[str], series: Mapping[str, Sequence[int]], *, title: str,
                width: int = 640, height: int = 200) -> str:
    """Stacked columns: one per label (e.g. a day), one colour per series (e.g. a risk id)."""
    if not labels or not series or not any(any(v) for v in series.values()):
        return '<p class="empty">–</p>'
    names = list(series)
    totals = [sum(series[s][i] for s in names) for i in range(len(labels))]
    top = max(totals) or 1
    left, bottom, right = 36, 22, 8
    plot_w, plot_h = width - left - right, height - bottom - 8
    step = plot_w / len(labels)
    bar_w = max(2.0, step * 0.7)
    parts = [f'<text class="axis" x="{left - 4}" y="14" text-anchor="end">{top}</text>',
             f'<line class="axis" x1="{left}" x2="{width - right}" y1="{8 + plot_h}" y2="{8 + plot_h}"></line>']
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar_w) / 2
        y = 8.0 + plot_h
        for k, name in enumerate(names):
            v = series[name][i]
            if not v:
                continue
            h = v / top * plot_h
            y -= h
            tip = html.escape(f"{label} · {name}: {v}")
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[k % len(PALETTE)]}"><title>{tip}</title></rect>')
        if len(labels) <= 16 or i % max(1, len(labels) // 8) == 0:
            parts.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{height - 6}" '
                         f'text-anchor="middle">{html.escape(label[5:])}</text>')
    legend = "".join(
        f'<li><span class="swatch" data-k="{k % len(PALETTE)}"></span>{html.escape(n)}</li>' for k, n in enumerate(names)
    )
    return (f'<figure class="chart"><svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 {width} {height}" '
            f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{html.escape(title)}</title>{"".join(parts)}</svg>'
            f'<ul class="legend">{legend}</ul></figure>')
