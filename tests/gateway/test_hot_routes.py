"""The completion routes are dispatched by `RequestContextMiddleware` itself, called first by
`GatewayApp` (no FastAPI or Starlette layer, not even the outermost), with the same error shapes,
request ids and metrics; other methods and routes go through FastAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware

from .conftest import ADMIN_KEY, GatewayServer

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
CHAT = {"model": "scripted", "messages": [{"role": "user", "content": "你好"}]}


@pytest.fixture
def fastapi_calls(monkeypatch: pytest.MonkeyPatch, gw: GatewayServer) -> list[str]:
    """Paths of gateway requests that went through FastAPI's (Starlette's) outermost layer (the
    server-error middleware) and its exception middleware, one entry per layer (the scripted
    upstream, a Starlette app in this process, has them too: not counted)."""
    calls: list[str] = []

    def counted(layer: Any) -> None:
        inner = layer.__call__

        async def counting(self: Any, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope.get("app") is gw.app:
                calls.append(scope["path"])
            await inner(self, scope, receive, send)

        monkeypatch.setattr(layer, "__call__", counting)

    counted(ServerErrorMiddleware)
    counted(ExceptionMiddleware)
    return calls


def test_completions_skip_the_fastapi_stack(gw: GatewayServer, fastapi_calls: list[str]) -> None:
    r = httpx.post(f"{gw.url}/chat/completions", json=CHAT, headers=AUTH, timeout=30)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"].startswith("你好")
    assert len(r.headers["x-request-id"]) == 32
    r = httpx.post(f"{gw.url}/completions", json={"model": "scripted", "prompt": "你好"}, headers=AUTH, timeout=30)
    assert r.status_code == 200
    assert fastapi_calls == []
    assert httpx.get(f"{gw.url}/models", headers=AUTH, timeout=30).status_code == 200
    assert fastapi_calls == ["/v1/models", "/v1/models"]  # both layers, for a route that is not hot


def test_errors_on_the_hot_path_keep_their_shape(gw: GatewayServer) -> None:
    r = httpx.post(f"{gw.url}/chat/completions", json=CHAT, timeout=30)
    assert r.status_code == 401
    body = r.json()["error"]
    assert body["type"] == "authentication_error" and body["code"] == "missing_api_key" and body["param"] is None
    assert r.headers["x-request-id"] and r.headers["content-type"] == "application/json"
    r = httpx.post(f"{gw.url}/chat/completions", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_request"
    r = httpx.post(f"{gw.url}/chat/completions", json={**CHAT, "model": "nope"}, headers=AUTH, timeout=30)
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_other_methods_still_reach_fastapi(gw: GatewayServer) -> None:
    assert httpx.get(f"{gw.url}/chat/completions", headers=AUTH).status_code == 405
    assert httpx.put(f"{gw.url}/completions", headers=AUTH).status_code == 405


def test_metrics_count_hot_route_requests(gw: GatewayServer) -> None:
    def count() -> float:
        text = httpx.get(f"{gw.base}/metrics").text
        line = next((x for x in text.splitlines()
                     if x.startswith('hegui_requests_total{route="/v1/chat/completions",status="200"}')), None)
        return float(line.split()[-1]) if line else 0.0

    before = count()
    for _ in range(3):
        assert httpx.post(f"{gw.url}/chat/completions", json=CHAT, headers=AUTH, timeout=30).status_code == 200
    assert count() == before + 3
