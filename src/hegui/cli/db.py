"""`hegui db upgrade/current`: the store's schema (Alembic migrations shipped in the package)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, open_store, settings_or_die

db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade_cmd(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Bring the database to the newest schema (safe to run while gateways are up)."""
    from hegui.store import current, make_engine, resolve_url, upgrade

    settings = settings_or_die(config)
    try:
        engine = make_engine(settings.store, Path(settings.var_dir))
        upgrade(engine, revision)
        rev = current(engine)
    except Exception as e:
        die(f"migration failed: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    url = resolve_url(settings.store, Path(settings.var_dir))
    typer.echo(f"database at revision {rev} ({url.split('@')[-1]})")


@db_app.command("current")
def current_cmd(config: ConfigOpt = None) -> None:
    """Print the database's schema revision."""
    from hegui.store import current

    settings = settings_or_die(config)
    factory = open_store(settings, migrate=False)
    typer.echo(current(factory.kw["bind"]) or "empty")
