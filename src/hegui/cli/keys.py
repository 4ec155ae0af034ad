"""`hegui keys create/list/revoke`: API keys in the store (only a keyed hash is kept)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, open_store, settings_or_die

keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", "-u", help="Account the key acts for (an account name, not a real name).")],
    role: Annotated[str, typer.Option("--role", help="user or admin.")] = "user",
    rpm: Annotated[int | None, typer.Option("--rpm", min=0, help="Requests per minute for this key (default: gateway.rate_limit_rpm).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Create a key and print it on stdout (it is shown once; only its hash is stored)."""
    from hegui.store import keys as keystore

    settings = settings_or_die(config)
    factory = open_store(settings)
    try:
        key, info = keystore.create_key(factory, settings.key_bytes(), user, role=role, rate_limit_rpm=rpm)
    except ValueError as e:
        die(str(e))
    typer.echo(key)
    typer.echo(f"key id {info.id} for user {info.user!r} ({info.role}); store it now, it cannot be shown again", err=True)


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    config: ConfigOpt = None,
) -> None:
    """List keys (id, account, role, prefix, limits, dates) — never the keys themselves."""
    from hegui.store import keys as keystore

    settings = settings_or_die(config)
    rows = keystore.list_keys(open_store(settings), include_revoked=all_)
    for k in rows:
        rec = {"id": k.id, "user": k.user, "role": k.role, "prefix": k.prefix, "rate_limit_rpm": k.rate_limit_rpm,
               "created_at": k.created_at.isoformat(), "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
        if as_json:
            typer.echo(json.dumps(rec, ensure_ascii=False))
        else:
            state = "revoked" if k.revoked_at else "live"
            typer.echo(f"{k.id:>5}  {k.role:<5}  {k.prefix}…  {state:<7}  rpm={k.rate_limit_rpm or '-':<6}  {k.user}")


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (from `hegui keys list`).")],
    config: ConfigOpt = None,
) -> None:
    """Revoke a key at once (every gateway process sees it on the next request)."""
    from hegui.store import keys as keystore

    settings = settings_or_die(config)
    if not keystore.revoke(open_store(settings), key_id):
        die(f"no live key with id {key_id}", code=1)
    typer.echo(f"key {key_id} revoked")
