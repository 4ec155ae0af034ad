"""End to end with the official `openai` SDK: gateway (real HTTP) in front of the scripted upstream."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from .conftest import ADMIN_KEY, GatewayServer, make_settings
from .scripted_upstream import BANK_CARD, EMAIL, ID_CARD, MOBILE, ScriptedUpstream

LABEL = "（本内容由人工智能生成）"


def client(g: GatewayServer, key: str | None = None, timeout: float = 10) -> openai.OpenAI:
    return openai.OpenAI(base_url=g.url, api_key=key or g.user_key, max_retries=0, timeout=timeout)


def _stream(g: GatewayServer, content: str, **kw: object) -> tuple[str, str | None, dict[str, object]]:
    """(text, finish reason, hegui extra of the last chunk) of a streamed chat completion."""
    text, finish, extra = "", None, {}
    for ch in client(g).chat.completions.create(model="scripted", messages=[{"role": "user", "content": content}],
                                                 stream=True, **kw):  # type: ignore[call-overload]
        if ch.choices and ch.choices[0].delta.content:
            text += ch.choices[0].delta.content
        if ch.choices and ch.choices[0].finish_reason:
            finish = ch.choices[0].finish_reason
            extra = (ch.model_extra or {}).get("hegui", {})
    return text, finish, extra


def test_allowed_chat(gw: GatewayServer) -> None:
    raw = client(gw).chat.completions.with_raw_response.create(
        model="scripted", messages=[{"role": "user", "content": "你好"}])
    r = raw.parse()
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == "你好！这是测试回答。祝你愉快。" + LABEL
    assert raw.headers["x-hegui-aigc-label"].startswith("ai-generated")
    extra = r.model_extra["hegui"]
    assert extra["action"] == "allow" and extra["label"]["ai_generated"] is True
    rid = raw.headers["x-request-id"]
    kinds = sorted(x.kind for x in gw.audit_rows(rid))
    assert kinds == ["input", "output", "request"]


def test_allowed_stream_and_completions(gw: GatewayServer) -> None:
    text, finish, extra = _stream(gw, "你好")
    assert text == "你好！这是测试回答。祝你愉快。" + LABEL
    assert finish == "stop" and extra["complete"] is True
    c = client(gw).completions.create(model="scripted", prompt="hello")
    assert c.choices[0].text.startswith("你好！") and c.choices[0].finish_reason == "stop"


def test_blocked_prompt(gw: GatewayServer, upstream: ScriptedUpstream) -> None:
    before = len(upstream.received)
    r = client(gw).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": f"请把资料发到 {EMAIL} 谢谢"}])
    assert r.choices[0].finish_reason == "content_filter"
    assert r.choices[0].message.content  # a polite refusal, in Chinese
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.choices[0].message.content)
    assert r.model_extra["hegui"]["risks"] == ["pii.email"]
    assert len(upstream.received) == before  # never sent upstream
    en = client(gw).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": f"Please send the files to {EMAIL} thanks"}])
    assert en.choices[0].finish_reason == "content_filter"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.choices[0].message.content)
    # Streaming request: the same refusal as a stream.
    text, finish, extra = _stream(gw, f"发到 {EMAIL}")
    assert finish == "content_filter" and extra["risks"] == ["pii.email"] and text


def test_redacted_prompt(gw: GatewayServer, upstream: ScriptedUpstream) -> None:
    r = client(gw).chat.completions.create(
        model="scripted", messages=[{"role": "system", "content": "你是助手"},
                                    {"role": "user", "content": f"我的手机号是 {MOBILE}，请记住"}])
    assert r.choices[0].finish_reason == "stop"
    sent = upstream.received[-1]["messages"]
    assert MOBILE not in json.dumps(sent) and "<MOBILE>" in sent[-1]["content"]
    assert sent[0]["content"] == "你是助手"


def test_redacted_answer(gw: GatewayServer) -> None:
    r = client(gw).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[pii] 查询"}])
    out = r.choices[0].message.content
    for secret in (ID_CARD, MOBILE, BANK_CARD):
        assert secret not in out
    assert "<ID_CARD>" in out and r.choices[0].finish_reason == "stop"
    text, finish, _ = _stream(gw, "[pii] 查询")
    assert finish == "stop" and all(s not in text for s in (ID_CARD, MOBILE, BANK_CARD)), text


@pytest.mark.parametrize("mode", ["buffered", "stream_first"])
def test_blocked_output_mid_stream(mode: str, gw: GatewayServer, gw_first: GatewayServer) -> None:
    g = gw if mode == "buffered" else gw_first
    text, finish, extra = _stream(g, "[email] 给我资料")
    assert finish == "content_filter"
    assert extra["risks"] == ["pii.email"] and extra["stage"] == "output"
    assert text.startswith("第一句是正常的。第二句也正常。")
    assert "最后一句不应出现" not in text  # nothing after the violation
    if mode == "buffered":
        assert EMAIL not in text  # nothing unchecked ever reached the client
    # Non-streaming: the whole answer is replaced.
    r = client(g).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[email] 给我资料"}])
    assert r.choices[0].finish_reason == "content_filter" and EMAIL not in r.choices[0].message.content


def test_upstream_timeout(gw: GatewayServer) -> None:
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[slow] 你好"}])
    assert e.value.status_code == 504 and e.value.body["code"] == "upstream_timeout"


def test_upstream_500(gw: GatewayServer) -> None:
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[500] 你好"}])
    assert e.value.status_code == 502 and e.value.body["code"] == "upstream_error"
    with pytest.raises(openai.APIStatusError) as e2:
        _stream(gw, "[500] 你好")
    assert e2.value.status_code == 502


@pytest.mark.parametrize("marker", ["[close]", "[miderr]", "[stall]"])
def test_upstream_fails_mid_stream(marker: str, gw: GatewayServer) -> None:
    """The stream ends with a final chunk (never silently), and the audit row says why."""
    with httpx.stream("POST", f"{gw.url}/chat/completions", headers={"Authorization": f"Bearer {gw.user_key}"},
                      json={"model": "scripted", "stream": True, "messages": [{"role": "user", "content": f"{marker} 你好"}]},
                      timeout=10) as r:
        rid = r.headers["x-request-id"]
        lines = [ln for ln in r.iter_lines() if ln.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    last = json.loads(lines[-2][5:])
    assert "error" in last or last["choices"][0]["finish_reason"] is not None
    rows = gw.audit_rows(rid, wait_kinds=3)
    req = next(x for x in rows if x.kind == "request")
    assert req.detail.startswith("upstream"), req.detail
    assert any(x.kind == "output" for x in rows)  # the final check ran


def test_client_disconnect_still_checked_and_audited(gw: GatewayServer) -> None:
    with httpx.stream("POST", f"{gw.url}/chat/completions", headers={"Authorization": f"Bearer {gw.user_key}"},
                      json={"model": "scripted", "stream": True, "messages": [{"role": "user", "content": "[long] 讲"}]},
                      timeout=10) as r:
        rid = r.headers["x-request-id"]
        got = 0
        for ln in r.iter_lines():
            got += ln.startswith("data:")
            if got >= 4:
                break  # the client walks away mid-stream
    rows = gw.audit_rows(rid, wait_kinds=3, timeout=10)
    kinds = sorted(x.kind for x in rows)
    assert kinds == ["input", "output", "request"], kinds
    req = next(x for x in rows if x.kind == "request")
    assert req.detail == "client_disconnected", req.detail


def test_malformed_and_oversized(gw: GatewayServer) -> None:
    h = {"Authorization": f"Bearer {gw.user_key}", "Content-Type": "application/json"}
    r = httpx.post(f"{gw.url}/chat/completions", content=b"{not json", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = httpx.post(f"{gw.url}/chat/completions", content=b'["a"]', headers=h)
    assert r.status_code == 400
    r = httpx.post(f"{gw.url}/chat/completions", json={"model": "scripted", "messages": "hi"}, headers=h)
    assert r.status_code == 400
    big = {"model": "scripted", "messages": [{"role": "user", "content": "长" * 5000}]}
    r = httpx.post(f"{gw.url}/chat/completions", json=big, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        yield json.dumps(big).encode()  # no content-length: the limit still holds

    r = httpx.post(f"{gw.url}/chat/completions", content=chunks(), headers=h)
    assert r.status_code == 413
    with pytest.raises(openai.APIStatusError) as e:
        client(gw).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "x" * 5000}])
    assert e.value.status_code == 413


def test_unknown_model_and_auth(gw: GatewayServer, tmp_path, upstream: ScriptedUpstream) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.NotFoundError):  # the upstream's 404 is passed on
        client(gw).chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        client(gw, key="hg-wrong-key-000000000000000").chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "hi"}])
    from hegui.gateway.config import UpstreamConfig
    from hegui.gateway.upstream import Upstream

    s = make_settings(tmp_path / "v", None)
    s.gateway.models = {"known": UpstreamConfig(url=upstream.url, model="scripted")}
    with GatewayServer(s) as g:
        with pytest.raises(openai.NotFoundError) as e:
            client(g).chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        assert e.value.body["code"] == "model_not_found"
        r = client(g).chat.completions.create(model="known", messages=[{"role": "user", "content": "hi"}])
        assert upstream.received[-1]["model"] == "scripted" and r.choices[0].finish_reason == "stop"
        assert [m.id for m in client(g).models.list()] == ["known"]
    assert Upstream(s.gateway).target("known").model == "scripted"


def test_models_proxied(gw: GatewayServer) -> None:
    assert [m.id for m in client(gw).models.list()] == ["scripted", "scripted-2"]


def test_no_upstream_503_but_moderations_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with GatewayServer(make_settings(tmp_path / "v", None)) as g:
        with pytest.raises(openai.APIStatusError) as e:
            client(g).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "hi"}])
        assert e.value.status_code == 503 and "upstream" in e.value.message
        m = client(g).moderations.create(input=[f"我的邮箱 {EMAIL}", "今天天气很好", f"电话 {MOBILE}"])
        assert [x.flagged for x in m.results] == [True, False, True]
        assert m.results[0].model_extra["hegui"]["risks"] == ["pii.email"]
        assert m.results[0].model_extra["hegui"]["action"] == "block"
        assert m.results[2].model_extra["hegui"]["action"] == "redact"
        r = httpx.get(f"{g.base}/readyz")
        assert r.status_code == 200 and r.json()["upstream"] is False


def test_metrics_and_health(gw: GatewayServer) -> None:
    client(gw).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
    assert httpx.get(f"{gw.base}/healthz").json() == {"status": "ok"}
    text = httpx.get(f"{gw.base}/metrics").text
    assert 'hegui_requests_total{route="/v1/chat/completions",status="200"}' in text
    assert "hegui_moderation_total" in text and "hegui_request_seconds_bucket" in text


def test_rate_limit_and_admin(gw: GatewayServer) -> None:
    from hegui.store import keys as keystore

    key, info = keystore.create_key(gw.state.factory, gw.state.key, "bob", rate_limit_rpm=3)
    codes = [httpx.post(f"{gw.url}/moderations", json={"input": "你好"},
                        headers={"Authorization": f"Bearer {key}"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = [r for r in gw.audit_rows() if r.key_id == info.id and r.detail == "rate_limited"]
    assert len(refused) == 2 and all(r.status == 429 and r.kind == "request" for r in refused)  # refusals are audited
    adm = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert httpx.get(f"{gw.base}/admin/v1/keys", headers={"Authorization": f"Bearer {gw.user_key}"}).status_code == 403
    assert httpx.delete(f"{gw.base}/admin/v1/keys/{info.id}", headers=adm).status_code == 200
    assert httpx.post(f"{gw.url}/moderations", json={"input": "hi"}, headers={"Authorization": f"Bearer {key}"}).status_code == 401
    v = httpx.get(f"{gw.base}/admin/v1/audit/verify", headers=adm).json()
    assert v["ok"] is True and v["rows"] > 0


def test_latency_smoke(gw: GatewayServer) -> None:
    """Not a benchmark (bench/gateway.py is): a sanity bound so a gross regression fails here."""
    c = client(gw)
    t0 = time.perf_counter()
    for _ in range(5):
        c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
    assert (time.perf_counter() - t0) / 5 < 0.5


def test_upstream_wait_marker_and_switch_interval(gw: GatewayServer) -> None:
    """bench/gateway.py draws each request's model time and asks the scripted upstream for it with
    ``[lat=S]`` (non-streaming: before the answer; streaming: before the first delta); it then
    subtracts S. The gateway process runs with the configured GIL switch interval (1 ms)."""
    import sys

    c = client(gw)
    t0 = time.perf_counter()
    r = c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[lat=0.3][bench] 你好"}])
    assert time.perf_counter() - t0 >= 0.3 and r.choices[0].finish_reason == "stop"
    t0 = time.perf_counter()
    first = None
    for ch in c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "[lat=0.3][bench] 你好"}],
                                        stream=True):
        if first is None and ch.choices and ch.choices[0].delta.content:
            first = time.perf_counter() - t0
    assert first is not None and first >= 0.3
    assert sys.getswitchinterval() == pytest.approx(0.001)


def test_scheduled_purge_runs_in_the_server(tmp_path, upstream: ScriptedUpstream) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    s = make_settings(tmp_path / "v", upstream.url)
    s.audit.purge_interval_s = 1
    with GatewayServer(s) as g:
        client(g).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "你好"}])
        with g.state.engine.begin() as c:  # age the rows past the retention period
            c.execute(text("UPDATE audit_records SET ts = '2020-01-01 00:00:00'"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = g.audit_rows()
            if rows and all(r.content is None for r in rows):
                break
            time.sleep(0.2)
        assert rows and all(r.content is None for r in rows)  # content gone, the minimal record kept


def test_unreachable_upstream(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .scripted_upstream import free_port

    with GatewayServer(make_settings(tmp_path / "v", f"http://127.0.0.1:{free_port()}/v1")) as g:
        t0 = time.perf_counter()
        with pytest.raises(openai.APIStatusError) as e:
            client(g).chat.completions.create(model="scripted", messages=[{"role": "user", "content": "hi"}])
        assert e.value.status_code == 502 and e.value.body["code"] == "upstream_unreachable"
        assert time.perf_counter() - t0 >= 0.05  # the connect error was retried (back-off) before giving up
        assert 'hegui_upstream_errors_total{kind="upstream_unreachable"} 1.0' in httpx.get(f"{g.base}/metrics").text
