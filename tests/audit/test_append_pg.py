"""The one-statement append on PostgreSQL (`chain._APPEND_IF_HEAD`): a process that knows where it
left the head writes a batch in one statement; when another process moved the head meanwhile,
that statement writes nothing and the locking append runs instead — the chain stays one chain,
each row exactly once, identical to what the locking path alone writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DBAPIError

from hegui.audit import AuditEntry, append, verify
from hegui.audit import chain as chain_mod
from hegui.store import StoreConfig, make_engine, session_factory, upgrade
from hegui.store.models import AuditRecord

KEY = b"audit-pg-append-key"


def _entries(req: str, n: int) -> list[AuditEntry]:
    return [AuditEntry(request_id=req, kind=k, user_pseudo="p" * 16, route="/v1/chat/completions", model="m",
                       action="allow", status=200, latency_ms=1.25 + i, key_id=None if i else 7,
                       risks=["pii.mobile"] if i else [], content=None if i == 2 else f"{req} 内容 {i} <MOBILE>")
            for i, k in enumerate(("input", "output", "request")[:n])]


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_c: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        seen.append(stmt.split()[0] + (" moved" if "moved" in stmt else ""))

    return seen


def test_two_processes_interleaved_keep_one_chain(pg_config: StoreConfig, tmp_path: Path) -> None:
    a, b = make_engine(pg_config, tmp_path), make_engine(pg_config, tmp_path)  # two processes' engines
    upgrade(a)
    fa, fb = session_factory(a), session_factory(b)
    sa, sb = _statements(a), _statements(b)
    got: list[tuple[str, list[int]]] = []
    for i, (f, n) in enumerate([(fa, 3), (fa, 1), (fa, 2), (fb, 3), (fa, 3), (fa, 2), (fb, 1), (fb, 2), (fa, 1)]):
        got.append((f"r{i}", append(f, KEY, _entries(f"r{i}", n), keep_content=i % 2 == 0)))
    flat = [s for _, seqs in got for s in seqs]
    assert flat == list(range(1, len(flat) + 1))
    res = verify(fa, KEY)
    assert res.ok and res.rows == len(flat), res.problems
    with fa() as s:
        rows = {r.seq: r for r in s.execute(select(AuditRecord)).scalars()}
    for i, (req, seqs) in enumerate(got):
        want = _entries(req, len(seqs))
        for q, e in zip(seqs, want, strict=True):
            r = rows[q]
            assert (r.request_id, r.kind, r.key_id, r.risks, r.latency_ms) == (e.request_id, e.kind, e.key_id,
                                                                                ",".join(e.risks), e.latency_ms)
            assert r.content == (e.content if i % 2 == 0 else None)
    # a: first append locks (no guess yet), then one statement each while the head stays where a
    # left it; after b's appends, a's guess is stale: nothing written, the locking path follows.
    assert sa[:3] == ["UPDATE", "INSERT", "UPDATE"] and sa[3:5] == ["WITH moved", "WITH moved"]
    assert sa[5:9] == ["WITH moved", "UPDATE", "INSERT", "UPDATE"]  # after b's first append
    assert sb[:3] == ["UPDATE", "INSERT", "UPDATE"]  # b's first: no guess
    a.dispose()
    b.dispose()


def test_statement_reporting_partial_write_fails_closed(pg_config: StoreConfig, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    append(f, KEY, _entries("r0", 1), keep_content=True)
    monkeypatch.setattr(chain_mod, "_APPEND_IF_HEAD", text("SELECT 1"))  # "1 row" of 3, nothing written
    with pytest.raises(RuntimeError, match="reported written"):
        append(f, KEY, _entries("r1", 3), keep_content=True)
    monkeypatch.undo()
    assert append(f, KEY, _entries("r2", 2), keep_content=True) == [2, 3]  # nothing of r1 was kept
    assert verify(f, KEY).ok
    engine.dispose()


@pytest.mark.parametrize("when", ["before", "after"])
def test_connection_lost_around_the_statement_writes_each_row_once(when: str, pg_config: StoreConfig, tmp_path: Path) -> None:
    """The one statement's connection dies before it reached the server (nothing written) or after
    it committed (written, but the client never heard): either way the batch ends up in the chain
    exactly once."""
    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    append(f, KEY, _entries("r0", 2), keep_content=True)
    fired: list[str] = []

    @event.listens_for(engine, f"{when}_cursor_execute")
    def _lost(_c: Any, _cur: Any, stmt: str, *_a: Any) -> None:
        if "moved" in stmt and not fired:
            fired.append(stmt)
            raise DBAPIError(stmt, None, Exception("server closed the connection"), connection_invalidated=True)

    assert append(f, KEY, _entries("r1", 3), keep_content=True) == [3, 4, 5]
    assert fired
    with f() as s:
        assert [r for (r,) in s.execute(select(AuditRecord.request_id).order_by(AuditRecord.seq))] == ["r0"] * 2 + ["r1"] * 3
    assert append(f, KEY, _entries("r2", 1), keep_content=True) == [6]
    res = verify(f, KEY)
    assert res.ok and res.rows == 6, res.problems
    engine.dispose()


def _async_append(f: Any, pool: Any, runner: Any, req: str, n: int) -> list[int]:
    import asyncio
    import functools

    async def run(fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    return list(runner.run(chain_mod.append_async(pool, f, KEY, _entries(req, n), keep_content=True, run=run)))


def test_async_append_from_the_event_loop(pg_config: StoreConfig, tmp_path: Path) -> None:
    """`append_async` (the gateway's, over `AsyncPgPool`): the first batch takes the locking append
    in a thread, then one statement on the loop while the head stays put; after another process
    appended, the stale guess writes nothing and the locking append follows — one chain."""
    import asyncio

    import psycopg

    from hegui.store.aiopg import AsyncPgPool

    a, b = make_engine(pg_config, tmp_path), make_engine(pg_config, tmp_path)
    upgrade(a)
    fa, fb = session_factory(a), session_factory(b)
    sa = _statements(a)
    pool = AsyncPgPool(a, pg_config.db_schema, 2)
    sent: list[str] = []
    real = psycopg.AsyncConnection.execute

    async def counting(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        sent.append(str(query).split()[0])
        return await real(self, query, *args, **kw)

    with asyncio.Runner() as runner, pytest.MonkeyPatch.context() as mp:
        mp.setattr(psycopg.AsyncConnection, "execute", counting)
        assert _async_append(fa, pool, runner, "r0", 3) == [1, 2, 3]  # no guess yet: locking, in a thread
        assert _async_append(fa, pool, runner, "r1", 2) == [4, 5]  # one statement on the loop
        assert append(fb, KEY, _entries("r2", 1), keep_content=True) == [6]  # another process
        assert _async_append(fa, pool, runner, "r3", 2) == [7, 8]  # stale guess: nothing, then locking
        assert _async_append(fa, pool, runner, "r4", 1) == [9]
        runner.run(pool.aclose())
    assert sent == ["WITH", "WITH", "WITH"]
    assert sa == ["UPDATE", "INSERT", "UPDATE", "UPDATE", "INSERT", "UPDATE"]  # the two locking appends
    res = verify(fa, KEY)
    assert res.ok and res.rows == 9, res.problems
    a.dispose()
    b.dispose()


def test_async_append_survives_its_connection_killed(pg_config: StoreConfig, tmp_path: Path) -> None:
    """The pooled connection the statement runs on was dropped by the server: the batch goes
    through the locking append, which looks for its rows first — written exactly once."""
    import asyncio

    from hegui.store.aiopg import AsyncPgPool

    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    pool = AsyncPgPool(engine, pg_config.db_schema, 1)
    with asyncio.Runner() as runner:
        _async_append(f, pool, runner, "r0", 2)
        _async_append(f, pool, runner, "r1", 1)  # one statement: the pool now holds its connection
        pid = pool._idle[-1].info.backend_pid
        with engine.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
        assert _async_append(f, pool, runner, "r2", 3) == [4, 5, 6]
        assert _async_append(f, pool, runner, "r3", 1) == [7]
        runner.run(pool.aclose())
    res = verify(f, KEY)
    assert res.ok and res.rows == 7, res.problems
    engine.dispose()


def test_one_statement_keeps_every_value_exactly(pg_config: StoreConfig, tmp_path: Path) -> None:
    """The batch travels as one JSON parameter: quotes, backslashes, control characters, emoji,
    Chinese, NULLs, large and fractional numbers and the timestamp's microseconds all come back
    exactly (the row hashes cover them, so `verify` would catch any change)."""
    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    append(f, KEY, _entries("first", 1), keep_content=True)  # the locking append; the guess is set now
    seen = _statements(engine)
    tricky = ['引号 "x" 反斜杠 \\ 换行\n制表\t', "emoji 😀 \u2028 \x01", "", "null", "{\"a\": [1, 2]}"]
    entries = [AuditEntry(request_id=f"t{i}", kind="output", user_pseudo="p" * 16, route="/v1/x", model=t[:10] or "m",
                          action="block", status=451, latency_ms=0.001 + i * 1e6, key_id=2**31 - 1 if i else None,
                          risks=["a.1", "pii.id_card"], content=t, detail=t[:20])
               for i, t in enumerate(tricky)]
    seqs = append(f, KEY, entries, keep_content=True)
    assert "WITH moved" in seen  # the one-statement path ran
    res = verify(f, KEY)
    assert res.ok, res.problems
    with f() as s:
        rows = {r.seq: r for r in s.execute(select(AuditRecord).where(AuditRecord.seq.in_(seqs))).scalars()}
    for q, e in zip(seqs, entries, strict=True):
        r = rows[q]
        assert (r.content, r.detail, r.model, r.key_id, r.status) == (e.content, e.detail, e.model or "m", e.key_id, 451)
        assert r.latency_ms == round(e.latency_ms, 3) and r.risks == "a.1,pii.id_card"
    engine.dispose()


def _gateway_writer(engine: Engine, pg_config: StoreConfig) -> Any:
    """An `AuditWriter` as the gateway sets it up on PostgreSQL: batches over `AsyncPgPool`."""
    from hegui.audit.writer import AuditWriter
    from hegui.store.aiopg import AsyncPgPool

    w = AuditWriter(session_factory(engine), KEY)
    w.aio = AsyncPgPool(engine, pg_config.db_schema, 4)
    return w


def test_writer_caller_with_nothing_in_flight_writes_its_own_rows(pg_config: StoreConfig, tmp_path: Path) -> None:
    """Nothing being written: the caller awaits its own statement (no writer task); requests that
    arrive meanwhile queue and are written after it, each request's rows contiguous, one chain."""
    import asyncio

    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    w = _gateway_writer(engine, pg_config)
    tasks_made: list[str] = []

    async def main() -> list[list[int]]:
        await w.write(_entries("warm", 1), keep_content=True)  # the first batch learns the head (locking append)
        loop = asyncio.get_running_loop()
        real = loop.create_task

        def counting(coro: Any, **kw: Any) -> Any:
            tasks_made.append(getattr(coro, "__qualname__", "?"))
            return real(coro, **kw)

        loop.create_task = counting  # type: ignore[method-assign]
        alone = await w.write(_entries("alone", 3), keep_content=True)
        assert not tasks_made  # written in the caller's own task
        runs = await asyncio.gather(*(w.write(_entries(f"r{i}", 1 + i % 3), keep_content=True) for i in range(12)))
        await w.aio.aclose()
        return [alone, *runs]

    seqs = asyncio.run(main())
    assert seqs[0] == [2, 3, 4]
    assert "AuditWriter._drain" in tasks_made  # the ones queued behind the first of the twelve
    flat = sorted(s for run in seqs for s in run)
    assert flat == list(range(2, 2 + len(flat)))
    for run in seqs:
        assert run == list(range(run[0], run[0] + len(run)))
    res = verify(session_factory(engine), KEY)
    assert res.ok and res.rows == 1 + len(flat), res.problems
    engine.dispose()


def test_writer_caller_cancelled_during_its_own_statement_gets_its_rows_written(pg_config: StoreConfig,
                                                                               tmp_path: Path) -> None:
    """The caller writing its own rows is cancelled while its statement waits (another transaction
    holds the chain's head): its rows are still written, exactly once, and the chain verifies."""
    import asyncio

    engine = make_engine(pg_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = _gateway_writer(engine, pg_config)

    async def main() -> None:
        await w.write(_entries("warm", 1), keep_content=True)
        blocker = engine.connect()
        blocker.execute(text("SELECT seq FROM audit_chain_head WHERE id = 1 FOR UPDATE"))  # the head, locked
        task = asyncio.ensure_future(w.write(_entries("gone", 3), keep_content=True))
        await asyncio.sleep(0.3)  # its statement now waits on the head's lock
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        finishing = w.background()  # the cancelled caller's rows: finished by a task of their own,
        assert finishing  # which waits on the head's lock too (what a process shutting down awaits)
        blocker.rollback()
        blocker.close()
        assert await w.write(_entries("next", 1), keep_content=True)
        await asyncio.wait(finishing, timeout=10)
        assert not w.background()
        await w.aio.aclose()

    asyncio.run(main())
    with f() as s:
        ids = s.execute(select(AuditRecord.request_id).order_by(AuditRecord.seq)).scalars().all()
    assert sorted(ids) == sorted(["warm", "next", "gone", "gone", "gone"])
    res = verify(f, KEY)
    assert res.ok and res.rows == 5, res.problems
    engine.dispose()
