"""Minors and anti-addiction through the HTTP API: the notice endpoint, the one-time disclosure in
chat, rest reminders in the user's language (also when streaming), usage counts and time limits."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from hegui.usage import service as usage
from hegui.usage.config import UsageConfig

from .conftest import BLOCKED

EN_Q, EN_A = "hello there", "Hello! This is a plain answer in English."


def test_notice_endpoint(make_gateway):
    g = make_gateway(notices={"model_name": "Hegui-Chat-7B", "filing_number": "Beijing-HeguiChat-20240101"},
                     usage={"minor_daily_minutes": 40})
    both = g.client.get("/v1/hegui/notice").json()  # no key needed
    zh, en = both["zh"], both["en"]
    assert zh["model"] == "Hegui-Chat-7B" and zh["filing_number"] == "Beijing-HeguiChat-20240101"
    assert "40 分钟" in zh["limits"] and "40 minutes" in en["limits"]
    assert "标识" in zh["terms"] and "label" in en["terms"]
    assert zh["audience"] and en["uses"] and en["guidance"] and zh["complaint_time_limits_days"]["illegal_content"] == 1.0
    assert g.client.get("/v1/hegui/notice?lang=en").json()["lang"] == "en"


def test_disclosure_once_per_user(make_gateway):
    g = make_gateway(notices={"model_name": "Hegui-Chat-7B", "filing_number": "备案号-123"})
    a, b = g.user("a"), g.user("b")
    assert g.chat(a, BLOCKED).json()["choices"][0]["finish_reason"] == "content_filter"  # refused: no notice yet
    first = g.chat(a, "你好").json()
    assert "【服务说明】" in first["choices"][0]["message"]["content"] and "备案号-123" in first["choices"][0]["message"]["content"]
    assert first["hegui"]["notices"][0]["kind"] == "disclosure"
    second = g.chat(a, "你好").json()
    assert "【服务说明】" not in second["choices"][0]["message"]["content"] and "notices" not in second["hegui"]
    assert "【服务说明】" in g.chat(b, "你好").json()["choices"][0]["message"]["content"]


def test_reminders_for_all_users_in_their_language(make_gateway, upstream):
    upstream.answers[EN_Q] = EN_A
    g = make_gateway(duties={"anti_addiction_scope": "all"}, notices={"once_in_chat": False},
                     usage={"reminder_after_min": 0.002, "reminder_interval_min": 60})
    u = g.user("adult")
    assert "notices" not in g.chat(u, EN_Q).json()["hegui"]  # the session starts
    time.sleep(0.2)
    r = g.chat(u, EN_Q).json()
    assert r["hegui"]["notices"][0]["kind"] == "reminder"
    assert "take a break" in r["choices"][0]["message"]["content"] and "休息" not in r["choices"][0]["message"]["content"]
    assert "notices" not in g.chat(u, EN_Q).json()["hegui"]  # not again within the interval
    # Streaming: the reminder arrives as text before the label, in Chinese for a Chinese answer.
    g2 = make_gateway(duties={"anti_addiction_scope": "all"}, notices={"once_in_chat": False},
                      usage={"reminder_after_min": 0.002})
    v = g2.user("streamer")
    g2.chat(v, "你好")
    time.sleep(0.2)
    with g2.client.stream("POST", "/v1/chat/completions", headers=v,
                          json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "你好"}]}) as r:
        text = ""
        for line in r.iter_lines():
            if line.startswith("data: {"):
                obj = json.loads(line[6:])
                text += obj["choices"][0].get("delta", {}).get("content") or ""
    assert "请注意休息" in text and text.index("请注意休息") < text.index("人工智能生成")
    # interim-2023: reminders for minors only, so an adult gets none.
    g3 = make_gateway(notices={"once_in_chat": False}, usage={"reminder_after_min": 0.002})
    w = g3.user("adult")
    g3.chat(w, "你好")
    time.sleep(0.2)
    assert "notices" not in g3.chat(w, "你好").json()["hegui"]


def test_usage_counts_and_minor_time_limit(make_gateway):
    g = make_gateway()
    u = g.user("counter")
    for _ in range(3):
        assert g.chat(u, "你好").status_code == 200
    assert g.client.get("/v1/hegui/me", headers=u).json()["usage"]["requests"] == 3
    assert g.client.get("/admin/v1/users/counter", headers=g.admin).json()["usage"]["requests"] == 3
    # Time of use: gaps under session_gap_s count, a longer gap starts a new session; the minor's
    # daily minutes then refuse further requests.
    cfg = UsageConfig(minor_daily_minutes=10, session_gap_s=600, minor_quiet_start="00:00", minor_quiet_end="00:00")
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    f = g.state.factory
    for minute in (0, 4, 8):
        usage.record(f, cfg, "kid", minor=True, remind=True, now=t0 + timedelta(minutes=minute))
    usage.record(f, cfg, "kid", minor=True, remind=True, now=t0 + timedelta(minutes=40))  # new session: +0
    res = usage.record(f, cfg, "kid", minor=True, remind=True, now=t0 + timedelta(minutes=42))
    assert res.minutes_today == 10.0 and res.requests_today == 5
    try:
        usage.record(f, cfg, "kid", minor=True, remind=True, now=t0 + timedelta(minutes=43))
        raise AssertionError("the time limit did not apply")
    except Exception as e:
        assert getattr(e, "code", "") == "daily_time_limit"
    # The next local day starts afresh.
    assert usage.record(f, cfg, "kid", minor=True, remind=True, now=t0 + timedelta(days=1)).requests_today == 1


def test_count_scope_limited(make_gateway):
    """count_scope "limited": adults under interim-2023 are not counted (the disclosure still shows
    once); minors are."""
    import datetime as dt

    from hegui.detect.pii.validators import make_resident_id

    g = make_gateway(usage={"count_scope": "limited", "minor_quiet_start": "00:00", "minor_quiet_end": "00:00"})
    adult, kid = g.user("adult"), g.user("kid")
    first = g.chat(adult, "你好").json()
    assert first["hegui"]["notices"][0]["kind"] == "disclosure"
    for _ in range(3):
        assert "notices" not in g.chat(adult, "你好").json()["hegui"]
    assert g.client.get("/v1/hegui/me", headers=adult).json()["usage"]["requests"] == 1  # the disclosure's count only
    today = dt.date.today()
    minor_id = make_resident_id("310104", today.replace(year=today.year - 10, day=1), 7)
    assert g.client.post("/v1/hegui/identity", headers=kid, json={"name": "小明", "id_number": minor_id}).status_code == 201
    for _ in range(3):
        g.chat(kid, "你好")
    assert g.client.get("/v1/hegui/me", headers=kid).json()["usage"]["requests"] == 3
