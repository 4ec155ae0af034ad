"""The hash-chained audit log: append, verify, purge.

Each row's hash is an HMAC (installation key) over its fields and the previous row's hash, so an
edit, deletion or reordering breaks the chain, and recomputing the chain needs the key. The row
hashes a digest of the content rather than the content, so a retention purge can drop the content
and the chain still verifies. Writers serialise on the single ``audit_chain_head`` row (a row lock
on PostgreSQL, the write lock on SQLite), so many processes keep one chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from hegui.store.engine import serialized_writes, transact, write_nowait
from hegui.store.models import AuditChainHead, AuditRecord

log = logging.getLogger("hegui.audit")

GENESIS = "0" * 64
_HASHED = (
    "seq", "ts", "request_id", "kind", "user_pseudo", "key_id", "route", "model", "action", "risks",
    "status", "latency_ms", "detail", "content_digest",
)


@dataclass(slots=True)
class AuditEntry:
    """One row to append. ``content`` must already be PII-redacted."""

    request_id: str
    kind: str
    user_pseudo: str
    route: str
    model: str
    action: str
    status: int
    latency_ms: float
    key_id: int | None = None
    risks: Sequence[str] = ()
    detail: str = ""
    content: str | None = None


def content_digest(content: str | None) -> str:
    return hashlib.sha256((content or "").encode("utf-8")).hexdigest()


def _ts_text(ts: datetime) -> str:
    # SQLite hands datetimes back naive; hash the UTC wall time so both stores agree.
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.isoformat(timespec="microseconds")


def row_hash(key: bytes, prev: str, values: Mapping[str, Any]) -> str:
    payload = {k: values[k] for k in _HASHED}
    payload["ts"] = _ts_text(payload["ts"])  # type: ignore[arg-type]
    payload["latency_ms"] = round(float(payload["latency_ms"]), 3)  # type: ignore[arg-type]
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, (prev + blob).encode("utf-8"), hashlib.sha256).hexdigest()


_HEAD = AuditChainHead.__table__
# Built once: constructing a statement (and its cache key) per call costs more CPU than running it.
# One statement locks the head row (every writer of every process queues here) and reads it.
_LOCK_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq).returning(_HEAD.c.seq, _HEAD.c.last_hash)
_INSERT = insert(AuditRecord.__table__)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))


def _engine(factory: sessionmaker[Session]) -> Engine:
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the session factory must be bound to an Engine")
    return bind


def append(factory: sessionmaker[Session], key: bytes, entries: Sequence[AuditEntry], *, keep_content: bool) -> list[int]:
    """Append ``entries`` in one transaction; returns their sequence numbers. Raises on store failure.

    Core statements built once, on a plain connection rather than an ORM session: this runs for
    every gateway request (or every batch of them, see `AuditWriter`), and the ORM unit of work
    cost several milliseconds for three rows. On PostgreSQL, usually one statement and one round
    trip (`_append_if_head`). Retried once on a fresh connection when the pooled one turned out
    dead (`hegui.store.engine.transact`), never writing a row twice."""
    if not entries:
        return []
    engine = _engine(factory)
    with serialized_writes(factory):
        if engine.dialect.name == "postgresql":
            done = _append_if_head(engine, key, entries, keep_content)
            if done is not None:
                return done
        return _append_locking(engine, key, entries, keep_content)


def append_nowait(factory: sessionmaker[Session], key: bytes, entries: Sequence[AuditEntry], *,
                  keep_content: bool) -> list[int] | None:
    """`append`, on SQLite only, when it can run without waiting for another writer
    (`hegui.store.engine.write_nowait`, which says why); None, nothing written, otherwise — the
    caller then runs `append` in a thread. The gateway's audit writer calls this on its event loop."""
    if not entries:
        return None
    done, out = write_nowait(_engine(factory), lambda conn: _append_on(conn, key, entries, keep_content))
    return out if done else None


def _rows(key: bytes, entries: Sequence[AuditEntry], keep_content: bool, seq: int, prev: str,
          now: datetime) -> list[dict[str, Any]]:
    """The rows that continue the chain after row ``seq`` whose hash is ``prev``."""
    rows: list[dict[str, Any]] = []
    for e in entries:
        seq += 1
        content = e.content if keep_content else None
        values: dict[str, Any] = {
            "seq": seq, "ts": now, "request_id": e.request_id, "kind": e.kind,
            "user_pseudo": e.user_pseudo, "key_id": e.key_id, "route": e.route, "model": e.model[:128],
            "action": e.action, "risks": ",".join(e.risks), "status": e.status,
            "latency_ms": round(float(e.latency_ms), 3), "detail": e.detail[:128],
            "content_digest": content_digest(content),
        }
        h = row_hash(key, prev, values)
        rows.append({**values, "content": content, "prev_hash": prev, "row_hash": h})
        prev = h
    return rows


def _append_on(conn: Connection, key: bytes, entries: Sequence[AuditEntry], keep_content: bool,
               maybe_written: list[dict[str, Any]] | None = None) -> list[int]:
    """The locking append: lock and read the head, insert the rows, move the head.

    ``maybe_written``: rows of a one-statement append whose connection died with it, so that it
    may or may not have committed; if its last row is in the table they were written (its hash
    covers every field of every row of the batch and the chain before it), and nothing is
    appended again."""
    seq, prev = conn.execute(_LOCK_HEAD).one()
    if maybe_written and conn.execute(_HAS_ROW, {"s": maybe_written[-1]["seq"],
                                                 "h": maybe_written[-1]["row_hash"]}).first() is not None:
        return [r["seq"] for r in maybe_written]
    rows = _rows(key, entries, keep_content, seq, prev, datetime.now(UTC))
    conn.execute(_INSERT, rows)
    conn.execute(_MOVE_HEAD, {"new_seq": rows[-1]["seq"], "new_hash": rows[-1]["row_hash"]})
    if conn.dialect.name == "postgresql":
        _HEADS[conn.engine] = (rows[-1]["seq"], rows[-1]["row_hash"])
    return [r["seq"] for r in rows]


_RECORDS = AuditRecord.__table__
_HAS_ROW = select(_RECORDS.c.seq).where(_RECORDS.c.seq == bindparam("s"), _RECORDS.c.row_hash == bindparam("h"))
# PostgreSQL: where this process last left the head, per engine. Only a guess (another process may
# have appended since); `_APPEND_IF_HEAD` checks it in the same statement that uses it.
_HEADS: weakref.WeakKeyDictionary[Engine, tuple[int, str]] = weakref.WeakKeyDictionary()
_COLS = ("seq", "ts", "request_id", "kind", "user_pseudo", "key_id", "route", "model", "action", "risks", "status",
         "latency_ms", "detail", "content", "content_digest", "prev_hash", "row_hash")
_PG_TYPES = ("bigint", "timestamptz", "text", "text", "text", "integer", "text", "text", "text", "text", "integer",
             "double precision", "text", "text", "text", "text", "text")
# One statement: move the head from where this process left it, and insert the rows only if that
# move happened (the CTE returns no row when the head is elsewhere). Under READ COMMITTED a
# concurrent writer's head move makes this UPDATE wait for its row lock and then re-check the
# condition on the new head, so two writers can never both extend the same head. The rows travel
# as one JSON parameter (``json_to_recordset``): the statement text is the same for any batch
# size, so psycopg prepares it once per connection, and one string is all it has to adapt (one
# array per column cost the gateway ≈ 5 % of its CPU in psycopg's list dumpers).
_APPEND_IF_HEAD = text(
    "WITH moved AS (UPDATE audit_chain_head SET seq = :new_seq, last_hash = :new_hash"
    " WHERE id = 1 AND seq = :old_seq AND last_hash = :old_hash RETURNING 1)"
    f" INSERT INTO audit_records ({', '.join(_COLS)})"
    f" SELECT r.* FROM json_to_recordset(CAST(:rows AS json))"
    f" AS r({', '.join(f'{c} {t}' for c, t in zip(_COLS, _PG_TYPES, strict=True))}), moved")


def _append_if_head(engine: Engine, key: bytes, entries: Sequence[AuditEntry], keep_content: bool) -> list[int] | None:
    """On PostgreSQL, when this process knows where it left the head: the batch as the one
    statement `_APPEND_IF_HEAD`, in autocommit — one round trip, where the locking append takes
    five (BEGIN, lock, insert, move, COMMIT), each of which, from a worker thread on a busy
    machine, waits to be scheduled. Returns None, nothing written, when there is no guess or
    another writer moved the head since; the caller then runs the locking append.

    The rows are the ones the locking path would write; a single statement is its own transaction,
    so the batch is all or nothing and durable at its return as before (``synchronous_commit`` is
    not touched). Timestamps are taken before the statement rather than after the lock, so across
    processes ``ts`` may step back by the time one statement takes; the chain is ordered by
    ``seq``, which stays exact."""
    batch = _if_head_batch(engine, key, entries, keep_content)
    if batch is None:
        return None
    rows, params = batch
    try:
        with engine.connect() as conn:
            n = conn.execution_options(isolation_level="AUTOCOMMIT").execute(_APPEND_IF_HEAD, params).rowcount
    except DBAPIError as e:
        if not e.connection_invalidated:
            raise
        # The connection died around the statement: it may have committed. The locking append
        # looks for these rows first, so they are never written twice.
        return _append_locking(engine, key, entries, keep_content, maybe_written=rows)
    return _if_head_done(engine, rows, n)


def _if_head_batch(engine: Engine, key: bytes, entries: Sequence[AuditEntry],
                   keep_content: bool) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The rows after where this process left the head, and `_APPEND_IF_HEAD`'s parameters; None
    when it has no guess yet."""
    guess = _HEADS.get(engine)
    if guess is None:
        return None
    rows = _rows(key, entries, keep_content, guess[0], guess[1], datetime.now(UTC))
    # orjson writes the aware timestamps as ISO 8601 with their microseconds, which PostgreSQL
    # reads back to the same instant (the row hashes cover it); it refuses what could not be
    # stored as UTF-8 text anyway (lone surrogates), as psycopg did.
    params: dict[str, Any] = {"rows": orjson.dumps([{c: r[c] for c in _COLS} for r in rows]).decode()}
    params.update(new_seq=rows[-1]["seq"], new_hash=rows[-1]["row_hash"], old_seq=guess[0], old_hash=guess[1])
    return rows, params


def _if_head_done(engine: Engine, rows: list[dict[str, Any]], n: int) -> list[int] | None:
    """After `_APPEND_IF_HEAD` reported ``n`` rows: their sequence numbers (all written, the guess
    moves on), None (none: the head was elsewhere), or an error (some: never expected, and
    appending again could write rows twice, so fail closed)."""
    if n == len(rows):
        _HEADS[engine] = (rows[-1]["seq"], rows[-1]["row_hash"])
        return [r["seq"] for r in rows]
    if n != 0:
        raise RuntimeError(f"audit append: {n} of {len(rows)} rows reported written")
    return None


def _append_locking(engine: Engine, key: bytes, entries: Sequence[AuditEntry], keep_content: bool,
                    maybe_written: list[dict[str, Any]] | None = None) -> list[int]:
    """The locking append (`_append_on`) in its own transaction, retried once on a dead connection."""
    return transact(engine, lambda conn: _append_on(conn, key, entries, keep_content, maybe_written=maybe_written))


_APPEND_IF_HEAD_PSYCOPG: list[str] = []  # `_APPEND_IF_HEAD` compiled for psycopg, on first use


async def append_async(pool: Any, factory: sessionmaker[Session], key: bytes, entries: Sequence[AuditEntry], *,
                       keep_content: bool, run: Callable[..., Awaitable[Any]]) -> list[int]:
    """`append` on PostgreSQL from the event loop: the one-statement append (`_append_if_head`)
    awaited over an asynchronous connection of ``pool`` (`hegui.store.aiopg.AsyncPgPool`), no
    worker thread; the locking append, when it is needed, still runs through ``run`` (a thread).
    The same rows, the same guards: nothing written when the head moved, and a connection lost
    around the statement makes the locking append first look for the batch's last row.

    Once called, the rows are written even if the caller is cancelled: cancelled while waiting for
    a connection or for the statement (which may have committed or not), it hands the rows to the
    locking append in a task of its own, which looks for them first; cancelled while the locking
    append runs, the thread finishes it."""
    import psycopg

    from hegui.store.aiopg import psycopg_sql

    if not entries:
        return []
    engine = _engine(factory)
    batch = _if_head_batch(engine, key, entries, keep_content)
    if batch is not None:
        rows, params = batch
        if not _APPEND_IF_HEAD_PSYCOPG:
            _APPEND_IF_HEAD_PSYCOPG.append(psycopg_sql(_APPEND_IF_HEAD)[0])
        broken = False
        try:
            async with pool.connection() as conn:
                try:
                    n = (await conn.execute(_APPEND_IF_HEAD_PSYCOPG[0], params)).rowcount
                except psycopg.OperationalError:
                    broken = conn.broken
                    raise
        except psycopg.OperationalError:
            if not broken:
                raise
            # The connection died around the statement: it may have committed.
            return list(await run(_append_locking, engine, key, entries, keep_content, rows))
        except asyncio.CancelledError:
            _finish_cancelled(run, engine, key, entries, keep_content, rows)
            raise
        done = _if_head_done(engine, rows, n)
        if done is not None:
            return done
    return list(await run(_append_locking, engine, key, entries, keep_content))


_RECOVERIES: set[asyncio.Task[Any]] = set()  # strong references: the loop keeps only weak ones


def _finish_cancelled(run: Callable[..., Awaitable[Any]], engine: Engine, key: bytes, entries: Sequence[AuditEntry],
                      keep_content: bool, rows: list[dict[str, Any]]) -> None:
    """The rest of an `append_async` whose caller was cancelled around its one statement: the
    locking append, in a task, looking for ``rows`` first (the statement may have committed).
    A failure there is logged without content; the cancelled caller can no longer be told."""

    async def finish() -> None:
        try:
            await run(_append_locking, engine, key, entries, keep_content, rows)
        except Exception as e:
            log.error("audit rows of a cancelled request could not be written", extra={"error": type(e).__name__})

    task = asyncio.get_running_loop().create_task(finish())
    _RECOVERIES.add(task)
    task.add_done_callback(_RECOVERIES.discard)


def recoveries() -> list[asyncio.Task[Any]]:
    """The running loop's appends still being finished for cancelled callers (see
    `append_async`): what a shutting-down process waits for before it closes its store."""
    loop = asyncio.get_running_loop()
    return [t for t in _RECOVERIES if t.get_loop() is loop]


@dataclass(slots=True)
class VerifyResult:
    ok: bool
    rows: int
    problems: list[str] = field(default_factory=list)


def verify(factory: sessionmaker[Session], key: bytes, *, batch: int = 5000) -> VerifyResult:
    """Walk the whole chain: contiguous sequence, linked and correct hashes, head matches the tail.
    Core rows, not ORM objects, so a long log verifies at tens of thousands of rows per second."""
    problems: list[str] = []
    prev, expected, rows = GENESIS, 1, 0
    table = AuditRecord.__table__
    with factory() as session:
        head = session.get(AuditChainHead, 1)
        last = 0
        while True:
            recs = session.execute(
                select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch)
            ).mappings().all()
            if not recs:
                break
            for r in recs:
                rows += 1
                seq = r["seq"]
                if seq != expected:
                    problems.append(f"rows {expected}..{seq - 1} are missing (deleted) / 第 {expected}–{seq - 1} 行缺失")
                if r["prev_hash"] != prev:
                    problems.append(f"row {seq}: does not link to the previous row (deleted or reordered) / 链接断裂")
                if row_hash(key, r["prev_hash"], r) != r["row_hash"]:
                    problems.append(f"row {seq}: fields were changed after writing / 该行内容被修改")
                if r["content"] is not None and content_digest(r["content"]) != r["content_digest"]:
                    problems.append(f"row {seq}: content was changed after writing / 该行文本被修改")
                prev, expected, last = r["row_hash"], seq + 1, seq
        if head is None:
            problems.append("chain head is missing / 链头缺失")
        elif head.seq != expected - 1 or head.last_hash != prev:
            problems.append(
                f"the log ends at row {expected - 1} but {head.seq} were written (rows deleted at the end) / 末尾记录被删除"
            )
    return VerifyResult(ok=not problems, rows=rows, problems=problems)


def purge(factory: sessionmaker[Session], retention_days: int, *, now: datetime | None = None) -> int:
    """Drop the content of rows older than ``retention_days``; the minimal record stays. Returns rows purged."""
    if retention_days < 180:
        raise ValueError("retention must be at least 180 days (Cybersecurity Law Art. 21) / 保存期限不得少于 180 天")
    cutoff = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=retention_days)
    with factory() as session, session.begin():
        res = session.execute(
            update(AuditRecord)
            .where(AuditRecord.ts < cutoff, AuditRecord.content.is_not(None))
            .values(content=None)
        )
        return int(res.rowcount or 0)
