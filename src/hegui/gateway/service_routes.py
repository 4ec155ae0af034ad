"""REST routes of the service duties: user-facing ``/v1/hegui/*`` and admin ``/admin/v1/*``.

User routes take the user's API key (complaints also accept none: anyone harmed may complain);
admin routes take an admin key. Admins name users by account (the API key's user); the store only
knows the account's pseudonym.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from hegui.audit.pseudonym import pseudonymize
from hegui.complaints import blocklist_admin, pirequests
from hegui.complaints import service as complaints
from hegui.enforcement import service as enforcement
from hegui.gateway.admin import admin
from hegui.gateway.checks import bearer
from hegui.gateway.errors import GatewayError
from hegui.gateway.openai_routes import read_json
from hegui.gateway.services import decide_complaint, feed_blocklist, services_of
from hegui.gateway.state import GatewayState, RequestContext
from hegui.identity import service as identity
from hegui.notices import texts
from hegui.policy import Role
from hegui.usage import service as usage

router = APIRouter(prefix="/v1/hegui")
admin_router = APIRouter(prefix="/admin/v1")


async def _user(request: Request, route: str, *, optional: bool = False) -> tuple[GatewayState, RequestContext | None]:
    state: GatewayState = request.app.state.hegui
    ctx: RequestContext = request.state.ctx
    ctx.route = route
    if optional and bearer(ctx) is None:
        return state, None
    for pre in state.pre_checks:
        await pre(state, ctx)
    return state, ctx


def _str(body: dict[str, Any], field: str) -> str | None:
    v = body.get(field)
    if v is None:
        return None
    if not isinstance(v, str):
        raise GatewayError(400, "invalid_request", f"{field} 须为字符串", f"'{field}' must be a string")
    return v


def _thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return run_in_threadpool(lambda: fn(*args, **kwargs))


# -- public and user routes ---------------------------------------------------------------------

@router.get("/notice")
async def notice(request: Request) -> Response:
    """Art. 10 disclosure, terms (with the labelling methods), guidance, model name and filing number."""
    state: GatewayState = request.app.state.hegui
    request.state.ctx.route = "/v1/hegui/notice"
    lang = request.query_params.get("lang")
    if lang in ("zh", "en"):
        return JSONResponse(texts.notice(state.settings, lang))
    return JSONResponse({"zh": texts.notice(state.settings, "zh"), "en": texts.notice(state.settings, "en")})


@router.get("/me")
async def me(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/me")
    assert ctx is not None
    acc = ctx.user_pseudo
    view = await _thread(identity.view, state.factory, state.settings.identity, acc)
    return JSONResponse({"identity": view.to_dict(), "standing": await _thread(enforcement.get_standing, state.factory, acc),
                         "usage": await _thread(usage.summary, state.factory, state.settings.usage, acc)})


@router.post("/identity")
async def register(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/identity")
    assert ctx is not None
    body = await read_json(state, request)
    svc = services_of(state)
    view, sent = await _thread(identity.register, state.factory, state.key, state.settings.identity, svc.verifier,
                               svc.sender, ctx.user_pseudo, name=_str(body, "name"), id_number=_str(body, "id_number"),
                               mobile=_str(body, "mobile"))
    return JSONResponse({"identity": view.to_dict(), "otp_sent": sent}, status_code=201)


@router.get("/identity")
async def identity_status(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/identity")
    assert ctx is not None
    view = await _thread(identity.view, state.factory, state.settings.identity, ctx.user_pseudo)
    return JSONResponse({"identity": view.to_dict()})


@router.post("/identity/otp")
async def resend(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/identity/otp")
    assert ctx is not None
    body = await read_json(state, request)
    await _thread(identity.send_code, state.factory, state.key, state.settings.identity, services_of(state).sender,
                  ctx.user_pseudo, _str(body, "mobile") or "")
    return JSONResponse({"otp_sent": True, "expires_in_s": state.settings.identity.otp_ttl_s})


@router.post("/identity/otp/verify")
async def verify_otp(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/identity/otp/verify")
    assert ctx is not None
    body = await read_json(state, request)
    view = await _thread(identity.verify_code, state.factory, state.key, state.settings.identity, ctx.user_pseudo,
                         _str(body, "code") or "")
    return JSONResponse({"identity": view.to_dict()})


@router.post("/complaints")
async def submit_complaint(request: Request) -> Response:
    state, ctx = await _user(request, "/v1/hegui/complaints", optional=True)
    body = await read_json(state, request)
    out = await _thread(complaints.submit, state.factory, state.key, state.settings.complaints, body,
                        account=ctx.user_pseudo if ctx else None)
    return JSONResponse(out, status_code=201)


@router.get("/complaints/{ref}")
async def complaint_status(ref: str, request: Request) -> Response:
    state: GatewayState = request.app.state.hegui
    request.state.ctx.route = "/v1/hegui/complaints"
    token = request.query_params.get("token") or request.headers.get("x-complaint-token", "")
    return JSONResponse(await _thread(complaints.public_status, state.factory, state.key, ref, token))


@router.post("/requests")
async def pi_request(request: Request) -> Response:
    """The user's own personal-information requests: access (a copy now), deletion (done now, with a
    signed receipt), correction and shielding (filed for staff, with a reference)."""
    state, ctx = await _user(request, "/v1/hegui/requests")
    assert ctx is not None
    body = await read_json(state, request)
    kind = body.get("type")
    if kind == "access":
        return JSONResponse(await _thread(pirequests.access, state.factory, state.settings.identity, ctx.user_pseudo))
    if kind == "deletion":
        receipt = await _thread(pirequests.erase, state.factory, state.key, ctx.user_pseudo)
        return JSONResponse({"receipt": receipt})
    if kind in ("correction", "shielding"):
        body = {**body, "type": f"pi_{kind}"}
        body.setdefault("description", f"{kind} request")
        out = await _thread(complaints.submit, state.factory, state.key, state.settings.complaints, body, account=ctx.user_pseudo)
        return JSONResponse(out, status_code=201)
    raise GatewayError(400, "invalid_type", "type 须为 access、deletion、correction 或 shielding",
                       "type must be access, deletion, correction or shielding")


# -- admin routes -------------------------------------------------------------------------------

def _account(state: GatewayState, user: str) -> str:
    if not user or len(user) > 128:
        raise GatewayError(400, "invalid_request", "用户名无效", "invalid user name")
    return pseudonymize(state.key, user)


def _actor(request: Request) -> str:
    key = request.state.ctx.key
    return f"admin:{key.user}" if key else "admin"


@admin_router.get("/users/{user}")
async def user_detail(user: str, request: Request) -> Response:
    state = await admin(request)
    acc = _account(state, user)
    view = await _thread(identity.view, state.factory, state.settings.identity, acc)
    return JSONResponse({"user": user, "account": acc, "identity": view.to_dict(),
                         "standing": await _thread(enforcement.get_standing, state.factory, acc),
                         "usage": await _thread(usage.summary, state.factory, state.settings.usage, acc),
                         "sanctions": await _thread(enforcement.events, state.factory, acc)})


@admin_router.post("/users/{user}/sanctions")
async def sanction(user: str, request: Request) -> Response:
    """Warn, suspend, lift or terminate with a reason: ``{"action", "reason", "hours"?}``."""
    state = await admin(request)
    body = await read_json(state, request)
    hours = body.get("hours")
    if hours is not None and not isinstance(hours, int | float):
        raise GatewayError(400, "invalid_hours", "hours 须为数字", "'hours' must be a number")
    out = await _thread(enforcement.admin_action, state.factory, state.key, state.settings.enforcement,
                        services_of(state).thresholds, _account(state, user), str(body.get("action", "")),
                        body.get("reason") if isinstance(body.get("reason"), str) else "", _actor(request),
                        hours=float(hours) if hours is not None else None)
    return JSONResponse({"user": user, "standing": out})


@admin_router.delete("/users/{user}/identity")
async def reset_identity(user: str, request: Request) -> Response:
    """Remove a user's identity record (a correction: the user registers again)."""
    state = await admin(request)
    acc = _account(state, user)

    def run() -> int:
        with state.factory() as s, s.begin():
            return identity.forget(s, acc)

    return JSONResponse({"user": user, "removed": await _thread(run)})


@admin_router.post("/users/{user}/erase")
async def erase_user(user: str, request: Request) -> Response:
    """A deletion request received by another channel: same effect and receipt as the user's own."""
    state = await admin(request)
    return JSONResponse({"receipt": await _thread(pirequests.erase, state.factory, state.key, _account(state, user))})


@admin_router.get("/complaints")
async def list_complaints(request: Request) -> Response:
    state = await admin(request)
    q = request.query_params
    rows = await _thread(complaints.listing, state.factory, state=q.get("state"), ctype=q.get("type"),
                         overdue=q.get("overdue") in ("1", "true", "yes"))
    return JSONResponse({"data": rows})


@admin_router.get("/complaints/alerts")
async def complaint_alerts(request: Request) -> Response:
    state = await admin(request)
    rows = await _thread(complaints.listing, state.factory, overdue=True)
    return JSONResponse({"overdue": len(rows), "data": rows})


@admin_router.get("/complaints/{ref}")
async def complaint_detail(ref: str, request: Request) -> Response:
    state = await admin(request)
    return JSONResponse(await _thread(complaints.detail, state.factory, ref))


@admin_router.post("/complaints/{ref}/assign")
async def complaint_assign(ref: str, request: Request) -> Response:
    state = await admin(request)
    body = await read_json(state, request)
    return JSONResponse(await _thread(complaints.assign, state.factory, ref, body.get("assignee"), _actor(request)))


@admin_router.post("/complaints/{ref}/reply")
async def complaint_reply(ref: str, request: Request) -> Response:
    state = await admin(request)
    body = await read_json(state, request)
    return JSONResponse(await _thread(complaints.reply, state.factory, ref, body.get("text"), _actor(request),
                                      public=body.get("public", True) is not False))


@admin_router.post("/complaints/{ref}/decision")
async def complaint_decision(ref: str, request: Request) -> Response:
    """``{"decision": "uphold"|"reject", "reason", "safe_answer"?}``. Upholding content blocklists it
    at once and opens an optimisation ticket; upholding an appeal lifts the sanction."""
    state = await admin(request)
    body = await read_json(state, request)
    out = await _thread(decide_complaint, state, ref, str(body.get("decision", "")), _actor(request),
                        reason=body.get("reason") if isinstance(body.get("reason"), str) else "",
                        safe_answer=body.get("safe_answer") if isinstance(body.get("safe_answer"), str) else "")
    return JSONResponse(out)


@admin_router.post("/complaints/{ref}/close")
async def complaint_close(ref: str, request: Request) -> Response:
    state = await admin(request)
    return JSONResponse(await _thread(complaints.close, state.factory, ref, _actor(request)))


@admin_router.get("/tickets")
async def list_tickets(request: Request) -> Response:
    state = await admin(request)
    st = request.query_params.get("state", "open")
    return JSONResponse({"data": await _thread(complaints.tickets, state.factory, state=None if st == "all" else st)})


@admin_router.get("/tickets/export")
async def export_tickets(request: Request) -> Response:
    """Fine-tuning cases as JSONL (prompt, rejected answer, safe answer), open tickets or one ticket."""
    state = await admin(request)
    tid = request.query_params.get("ticket")
    if tid is not None and not tid.isdigit():
        raise GatewayError(400, "invalid_request", "ticket 须为数字", "'ticket' must be a number")
    refusal = state.guard.policy.refusal_message(Role.INPUT, "zh")
    body = await _thread(complaints.export_jsonl, state.factory, refusal, ticket_id=int(tid) if tid else None)
    return PlainTextResponse(body, media_type="application/x-ndjson")


@admin_router.post("/tickets/{ticket_id}/done")
async def ticket_done(ticket_id: int, request: Request) -> Response:
    state = await admin(request)
    return JSONResponse(await _thread(complaints.finish_ticket, state.factory, ticket_id))


@admin_router.get("/users")
async def sanctioned_users(request: Request) -> Response:
    """Users currently suspended or terminated (``?status=suspended|terminated``)."""
    state = await admin(request)
    st = request.query_params.get("status")
    if st not in (None, "suspended", "terminated"):
        raise GatewayError(400, "invalid_request", "status 须为 suspended 或 terminated", "status must be suspended or terminated")
    return JSONResponse({"data": await _thread(enforcement.sanctioned, state.factory, status=st)})


@admin_router.get("/blocklist")
async def blocklist_entries(request: Request) -> Response:
    state = await admin(request)
    removed = request.query_params.get("removed") in ("1", "true", "yes")
    return JSONResponse({"data": await _thread(blocklist_admin.entries, state.factory, include_removed=removed)})


@admin_router.post("/blocklist")
async def blocklist_add(request: Request) -> Response:
    """Add content reported through another channel: ``{"text", "reason"}``; effective at once."""
    state = await admin(request)
    body = await read_json(state, request)
    try:
        entry_id, canon = await _thread(blocklist_admin.add, state.factory, state.key, _str(body, "text") or "",
                                        _actor(request), _str(body, "reason") or "")
    except ValueError as e:
        raise GatewayError(400, "invalid_request", str(e), str(e)) from None
    feed_blocklist(state, entry_id, canon)
    return JSONResponse({"id": entry_id, "text": canon}, status_code=201)


@admin_router.delete("/blocklist/{entry_id}")
async def blocklist_remove(entry_id: int, request: Request) -> Response:
    """Deactivate an entry added in error: ``{"reason"}`` (kept for the record; audited)."""
    state = await admin(request)
    body = await read_json(state, request)
    try:
        await _thread(blocklist_admin.remove, state.factory, state.key, entry_id, _actor(request), _str(body, "reason") or "")
    except ValueError as e:
        raise GatewayError(400, "invalid_request", str(e), str(e)) from None
    except LookupError as e:
        raise GatewayError(404, "not_found", str(e), str(e)) from None
    bl = services_of(state).blocklist
    if bl is not None:
        bl.invalidate()
    return JSONResponse({"id": entry_id, "active": False})
