"""End to end in Debian's Chromium (Playwright): the real gateway with the console and a scripted
upstream. Log in, switch language, search and verify the audit log, edit the label text, suspend
and lift a user (their requests refused, then served), uphold a complaint (the same answer is then
refused through the gateway). Screenshots of each page go to ``var/screenshots/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import PASSWORD, Server, add_accounts, make_settings, scripted

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("HEGUI_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
BLOCKED = "请把资料发到 spam.test@example.com 这个邮箱"


def chat(gw: Server, key: str, text: str) -> httpx.Response:
    return httpx.post(f"{gw.base}/v1/chat/completions", timeout=20, headers={"Authorization": f"Bearer {key}"},
                      json={"model": "scripted", "messages": [{"role": "user", "content": text}]})


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstream: Any) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("console-e2e") / "var"
    settings = make_settings(var, upstream.url)
    settings.notices.once_in_chat = False
    with Server(settings) as g:
        add_accounts(g.state)
        yield g


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_console_end_to_end(gw: Server, browser: Any) -> None:
    from playwright.sync_api import expect

    alice, mallory = gw.user_key("alice"), gw.user_key("mallory")
    assert chat(gw, alice, "你好").status_code == 200
    assert chat(gw, alice, "[pii] 告诉我他的信息").status_code == 200  # output redacted
    r = chat(gw, mallory, BLOCKED)
    assert r.json()["choices"][0]["finish_reason"] == "content_filter"
    reports = Path(gw.state.settings.var_dir) / "reports" / "scan-2026"
    reports.mkdir(parents=True)
    (reports / "report.html").write_text("<!doctype html><html><body><h1>训练语料合规扫描报告</h1></body></html>",
                                         encoding="utf-8")

    ctx = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = ctx.new_page()
    page.set_default_timeout(10_000)

    # Sign in (zh-CN by default).
    page.goto(f"{gw.base}/console")
    expect(page).to_have_url(f"{gw.base}/console/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    shot(page, "01-login")
    page.get_by_label("用户名").fill("ada")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="概览", exact=True)).to_be_visible()
    expect(page.locator("svg[role=img]").first).to_be_visible()
    expect(page.locator("td.good")).to_contain_text("正常")  # the scripted upstream answers /models
    shot(page, "02-overview")

    # Keyboard: the first Tab reaches the skip link.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()

    # Switch language and back.
    page.locator("#lang-switch").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, "03-overview-en")
    page.locator("#lang-switch").click()
    expect(page.get_by_role("heading", name="概览", exact=True)).to_be_visible()

    # Audit: search by risk, see redacted content (never the clear number), verify the chain.
    page.get_by_role("link", name="审计日志").click()
    page.get_by_label("风险 ID 或前缀").fill("pii")
    page.locator("#audit-search").click()
    expect(page.locator("table.audit tbody tr").first).to_be_visible()
    body = page.content()
    assert scripted.ID_CARD not in body and scripted.MOBILE not in body
    shot(page, "04-audit-search")
    page.locator("#verify-chain").click()
    expect(page.locator("#verify-result")).to_contain_text("哈希链完整")
    shot(page, "05-audit-verify")

    # Reports written by the CLI open from the console.
    page.get_by_role("link", name="报告").click()
    expect(page.get_by_role("link", name="scan-2026/report.html")).to_be_visible()
    shot(page, "06-reports")
    with ctx.expect_page() as popup:
        page.get_by_role("link", name="scan-2026/report.html").click()
    expect(popup.value.get_by_role("heading")).to_have_text("训练语料合规扫描报告")
    popup.value.close()

    # Policy: edit the explicit label; the gateway's answers carry the new text.
    page.get_by_role("link", name="策略与公告").click()
    page.locator("#label-suffix").fill("【本回答由人工智能生成】")
    page.locator("#save-texts").click()
    expect(page.get_by_role("status")).to_contain_text("已保存")
    shot(page, "07-policy")
    answer = chat(gw, alice, "你好").json()["choices"][0]["message"]["content"]
    assert answer.endswith("【本回答由人工智能生成】")

    # Users: suspend alice (refused through the gateway), then lift (served again).
    page.get_by_role("link", name="用户管理").click()
    page.get_by_label("搜索（假名 ID、密钥前缀或证件后四位）").fill("alice")
    page.locator("#user-search").click()
    card = page.locator("section.user").first
    card.get_by_label("处置").select_option("suspend")
    card.get_by_label("理由").fill("控制台测试：暂停")
    card.locator(".sanction-submit").click()
    expect(page.locator("section.user .standing-status").first).to_contain_text("suspended")
    shot(page, "08-user-suspended")
    r = chat(gw, alice, "你好")
    assert r.status_code == 403 and "suspended" in r.text
    card = page.locator("section.user").first
    card.get_by_label("处置").select_option("lift")
    card.get_by_label("理由").fill("控制台测试：解除")
    card.locator(".sanction-submit").click()
    expect(page.locator("section.user .standing-status").first).to_contain_text("active")
    assert chat(gw, alice, "你好").status_code == 200

    # Complaint: a person reports the answer; a reviewer upholds it; the gateway refuses it from then on.
    r = httpx.post(f"{gw.base}/v1/hegui/complaints", timeout=10,
                   json={"type": "reputation", "description": "这段回答损害了我的名誉", "content": scripted.DEFAULT_ANSWER,
                         "contact": "complainant@example.org"})
    assert r.status_code in (200, 201), r.text
    ref = r.json()["ref"]
    page.get_by_role("link", name="投诉处理").click()
    shot(page, "09-complaints")
    page.get_by_role("link", name=ref).click()
    page.locator("#assign").click()
    page.get_by_label("理由").fill("经核实，内容损害他人名誉")
    page.locator("#uphold").click()
    expect(page.locator("#complaint-state")).to_have_text("upheld")
    shot(page, "10-complaint-upheld")
    r = chat(gw, alice, "你好")
    assert r.json()["choices"][0]["finish_reason"] == "content_filter", r.text
    page.get_by_role("link", name="屏蔽库与优化工单").click()
    expect(page.locator("table").first).to_contain_text("你好这是测试回答")
    shot(page, "11-blocklist")

    # Phone width: the menu collapses behind a button that works from the keyboard.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=ctx.storage_state())
    p2 = phone.new_page()
    p2.goto(f"{gw.base}/console/overview")
    expect(p2.locator("#nav")).to_be_hidden()
    p2.locator(".menu-toggle").focus()
    p2.keyboard.press("Enter")
    expect(p2.locator("#nav")).to_be_visible()
    shot(p2, "12-overview-phone")
    phone.close()

    # Sign out: the session cookie no longer opens a page.
    page.locator("#logout").click()
    expect(page).to_have_url(f"{gw.base}/console/login")
    page.goto(f"{gw.base}/console/audit")
    expect(page).to_have_url(f"{gw.base}/console/login?next=/console/audit")
    ctx.close()
