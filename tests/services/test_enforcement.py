"""Sanctions through the HTTP API: strikes → suspension → clear refusal → admin lift; per-day and
termination thresholds; admin actions with reasons, audited; abuse patterns; 50 parallel strikes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from hegui.enforcement import service as enforcement
from hegui.enforcement.config import EnforcementConfig
from hegui.enforcement.models import SanctionEvent, Standing
from hegui.store.models import AuditRecord

from .conftest import BLOCKED, dump_store


def _sanctions(g, user: str, body: dict) -> object:
    return g.client.post(f"/admin/v1/users/{user}/sanctions", headers=g.admin, json=body)


def test_three_consecutive_blocked_suspend_then_admin_lifts(make_gateway):
    g = make_gateway()
    u = g.user("mallory")
    for _ in range(3):
        r = g.chat(u, BLOCKED)
        assert r.status_code == 200 and r.json()["choices"][0]["finish_reason"] == "content_filter"
    r = g.chat(u, "你好")
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "account_suspended"
    assert "3 consecutive blocked requests" in err["message"] and "连续 3 次违规请求" in err["message"]
    assert "suspended until" in err["message"]
    # The user can still see why, and appeal.
    me = g.client.get("/v1/hegui/me", headers=u).json()
    assert me["standing"]["status"] == "suspended" and me["standing"]["strikes_total"] == 3
    detail = g.client.get("/admin/v1/users/mallory", headers=g.admin).json()
    kinds = [e["kind"] for e in detail["sanctions"]]
    assert kinds.count("strike") == 3 and "suspend" in kinds
    assert all(e["risks"] == ["pii.email"] for e in detail["sanctions"] if e["kind"] == "strike")
    # Lifting needs a reason.
    r = _sanctions(g, "mallory", {"action": "lift"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "reason_required"
    r = _sanctions(g, "mallory", {"action": "lift", "reason": "误判，已人工复核"})
    assert r.status_code == 200 and r.json()["standing"]["status"] == "active"
    assert g.chat(u, "你好").status_code == 200
    # Every sanction step is in the audit chain, which still verifies; no blocked text is kept there.
    with g.state.factory() as s:
        rows = list(s.execute(select(AuditRecord).where(AuditRecord.kind == "sanction")).scalars())
    assert [r.action for r in rows] == ["strike", "strike", "strike", "suspend", "lift"]
    assert all(r.content is None and r.user_pseudo == g.pseudo("mallory") for r in rows)
    assert "误判" in rows[-1].detail and rows[-1].detail.startswith("admin:")
    assert g.client.get("/admin/v1/audit/verify", headers=g.admin).json()["ok"] is True
    with g.state.factory() as s:
        st = s.get(Standing, g.pseudo("mallory"))
        assert st.consecutive == 0 and st.strikes_total == 3
        ev_text = " ".join(f"{e.risks} {e.reason}" for e in s.execute(select(SanctionEvent)).scalars())
    assert "spam.test@example.com" not in ev_text


def test_clean_input_breaks_the_run_per_day_limit_suspends(make_gateway):
    g = make_gateway(enforcement={"strikes_per_day": 4})
    u = g.user("eve")
    for text in (BLOCKED, BLOCKED, "你好", BLOCKED, "你好"):
        assert g.chat(u, text).status_code == 200
    assert g.client.get("/v1/hegui/me", headers=u).json()["standing"]["consecutive"] == 0
    assert g.chat(u, BLOCKED).status_code == 200  # 4th of the day
    r = g.chat(u, "你好")
    assert r.status_code == 403 and "4 blocked requests in one day" in r.json()["error"]["message"]


def test_termination_after_suspensions_and_admin_actions(make_gateway):
    g = make_gateway(enforcement={"strikes_consecutive": 1, "suspensions_before_termination": 2})
    u = g.user("trent")
    assert g.chat(u, BLOCKED).status_code == 200
    assert g.chat(u, "你好").json()["error"]["code"] == "account_suspended"
    assert _sanctions(g, "trent", {"action": "lift", "reason": "first time"}).status_code == 200
    assert g.chat(u, BLOCKED).status_code == 200  # second suspension → termination
    r = g.chat(u, "你好")
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_terminated"
    r = _sanctions(g, "trent", {"action": "suspend", "reason": "x"})
    assert r.status_code == 409
    # Admin warn / suspend / terminate on another user, each with a reason.
    v = g.user("victor")
    assert _sanctions(g, "victor", {"action": "warn", "reason": "营销信息过多"}).json()["standing"]["warnings"] == 1
    r = _sanctions(g, "victor", {"action": "suspend", "reason": "人工处置", "hours": 2})
    assert r.status_code == 200 and r.json()["standing"]["status"] == "suspended"
    assert "人工处置" in g.chat(v, "你好").json()["error"]["message"]
    assert _sanctions(g, "victor", {"action": "terminate", "reason": "严重违规"}).json()["standing"]["status"] == "terminated"
    assert _sanctions(g, "victor", {"action": "explode", "reason": "x"}).status_code == 400
    assert _sanctions(g, "victor", {"action": "suspend", "reason": "x", "hours": -1}).status_code in (400, 409)
    assert g.client.post("/admin/v1/users/victor/sanctions", headers=g.user("nobody"),
                         json={"action": "lift", "reason": "x"}).status_code == 403
    kinds = [e["kind"] for e in g.client.get("/admin/v1/users/victor", headers=g.admin).json()["sanctions"]]
    assert kinds == ["terminate", "suspend", "warn"]
    listed = g.client.get("/admin/v1/users?status=terminated", headers=g.admin).json()["data"]
    assert {x["account"] for x in listed} == {g.pseudo("trent"), g.pseudo("victor")}
    assert g.client.get("/admin/v1/users?status=bogus", headers=g.admin).status_code == 400


def test_abuse_patterns_from_findings_and_rates(make_gateway):
    """Art. 19 patterns: risk ids mapped to patterns (here: the e-mail finding stands in for spam
    generation) suspend at ``abuse_per_day``; a request flood is one abuse event per minute."""
    g = make_gateway(enforcement={"strikes_consecutive": 50, "strikes_per_day": 50, "abuse_per_day": 2,
                                  "abuse_risks": {"pii.email": "spam"}})
    u = g.user("spammer")
    assert g.chat(u, BLOCKED).status_code == 200
    assert g.chat(u, BLOCKED).status_code == 200
    r = g.chat(u, "你好")
    assert r.status_code == 403 and "spam" in r.json()["error"]["message"]
    g2 = make_gateway(enforcement={"flood_rpm": 3, "abuse_per_day": 1},
                      gateway={"rate_limit_rpm": 1000})
    f = g2.user("flooder")
    codes = [g2.chat(f, "你好").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 403
    events = g2.client.get("/admin/v1/users/flooder", headers=g2.admin).json()["sanctions"]
    assert any(e["kind"] == "abuse" and "flood" in e["reason"] for e in events)


def test_a_recorded_flood_minute_costs_no_store_transaction(make_gateway, monkeypatch):
    """Past the first flood request of a minute, the duties' read already shows the flood recorded:
    `enforcement.flood` (a locking transaction on the user's standing) is not called again."""
    from hegui.enforcement import service as enforcement

    calls: list[int] = []
    real = enforcement.flood

    def counting(*a, **kw):
        calls.append(a[-1])  # the minute
        return real(*a, **kw)

    monkeypatch.setattr(enforcement, "flood", counting)
    g = make_gateway(enforcement={"flood_rpm": 2, "abuse_per_day": 100}, gateway={"rate_limit_rpm": 1000})
    f = g.user("busy")
    assert [g.chat(f, "你好").status_code for _ in range(8)] == [200] * 8
    assert 1 <= len(calls) == len(set(calls)) <= 2  # once per minute (a minute may turn during the test)
    events = g.client.get("/admin/v1/users/busy", headers=g.admin).json()["sanctions"]
    assert len([e for e in events if e["kind"] == "abuse"]) == len(calls)


def test_only_counts_and_risk_ids_per_user(make_gateway):
    """Art. 11: the sanction tables hold counts and risk ids, never what the user wrote."""
    g = make_gateway(audit={"store_content": False, "purge_interval_s": 0})
    u = g.user("quiet")
    for _ in range(2):
        g.chat(u, BLOCKED)
    assert "spam.test" not in dump_store(g.state)


@pytest.mark.postgres
def test_fifty_parallel_strikes_counted_exactly(tmp_path):
    """50 strikes for one user at once on PostgreSQL: no lost update (row lock on the standing)."""
    import uuid

    import psycopg

    from hegui.policy import Duties
    from hegui.store import StoreConfig, make_engine, session_factory, upgrade

    from .conftest import PG_DSN, PG_URL, pg_available

    if not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432")
    schema = f"hg_svc_{uuid.uuid4().hex[:12]}"
    cfg = StoreConfig(url=PG_URL, db_schema=schema, pool_size=25)
    engine = make_engine(cfg, tmp_path)
    upgrade(engine)
    factory = session_factory(engine)
    th = enforcement.Thresholds.of(EnforcementConfig(strikes_consecutive=1000, strikes_per_day=1000), Duties())
    ecfg = EnforcementConfig()
    try:
        with ThreadPoolExecutor(50) as pool:
            list(pool.map(lambda _: enforcement.strike(factory, b"k", ecfg, th, "acc", ["A.1.a"]), range(50)))
        with factory() as s:
            st = s.get(Standing, "acc")
            n_events = len(list(s.execute(select(SanctionEvent).where(SanctionEvent.kind == "strike")).scalars()))
            n_audit = len(list(s.execute(select(AuditRecord).where(AuditRecord.kind == "sanction")).scalars()))
        assert (st.strikes_total, st.consecutive, st.day_strikes, n_events, n_audit) == (50, 50, 50, 50, 50)
        from hegui.audit import verify

        assert verify(factory, b"k").ok
    finally:
        engine.dispose()
        with psycopg.connect(PG_DSN, autocommit=True) as c:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_fifty_parallel_blocked_requests_through_the_gateway(make_gateway):
    """The same through HTTP: 50 blocked prompts from one user at once are 50 strikes."""
    g = make_gateway(enforcement={"strikes_consecutive": 1000, "strikes_per_day": 1000})
    u = g.user("burst")
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: g.chat(u, BLOCKED).status_code, range(50)))
    assert codes == [200] * 50
    st = g.client.get("/admin/v1/users/burst", headers=g.admin).json()["standing"]
    assert (st["strikes_total"], st["consecutive"], st["day_strikes"]) == (50, 50, 50)
