"""How the gateway app takes the console in: the router and the texts refresher."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from hegui.console import texts

log = logging.getLogger("hegui.console")


def mount_console(app: FastAPI, state: Any) -> None:
    """Include the console's routes (unless disabled) and lay stored text edits over the settings."""
    if not state.settings.console.enabled:
        return
    from hegui.console.accounts import count_accounts
    from hegui.console.routes import router
    from hegui.console.services import router as services_router

    texts.apply(state.settings, texts.load(state.factory))
    if count_accounts(state.factory) == 0:
        log.warning("the console at /console has no account yet: create one with `hegui console create-admin`")
    app.include_router(router)
    app.include_router(services_router)


async def texts_loop(state: Any) -> None:
    """Pick up label and notice edits made through another worker process."""
    while True:
        await asyncio.sleep(texts.REFRESH_S)
        try:
            await run_in_threadpool(lambda: texts.apply(state.settings, texts.load(state.factory)))
        except Exception as e:  # keep the loop alive; the failure is visible in logs
            log.error("console texts refresh failed", extra={"error": type(e).__name__})
