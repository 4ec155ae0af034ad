"""A user's generation request has its key's liveness checked by the duties' own store read, so
the gateway's key cache needs no lookup for it: a key revoked by another process is refused on
the very next such request (not ``store.key_cache_s`` later), and a user who comes back after the
cache entry's ``key_cache_s`` costs no lookup. Other routes keep the cache's bound."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hegui.store import keys as keystore
from hegui.store.models import AuditRecord


def _key_id(g: Any, headers: dict[str, str]) -> int:
    token = headers["Authorization"].removeprefix("Bearer ")
    info = keystore.lookup(g.state.factory, g.state.key, token)
    assert info is not None
    return info.id


def _audit_rows(g: Any) -> int:
    with g.state.factory() as s:
        return int(s.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def test_key_revoked_elsewhere_is_refused_on_the_next_request(make_gateway: Any) -> None:
    g = make_gateway(store={"key_cache_s": 30})  # the cache alone would keep the key for 30 s
    u = g.user("frank")
    assert g.chat(u, "你好").status_code == 200
    assert keystore.revoke(g.state.factory, _key_id(g, u))  # by another process: this one is not told
    rows = _audit_rows(g)
    r = g.chat(u, "你好")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert _audit_rows(g) == rows  # refused like an unknown key: not audited
    # The entry is dropped: the key is refused on every route now, not only where the duties run.
    r = g.client.post("/v1/moderations", headers=u, json={"input": "你好"})
    assert r.status_code == 401


def test_returning_user_costs_no_key_lookup(make_gateway: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    g = make_gateway(store={"key_cache_s": 0.2})
    u = g.user("grace")
    assert g.chat(u, "你好").status_code == 200  # the first request looks the key up
    lookups: list[str] = []
    real = keystore.lookup

    def counting(*a: Any, **kw: Any) -> Any:
        lookups.append("lookup")
        return real(*a, **kw)

    monkeypatch.setattr(keystore, "lookup", counting)
    time.sleep(0.3)  # past key_cache_s
    assert g.chat(u, "你好").status_code == 200
    assert lookups == []  # the duties' read checked the key
    assert g.chat(u, "你好").status_code == 200 and lookups == []
    time.sleep(0.3)
    assert g.client.post("/v1/moderations", headers=u, json={"input": "你好"}).status_code == 200
    assert lookups == ["lookup"]  # a route without the duties keeps the cache's bound
