"""Shared by the store-backed commands (serve, keys, db, audit): settings and a session factory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="Config YAML (default: $HEGUI_CONFIG).")]

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from hegui.config import Settings


def die(msg: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def settings_or_die(config: Path | None, **overrides: Any) -> Settings:
    """Settings from ``--config`` (or ``$HEGUI_CONFIG``) and the environment; a clear error otherwise."""
    from hegui.config import ConfigError, load_settings

    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        die(str(e))


def open_store(settings: Settings, *, migrate: bool = True) -> sessionmaker[Session]:
    """A session factory on the configured store, migrated to the newest schema first."""
    from hegui.store import make_engine, session_factory, upgrade

    try:
        engine = make_engine(settings.store, Path(settings.var_dir))
        if migrate:
            upgrade(engine)
    except Exception as e:  # a wrong URL, a server down, a permission problem: say which, no traceback
        die(f"cannot open the store: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
    return session_factory(engine)

