"""`hegui console create-admin/add/passwd/unlock/role/disable/list`: staff accounts of the web console.

Passwords are read from a hidden prompt (typed twice) or, for scripts, from stdin with
``--password-stdin``; never from the command line, where they would land in shell history.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, open_store, settings_or_die

console_app = typer.Typer(help="Web console accounts (/console): create, passwords, lock-outs.", no_args_is_help=True)

UserArg = Annotated[str, typer.Option("--username", "-u", help="Console user name (3–64 letters, digits, . _ @ -).")]
StdinOpt = Annotated[bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")]


def register(app: typer.Typer) -> None:
    app.add_typer(console_app, name="console")


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password / 密码", hide_input=True, confirmation_prompt=True))


def _create(username: str, role: str, stdin: bool, config: ConfigOpt) -> None:
    from hegui.console.accounts import AccountError, create_account

    settings = settings_or_die(config)
    factory = open_store(settings)
    try:
        acc = create_account(factory, username, _password(stdin), role, settings.console)
    except AccountError as e:
        die(str(e))
    typer.echo(f"console account {acc.username!r} ({acc.role}) created; sign in at /console")


@console_app.command("create-admin")
def create_admin(username: UserArg = "admin", password_stdin: StdinOpt = False, config: ConfigOpt = None) -> None:
    """Create an admin account of the console (the first one is made this way)."""
    _create(username, "admin", password_stdin, config)


@console_app.command("add")
def add(
    username: UserArg,
    role: Annotated[str, typer.Option("--role", help="viewer, reviewer or admin.")] = "viewer",
    password_stdin: StdinOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Create a console account with a role: viewer (read only), reviewer (complaints, users), admin."""
    _create(username, role, password_stdin, config)


@console_app.command("passwd")
def passwd(username: UserArg, password_stdin: StdinOpt = False, config: ConfigOpt = None) -> None:
    """Set a new password (also unlocks the account and signs it out everywhere)."""
    from hegui.console.accounts import AccountError, set_password

    settings = settings_or_die(config)
    try:
        set_password(open_store(settings), username, _password(password_stdin), settings.console)
    except AccountError as e:
        die(str(e))
    typer.echo(f"password of {username!r} changed")


@console_app.command("unlock")
def unlock_cmd(username: UserArg, config: ConfigOpt = None) -> None:
    """Lift a lock-out after repeated failed logins."""
    from hegui.console.accounts import AccountError, unlock

    settings = settings_or_die(config)
    try:
        unlock(open_store(settings), username)
    except AccountError as e:
        die(str(e))
    typer.echo(f"{username!r} unlocked")


@console_app.command("role")
def role_cmd(
    username: UserArg,
    role: Annotated[str, typer.Option("--role", help="viewer, reviewer or admin.")],
    config: ConfigOpt = None,
) -> None:
    """Change an account's role (its sessions end, so the new role applies at once)."""
    from hegui.console.accounts import AccountError, set_role

    settings = settings_or_die(config)
    try:
        set_role(open_store(settings), username, role)
    except AccountError as e:
        die(str(e))
    typer.echo(f"{username!r} is now {role}")


@console_app.command("disable")
def disable_cmd(
    username: UserArg,
    enable: Annotated[bool, typer.Option("--enable", help="Enable a disabled account again.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Disable an account (someone who left): it cannot sign in and its sessions end."""
    from hegui.console.accounts import AccountError, set_disabled

    settings = settings_or_die(config)
    try:
        set_disabled(open_store(settings), username, not enable)
    except AccountError as e:
        die(str(e))
    typer.echo(f"{username!r} {'enabled' if enable else 'disabled'}")


@console_app.command("list")
def list_cmd(config: ConfigOpt = None) -> None:
    """List console accounts (name, role, state) — never passwords."""
    from datetime import UTC, datetime

    from hegui.console.accounts import list_accounts

    settings = settings_or_die(config)
    now = datetime.now(UTC)
    for a in list_accounts(open_store(settings)):
        state = ("disabled" if a.disabled_at else "locked" if a.locked_until and a.locked_until > now else "active")
        typer.echo(f"{a.id:>4}  {a.role:<8}  {state:<8}  {a.username}")
