"""Group commit for the gateway's audit rows.

Every request appends its rows to one hash chain, and every writer of every process queues on the
chain head (see `chain.append`), so one transaction per request is the most expensive store work
an admitted request does. `AuditWriter` keeps the guarantee — a request's rows are committed
before its response goes out, and a failed write still fails that request closed — while paying
for one transaction, one head lock and one thread hop per *batch*: a request hands its rows over
and awaits the commit of the batch that holds them; whatever arrives while a batch is being
written goes into the next one. With one request at a time a batch is one request and nothing
waits on a timer; under load the batches grow by themselves. On SQLite a batch is written on the
event loop itself when no other writer is in the way (`chain.append_nowait`), without the hop. On
PostgreSQL a request that finds nothing being written (no batch in flight, none queued) writes its
own rows, awaiting the one statement in its own task: no writer task to start and no wake-up after
the commit, two turns of a busy event loop; the rows that arrive meanwhile queue for the writer
task as before.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from hegui.audit.chain import AuditEntry, append, append_async, append_nowait, recoveries

Runner = Callable[..., Awaitable[Any]]


async def _default_runner(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


_Item = tuple[list[AuditEntry], "asyncio.Future[list[int]]"]


class _Queue:
    """The rows waiting in one event loop, and its writer task (a strong reference: the loop keeps
    only weak ones)."""

    __slots__ = ("leading", "pending", "task")

    def __init__(self) -> None:
        self.pending: list[_Item] = []
        self.task: asyncio.Task[None] | None = None
        self.leading = False  # a caller is writing its own rows (PostgreSQL); arrivals queue behind it


class AuditWriter:
    """Batches the rows of concurrent requests of one event loop into single `append` calls.

    ``run`` runs a blocking call off the event loop (the gateway passes its store executor). The
    requests of a batch share its fate, as in a database's group commit: when the transaction
    fails, every one of them gets the exception and is failed closed by its caller. (No retry one
    by one: the failures that happen are store-wide — the database down, a table gone — and a retry
    per request would multiply the time to fail.) Each event loop has its own queue, so a writer
    shared by several loops (tests, threads) never settles a future from the wrong one.
    """

    def __init__(self, factory: sessionmaker[Session], key: bytes, *, run: Runner | None = None,
                 max_batch_rows: int = 500, inline_sqlite: bool = True) -> None:
        self.factory, self.key = factory, key
        self._run = run or _default_runner
        self._inline = inline_sqlite  # SQLite batches on the loop when no other writer is in the way
        self.inline_batches = 0  # of ``batches``, written on the loop (for tests)
        self._max_rows = max_batch_rows
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()
        self.batches = 0  # transactions written (for tests)
        # PostgreSQL: asynchronous connections (hegui.store.aiopg.AsyncPgPool) for the one-statement
        # append from the event loop; set by the gateway.
        self.aio: Any = None

    async def write(self, entries: Sequence[AuditEntry], *, keep_content: bool) -> list[int]:
        """Append ``entries`` as one contiguous run of the chain; returns their sequence numbers
        once committed. Raises what the store raised. Once handed over, the rows are written even
        if the caller is cancelled: they are in the queue, and the writer task, not the caller,
        writes them; a caller cancelled meanwhile only cancels its own future, which `_settle`
        then skips. (No `asyncio.shield` around it: its extra callback cost every request one
        more turn of a busy event loop before it saw its commit.) A caller that writes its own
        rows (PostgreSQL, nothing else being written) is covered by `chain.append_async`, which
        finishes a cancelled caller's append in a task of its own."""
        rows = [e if keep_content or e.content is None else replace(e, content=None) for e in entries]
        if not rows:
            return []
        loop = asyncio.get_running_loop()
        q = self._queues.get(loop)
        if q is None:
            q = self._queues[loop] = _Queue()
        if self.aio is not None and q.task is None and not q.leading and not q.pending:
            return await self._lead(q, rows, loop)
        fut: asyncio.Future[list[int]] = loop.create_future()
        q.pending.append((rows, fut))
        if q.task is None and not q.leading:
            q.task = loop.create_task(self._drain(q))
        return await fut

    async def _lead(self, q: _Queue, rows: list[AuditEntry], loop: asyncio.AbstractEventLoop) -> list[int]:
        """PostgreSQL, nothing being written: ``rows`` as a batch of their own, awaited here; what
        queued meanwhile goes to a writer task after it, as it would behind a batch in flight."""
        q.leading = True
        try:
            seqs = await append_async(self.aio, self.factory, self.key, rows, keep_content=True, run=self._run)
        finally:
            q.leading = False
            if q.pending and q.task is None:
                q.task = loop.create_task(self._drain(q))
        self.batches += 1
        return seqs

    def background(self) -> list[asyncio.Task[Any]]:
        """This loop's audit work that no caller awaits any more: its writer task (rows queued or
        being written) and the appends finished for cancelled callers. A process shutting down
        waits for them before closing its store (`GatewayState.drain`)."""
        loop = asyncio.get_running_loop()
        q = self._queues.get(loop)
        own = [q.task] if q is not None and q.task is not None else []
        return own + recoveries()

    def _take(self, q: _Queue) -> list[_Item]:
        batch: list[_Item] = []
        n = 0
        while q.pending and (not batch or n + len(q.pending[0][0]) <= self._max_rows):
            item = q.pending.pop(0)
            batch.append(item)
            n += len(item[0])
        return batch

    async def _drain(self, q: _Queue) -> None:
        try:
            while q.pending:
                await self._write(self._take(q))
        finally:
            q.task = None  # cancelled (loop shutting down): the next write starts a new writer

    async def _write(self, batch: list[_Item]) -> None:
        flat = [e for rows, _ in batch for e in rows]
        try:
            if self.aio is not None:
                seqs = await append_async(self.aio, self.factory, self.key, flat, keep_content=True, run=self._run)
            else:
                seqs = append_nowait(self.factory, self.key, flat, keep_content=True) if self._inline else None
            if seqs is None:
                seqs = await self._run(append, self.factory, self.key, flat, keep_content=True)
            else:
                self.inline_batches += 1
        except Exception as e:
            for _, fut in batch:
                _settle(fut, exc=e)
            return
        self.batches += 1
        i = 0
        for rows, fut in batch:
            _settle(fut, seqs=seqs[i:i + len(rows)])
            i += len(rows)


def _settle(fut: asyncio.Future[list[int]], *, seqs: list[int] | None = None, exc: BaseException | None = None) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
        fut.add_done_callback(_retrieve)
    else:
        fut.set_result(seqs or [])


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # a caller that left: no "exception never retrieved" noise
