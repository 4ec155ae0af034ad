"""Console pages on the service duties (issue 5): complaints queue, users and sanctions, blocklist
and optimisation tickets, plus the notices editor and the overview's service panels.

Each action calls the same function as the admin REST route: `hegui.complaints.service`,
`hegui.complaints.blocklist_admin`, `hegui.enforcement.service`, `hegui.identity.service`, and
`hegui.gateway.services.decide_complaint` / `feed_blocklist` for what surrounds an uphold (the
detector fed at once, an upheld appeal lifting the sanction). Service errors (`GatewayError`)
become error pages in the user's language. Viewers read; reviewers handle complaints,
warn/suspend/lift and edit the blocklist; termination needs an admin.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hegui.audit.pseudonym import pseudonymize
from hegui.console import texts
from hegui.console.web import PREFIX, Ctx, Problem, page, redirect

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_REF = re.compile(r"^[A-Za-z0-9]{1,32}$")


def available(ctx: Ctx) -> bool:
    return getattr(ctx.state, "services", None) is not None


def _actor(ctx: Ctx) -> str:
    return f"console:{ctx.account.username}"


async def _call(ctx: Ctx, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A service call in a worker thread; its refusal is shown as a page, in the user's language."""
    from hegui.gateway.errors import GatewayError

    try:
        return await run_in_threadpool(lambda: fn(*args, **kwargs))
    except GatewayError as e:
        raise Problem(e.status if 400 <= e.status < 500 else 400, "bad_input", e.en if ctx.lang == "en" else e.zh) from None
    except (ValueError, LookupError) as e:
        raise Problem(400, "bad_input", str(e)) from None


def _need(ctx: Ctx) -> None:
    if not available(ctx):
        raise Problem(404, "not_available")


# -- overview panels -----------------------------------------------------------------------------


async def overview_data(ctx: Ctx) -> dict[str, Any]:
    """Open complaints by due date and sanctioned users, or None for each when not installed."""
    if not available(ctx):
        return {"complaints": None, "suspended": None}
    from hegui.complaints import service as complaints

    open_rows: list[dict[str, Any]] = []
    for state in ("received", "in_review"):
        open_rows += await _call(ctx, complaints.listing, ctx.state.factory, state=state, limit=50)
    open_rows.sort(key=lambda c: c.get("due_at") or "")
    from hegui.enforcement import service as enforcement

    return {"complaints": open_rows, "suspended": await _call(ctx, enforcement.sanctioned, ctx.state.factory, limit=50)}


# -- complaints ----------------------------------------------------------------------------------


@router.get("/complaints")
@page("viewer")
async def complaints_page(ctx: Ctx) -> Response:
    if not available(ctx):
        return ctx.render("unavailable.html.j2", title_key="complaints")
    from hegui.complaints import service as complaints
    from hegui.complaints.config import TYPES

    q = ctx.request.query_params
    state, ctype, overdue = q.get("state") or None, q.get("type") or None, q.get("overdue") == "1"
    if state not in (None, *complaints.STATES) or ctype not in (None, *TYPES):
        raise Problem(400, "bad_input")
    rows = await _call(ctx, complaints.listing, ctx.state.factory, state=state, ctype=ctype, overdue=overdue)
    return ctx.render("complaints.html.j2", rows=rows, states=complaints.STATES, types=TYPES,
                      f={"state": state or "", "type": ctype or "", "overdue": overdue})


def _ref(ctx: Ctx) -> str:
    ref = str(ctx.request.path_params.get("ref", ""))
    if not _REF.match(ref):
        raise Problem(404, "not_found")
    return ref


@router.get("/complaints/{ref}")
@page("viewer")
async def complaint_page(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import service as complaints

    c = await _call(ctx, complaints.detail, ctx.state.factory, _ref(ctx))
    return ctx.render("complaint.html.j2", c=c, is_open=c["state"] in complaints.OPEN)


@router.post("/complaints/{ref}/{op}")
@page("reviewer")
async def complaint_action(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import service as complaints

    ref, op, f, st = _ref(ctx), ctx.request.path_params.get("op"), ctx.form, ctx.state
    actor = _actor(ctx)
    if op == "assign":
        await _call(ctx, complaints.assign, st.factory, ref, f.get("assignee") or ctx.account.username, actor)
    elif op == "reply":
        await _call(ctx, complaints.reply, st.factory, ref, f.get("text", ""), actor, public=f.get("public", "1") == "1")
    elif op == "decision":
        from hegui.gateway.services import decide_complaint

        await _call(ctx, decide_complaint, st, ref, f.get("decision", ""), actor, reason=f.get("reason", ""),
                    safe_answer=f.get("safe_answer", ""))
    elif op == "close":
        await _call(ctx, complaints.close, st.factory, ref, actor)
    else:
        raise Problem(404, "not_found")
    return redirect(f"{PREFIX}/complaints/{ref}")


# -- users ---------------------------------------------------------------------------------------


def find_accounts(state: Any, query: str) -> list[tuple[str, str]]:
    """(pseudonym, how it was found) for a query: an API key, a key prefix, the last four digits of
    an ID or mobile number, a pseudonym, or an account name (pseudonymised with the installation key)."""
    from hegui.identity.models import Identity
    from hegui.store import keys as keystore
    from hegui.store.models import ApiKey

    q = query.strip()
    if not q or len(q) > 256:
        return []
    found: dict[str, str] = {}
    if q.startswith(keystore.KEY_PREFIX) and len(q) >= 20:
        info = keystore.lookup(state.factory, state.key, q)
        if info:
            found[pseudonymize(state.key, info.user)] = "key"
    with state.factory() as s:
        if q.startswith(keystore.KEY_PREFIX) and len(q) < 20:
            for user in s.execute(select(ApiKey.user).where(ApiKey.prefix == q[:8])).scalars():
                found.setdefault(pseudonymize(state.key, user), "key prefix")
        if re.fullmatch(r"[0-9Xx]{4}", q):
            rows = s.execute(select(Identity.account).where(
                (Identity.id_last4 == q.upper()) | (Identity.mobile_last4 == q)).limit(50)).scalars()
            for acc in rows:
                found.setdefault(acc, "last 4")
    if re.fullmatch(r"[0-9a-f]{32}", q):
        found.setdefault(q, "pseudonym")
    found.setdefault(pseudonymize(state.key, q), "account name")
    return list(found.items())


@router.get("/users")
@page("viewer")
async def users_page(ctx: Ctx) -> Response:
    if not available(ctx):
        return ctx.render("unavailable.html.j2", title_key="users")
    from hegui.enforcement import service as enforcement
    from hegui.identity import service as identity

    q = ctx.request.query_params.get("q", "")[:256]
    st = ctx.state
    results = []
    for acc, how in await run_in_threadpool(find_accounts, st, q):
        view = await _call(ctx, identity.view, st.factory, st.settings.identity, acc)
        standing = await _call(ctx, enforcement.get_standing, st.factory, acc)
        events = await _call(ctx, enforcement.events, st.factory, acc, 50)
        if how == "account name" and not view.registered and not events and len(results) > 0:
            continue
        results.append({"account": acc, "how": how, "identity": view, "standing": standing, "events": events})
    listed = [] if q else await _call(ctx, enforcement.sanctioned, st.factory)
    return ctx.render("users.html.j2", q=q, results=results, listed=listed)


@router.post("/users/{account}/sanction")
@page("reviewer")
async def user_sanction(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.enforcement import service as enforcement

    acc = str(ctx.request.path_params.get("account", ""))
    if not re.fullmatch(r"[0-9a-f]{32}", acc):
        raise Problem(404, "not_found")
    action = ctx.form.get("action", "")
    if action == "terminate":
        ctx.require("admin")
    hours_s = ctx.form.get("hours", "").strip()
    try:
        hours = float(hours_s) if hours_s else None
    except ValueError:
        raise Problem(400, "bad_input", "hours") from None
    st = ctx.state
    await _call(ctx, enforcement.admin_action, st.factory, st.key, st.settings.enforcement, st.services.thresholds,
                acc, action, ctx.form.get("reason", ""), _actor(ctx), hours=hours)
    return redirect(f"{PREFIX}/users?q={acc}")


# -- blocklist and tickets -----------------------------------------------------------------------


@router.get("/blocklist")
@page("viewer")
async def blocklist_page(ctx: Ctx) -> Response:
    if not available(ctx):
        return ctx.render("unavailable.html.j2", title_key="blocklist")
    from hegui.complaints import blocklist_admin
    from hegui.complaints import service as complaints

    rows = await _call(ctx, blocklist_admin.entries, ctx.state.factory)
    tickets = await _call(ctx, complaints.tickets, ctx.state.factory, state=None)
    return ctx.render("blocklist.html.j2", rows=rows, tickets=tickets)


@router.post("/blocklist/add")
@page("reviewer")
async def blocklist_add(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import blocklist_admin
    from hegui.gateway.services import feed_blocklist

    entry_id, canon = await _call(ctx, blocklist_admin.add, ctx.state.factory, ctx.state.key, ctx.form.get("text", ""),
                                  _actor(ctx), ctx.form.get("reason", ""))
    feed_blocklist(ctx.state, entry_id, canon)
    return redirect(f"{PREFIX}/blocklist")


@router.post("/blocklist/{entry_id}/remove")
@page("reviewer")
async def blocklist_remove(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import blocklist_admin

    raw = str(ctx.request.path_params.get("entry_id", ""))
    if not raw.isdigit():
        raise Problem(404, "not_found")
    await _call(ctx, blocklist_admin.remove, ctx.state.factory, ctx.state.key, int(raw), _actor(ctx),
                ctx.form.get("reason", ""))
    bl = ctx.state.services.blocklist
    if bl is not None:
        bl.invalidate()
    return redirect(f"{PREFIX}/blocklist")


@router.get("/blocklist/export")
@page("viewer")
async def blocklist_export(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import blocklist_admin
    from hegui.complaints import service as complaints
    from hegui.policy import Role

    what = ctx.request.query_params.get("what", "blocklist")
    if what == "tickets":
        refusal = ctx.state.guard.policy.refusal_message(Role.INPUT, "zh")
        body = await _call(ctx, complaints.export_jsonl, ctx.state.factory, refusal)
    else:
        body = await _call(ctx, blocklist_admin.export_jsonl, ctx.state.factory)
    return PlainTextResponse(body, media_type="application/x-ndjson",
                             headers={"Content-Disposition": f'attachment; filename="{what}.jsonl"',
                                      "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@router.post("/tickets/{ticket_id}/done")
@page("reviewer")
async def ticket_done(ctx: Ctx) -> Response:
    _need(ctx)
    from hegui.complaints import service as complaints

    raw = str(ctx.request.path_params.get("ticket_id", ""))
    if not raw.isdigit():
        raise Problem(404, "not_found")
    await _call(ctx, complaints.finish_ticket, ctx.state.factory, int(raw))
    return redirect(f"{PREFIX}/blocklist")


# -- notices and label text (policy page) --------------------------------------------------------

_NOTICE_MULTILINE = ("audience", "uses", "terms", "guidance", "reminder", "complaints")


def notices_view(ctx: Ctx) -> list[dict[str, Any]]:
    """Editable notice fields (bilingual ones per language), or [] when notices are not configured."""
    notices = getattr(ctx.state.settings, "notices", None)
    if notices is None:
        return []
    out: list[dict[str, Any]] = []
    for name, value in notices.model_dump().items():
        if isinstance(value, dict):
            for lang, text in value.items():
                out.append({"field": name, "lang": lang, "value": text, "multiline": name in _NOTICE_MULTILINE})
        elif isinstance(value, str):
            out.append({"field": name, "lang": "-", "value": value, "multiline": False})
    return out


def texts_editable(ctx: Ctx) -> bool:
    return ctx.can("admin")


async def save_texts(ctx: Ctx) -> None:
    f = ctx.form
    label = {"enabled": f.get("label.enabled") == "1",
             **{k: f.get(f"label.{k}", "") for k in ("prefix", "suffix", "prefix_en", "suffix_en")}}
    notices: dict[str, Any] = {}
    for item in notices_view(ctx):
        key = f"notices.{item['field']}.{item['lang']}"
        if key not in f:
            continue
        if item["lang"] == "-":
            notices[item["field"]] = f[key]
        else:
            notices.setdefault(item["field"], {})[item["lang"]] = f[key]
    try:
        await run_in_threadpool(texts.save, ctx.state.factory, ctx.state.key, ctx.state.settings, "label", label, _actor(ctx))
        if notices:
            await run_in_threadpool(texts.save, ctx.state.factory, ctx.state.key, ctx.state.settings, "notices", notices,
                                    _actor(ctx))
    except texts.TextsError as e:
        raise Problem(400, "bad_input", str(e)) from None
