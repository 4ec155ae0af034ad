"""`hegui serve`: run the compliance gateway under uvicorn.

Migrations and the first admin key are handled here, once, before any worker starts, so several
workers (or replicas started together on PostgreSQL) never race to create them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, settings_or_die

UPSTREAM_ENV = "HEGUI_UPSTREAM_URL"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    config: ConfigOpt = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Worker processes (they share the store).")] = 1,
    upstream: Annotated[str | None, typer.Option(
        "--upstream", help=f"Base URL of the OpenAI-compatible model server for every model (or ${UPSTREAM_ENV}).",
    )] = None,
) -> None:
    """Start the OpenAI-compatible compliance gateway (routes /v1/*, /healthz, /readyz, /metrics)."""
    import uvicorn

    from hegui.gateway.app import create_app, prepare
    from hegui.gateway.logs import configure

    upstream = upstream or os.environ.get(UPSTREAM_ENV)
    if upstream:
        if not upstream.startswith(("http://", "https://")):
            die(f"--upstream must be an http(s) URL, not {upstream!r}")
        # Through the environment, so every worker process sees the same setting.
        os.environ["HEGUI_GATEWAY__UPSTREAM_URL"] = upstream
    if config is not None:
        if not config.is_file():
            die(f"config file not found: {config}")
        os.environ["HEGUI_CONFIG"] = str(config.resolve())
    settings = settings_or_die(None)
    settings.var_dir = Path(settings.var_dir).resolve()
    os.environ["HEGUI_VAR_DIR"] = str(settings.var_dir)
    configure(settings.gateway.json_logs)
    try:
        prepare(settings)  # migrations, secret key, first admin key
    except Exception as e:
        die(f"cannot start: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    common = {"host": host, "port": port, "access_log": False, "log_level": "warning", "proxy_headers": False}
    if workers == 1:
        try:
            app = create_app(settings)
        except Exception as e:
            die(f"cannot start: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
        uvicorn.run(app, **common)
    else:
        uvicorn.run("hegui.gateway.app:app_from_env", factory=True, workers=workers, **common)
