"""`hegui audit verify/purge`: check the hash chain; drop content past the retention period."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, open_store, settings_or_die

audit_app = typer.Typer(help="The audit log: verify the chain, purge old content.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Walk the whole chain. Exit 0: intact; 1: an edited, deleted or reordered row was found."""
    from hegui.audit import verify
    from hegui.store import current

    settings = settings_or_die(config)
    factory = open_store(settings, migrate=False)
    try:
        if current(factory.kw["bind"]) is None:
            die("the store has no schema yet: run `hegui db upgrade` (or start `hegui serve`) first")
        res = verify(factory, settings.key_bytes())
    except typer.Exit:
        raise
    except Exception as e:
        die(f"cannot read the audit log: {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}")
    if as_json:
        typer.echo(json.dumps({"ok": res.ok, "rows": res.rows, "problems": res.problems}, ensure_ascii=False))
    else:
        for p in res.problems:
            typer.echo(p)
        typer.echo(f"{'OK' if res.ok else 'BROKEN'}: {res.rows} rows checked, {len(res.problems)} problems")
    raise typer.Exit(0 if res.ok else 1)


@audit_app.command("purge")
def purge_cmd(
    days: Annotated[int | None, typer.Option("--days", min=180, help="Retention in days (default: audit.retention_days, ≥ 180).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Drop the content of rows older than the retention period; the minimal record and the chain stay."""
    from hegui.audit import purge

    settings = settings_or_die(config)
    try:
        n = purge(open_store(settings), days if days is not None else settings.audit.retention_days)
    except ValueError as e:
        die(str(e))
    typer.echo(f"content purged from {n} rows")
