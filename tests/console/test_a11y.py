"""Accessibility checks that need no screen reader: every form control has a label, tables have
header cells, charts have a text alternative, and the palette meets WCAG AA contrast (4.5:1)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import add_accounts, make_settings
from .test_security import login

PAGES = ["/console/overview", "/console/audit?risk=pii", "/console/reports", "/console/policy", "/console/complaints",
         "/console/users?q=alice", "/console/blocklist"]


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.in_label = 0
        self.th = 0
        self.tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({**a, "_wrapped": "1" if self.in_label else ""})
        elif tag == "th":
            self.th += 1
        elif tag == "table":
            self.tables += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from hegui.gateway.app import create_app

    app = create_app(make_settings(tmp_path_factory.mktemp("a11y") / "var", None))
    add_accounts(app.state.hegui)
    return login(app, "ada")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_control_is_labelled_and_tables_have_headers(client: TestClient, lang: str) -> None:
    client.cookies.set("hegui_lang", lang, path="/console")
    for path in [*PAGES, "/console/login"]:
        html = client.get(path).text
        p = Controls()
        p.feed(html)
        for c in p.controls:
            assert c["_wrapped"] or c.get("id") in p.label_for or c.get("aria-label"), (path, c)
        if p.tables:
            assert p.th >= p.tables, path
        assert f'<html lang="{"en" if lang == "en" else "zh-CN"}">' in html
        for svg in re.findall(r"<svg[^>]*>", html):
            assert 'role="img"' in svg, (path, svg)


def _lum(hex_: str) -> float:
    rgb = [int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_lum(a), _lum(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_contrast() -> None:
    css = resources.files("hegui.console").joinpath("static", "console.css").read_text("utf-8")
    var = dict(re.findall(r"--([a-z]+):(#[0-9a-f]{6})", css))
    pairs = [(var["fg"], var["bg"]), (var["fg"], var["card"]), (var["muted"], var["card"]), (var["muted"], var["bg"]),
             (var["accent"], var["card"]), ("#ffffff", var["accent"]), (var["bad"], "#fef3f2"),
             (var["good"], "#ecfdf3"), ("#ffffff", "#0c1f44"), (var["accent"], "#eef4ff"), ("#ffffff", var["bad"])]
    for fg, bg in pairs:
        assert contrast(fg, bg) >= 4.5, (fg, bg, round(contrast(fg, bg), 2))
