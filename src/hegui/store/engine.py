"""Engine and session factory for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the gateway's threads can write concurrently; on
PostgreSQL an optional schema isolates installations (and test runs) sharing one database.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hegui.store.config import StoreConfig

T = TypeVar("T")


class StoreError(RuntimeError):
    """The database cannot be reached or used; callers fail closed."""


def resolve_url(config: StoreConfig, var_dir: Path) -> str:
    """The database URL: the configured one, or the SQLite file under ``var_dir``."""
    if config.url:
        return config.url
    return f"sqlite:///{(var_dir / 'hegui.db').as_posix()}"


def make_engine(config: StoreConfig, var_dir: Path) -> Engine:
    """An engine for ``config``, creating the SQLite directory or PostgreSQL schema if needed."""
    url = make_url(resolve_url(config, var_dir))
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":  # a local file: no connection to go stale, no ping per checkout
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": config.sqlite_busy_timeout_s, "check_same_thread": False}
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A server connection can die (restart, failover): ping on checkout, so a request gets a live
    # one — but only a connection that has been idle a while (`_ping_if_idle`).
    kwargs.update(pool_size=config.pool_size, max_overflow=config.pool_size,
                  pool_pre_ping=config.pool_ping_idle_s <= 0)
    if config.db_schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={config.db_schema}"}
    engine = create_engine(url, **kwargs)
    if config.pool_ping_idle_s > 0:
        _ping_if_idle(engine, config.pool_ping_idle_s)
    if config.db_schema:
        _create_schema(engine, config.db_schema)
    return engine


SCHEMA_LOCK = 4802  # pg_advisory lock id; the migrations take 4801


def _create_schema(engine: Engine, schema: str) -> None:
    """``CREATE SCHEMA IF NOT EXISTS`` under a transaction-scoped advisory lock.

    Why the lock: the statement is not safe against itself. Two processes starting at once (two
    replicas, or ``--workers 2``) can both find the schema missing and one then fails with a unique
    violation on ``pg_namespace``. With the lock the second waits for the first to commit and then
    finds the schema."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def _ping_if_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection on checkout only when it was checked in more than ``idle_s`` ago.

    Why: SQLAlchemy's ``pool_pre_ping`` is one round trip per checkout, and a gateway request
    checks a connection out twice (the duties' transaction, the audit batch); from a worker thread
    on a busy machine each round trip also waits about a millisecond to be scheduled. A connection
    that was in use a moment ago is alive unless the server went away in that moment. If it did,
    the first statement fails with a disconnect error, SQLAlchemy invalidates the whole pool (every
    older connection is replaced at its next checkout), and `transact` retries such a transaction
    once on a fresh connection; any other caller fails closed, as it would mid-restart anyway. A
    failed ping raises `DisconnectionError`, on which the pool connects afresh (SQLAlchemy's
    "pessimistic disconnect handling" recipe)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["hegui_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("hegui_idle_since")  # None: a new connection (or one just reconnected)
        if since is None or time.monotonic() - since <= idle_s:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as e:
            if dialect.is_disconnect(e, dbapi_conn, None):
                raise DisconnectionError() from e
            raise


def transact(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """``fn(conn)`` in one transaction on ``engine``, committed; once more on a fresh connection if
    the first try found its pooled connection dead before the commit (`_ping_if_idle` skips the
    ping of recently used connections, so after a server restart that is where it shows).

    Safe to repeat: nothing of a transaction that failed before COMMIT was written, and ``fn``
    starts over from what the store holds. A failure of the COMMIT itself is not retried (it may
    have been written); neither is any other error."""
    for attempt in (0, 1):
        with engine.connect() as conn:
            try:
                conn.begin()
                out = fn(conn)
            except DBAPIError as e:
                if attempt == 0 and e.connection_invalidated:
                    continue
                raise
            conn.commit()
            return out
    raise AssertionError("unreachable")  # pragma: no cover


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


@contextmanager
def serialized_writes(factory: sessionmaker[Session]) -> Iterator[None]:
    """On SQLite, one writing thread per process at a time.

    SQLite has one writer per file; threads that collide wait in its busy handler, which sleeps in
    growing steps (up to 100 ms each), so under load latency explodes. A process lock queues them
    instead; between processes the busy timeout still applies. PostgreSQL needs nothing here."""
    lock = sqlite_writer_lock(factory.kw.get("bind"))
    if lock is None:
        yield
        return
    with lock:
        yield


def sqlite_writer_lock(engine: object) -> threading.Lock | None:
    """The process-wide writer lock of a SQLite engine (`serialized_writes`); None for other stores."""
    if not isinstance(engine, Engine) or engine.dialect.name != "sqlite":
        return None
    with _GUARD:
        return _SQLITE_WRITERS.setdefault(engine, threading.Lock())




def write_nowait(engine: Engine, fn: Callable[[Connection], T]) -> tuple[bool, T | None]:
    """``(True, fn(conn))`` with ``fn`` run in one write transaction on the calling thread — on
    SQLite only, and only if no other writer is in the way; ``(False, None)``, nothing written,
    when this process's writer lock is taken, another process holds the database's write lock,
    or the store is not SQLite.

    Why: the gateway's audit writer calls this on its event loop, once per batch of requests. A
    SQLite transaction of a few rows is a few hundred microseconds of CPU that holds the
    interpreter lock for most of it anyway; from a worker thread it also pays two thread hops and, while
    the loop is busy, a wait for the lock. The busy timeout is zero for this one transaction, so
    the loop never sleeps in SQLite's busy handler: a try that would wait is rolled back whole (even
    at COMMIT) and the caller runs the same work in a thread, which waits its turn. The duties'
    per-request transaction (`hegui.gateway.services.admit_nowait`) runs here too: an earlier
    measurement had the thread win, by overlapping SQLite's C work with the loop; once the loop's
    own work per request shrank, the hop's waits were the larger cost (BENCHMARKS.md)."""
    lock = sqlite_writer_lock(engine)
    if lock is None or not lock.acquire(blocking=False):
        return False, None
    try:
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            if raw is None:
                return False, None
            before = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                with conn.begin():
                    return True, fn(conn)
            except OperationalError as e:
                if "locked" in str(e.orig) or "busy" in str(e.orig):
                    return False, None  # another process is writing
                raise
            finally:
                raw.execute(f"PRAGMA busy_timeout = {before}")
    finally:
        lock.release()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
