"""The console's pages: login, overview, audit, reports, policy. Service pages (complaints, users,
blocklist) are in `hegui.console.services`.

Handlers only gather data through library functions (audit search/verify, the Guard's policy, the
gateway's upstream client) and render it; they hold no rules of their own.
"""

from __future__ import annotations

import asyncio
import hmac
import mimetypes
import secrets
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from hegui.audit import AuditEntry, append, verify
from hegui.audit.search import AuditQuery, query_from_params, search, stats
from hegui.console import accounts as acc
from hegui.console.charts import columns_svg
from hegui.console.web import (
    COOKIE,
    LANG_COOKIE,
    PRE_COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    Ctx,
    Problem,
    current_session,
    error_page,
    lang_of,
    page,
    read_form,
    redirect,
    render,
    safe_next,
    same_origin,
    set_cookie,
)
from hegui.reports import bar_chart_svg
from hegui.taxonomy import RISKS

router = APIRouter(prefix=PREFIX, include_in_schema=False)

STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    body = resources.files("hegui.console").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600",
                                                            "X-Content-Type-Options": "nosniff"})


@router.get("")
@router.get("/")
async def root(request: Request) -> Response:
    return redirect(f"{PREFIX}/overview" if await current_session(request) else f"{PREFIX}/login")


# -- login, logout, language ---------------------------------------------------------------------


def _login_page(request: Request, error: str = "", status: int = 200) -> Response:
    token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    resp = render(request, "login.html.j2", lang_of(request), None, status=status, error=error,
                  next=safe_next(request.query_params.get("next")), login_csrf=token)
    set_cookie(resp, request, PRE_COOKIE, token, max_age=3600)
    return resp


@router.get("/login")
async def login_form(request: Request) -> Response:
    if await current_session(request):
        return redirect(f"{PREFIX}/overview")
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    st = request.app.state.hegui
    cfg = st.settings.console
    lang = lang_of(request)
    try:
        form = await read_form(request)
    except Problem as p:
        return error_page(request, lang, None, p)
    pre = request.cookies.get(PRE_COOKIE, "")
    if not pre or not same_origin(request) or not hmac.compare_digest(form.get("csrf", "").encode(), pre.encode()):
        return _login_page(request, "login.expired", 403)
    try:
        account = await run_in_threadpool(acc.authenticate, st.factory, form.get("username", ""),
                                          form.get("password", ""), cfg)
    except acc.LoginError as e:
        # The typed name is not recorded: people type passwords into the wrong field.
        await _audit_login(st, "login_locked" if e.reason == "locked" else "login_failed", "")
        return _login_page(request, "login.locked" if e.reason == "locked" else "login.invalid", 401)
    await _audit_login(st, "login", account.username)
    token, _ = await run_in_threadpool(acc.open_session, st.factory, account, cfg)
    resp = redirect(safe_next(form.get("next")))
    set_cookie(resp, request, COOKIE, token, max_age=int(cfg.session_hours * 3600))
    resp.delete_cookie(PRE_COOKIE, path=PREFIX)
    return resp


async def _audit_login(state: Any, action: str, username: str) -> None:
    """Sign-ins and refusals go to the hash-chained audit log (who accessed the console, and when)."""
    entry = AuditEntry(request_id=f"console-{secrets.token_hex(8)}", kind="console", user_pseudo="staff",
                       route="/console/login", model="-", action=action, status=200 if action == "login" else 401,
                       latency_ms=0.0, detail=f"console:{username}" if username else "")
    await run_in_threadpool(append, state.factory, state.key, [entry], keep_content=False)


@router.post("/logout")
@page("viewer")
async def logout(ctx: Ctx) -> Response:
    await run_in_threadpool(acc.close_session, ctx.state.factory, ctx.request.cookies.get(COOKIE, ""))
    resp = redirect(f"{PREFIX}/login")
    resp.delete_cookie(COOKIE, path=PREFIX)
    return resp


@router.post("/lang")
async def set_lang(request: Request) -> Response:
    """Switch language. The form carries the session's CSRF token, or the login form's before sign-in."""
    try:
        form = await read_form(request)
    except Problem as p:
        return error_page(request, lang_of(request), None, p)
    session = await current_session(request)
    expected = session.csrf if session else request.cookies.get(PRE_COOKIE, "")
    if not expected or not same_origin(request) or not hmac.compare_digest(form.get("csrf", "").encode(), expected.encode()):
        return error_page(request, lang_of(request), session, Problem(403, "csrf"))
    resp = redirect(safe_next(form.get("next")))
    set_cookie(resp, request, LANG_COOKIE, "en" if form.get("lang") == "en" else "zh", max_age=365 * 86400)
    return resp


# -- overview ------------------------------------------------------------------------------------


async def upstream_health(state: Any) -> list[dict[str, Any]]:
    """Ask each configured upstream for its model list (2 s budget each): up or down, and how fast."""
    from hegui.gateway.upstream import Target

    cfg = state.settings.gateway
    targets: list[tuple[str, Target]] = []
    if cfg.upstream_url:
        key = cfg.upstream_api_key.get_secret_value() if cfg.upstream_api_key else None
        targets.append(("*", Target(cfg.upstream_url.rstrip("/"), key, "")))
    for name, m in cfg.models.items():
        targets.append((name, Target(m.url.rstrip("/"), m.api_key.get_secret_value() if m.api_key else None, name)))

    async def probe(name: str, t: Target) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            await asyncio.wait_for(state.upstream.get_json(t, "/models"), timeout=2.0)
            ok, err = True, ""
        except Exception as e:
            ok, err = False, getattr(e, "code", type(e).__name__)
        host = t.base_url.split("//", 1)[-1].split("/", 1)[0]
        return {"model": name, "host": host, "ok": ok, "error": err, "ms": round((time.perf_counter() - t0) * 1000)}

    return list(await asyncio.gather(*(probe(n, t) for n, t in targets[:20])))


@router.get("/overview")
@page("viewer")
async def overview(ctx: Ctx) -> Response:
    st = ctx.state
    s = await run_in_threadpool(stats, st.factory, days=14)
    top_names = [r for r, _ in s.top_risks[:6]]
    series = {r: s.by_risk[r] for r in top_names}
    traffic = columns_svg(s.days, {ctx.t("requests"): s.requests}, title=ctx.t("traffic"))
    decisions = columns_svg(s.days, series, title=ctx.t("decisions_by_risk"))
    top = bar_chart_svg({_risk_label(r, ctx.lang): n for r, n in s.top_risks})
    from hegui.console import services

    extra = await services.overview_data(ctx)
    health = await upstream_health(st)
    return ctx.render("overview.html.j2", traffic=traffic, decisions=decisions, top=top, stats=s, health=health,
                      blocked_total=sum(s.blocked), redacted_total=sum(s.redacted), requests_total=sum(s.requests),
                      **extra)


def _risk_label(risk_id: str, lang: str) -> str:
    r = RISKS.get(risk_id)
    if r is None:
        return risk_id
    name = getattr(r, "name_zh" if lang == "zh" else "name_en", "") or ""
    return f"{risk_id} {name}"[:40]


# -- audit ---------------------------------------------------------------------------------------


def _audit_query(params: Any) -> AuditQuery:
    try:
        return query_from_params(params)
    except ValueError:
        raise Problem(400, "bad_time") from None


@router.get("/audit")
@page("viewer")
async def audit(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    q = _audit_query(params)
    rows = await run_in_threadpool(search, ctx.state.factory, ctx.state.key, q)
    keep = {k: params.get(k, "") for k in ("from", "to", "request_id", "user", "risk", "action", "kind")}
    return ctx.render("audit.html.j2", rows=rows, q=keep, searched=bool(params), verify_result=None)


@router.post("/audit/verify")
@page("viewer")
async def audit_verify(ctx: Ctx) -> Response:
    res = await run_in_threadpool(verify, ctx.state.factory, ctx.state.key)
    return ctx.render("audit.html.j2", rows=[], q={}, searched=False, verify_result=res)


# -- reports -------------------------------------------------------------------------------------


def reports_dir(ctx: Ctx) -> Path:
    cfg = ctx.state.settings.console
    return Path(cfg.reports_dir) if cfg.reports_dir else Path(ctx.state.settings.var_dir) / "reports"


def list_reports(root: Path, limit: int = 500) -> list[dict[str, Any]]:
    """HTML reports under ``root`` (three levels deep at most), newest first."""
    if not root.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for pattern in ("*.html", "*/*.html", "*/*/*.html"):
        for p in root.glob(pattern):
            if p.is_file() and not p.is_symlink():
                st = p.stat()
                found.append({"path": p.relative_to(root).as_posix(), "size": st.st_size,
                              "mtime": datetime.fromtimestamp(st.st_mtime, UTC)})
    found.sort(key=lambda r: r["mtime"], reverse=True)
    return found[:limit]


def resolve_report(root: Path, rel: str) -> Path:
    """``rel`` inside ``root`` as an existing HTML file; anything else (``..``, links, other types) → 404."""
    if not rel or "\x00" in rel or rel.startswith("/") or "\\" in rel:
        raise Problem(404, "not_found")
    base = root.resolve()
    p = (base / rel).resolve()
    if base not in p.parents or p.suffix.lower() != ".html" or not p.is_file():
        raise Problem(404, "not_found")
    return p


@router.get("/reports")
@page("viewer")
async def reports(ctx: Ctx) -> Response:
    root = reports_dir(ctx)
    rows = await run_in_threadpool(list_reports, root)
    return ctx.render("reports.html.j2", rows=rows, root=str(root), exists=root.is_dir())


@router.get("/reports/view")
@page("viewer")
async def report_view(ctx: Ctx) -> Response:
    p = resolve_report(reports_dir(ctx), ctx.request.query_params.get("path", ""))
    body = await run_in_threadpool(p.read_bytes)
    # The report is self-contained (inline CSS and SVG); it may run no script and reach nothing.
    headers = {**SECURITY_HEADERS, "Content-Security-Policy":
               "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"}
    return HTMLResponse(body, headers=headers, media_type=mimetypes.types_map[".html"])


# -- policy and notices --------------------------------------------------------------------------


@router.get("/policy")
@page("viewer")
async def policy(ctx: Ctx) -> Response:
    from hegui.console import services

    pol = ctx.state.guard.policy
    label = ctx.state.settings.gateway.label
    return ctx.render("policy.html.j2", policy=pol, label=label, detectors=[d.name for d in ctx.state.guard.detectors],
                      notices=services.notices_view(ctx), saved=ctx.request.query_params.get("saved") == "1",
                      editable=services.texts_editable(ctx))


@router.post("/policy/texts")
@page("admin")
async def policy_texts(ctx: Ctx) -> Response:
    from hegui.console import services

    await services.save_texts(ctx)
    return redirect(f"{PREFIX}/policy?saved=1")
