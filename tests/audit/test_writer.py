"""The group-commit audit writer on SQLite and PostgreSQL: concurrent requests share transactions,
each request's rows stay one contiguous run, the chain verifies (also with two writers on one
store, as two gateway processes would be), a failed batch fails every request in it, and content
is dropped when retention of content is off. On SQLite, batches are written on the event loop
when no other writer is in the way, and in a thread when one is."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from hegui.audit import AuditEntry, verify
from hegui.audit.chain import append_nowait
from hegui.audit.writer import AuditWriter
from hegui.store import StoreConfig, make_engine, session_factory, upgrade
from hegui.store.engine import sqlite_writer_lock
from hegui.store.models import AuditRecord

KEY = b"audit-writer-test-key"


def _entries(req: str, n: int = 3) -> list[AuditEntry]:
    return [AuditEntry(request_id=req, kind=k, user_pseudo="p" * 16, route="/v1/chat/completions", model="m",
                       action="allow", status=200, latency_ms=1.0 + i, content=f"{req} 内容 {i} <MOBILE>")
            for i, k in enumerate(("input", "output", "request")[:n])]


async def _slow_run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """A store hop that takes a little while, as under load, so that requests pile up behind it."""
    await asyncio.sleep(0.02)
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))


def test_concurrent_requests_share_batches_and_the_chain_verifies(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY, run=_slow_run, inline_sqlite=False)  # the thread path, slowed

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(w.write(_entries(f"r{i}", 1 + i % 3), keep_content=True) for i in range(40)))

    seqs = asyncio.run(main())
    assert w.batches < 40 / 2  # shared transactions, not one per request
    flat = sorted(s for run in seqs for s in run)
    assert flat == list(range(1, len(flat) + 1))
    for i, run in enumerate(seqs):
        assert len(run) == 1 + i % 3 and run == list(range(run[0], run[0] + len(run)))  # contiguous per request
    with f() as s:
        rows = s.execute(select(AuditRecord.seq, AuditRecord.request_id)).all()
    by_seq = dict(rows)
    for i, run in enumerate(seqs):
        assert {by_seq[q] for q in run} == {f"r{i}"}  # each request got its own rows' numbers
    res = verify(f, KEY)
    assert res.ok and res.rows == len(flat), res.problems
    engine.dispose()


def test_two_writers_one_store_keep_one_chain(store_config: StoreConfig, tmp_path: Path) -> None:
    """Two writers with their own engines, in two threads with their own event loops (two gateway
    processes, as far as the store can tell), writing at once."""
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    engines = [make_engine(store_config, tmp_path) for _ in range(2)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        w = AuditWriter(session_factory(engines[n]), KEY)

        async def main() -> None:
            await asyncio.gather(*(w.write(_entries(f"w{n}-{i}"), keep_content=True) for i in range(30)))

        try:
            asyncio.run(main())
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    res = verify(session_factory(engine), KEY)
    assert res.ok and res.rows == 2 * 30 * 3, res.problems
    for e in (engine, *engines):
        e.dispose()


def test_failed_batch_fails_every_request_in_it(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY, run=_slow_run, inline_sqlite=False)  # the thread path, slowed
    asyncio.run(w.write(_entries("before"), keep_content=True))
    with engine.begin() as conn:  # the audit table becomes unwritable
        conn.execute(text("ALTER TABLE audit_records RENAME TO audit_records_gone"))

    async def main() -> list[object]:
        return await asyncio.gather(*(w.write(_entries(f"r{i}"), keep_content=True) for i in range(5)),
                                    return_exceptions=True)

    out = asyncio.run(main())
    assert all(isinstance(o, Exception) for o in out), out
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_records_gone RENAME TO audit_records"))
    assert asyncio.run(w.write(_entries("after"), keep_content=True)) == [4, 5, 6]  # the writer recovers
    res = verify(f, KEY)
    assert res.ok and res.rows == 6, res.problems
    engine.dispose()


def test_content_dropped_when_not_kept(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY)
    asyncio.run(w.write(_entries("r"), keep_content=False))
    with f() as s:
        assert s.execute(select(AuditRecord.content)).scalars().all() == [None, None, None]
    assert verify(f, KEY).ok
    engine.dispose()


def test_a_cancelled_caller_still_gets_its_rows_written(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY, run=_slow_run, inline_sqlite=False)  # the thread path, slowed

    async def main() -> None:
        task = asyncio.ensure_future(w.write(_entries("gone"), keep_content=True))
        await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await w.write(_entries("next"), keep_content=True)

    asyncio.run(main())
    with f() as s:
        ids = s.execute(select(AuditRecord.request_id).order_by(AuditRecord.seq)).scalars().all()
    assert ids == ["gone"] * 3 + ["next"] * 3
    engine.dispose()


def test_a_caller_cancelled_while_queued_still_gets_its_rows_written(store_config: StoreConfig, tmp_path: Path) -> None:
    """Rows queued behind a batch in flight, their caller cancelled before the writer takes them:
    they are written all the same, in order, and the chain verifies."""
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY, run=_slow_run, inline_sqlite=False)

    async def main() -> None:
        first = asyncio.ensure_future(w.write(_entries("first"), keep_content=True))
        await asyncio.sleep(0.005)  # the first batch is in flight
        queued = asyncio.ensure_future(w.write(_entries("queued"), keep_content=True))
        await asyncio.sleep(0)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        await first
        await w.write(_entries("last"), keep_content=True)

    asyncio.run(main())
    with f() as s:
        ids = s.execute(select(AuditRecord.request_id).order_by(AuditRecord.seq)).scalars().all()
    assert ids == ["first"] * 3 + ["queued"] * 3 + ["last"] * 3
    assert verify(f, KEY).ok
    engine.dispose()


def test_sqlite_batches_are_written_on_the_loop(store_config: StoreConfig, tmp_path: Path) -> None:
    engine = make_engine(store_config, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    hops: list[object] = []

    async def counting_run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append(fn)
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kwargs))

    w = AuditWriter(f, KEY, run=counting_run)
    for i in range(3):
        assert asyncio.run(w.write(_entries(f"r{i}"), keep_content=True)) == [3 * i + 1, 3 * i + 2, 3 * i + 3]
    if engine.dialect.name == "sqlite":
        assert w.inline_batches == 3 and not hops
    else:  # PostgreSQL waits on the network: always a worker thread
        assert w.inline_batches == 0 and len(hops) == 3
        assert append_nowait(f, KEY, _entries("x"), keep_content=True) is None
    assert verify(f, KEY).ok
    engine.dispose()


def test_sqlite_writer_in_the_way_falls_back_to_the_thread(tmp_path: Path) -> None:
    """This process's writer lock held by another thread, or the database's write lock held by
    another connection (another process): nothing is written on the loop and nothing waits there;
    the batch goes to the thread path, which waits its turn, and the chain stays whole."""
    cfg = StoreConfig()
    engine = make_engine(cfg, tmp_path)
    upgrade(engine)
    f = session_factory(engine)
    w = AuditWriter(f, KEY)
    lock = sqlite_writer_lock(engine)
    assert lock is not None

    async def held_lock() -> list[int]:
        lock.acquire()
        task = asyncio.ensure_future(w.write(_entries("a"), keep_content=True))
        await asyncio.sleep(0.05)
        assert not task.done()  # waiting in the thread, not blocking the loop
        lock.release()
        return await task

    assert asyncio.run(held_lock()) == [1, 2, 3]
    assert w.inline_batches == 0 and w.batches == 1

    other = make_engine(cfg, tmp_path)  # a second engine: its own process lock, like another process
    conn = other.raw_connection()
    cur = conn.cursor()
    cur.execute("BEGIN IMMEDIATE")  # holds the database's write lock
    loop = asyncio.new_event_loop()
    try:
        assert append_nowait(f, KEY, _entries("b"), keep_content=True) is None  # at once, no busy wait

        async def held_db() -> list[int]:
            task = asyncio.ensure_future(w.write(_entries("c"), keep_content=True))
            await asyncio.sleep(0.05)
            assert not task.done()
            conn.rollback()
            return await task

        assert loop.run_until_complete(held_db()) == [4, 5, 6]
    finally:
        loop.close()
        conn.close()
        other.dispose()
    assert w.inline_batches == 0 and w.batches == 2
    assert asyncio.run(w.write(_entries("d"), keep_content=True)) == [7, 8, 9]
    assert w.inline_batches == 1  # nothing in the way any more: back on the loop
    with engine.connect() as c:  # the busy timeout of the pooled connection is restored
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(cfg.sqlite_busy_timeout_s * 1000)
    res = verify(f, KEY)
    assert res.ok and res.rows == 9, res.problems
    engine.dispose()
