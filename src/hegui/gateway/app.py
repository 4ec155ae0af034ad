"""The FastAPI app factory: wires settings, store, Guard, upstream, metrics, routes and hooks."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from hegui.audit import purge
from hegui.config import Settings
from hegui.console.mount import mount_console, texts_loop
from hegui.gateway import admin, media_routes, openai_routes, services
from hegui.gateway.checks import DEFAULT_CHECKS
from hegui.gateway.context import GatewayApp, RequestContextMiddleware
from hegui.gateway.errors import GatewayError
from hegui.gateway.logs import configure
from hegui.gateway.metrics import Metrics
from hegui.gateway.moderation import offload_checks
from hegui.gateway.state import GatewayState
from hegui.gateway.upstream import Upstream
from hegui.guard import Guard
from hegui.store import keys as keystore
from hegui.store import make_engine, session_factory, upgrade
from hegui.store.aiopg import AsyncPgPool

log = logging.getLogger("hegui.gateway")


def ensure_admin_key(settings: Settings, factory: sessionmaker[Session], key: bytes) -> None:
    """Install HEGUI_ADMIN_KEY if given; on a store with no key at all, create an admin key and
    write it to ``<var>/admin.key`` (mode 0600) so a fresh install is usable but never open.
    Safe when several processes start together (a lost race on the unique hash is fine)."""
    given = settings.gateway.admin_key.get_secret_value() if settings.gateway.admin_key else os.environ.get("HEGUI_ADMIN_KEY")
    try:
        if given:
            if keystore.lookup(factory, key, given) is None:
                keystore.create_key(factory, key, "admin", role="admin", api_key=given)
                log.info("admin key from the environment installed")
            return
        if keystore.count_keys(factory) == 0:
            new, _ = keystore.create_key(factory, key, "admin", role="admin")
            path = Path(settings.var_dir) / "admin.key"
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(new + "\n")
            log.warning("no API key existed: an admin key was created and written to the admin.key file",
                        extra={"path": str(path)})
    except IntegrityError:
        log.info("admin key installed by another process")


def prepare(settings: Settings) -> None:
    """What must happen once before serving: migrations, the secret key, the first admin key."""
    engine = make_engine(settings.store, Path(settings.var_dir))
    try:
        upgrade(engine)
        ensure_admin_key(settings, session_factory(engine), settings.key_bytes())
    finally:
        engine.dispose()


def build_state(settings: Settings) -> GatewayState:
    engine = make_engine(settings.store, Path(settings.var_dir))
    upgrade(engine)
    factory = session_factory(engine)
    state = GatewayState(settings, Guard.from_settings(settings), engine, factory, Upstream(settings.gateway),
                         Metrics(), settings.key_bytes())
    if engine.dialect.name == "postgresql":  # the audit batches (and the duties) from the event loop
        state.aio_store = AsyncPgPool(engine, settings.store.db_schema, settings.store.pool_size)
        state.audit.aio = state.aio_store
    state.pre_checks.extend(DEFAULT_CHECKS)
    state.offload_checks = offload_checks(settings.guard.detectors)
    ensure_admin_key(settings, factory, state.key)
    return state


async def _purge_loop(state: GatewayState) -> None:
    interval = state.settings.audit.purge_interval_s
    while True:
        try:
            n = await run_in_threadpool(purge, state.factory, state.settings.audit.retention_days)
            if n:
                log.info("audit content purged", extra={"detail": f"{n} rows"})
        except Exception as e:  # keep the schedule alive; the failure is visible in logs
            log.error("audit purge failed", extra={"error": type(e).__name__})
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None, *, state: GatewayState | None = None) -> FastAPI:
    """The gateway app. Builds its state (DB migrated, Guard loaded) at once, so errors show at start."""
    settings = settings or Settings()
    configure(settings.gateway.json_logs)
    st = state or build_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.gateway.gil_switch_interval_ms:  # per process: each worker runs its own lifespan
            sys.setswitchinterval(settings.gateway.gil_switch_interval_ms / 1000)
        purger = asyncio.create_task(_purge_loop(st)) if settings.audit.purge_interval_s else None
        texts = asyncio.create_task(texts_loop(st)) if settings.console.enabled else None
        # The blocklist reloads from the store in its own thread, not on the request path.
        blocklist = st.services.blocklist if st.services is not None else None
        if blocklist is not None:
            blocklist.start_refresher()
        try:
            yield
        finally:
            if blocklist is not None:
                blocklist.stop_refresher()
            if purger:
                purger.cancel()
            if texts:
                texts.cancel()
            await st.drain()
            await st.upstream.aclose()
            if st.aio_store is not None:
                await st.aio_store.aclose()
            st.engine.dispose()

    app = GatewayApp(title="hegui gateway", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.hegui = st

    app.add_middleware(RequestContextMiddleware, state=st)  # every other request
    app.front = RequestContextMiddleware(app.router, state=st)  # the hot routes, which it calls directly
    app.hot = openai_routes.HOT_ROUTES

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> Response:
        return exc.response((getattr(request.state, "ctx", None) and request.state.ctx.request_id) or "")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return GatewayError(400, "invalid_request", "请求格式错误", "invalid request").response()

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        try:
            await run_in_threadpool(keystore.count_keys, st.factory)
        except Exception:
            return JSONResponse({"status": "store unavailable / 存储不可用"}, status_code=503)
        return JSONResponse({"status": "ready", "upstream": st.upstream.configured})

    @app.get("/metrics")
    async def metrics() -> Response:
        return PlainTextResponse(st.metrics.render(), media_type="text/plain; version=0.0.4")

    app.include_router(openai_routes.router)
    app.include_router(media_routes.router)  # images and speech, labelled (GB 45438)
    app.include_router(admin.router)
    mount_console(app, st)  # the web console at /console
    services.install(app, st)  # identity, usage, sanctions, complaints (pre-checks, hooks, routers)
    return app


def app_from_env() -> FastAPI:
    """The app built from the environment alone (``HEGUI_CONFIG``, ``HEGUI_*``): what each uvicorn
    worker process calls when ``hegui serve --workers N`` runs several."""
    return create_app(Settings())
