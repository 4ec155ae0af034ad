"""Admin REST API (``/admin/v1``), admin keys only. Later features include their routers here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from hegui.audit import search as audit_search
from hegui.audit import verify
from hegui.gateway.checks import require_admin
from hegui.gateway.errors import GatewayError
from hegui.gateway.state import GatewayState
from hegui.store import keys as keystore

router = APIRouter(prefix="/admin/v1")


async def admin(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.hegui
    ctx = request.state.ctx
    ctx.route = "/admin/v1"
    for pre in state.pre_checks:
        await pre(state, ctx)
    await require_admin(state, ctx)
    return state


def _key_json(k: keystore.KeyInfo) -> dict[str, Any]:
    return {"id": k.id, "user": k.user, "role": k.role, "prefix": k.prefix, "rate_limit_rpm": k.rate_limit_rpm,
            "created_at": k.created_at.isoformat(), "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}


@router.get("/keys")
async def list_keys(request: Request) -> Response:
    state = await admin(request)
    rows = await run_in_threadpool(keystore.list_keys, state.factory, include_revoked=True)
    return JSONResponse({"data": [_key_json(k) for k in rows]})


@router.post("/keys")
async def create_key(request: Request) -> Response:
    state = await admin(request)
    try:
        body = await request.json()
        key, info = await run_in_threadpool(
            lambda: keystore.create_key(state.factory, state.key, str(body["user"]), role=str(body.get("role", "user")),
                                        rate_limit_rpm=body.get("rate_limit_rpm")))
    except (ValueError, KeyError, TypeError) as e:
        raise GatewayError(400, "invalid_request", f"无法创建密钥：{e}", f"cannot create the key: {e}") from None
    return JSONResponse({"key": key, **_key_json(info)}, status_code=201)


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: int, request: Request) -> Response:
    state = await admin(request)
    revoked = await run_in_threadpool(keystore.revoke, state.factory, key_id)
    state.keys.forget(key_id)  # refused by this process at once; by others within store.key_cache_s
    if not revoked:
        raise GatewayError(404, "not_found", "密钥不存在或已吊销", "no such live key")
    return JSONResponse({"id": key_id, "revoked": True})


@router.get("/audit/verify")
async def audit_verify(request: Request) -> Response:
    state = await admin(request)
    res = await run_in_threadpool(verify, state.factory, state.key)
    return JSONResponse({"ok": res.ok, "rows": res.rows, "problems": res.problems})


@router.get("/audit/search")
async def audit_rows(request: Request) -> Response:
    """Audit rows, newest first: ``from``, ``to`` (UTC), ``request_id``, ``user`` (name or pseudonym),
    ``risk`` (id or dotted prefix), ``action``, ``kind``, ``before`` (paging), ``limit`` (≤ 500)."""
    state = await admin(request)
    lim = request.query_params.get("limit", "100")
    try:
        q = audit_search.query_from_params(request.query_params, limit=int(lim) if lim.isdigit() else 100)
    except ValueError as e:
        raise GatewayError(400, "invalid_request", str(e), str(e)) from None
    rows = await run_in_threadpool(audit_search.search, state.factory, state.key, q)
    return JSONResponse({"data": [audit_search.row_json(r) for r in rows]})


@router.get("/audit/stats")
async def audit_stats(request: Request) -> Response:
    """Requests, blocks and redactions per day and per risk over the last ``days`` (1–90) days."""
    state = await admin(request)
    d = request.query_params.get("days", "14")
    s = await run_in_threadpool(audit_search.stats, state.factory, days=max(1, min(int(d) if d.isdigit() else 14, 90)))
    return JSONResponse({"days": s.days, "requests": s.requests, "blocked": s.blocked, "redacted": s.redacted,
                         "by_risk": s.by_risk, "top_risks": s.top_risks, "truncated": s.truncated})
