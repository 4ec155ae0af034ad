"""`hegui complaints list/overdue/export-tickets` and `hegui users show/sanction`: the service
duties' admin work from a shell or a cron job (the same functions as the admin REST API)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from hegui.cli._store import ConfigOpt, die, open_store, settings_or_die

complaints_app = typer.Typer(help="Complaints and optimisation tickets (Measures Art. 13, 15).", no_args_is_help=True)
users_app = typer.Typer(help="Users' identity state and sanctions (Art. 9, 19).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(complaints_app, name="complaints")
    app.add_typer(users_app, name="users")


@complaints_app.command("list")
def list_cmd(
    state: Annotated[str | None, typer.Option("--state", help="received, in_review, upheld, rejected or closed.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open complaints past their due date.")] = False,
    config: ConfigOpt = None,
) -> None:
    """One JSON object per line, by due date."""
    from hegui.complaints import service

    rows = service.listing(open_store(settings_or_die(config)), state=state, overdue=overdue)
    for r in rows:
        typer.echo(json.dumps(r, ensure_ascii=False))


@complaints_app.command("overdue")
def overdue_cmd(config: ConfigOpt = None) -> None:
    """Count open complaints past their time limit. Exit 1 when there are any (for cron alerts)."""
    from hegui.complaints import service

    n = service.overdue_count(open_store(settings_or_die(config)))
    typer.echo(f"{n} overdue complaint(s)")
    raise typer.Exit(1 if n else 0)


@complaints_app.command("export-tickets")
def export_cmd(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="JSONL file (default: stdout).")] = None,
    ticket: Annotated[int | None, typer.Option("--ticket", help="One ticket (default: all open ones).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Fine-tuning cases of the optimisation tickets: prompt, rejected answer, safe answer (JSONL)."""
    from hegui.complaints import service
    from hegui.gateway.errors import GatewayError
    from hegui.policy import Role, load_policy

    settings = settings_or_die(config)
    refusal = load_policy(settings.policy).refusal_message(Role.INPUT, "zh")
    try:
        body = service.export_jsonl(open_store(settings), refusal, ticket_id=ticket)
    except GatewayError as e:
        die(e.en)
    if out is None:
        typer.echo(body, nl=False)
    else:
        out.write_text(body, encoding="utf-8")
        typer.echo(f"{body.count(chr(10))} case(s) written to {out}", err=True)


def _account(settings: object, user: str) -> str:
    from hegui.audit.pseudonym import pseudonymize

    return pseudonymize(settings.key_bytes(), user)  # type: ignore[attr-defined]


@users_app.command("show")
def show_cmd(user: Annotated[str, typer.Argument(help="Account name (the API key's user).")], config: ConfigOpt = None) -> None:
    """Identity state (last four digits only), standing and sanction history, as JSON."""
    from hegui.enforcement import service as enforcement
    from hegui.identity import service as identity

    settings = settings_or_die(config)
    factory = open_store(settings)
    acc = _account(settings, user)
    typer.echo(json.dumps({"user": user, "account": acc, "identity": identity.view(factory, settings.identity, acc).to_dict(),
                           "standing": enforcement.get_standing(factory, acc),
                           "sanctions": enforcement.events(factory, acc)}, ensure_ascii=False, indent=2))


@users_app.command("sanction")
def sanction_cmd(
    user: Annotated[str, typer.Argument(help="Account name (the API key's user).")],
    action: Annotated[str, typer.Option("--action", help="warn, suspend, lift or terminate.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; audited).")],
    hours: Annotated[float | None, typer.Option("--hours", help="Suspension length (default: enforcement.suspension_hours).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Warn, suspend, lift or terminate a user, with a reason; audited like the admin API's."""
    from hegui.enforcement import service as enforcement
    from hegui.gateway.errors import GatewayError
    from hegui.policy import load_policy

    settings = settings_or_die(config)
    th = enforcement.Thresholds.of(settings.enforcement, load_policy(settings.policy).duties)
    try:
        st = enforcement.admin_action(open_store(settings), settings.key_bytes(), settings.enforcement, th,
                                      _account(settings, user), action, reason, "cli", hours=hours)
    except GatewayError as e:
        die(e.en)
    typer.echo(json.dumps(st, ensure_ascii=False))
