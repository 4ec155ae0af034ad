"""One report renderer for scan, assessment, annotation and filing reports.

Jinja2 templates under ``templates/`` render HTML and Markdown; JSON is the context itself. Every
HTML report extends ``base.html.j2`` (self-contained: inline CSS and SVG charts, no network), so a
report opens offline and in the console. Bilingual: templates call ``t("中文", "English")``.
"""

from hegui.reports.render import Report, bar_chart_svg, render, write_report

__all__ = ["Report", "bar_chart_svg", "render", "write_report"]
