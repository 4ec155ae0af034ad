"""The service duties in the request path: sanctions, real-name identity, usage limits, strikes.

`install` adds three pre-checks after authentication and the rate limit (a sanctioned user is
refused with the reason; an unverified user is refused or limited as the policy's `Duties` say;
minors' limits, quiet hours and reminders apply), one input hook (each blocked input is a strike;
Art. 19 abuse patterns are counted), the blocklist detector, and the routers. The checks apply to
the generation routes only: a suspended user can still read notices, appeal, complain and ask for
their data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from hegui.complaints.service import StoreSource
from hegui.detect.blocklist import BlocklistDetector
from hegui.enforcement import service as enforcement
from hegui.enforcement.service import Thresholds
from hegui.gateway.errors import GatewayError, store_failed
from hegui.gateway.state import GatewayState, RequestContext, in_thread, log
from hegui.identity import service as identity
from hegui.identity.providers import IdVerifier, MemorySender, SmsSender, make_sender, make_verifier
from hegui.notices import texts
from hegui.policy import Action, Duties
from hegui.store.models import RateWindow
from hegui.usage import service as usage
from hegui.usage.models import UsageSession

GENERATION_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})


@dataclass(slots=True)
class Services:
    duties: Duties
    thresholds: Thresholds
    verifier: IdVerifier
    sender: SmsSender
    blocklist: BlocklistDetector | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unverified(self) -> str:
        """What happens to unverified users: the policy's ``unverified_users``, except that a policy
        requiring real names never lets them in unlimited ("allow" is read as "refuse")."""
        u = self.duties.unverified_users
        if u not in ("refuse", "limit", "allow"):
            return "refuse"  # an unknown value fails closed
        return "refuse" if u == "allow" and self.duties.require_real_name else u


def services_of(state: GatewayState) -> Services:
    return state.services  # type: ignore[no-any-return]


def applies(ctx: RequestContext) -> bool:
    return ctx.route in GENERATION_ROUTES and ctx.key is not None and ctx.key.role != "admin"


async def _store(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call in a thread; a store failure refuses the request (fail closed)."""
    try:
        return await in_thread(fn, *args, **kwargs)
    except GatewayError:
        raise
    except Exception as e:
        raise store_failed() from e


def snapshot(state: GatewayState, account: str, key_id: int | None) -> dict[str, Any]:
    """What the pre-checks read, in one session (one pooled connection): standing, identity, and
    this key's requests in the current minute (for the flood pattern)."""
    import datetime as dt
    import time

    from hegui.enforcement.models import Standing
    from hegui.identity.models import Identity

    minute = int(time.time() // 60)
    with state.factory() as s:
        out: dict[str, Any] = {
            "standing": enforcement.standing_json(s.get(Standing, account)),
            "identity": identity.view_of(s.get(Identity, account), state.settings.identity, dt.date.today()),
            "minute": minute, "minute_requests": 0,
            "notice_shown": s.execute(select(UsageSession.notice_shown_at).where(UsageSession.account == account))
                            .scalar() is not None,
        }
        if key_id is not None and state.settings.enforcement.flood_rpm:
            n = s.execute(select(RateWindow.count).where(RateWindow.key_id == key_id, RateWindow.window == minute)).scalar()
            out["minute_requests"] = int(n or 0)
    return out


async def sanction_check(state: GatewayState, ctx: RequestContext) -> None:
    if not applies(ctx):
        return
    snap = await _store(snapshot, state, ctx.user_pseudo, ctx.key.id if ctx.key else None)
    ctx.extra.update(standing=snap["standing"], identity=snap["identity"], minute=snap["minute"],
                     minute_requests=snap["minute_requests"], notice_shown=snap["notice_shown"])
    if not state.settings.enforcement.enabled:
        return
    err = enforcement.refusal_for(snap["standing"])
    if err is not None:
        raise err


async def identity_check(state: GatewayState, ctx: RequestContext) -> None:
    if not applies(ctx):
        return
    view = ctx.extra.get("identity")
    if view is None:
        view = ctx.extra["identity"] = await _store(identity.view, state.factory, state.settings.identity, ctx.user_pseudo)
    if not view.verified and services_of(state).unverified == "refuse":
        raise GatewayError(403, "real_name_required",
                           "请先完成实名认证：POST /v1/hegui/identity（姓名与身份证号，或手机号）",
                           "please verify your real identity first: POST /v1/hegui/identity (name and ID number, or mobile)")


async def usage_check(state: GatewayState, ctx: RequestContext) -> None:
    if not applies(ctx):
        return
    s, svc = state.settings, services_of(state)
    view = ctx.extra.get("identity")
    if view is None:
        view = await _store(identity.view, state.factory, s.identity, ctx.user_pseudo)
    cap = s.identity.unverified_daily_requests if (not view.verified and svc.unverified == "limit") else None
    remind = svc.duties.anti_addiction_scope == "all" or view.minor
    # With count_scope "limited", a user no limit or reminder applies to is not counted (one write
    # transaction less per request), except once for the disclosure.
    needed = (s.usage.count_scope == "all" or view.minor or remind or cap is not None
              or (s.notices.once_in_chat and not ctx.extra.get("notice_shown", False)))
    if s.usage.enabled and needed:
        res = await _store(usage.record, state.factory, s.usage, ctx.user_pseudo, minor=view.minor,
                           remind=remind, daily_request_cap=cap, want_notice=s.notices.once_in_chat)
        notes: list[dict[str, str]] = ctx.extra.setdefault("notices", [])
        if res.first_notice:
            notes.append({"kind": "disclosure", "zh": texts.chat_disclosure(s, "zh"), "en": texts.chat_disclosure(s, "en")})
        if res.reminder_minutes is not None:
            m = res.reminder_minutes
            notes.append({"kind": "reminder", "zh": texts.reminder(s, "zh", m), "en": texts.reminder(s, "en", m)})
    if s.enforcement.enabled and s.enforcement.flood_rpm and ctx.key is not None:
        await _flood(state, ctx)


async def _flood(state: GatewayState, ctx: RequestContext) -> None:
    cfg = state.settings.enforcement
    if "minute_requests" not in ctx.extra:
        snap = await _store(snapshot, state, ctx.user_pseudo, ctx.key.id if ctx.key else None)
        ctx.extra.update(minute=snap["minute"], minute_requests=snap["minute_requests"])
    if ctx.extra["minute_requests"] <= cfg.flood_rpm:
        return
    st = await _store(enforcement.flood, state.factory, state.key, cfg, services_of(state).thresholds, ctx.user_pseudo,
                      ctx.extra["minute"])
    if st is not None and (err := enforcement.refusal_for(st)) is not None:
        raise err


async def on_input(state: GatewayState, ctx: RequestContext, inp: Any) -> None:
    """After input moderation: a blocked input is a strike; abuse-pattern risks are counted."""
    cfg = state.settings.enforcement
    if not applies(ctx):
        return
    if inp.action is Action.BLOCK and any(n["kind"] == "disclosure" for n in ctx.extra.get("notices", ())):
        await _store(usage.disclosure_not_shown, state.factory, ctx.user_pseudo)  # a refusal carries no notices
    if not cfg.enabled:
        return
    risks = [r for r in inp.risks if not r.startswith("pii.")] or list(inp.risks)
    abuse = sorted({cfg.abuse_risks[r] for r in risks if r in cfg.abuse_risks})
    th = services_of(state).thresholds
    if inp.action is Action.BLOCK:
        await _store(enforcement.strike, state.factory, state.key, cfg, th, ctx.user_pseudo, risks, abuse=abuse)
    else:
        if ctx.extra.get("standing", {}).get("consecutive", 1):  # only a run in progress needs the write
            await _store(enforcement.clean_input, state.factory, ctx.user_pseudo)
        if abuse:
            await _store(enforcement.strike, state.factory, state.key, cfg, th, ctx.user_pseudo, risks, abuse=abuse, count=False)


def feed_blocklist(state: GatewayState, entry_id: int, canon: str) -> None:
    """Put a new blocklist entry into this worker's detector at once (others reload from the store)."""
    bl = services_of(state).blocklist
    if bl is not None:
        bl.add(canon, entry_id, is_canonical=True)
        bl.invalidate()


def decide_complaint(state: GatewayState, ref: str, decision: str, actor: str, *, reason: str,
                     safe_answer: str = "") -> dict[str, Any]:
    """Uphold or reject a complaint with everything around it: an upheld content complaint feeds
    the blocklist detector at once; an upheld appeal lifts the sanction. (Admin API and console.)"""
    from contextlib import suppress

    from hegui.complaints import service as complaints

    svc = services_of(state)

    def appeal(account: str, why: str) -> None:
        with suppress(GatewayError):  # not (or no longer) sanctioned
            enforcement.admin_action(state.factory, state.key, state.settings.enforcement, svc.thresholds, account,
                                     "lift", why, actor)

    return complaints.decide(state.factory, state.settings.complaints, ref, decision, actor, reason=reason,
                             safe_answer=safe_answer, deadline_days=svc.duties.optimisation_deadline_days,
                             on_blocklisted=lambda i, c: feed_blocklist(state, i, c), on_appeal=appeal)


def _overdue_gauge(state: GatewayState) -> None:
    """``hegui_complaints_overdue``: open complaints past their due date, counted at each scrape, so
    the operator's alerting (Prometheus rules) sees missed time limits."""
    from prometheus_client import Gauge

    from hegui.complaints import service as complaints

    def count() -> float:
        try:
            return float(complaints.overdue_count(state.factory))
        except Exception:
            return float("nan")  # store down: visible as missing data, not as zero

    g = Gauge("hegui_complaints_overdue", "Open complaints past their published time limit", registry=state.metrics.registry)
    g.set_function(count)


def install(app: FastAPI, state: GatewayState) -> Services:
    """Wire the service duties into ``state`` and ``app`` (called by the app factory)."""
    from hegui.gateway import service_routes

    s = state.settings
    duties = state.guard.policy.duties
    svc = Services(duties=duties, thresholds=Thresholds.of(s.enforcement, duties),
                   verifier=make_verifier(s.identity), sender=make_sender(s.identity.sms))
    if s.complaints.enabled:
        bl = next((d for d in state.guard.detectors if isinstance(d, BlocklistDetector)), None)
        if bl is None:
            bl = BlocklistDetector(containment=s.complaints.blocklist_containment)
            state.guard.detectors.append(bl)
        bl.source, bl.refresh_s = StoreSource(state.factory), s.complaints.blocklist_refresh_s
        bl.invalidate()
        svc.blocklist = bl
    if isinstance(svc.sender, MemorySender):
        log.warning("identity.sms.sender is 'memory': one-time codes are kept in memory, not delivered "
                    "(development only; configure an SMS gateway for production)")
    if duties.require_real_name and s.identity.id_verifier == "offline":
        log.warning("the policy requires real names but identity.id_verifier is 'offline': ID numbers are "
                    "checked for structure only, not against the holder's name (configure identity.http)")
    if s.complaints.enabled:
        _overdue_gauge(state)
    state.services = svc
    state.pre_checks.extend([sanction_check, identity_check, usage_check])
    state.input_hooks.append(on_input)
    app.include_router(service_routes.router)
    app.include_router(service_routes.admin_router)
    return svc
