"""The duties' store transaction on PostgreSQL in two round trips.

Why: `services._admit_on` runs BEGIN, the read (with the rate count), the usage session's lock,
the day's count, the session's update and COMMIT — six round trips. All that time the key's
rate-window row and the user's usage rows stay locked, so a busy key's requests queue behind each
other, and every round trip wakes the worker thread, which then waits for the GIL. Here the same
statements go out as two multi-statement queries (PostgreSQL's simple query protocol, parameters
bound by psycopg's `ClientCursor`):

1. ``BEGIN``, the read with the rate count, the usage session's lock, the usage day's lock;
2. (old rate windows forgotten, on a minute's first request), the day's count, the session's
   update, ``COMMIT``.

psycopg's pipeline mode does the same in two round trips too, but its per-statement bookkeeping
in Python cost more CPU than the six round trips it saved (0.78 against 0.32 CPU ms per
admission, measured; in the gateway's process 0.64 against 0.35); a simple query is one message out and one parse of the replies, and the
server plans the few statements itself (≈ 0.2 ms of its own CPU more, on another core).

The checks between them are the same code as on every other store (`services.decide`, the steps
of `usage.record_on`), so both paths refuse, count and remind alike (tests run both). The one
difference: the two usage locks are taken before the checks have seen the read. A request the
checks then refuse (rate limit, sanction, real name, quiet hours, a daily limit) commits them
anyway — as `record_on`'s own refusals always did, the rows it may create hold no count.
That speculation is only right when every admitted request counts usage, so this path is used
only with ``usage.enabled`` and ``usage.count_scope: all`` (the defaults).

The gateway awaits the two queries on its event loop (`admit_async`, over the asynchronous
connections of `hegui.store.aiopg`: no worker thread, no wait for the GIL after each round trip);
`admit`, the synchronous sender of the same plan (`_Plan`), serves `services.admit`. Either way
the connection runs in autocommit for the two queries (so psycopg sends no BEGIN of its own; the
queries carry theirs); a borrowed SQLAlchemy connection is handed back as it came: idle,
autocommit off, any failed transaction rolled back. A connection found dead in the first round trip (nothing was
committed) is replaced and the request tried once more, as `hegui.store.engine.transact` does; a
failure in the second, which carries the COMMIT, is not retried (it may have been written) and
fails the request closed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import namedtuple_row

from hegui.gateway.checks import rate_limited
from hegui.gateway.errors import GatewayError
from hegui.gateway.state import retrieve_quietly
from hegui.store import keys as keystore
from hegui.store.aiopg import AsyncPgPool, psycopg_sql
from hegui.usage import service as usage

if TYPE_CHECKING:
    from hegui.config import Settings
    from hegui.gateway.services import Admission, UsageCall
    from hegui.gateway.state import GatewayState
    from hegui.store.keys import KeyInfo

_SQL: dict[tuple[Any, int], tuple[str, dict[str, Any]]] = {}


def applies(settings: Settings) -> bool:
    """Whether every admitted request counts usage, so that taking its locks first is right."""
    return settings.usage.enabled and settings.usage.count_scope == "all"


def _sql(name: Any, build: Any, n: int) -> tuple[str, dict[str, Any]]:
    """Statement ``name`` as the ``n``-th of a query: its SQL for psycopg with every parameter
    renamed ``x`` → ``x_n`` (statements of one query share one namespace) and the values
    SQLAlchemy bound itself (literals in the statement), compiled once."""
    got = _SQL.get((name, n))
    if got is None:
        sql, defaults = psycopg_sql(build())
        for k in defaults:
            sql = sql.replace(f"%({k})s", f"%({k}_{n})s")
        got = _SQL[name, n] = (sql, {f"{k}_{n}": v for k, v in defaults.items()})
    return got


class _Batch:
    """Statements (compiled once by SQLAlchemy) joined into one query, sent in one round trip."""

    def __init__(self, *head: str) -> None:
        self.sql: list[str] = list(head)
        self.params: dict[str, Any] = {}

    def add(self, name: Any, build: Any, params: dict[str, Any]) -> None:
        n = len(self.sql)
        sql, defaults = _sql(name, build, n)
        self.sql.append(sql)
        self.params.update(defaults)
        self.params.update({f"{k}_{n}": v for k, v in params.items()})

    def query(self) -> tuple[Any, dict[str, Any]]:
        """(SQL, parameters) for a cursor's ``execute``; the SQL was compiled by SQLAlchemy, not typed in."""
        return ";\n".join(self.sql), self.params


class _FirstTripFailed(Exception):
    """The connection died in the first round trip: nothing was committed, safe to try again."""


def admit(state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None, now: float) -> Admission:
    for attempt in (0, 1):
        with state.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            raw.autocommit = True
            try:
                return _admit(raw, state, account, key, rate_limit, now)
            except _FirstTripFailed as e:
                conn.invalidate()
                if attempt == 1:
                    raise e.__cause__ from None  # type: ignore[misc]
            except BaseException:
                if raw.broken:
                    conn.invalidate()
                raise
            finally:
                if not raw.broken and not raw.closed:
                    if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                        raw.execute("ROLLBACK")
                    raw.autocommit = False
    raise AssertionError("unreachable")  # pragma: no cover


class _Plan:
    """One admission's queries and the decisions between them, without I/O: `first` is sent,
    `second` is built from its results (`then`), and the I/O wrappers (`_admit`, `admit_async`)
    only send them."""

    def __init__(self, state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None, now: float) -> None:
        # the duties' module, which calls this one (an import cycle otherwise)
        from hegui.gateway import services

        self.services, self.state, self.account, self.key, self.rate_limit = services, state, account, key, rate_limit
        self.cfg = state.settings.usage
        self.minute = int(now // 60)
        self.when = dt.datetime.now(dt.UTC)  # usage's clock, as `usage.record_on` takes it (``now``: the rate window's)
        self.day = usage.day_of(self.cfg, self.when)
        self.counting = rate_limit is not None
        stmts = usage.statements("postgresql")
        self.first = _Batch("BEGIN")
        self.first.add(("read", self.counting), lambda: services.read_statement("postgresql", self.counting),
                       {"a": account, "key_id": key.id, "window": self.minute})
        self.first.add("lock_session", lambda: stmts["lock_session"], {"account": account})
        self.first.add("lock_day", lambda: stmts["lock_day"], {"account": account, "day": self.day})

    def then(self, row: Any, sess: Any, today: Any) -> tuple[Admission, _Batch]:
        """The admission and the second query, from the first query's three rows."""
        services, key, minute = self.services, self.key, self.minute
        assert row is not None and sess is not None and today is not None
        count = int(row.rate_count) if self.counting else None
        call: UsageCall | None = None
        if (gone := services.revoked(row, minute, count)) is not None:
            adm = gone
        elif count is not None and self.rate_limit is not None and count > self.rate_limit:
            adm = services.Admission(minute=minute, minute_requests=count, refusal=rate_limited(self.rate_limit))
        else:
            adm, call = services.decide(self.state, row, count, minute)
        second = _Batch()
        if count == 1:  # a minute's first request forgets the key's older windows (`keystore.counted`)
            second.add("forget_windows", lambda: keystore.forget_statement("postgresql"),
                       {"kid": key.id, "before": minute - 1})
        if call is not None:
            try:
                adm.usage = _count_usage(second, self.cfg, self.account, sess, today, call, self.when, self.day)
            except GatewayError as e:  # nothing was counted; the rate window still is
                adm.refusal = e
        second.sql.append("COMMIT")
        return adm, second


def _admit(raw: psycopg.Connection[Any], state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None,
           now: float) -> Admission:
    plan = _Plan(state, account, key, rate_limit, now)
    cur = psycopg.ClientCursor(raw, row_factory=namedtuple_row)
    try:
        cur.execute(*plan.first.query())
    except psycopg.OperationalError as e:
        if raw.broken:
            raise _FirstTripFailed() from e
        raise
    results = []
    while cur.nextset():  # past BEGIN's: the read, the session, the day
        results.append(cur.fetchone())
    adm, second = plan.then(*results)
    cur.execute(*second.query())
    return adm


async def admit_async(pool: AsyncPgPool, state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None,
                      now: float | None = None) -> Admission:
    """`admit` on the event loop, over a connection of ``pool`` (`hegui.store.aiopg`): the same
    two queries, no worker thread; returns once the second has committed."""
    adm, committed = await admit_early(pool, state, account, key, rate_limit, now)
    await asyncio.shield(committed)
    return adm


async def admit_early(pool: AsyncPgPool, state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None,
                      now: float | None = None) -> tuple[Admission, asyncio.Future[None]]:
    """The admission as soon as the first query is answered, and the second query's completion.

    The admission is final once the first query's rows are read (they are locked, and the
    second only writes what the first decided), so the gateway sends an admitted request on to
    the model while the second round trip (the usage counts and COMMIT) runs, and awaits
    ``committed`` before anything of the answer is released — the store failing there still
    refuses the request (`checks.settle_duties`). The first query is awaited here, in the
    request's own task (a task of its own cost two more turns of a busy loop, ≈ 1.2 ms); the
    second runs in a task that owns the connection, so a request cancelled meanwhile does not
    leave a transaction open. The first query is retried once on a fresh connection when it found
    the connection dead (the server restarted); the pool's other idle connections are dropped too."""
    now = time.time() if now is None else now
    for attempt in (0, 1):
        plan = _Plan(state, account, key, rate_limit, now)
        held = AsyncExitStack()
        conn = await held.enter_async_context(pool.connection())
        try:
            cur = psycopg.AsyncClientCursor(conn, row_factory=namedtuple_row)
            try:
                await cur.execute(*plan.first.query())
            except psycopg.OperationalError:
                if not conn.broken or attempt == 1:
                    raise
                pool.discard_idle()
                await held.aclose()
                continue
            results = []
            while cur.nextset():
                results.append(await cur.fetchone())
            adm, second = plan.then(*results)
        except BaseException:
            await _abandon(conn, held)
            raise
        committed = asyncio.get_running_loop().create_task(_commit(conn, cur, second, held))
        committed.add_done_callback(retrieve_quietly)
        return adm, committed
    raise AssertionError("unreachable")  # pragma: no cover


async def _commit(conn: psycopg.AsyncConnection[Any], cur: psycopg.AsyncClientCursor[Any], second: _Batch,
                  held: AsyncExitStack) -> None:
    """The second query (usage counts, COMMIT); the connection goes back to the pool after it."""
    try:
        await cur.execute(*second.query())
    except BaseException:
        await _abandon(conn, held)
        raise
    await held.aclose()


async def _abandon(conn: psycopg.AsyncConnection[Any], held: AsyncExitStack) -> None:
    """Roll back what the failed query left open, then give the connection back (a broken or
    still failed one is closed by the pool, not kept)."""
    try:
        if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.execute("ROLLBACK")
    finally:
        await held.aclose()


def _count_usage(batch: _Batch, cfg: Any, account: str, sess: Any, today: Any, call: UsageCall,
                 when: dt.datetime, day: str) -> usage.UsageResult:
    """`usage.record_on` on the rows locked in the first round trip: its checks, then the day's
    count and the session's update, queued for the second."""
    usage.check_quiet_hours(cfg, when, minor=call.minor)
    start, added = usage.session_step(cfg, sess, when)
    requests, active_s = today
    usage.check_limits(cfg, requests, active_s, minor=call.minor, daily_request_cap=call.daily_request_cap)
    stmts = usage.statements("postgresql")
    batch.add("add_day", lambda: stmts["add_day"], {"acct": account, "d": day, "added": added})
    res = usage.UsageResult(requests + 1, round((active_s + added) / 60, 2))
    batch.add("set_session", lambda: stmts["set_session"],
         usage.session_values(cfg, sess, res, account=account, start=start, now=when, remind=call.remind,
                              want_notice=call.want_notice))
    return res
