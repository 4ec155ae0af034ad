"""The duties' store transaction (`services.admit`) on SQLite and on PostgreSQL's two paths — the
two-query one (`admit_pg`, two round trips, the default) and the plain transaction (used when
usage is counted for some users only), where the rate count is a CTE of the read statement. All
must count, refuse and read exactly alike — the same counts per minute, the refusal past the
limit still counted, old windows forgotten at a new minute, a sanction read in the same
statement — and a store error still raises (the gateway then fails the request closed)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, text

from hegui.config import Settings
from hegui.enforcement.models import Standing
from hegui.enforcement.service import Thresholds
from hegui.gateway import admit_pg
from hegui.gateway.services import Services, admit_nowait
from hegui.gateway.services import admit as services_admit
from hegui.policy import Duties
from hegui.store import keys as keystore
from hegui.store import make_engine, session_factory, upgrade
from hegui.store.aiopg import AsyncPgPool
from hegui.store.models import RateWindow
from hegui.store.testing import pg_available, temp_store


@pytest.fixture(params=["sqlite", "sqlite-inline", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("postgres-async", marks=pytest.mark.postgres),
                        pytest.param("postgres-transaction", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param.startswith("postgres") and not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432 (run `make postgres`)")
    if request.param == "postgres-transaction":
        monkeypatch.setattr(admit_pg, "applies", lambda settings: False)
    with temp_store(request.param.split("-")[0], tmp_path) as cfg:
        engine = make_engine(cfg, tmp_path)
        upgrade(engine)
        settings = Settings(var_dir=tmp_path / "var", secret_key="admit-test")
        duties = Duties(require_real_name=False, unverified_users="allow")
        svc = Services(duties=duties, thresholds=Thresholds.of(settings.enforcement, duties), verifier=None,  # type: ignore[arg-type]
                       sender=None)  # type: ignore[arg-type]
        st = SimpleNamespace(factory=session_factory(engine), settings=settings, engine=engine, services=svc,
                             aio=None, runner=None, inline=request.param == "sqlite-inline")
        if request.param == "postgres-async":  # the gateway's path: the two queries on an event loop
            st.runner = asyncio.Runner()
            st.aio = AsyncPgPool(engine, cfg.db_schema, 4)
        yield st
        if st.runner is not None:
            st.runner.run(st.aio.aclose())
            st.runner.close()
        engine.dispose()


def admit(state: Any, account: str, key: Any, rate_limit: int | None, *, now: float | None = None) -> Any:
    """`services.admit`, or what the gateway calls instead: `admit_pg.admit_async` (awaited) on
    PostgreSQL, `services.admit_nowait` (on the loop) on SQLite."""
    if state.inline:
        adm = admit_nowait(state, account, key, rate_limit, now=now)
        assert adm is not None  # no other writer here: it always runs inline
        return adm
    if state.aio is None:
        return services_admit(state, account, key, rate_limit, now=now)
    return state.runner.run(admit_pg.admit_async(state.aio, state, account, key, rate_limit, now))


def _windows(st: Any, key_id: int) -> dict[int, int]:
    with st.factory() as s:
        return {w: c for w, c in s.execute(select(RateWindow.window, RateWindow.count).where(RateWindow.key_id == key_id))}


def test_rate_count_refusal_and_new_minute(state: Any) -> None:
    _, info = keystore.create_key(state.factory, b"k" * 32, "alice")
    t = 1_800_000_000.0  # the start of a minute
    got = [admit(state, "acct-a", info, 3, now=t + i) for i in range(5)]
    assert [a.minute_requests for a in got] == [1, 2, 3, 4, 5]
    assert [a.refusal is None for a in got] == [True, True, True, False, False]
    assert all(a.refusal.code == "rate_limited" for a in got[3:])  # type: ignore[union-attr]
    assert got[0].standing["status"] == "active" and got[0].usage is not None and got[3].usage is None
    assert _windows(state, info.id) == {int(t // 60): 5}  # refused requests are counted too
    # Two minutes later: a new window, and the ones before the last minute are forgotten.
    later = admit(state, "acct-a", info, 3, now=t + 120)
    assert later.minute_requests == 1 and later.refusal is None
    assert _windows(state, info.id) == {int(t // 60) + 2: 1}
    # No limit: nothing counted, the minute's count read as it stands (the flood check uses it).
    free = admit(state, "acct-a", info, None, now=t + 121)
    assert free.minute_requests == 1 and _windows(state, info.id) == {int(t // 60) + 2: 1}


def _suspend(state: Any, account: str) -> None:
    """``account`` suspended for the next hour (three strikes in a row today)."""
    until = datetime.now(UTC) + timedelta(hours=1)
    with state.factory() as s, s.begin():
        s.add(Standing(account=account, status="suspended", suspended_until=until, reason="刷屏", strikes_total=3,
                       consecutive=3, day=until.date().isoformat(), day_strikes=3, suspensions=1, warnings=1))


def test_sanction_read_with_the_count(state: Any) -> None:
    _, info = keystore.create_key(state.factory, b"k" * 32, "bob")
    _suspend(state, "acct-b")
    adm = admit(state, "acct-b", info, 100)
    assert adm.refusal is not None and adm.refusal.code == "account_suspended"
    assert adm.standing["status"] == "suspended" and adm.minute_requests == 1 and adm.usage is None
    assert sum(_windows(state, info.id).values()) == 1  # counted before the sanction refused it


def test_revoked_key_read_and_refused_first(state: Any) -> None:
    """The read checks the key itself (`services.revoked`): a key revoked since it was cached is
    refused as invalid — before the rate limit, so even a key over its limit is told so — and
    nothing of the user's usage is counted; a live key reads as live."""
    _, info = keystore.create_key(state.factory, b"k" * 32, "dave")
    t = 1_800_000_000.0
    assert admit(state, "acct-d", info, 1, now=t).key_live
    assert admit(state, "acct-d", info, 1, now=t + 1).refusal.code == "rate_limited"  # type: ignore[union-attr]
    assert keystore.revoke(state.factory, info.id)  # by another process: this one still holds the key
    for limit in (1, 100, None):
        adm = admit(state, "acct-d", info, limit, now=t + 2)
        assert not adm.key_live and adm.refusal is not None
        assert (adm.refusal.status, adm.refusal.code) == (401, "invalid_api_key")
        assert adm.usage is None
    with state.factory() as s:
        assert s.execute(text("SELECT requests FROM usage_days WHERE account = 'acct-d'")).scalars().all() == [1]


def test_store_error_raises(state: Any) -> None:
    _, info = keystore.create_key(state.factory, b"k" * 32, "carol")
    with state.engine.begin() as conn:
        conn.execute(text("DROP TABLE usage_sessions"))
    with pytest.raises(Exception, match="usage_sessions"):
        admit(state, "acct-c", info, 100)
    assert _windows(state, info.id) == {}  # the whole transaction rolled back
    with state.engine.connect() as conn:  # and the pooled connection is back in its normal state
        assert getattr(conn.connection.driver_connection, "autocommit", False) is False


def test_statements_per_admission(state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's default path: two queries (round trips), no statement through SQLAlchemy; its
    plain transaction: the count and the read are one statement (one fewer than SQLite's)."""
    import psycopg
    from sqlalchemy import event

    _, info = keystore.create_key(state.factory, b"k" * 32, "dave")
    admit(state, "acct-d", info, 100)  # the first of a minute also forgets old windows
    seen: list[str] = []
    event.listen(state.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    queries: list[list[str]] = []
    real = psycopg.ClientCursor.execute

    def counting(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        queries.append([q.split()[0] for q in str(query).split(";\n")])
        return real(self, query, params, **kw)

    monkeypatch.setattr(psycopg.ClientCursor, "execute", counting)
    real_async = psycopg.AsyncClientCursor.execute

    async def counting_async(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        queries.append([q.split()[0] for q in str(query).split(";\n")])
        return await real_async(self, query, params, **kw)

    monkeypatch.setattr(psycopg.AsyncClientCursor, "execute", counting_async)
    adm = admit(state, "acct-d", info, 100)
    assert adm.usage is not None and adm.usage.requests_today == 2 and adm.minute_requests in (1, 2)
    if state.engine.dialect.name != "postgresql":
        assert seen == ["INSERT", "SELECT", "INSERT", "INSERT", "UPDATE"]
    elif admit_pg.applies(state.settings):
        assert seen == [] and queries == [["BEGIN", "WITH", "INSERT", "INSERT"], ["UPDATE", "UPDATE", "COMMIT"]]
    else:
        assert seen == ["WITH", "INSERT", "INSERT", "UPDATE"] and queries == []  # count+read, the usage counter's three
    with state.engine.connect() as conn:  # the connection went back as it came: no autocommit, no transaction
        raw = conn.connection.driver_connection
        assert getattr(raw, "autocommit", False) is False


def test_refused_requests_count_no_usage(state: Any) -> None:
    """The two-query path locks the usage rows before the checks refuse; what it leaves counts nothing."""
    from hegui.usage import service as usage

    _, info = keystore.create_key(state.factory, b"k" * 32, "erin")
    _suspend(state, "acct-e")
    assert admit(state, "acct-e", info, 100).refusal is not None
    _, info2 = keystore.create_key(state.factory, b"k" * 32, "frank")
    t = 1_800_000_000.0
    assert [admit(state, "acct-f", info2, 1, now=t + i).refusal is None for i in range(3)] == [True, False, False]
    assert usage.summary(state.factory, state.settings.usage, "acct-e")["requests"] == 0
    assert usage.summary(state.factory, state.settings.usage, "acct-f")["requests"] == 1


@pytest.mark.postgres
def test_two_query_admission_survives_a_connection_killed_between_requests(state: Any) -> None:
    """A pooled connection the server dropped a moment after its last use (so not pinged): the
    first round trip fails, nothing was committed, and the admission runs again on a new one."""
    if state.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    from hegui.store import StoreConfig
    from hegui.store.testing import PG_URL

    _, info = keystore.create_key(state.factory, b"k" * 32, "gina")
    admit(state, "acct-g", info, 100)
    if state.aio is not None:
        pid = state.aio._idle[-1].info.backend_pid  # the connection the next admission takes
    else:
        with state.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    other = make_engine(StoreConfig(url=PG_URL), Path("."))
    with other.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
    other.dispose()
    adm = admit(state, "acct-g", info, 100)
    assert adm.refusal is None and adm.usage is not None and adm.usage.requests_today == 2
    assert sum(_windows(state, info.id).values()) == 2  # counted once, not twice


def test_admit_nowait_only_when_no_writer_is_in_the_way(state: Any, request: pytest.FixtureRequest) -> None:
    """On SQLite the duties run on the loop only when this process's writer lock and the database's
    write lock are free; otherwise nothing is written and the caller takes the thread path."""
    import sqlite3

    from hegui.store.engine import sqlite_writer_lock

    if request.node.callspec.params["state"] != "sqlite":
        pytest.skip("SQLite's path, once")
    st, engine = state, state.engine
    _, info = keystore.create_key(st.factory, b"k" * 32, "erin")
    lock = sqlite_writer_lock(engine)
    assert lock is not None
    with lock:  # another thread of this process is writing
        assert admit_nowait(st, "acct-e", info, 100) is None
    other = sqlite3.connect(engine.url.database)  # another process holds the write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        assert admit_nowait(st, "acct-e", info, 100) is None
    finally:
        other.rollback()
        other.close()
    assert _windows(st, info.id) == {}  # nothing was written by the two refused tries
    adm = admit_nowait(st, "acct-e", info, 100)
    assert adm is not None and adm.minute_requests == 1 and _windows(st, info.id) != {}
