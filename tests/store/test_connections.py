"""Connection handling of the store: `transact` (one transaction, retried once when the pooled
connection turned out dead before the commit) and, on PostgreSQL, the ping of idle connections
only (`pool_ping_idle_s`): a connection killed under the pool is replaced, whether it sat idle
(the ping finds it) or was used a moment ago (the retry does)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from hegui.store import StoreConfig, make_engine
from hegui.store.engine import transact
from hegui.store.testing import PG_URL


def _table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_transact_commits_and_rolls_back(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    _table(engine)
    assert transact(engine, lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")).rowcount) == 1

    def fails(conn: Connection) -> None:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        raise ValueError("not a store error")

    with pytest.raises(ValueError):
        transact(engine, fails)
    with pytest.raises(DBAPIError):  # a store error that is no disconnect: not retried
        transact(engine, lambda conn: conn.execute(text("INSERT INTO no_such_table VALUES (1)")))
    assert _count(engine) == 1
    engine.dispose()


def _kill(engine: Engine, pid: int) -> None:
    """End one server backend from outside the engine's pool, as a server restart would."""
    other = make_engine(StoreConfig(url=PG_URL), Path("."))
    with other.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
    other.dispose()
    time.sleep(0.05)


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_transact_retries_once_on_a_connection_killed_a_moment_after_use(pg_config: StoreConfig, tmp_path: Path) -> None:
    cfg = pg_config.model_copy(update={"pool_size": 1, "pool_ping_idle_s": 60.0})  # never pinged here
    engine = make_engine(cfg, tmp_path)
    _table(engine)
    pings = _count_pings(engine)
    _kill(engine, _pid(engine))
    calls: list[int] = []

    def insert(conn: Connection) -> int:
        calls.append(1)
        return int(conn.execute(text("INSERT INTO t VALUES (1)")).rowcount)

    assert transact(engine, insert) == 1
    assert len(calls) == 2 and pings == []  # the dead connection failed, the fresh one wrote
    assert _count(engine) == 1
    # Without `transact`, a caller meets the dead connection once (fails closed), then the pool is fresh.
    _kill(engine, _pid(engine))
    with pytest.raises(DBAPIError), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert _count(engine) == 1
    engine.dispose()


def test_idle_connections_are_pinged_and_replaced(pg_config: StoreConfig, tmp_path: Path) -> None:
    cfg = pg_config.model_copy(update={"pool_size": 1, "pool_ping_idle_s": 0.2})
    engine = make_engine(cfg, tmp_path)
    _table(engine)
    pings = _count_pings(engine)
    _count(engine)
    _count(engine)
    assert pings == []  # used a moment ago: no ping
    pid = _pid(engine)
    _kill(engine, pid)
    time.sleep(0.3)
    assert _count(engine) == 0  # the ping found it dead; the pool connected afresh, no error
    assert pings == [1] and _pid(engine) != pid
    engine.dispose()


def test_ping_on_every_checkout_when_idle_s_is_zero(pg_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(pg_config.model_copy(update={"pool_ping_idle_s": 0.0}), tmp_path)
    assert engine.pool._pre_ping  # SQLAlchemy's own pre-ping, as before the setting existed
    engine.dispose()


def _count_pings(engine: Engine) -> list[int]:
    """Record each ping the pool's checkout hook sends (`_ping_if_idle` calls ``dialect.do_ping``)."""
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counting(dbapi_conn: object) -> bool:
        pings.append(1)
        return bool(real(dbapi_conn))

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return pings


def test_processes_starting_at_once_create_the_schema_once(pg_config: StoreConfig, tmp_path: Path) -> None:
    """Replicas (or ``--workers``) starting together all run ``CREATE SCHEMA IF NOT EXISTS``; without
    the advisory lock one of them fails with a unique violation on ``pg_namespace``."""
    import threading

    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def create() -> None:
        start.wait()
        try:
            make_engine(pg_config, tmp_path).dispose()
        except BaseException as e:  # the test reports every failure
            errors.append(e)

    for _ in range(5):  # the race is narrow: several rounds, each on a fresh schema
        threads = [threading.Thread(target=create) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        engine = make_engine(StoreConfig(url=PG_URL), tmp_path)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{pg_config.db_schema}" CASCADE'))
        engine.dispose()
    make_engine(pg_config, tmp_path).dispose()  # the fixture drops it again
