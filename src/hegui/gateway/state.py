"""What every request shares: settings, Guard, store, upstream client, metrics, the hook list.

The request path is: ``pre_checks`` in order (authentication, rate limit; later features insert
identity, sanction and usage checks here) → input Guard → upstream → output Guard → label → audit.
A pre-check raises `GatewayError` to refuse; it may set fields on `RequestContext`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit.writer import AuditWriter
from hegui.config import Settings
from hegui.gateway.metrics import Metrics
from hegui.gateway.upstream import Upstream
from hegui.guard import Guard
from hegui.store.keys import KeyCache, KeyInfo

log = logging.getLogger("hegui.gateway")

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
STORE_THREADS = 40  # as many as anyio's default limiter, which the store calls used before


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:  # made lazily, in the process (worker) that uses it
        with _POOL_LOCK:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="hegui-store")
    return _POOL


def retrieve_quietly(fut: asyncio.Future[Any]) -> None:
    """A done-callback for a shielded call or a task whose caller may have left: its error is
    marked retrieved, so asyncio logs no "exception was never retrieved" (whoever awaits it still
    gets the error)."""
    if not fut.cancelled():
        fut.exception()


async def in_thread(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking (store) call in a worker thread, for the request path.

    asyncio's executor directly: Starlette's ``run_in_threadpool`` (anyio) costs about twice the
    CPU per call (≈ 80 against 40 µs), and a request makes several store calls. Like anyio's, the
    call is shielded: once submitted it runs to its end even if the request is cancelled (an audit
    row or a counted request is never half-done or silently dropped)."""
    fut = asyncio.get_running_loop().run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))
    fut.add_done_callback(retrieve_quietly)
    return await asyncio.shield(fut)


@dataclass(slots=True)
class RequestContext:
    request: Request
    request_id: str
    route: str
    t0: float = field(default_factory=time.perf_counter)
    key: KeyInfo | None = None
    user_pseudo: str = "anonymous"
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # for later pre-checks
    # A route that awaits the duties' commit itself before releasing anything of the answer
    # (`checks.settle_duties`) sets this; the duties then hand the commit over instead of
    # awaiting it, and it runs while the request goes on to the model.
    defer_duties_commit: bool = False
    duties_commit: asyncio.Future[None] | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000


PreCheck = Callable[["GatewayState", RequestContext], Awaitable[None]]
# Called with the input moderation outcome before the request goes on (sanctions count strikes here).
InputHook = Callable[["GatewayState", RequestContext, Any], Awaitable[None]]


class GatewayState:
    def __init__(self, settings: Settings, guard: Guard, engine: Engine, factory: sessionmaker[Session],
                 upstream: Upstream, metrics: Metrics, key: bytes) -> None:
        self.settings, self.guard, self.engine, self.factory = settings, guard, engine, factory
        self.upstream, self.metrics, self.key = upstream, metrics, key
        # Audit rows go through one group-commit writer per process: a request awaits the commit of
        # the batch holding its rows (durable before the response, as with a write per request),
        # and concurrent requests share one transaction and one lock of the chain head.
        self.audit = AuditWriter(factory, key, run=in_thread)
        self.keys = KeyCache(key, settings.store.key_cache_s)  # live keys, for a bounded time
        # Whether a later pre-check counts this request against the key's rate limit (and enforces
        # it) inside its own store transaction, so `authenticate` need not: the service duties do,
        # folding the count into the one transaction of a user's generation request.
        self.rate_counted_later: Callable[[RequestContext, KeyInfo], bool] = lambda ctx, key: False
        # Whether a later pre-check reads that the key is still live in its own store read (and
        # refuses a revoked one), so `authenticate` may take it from the key cache for longer,
        # with no lookup (`KeyCache.get_refreshing`'s ``checked_later``): the service duties.
        self.key_checked_later: Callable[[RequestContext, KeyInfo], bool] = lambda ctx, key: False
        self.pre_checks: list[PreCheck] = []
        self.input_hooks: list[InputHook] = []
        self.services: Any = None  # hegui.gateway.services.Services, set by `services.install`
        # PostgreSQL: asynchronous connections (hegui.store.aiopg.AsyncPgPool) for the audit batches
        # and the duties' queries on the event loop; set by `app.build_state`.
        self.aio_store: Any = None
        # True when a detector waits on the network: checks then run in worker threads.
        self.offload_checks = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` to completion even if the request that started it is cancelled."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for background work (final checks, audit writes, the audit writer's batches and
        the appends it finishes for cancelled requests) — on shutdown and in tests."""
        pending = [*self._tasks, *self.audit.background()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
