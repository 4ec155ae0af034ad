"""The service duties in the request path: sanctions, real-name identity, usage limits, strikes.

`install` adds one pre-check after authentication, `duties_check`, which for a user's generation
request also takes over the rate-limit count, so that the count, the sanction and identity reads
and the usage counter are one store transaction (a sanctioned user is refused with the reason; an
unverified user is refused or limited as the policy's `Duties` say; minors' limits, quiet hours
and reminders apply), one input hook (each blocked input is a strike;
Art. 19 abuse patterns are counted), the blocklist detector, and the routers. The checks apply to
the generation routes only: a suspended user can still read notices, appeal, complain and ask for
their data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Connection, String, and_, bindparam, cast, func, select, true

from hegui.complaints.service import StoreSource
from hegui.detect.blocklist import BlocklistDetector
from hegui.enforcement import service as enforcement
from hegui.enforcement.service import Thresholds
from hegui.gateway import admit_pg
from hegui.gateway.checks import bearer, invalid_api_key, rate_limit_of, rate_limited, settle_duties
from hegui.gateway.errors import GatewayError, store_failed
from hegui.gateway.state import GatewayState, RequestContext, in_thread, log
from hegui.identity import service as identity
from hegui.identity.providers import IdVerifier, MemorySender, SmsSender, make_sender, make_verifier
from hegui.identity.service import IdentityView
from hegui.notices import texts
from hegui.policy import Action, Duties
from hegui.store import keys as keystore
from hegui.store.engine import serialized_writes, transact, write_nowait
from hegui.store.keys import KeyInfo
from hegui.store.models import ApiKey, RateWindow
from hegui.usage import service as usage
from hegui.usage.service import UsageResult

GENERATION_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions"})


@dataclass(slots=True)
class Services:
    duties: Duties
    thresholds: Thresholds
    verifier: IdVerifier
    sender: SmsSender
    blocklist: BlocklistDetector | None = None
    aio_duties: bool = False  # PostgreSQL, count_scope all: the duties' two queries on the event loop
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


def _read_stmt(dialect: str, *, counting: bool = False) -> Any:
    """One statement for everything the duties read about a user: standing, identity, whether the
    disclosure was shown, the key's requests this minute, and whether the key is still live
    (``key_live``: its id, NULL once revoked — so the gateway's key cache need not look the key up
    again for a user's generation request, `KeyCache.get_refreshing`'s ``checked_later``) — left
    joins from the account, so a missing row reads as NULLs. Built once per dialect; on
    PostgreSQL it also turns off the wait for the WAL flush at commit for this transaction
    (``set_config(…, true)`` is ``SET LOCAL``): counters and this minute's rate window need not
    survive a server crash, and it saves a statement. The audit rows, written by their own
    transactions, still wait for it.

    ``counting`` (PostgreSQL only): the statement also counts the request against the key's rate
    limit — the rate-window upsert as a data-modifying CTE whose RETURNING gives ``rate_count`` —
    so the count and the read are one round trip instead of two. The read's snapshot is taken at
    the statement's start, as the separate read's was right after the count; the upsert itself
    counts on the latest row under its row lock, exactly as the separate statement did."""
    from hegui.enforcement.models import Standing
    from hegui.identity.models import Identity
    from hegui.usage.models import UsageSession

    st, ide, us, rw, ak = (Standing.__table__, Identity.__table__, UsageSession.__table__, RateWindow.__table__,
                           ApiKey.__table__)
    acct = select(cast(bindparam("a"), String(64)).label("a")).subquery("x")
    cols: list[Any] = [st.c[c].label(f"st_{c}") for c in _STANDING_COLS]
    cols += [ide.c[c].label(f"id_{c}") for c in _IDENTITY_COLS]
    cols.append(us.c.notice_shown_at.label("notice_shown_at"))
    cols.append(ak.c.id.label("key_live"))
    joined = (acct.outerjoin(st, st.c.account == acct.c.a).outerjoin(ide, ide.c.account == acct.c.a)
              .outerjoin(us, us.c.account == acct.c.a)
              .outerjoin(ak, and_(ak.c.id == bindparam("key_id"), ak.c.revoked_at.is_(None))))
    if counting:
        if dialect != "postgresql":
            raise ValueError("the counting read is PostgreSQL's (SQLite has no data-modifying CTEs)")
        hit = keystore.count_statement(dialect).cte("hit")
        cols.append(hit.c.count.label("rate_count"))
        joined = joined.join(hit, true())
    else:
        cols.append(rw.c.count.label("rate_count"))
        joined = joined.outerjoin(rw, and_(rw.c.key_id == bindparam("key_id"), rw.c.window == bindparam("window")))
    if dialect == "postgresql":
        cols.append(func.set_config("synchronous_commit", "off", True).label("async_commit"))
    return select(*cols).select_from(joined)


_STANDING_COLS = ("account", "status", "suspended_until", "reason", "strikes_total", "consecutive", "day",
                  "day_strikes", "suspensions", "warnings", "flood_minute")
_IDENTITY_COLS = ("account", "id_hash", "id_last4", "id_verified", "mobile_hash", "mobile_last4", "mobile_verified",
                  "minor_until", "age_known", "method")
_READS: dict[tuple[str, bool], Any] = {}  # (dialect, counting) → statement, built on first use


def _row_part(row: Any, prefix: str, cols: tuple[str, ...]) -> Any:
    """The columns of one joined table as an object with attributes, or None when its row is missing."""
    if getattr(row, prefix + "account") is None:
        return None
    return SimpleNamespace(**{c: getattr(row, prefix + c) for c in cols})


@dataclass(slots=True)
class Admission:
    """What the duties' one transaction found and decided for a request."""

    standing: dict[str, Any] = field(default_factory=dict)
    identity: IdentityView | None = None
    minute: int = 0
    minute_requests: int = 0
    notice_shown: bool = False
    flood_minute: int | None = None  # the minute a flood was last recorded for this user, as read
    usage: UsageResult | None = None
    refusal: GatewayError | None = None
    key_live: bool = True  # False: the read found the key revoked (or gone); ``refusal`` says so


def real_name_required() -> GatewayError:
    return GatewayError(403, "real_name_required",
                        "请先完成实名认证：POST /v1/hegui/identity（姓名与身份证号，或手机号）",
                        "please verify your real identity first: POST /v1/hegui/identity (name and ID number, or mobile)")


def admit(state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None, *,
          now: float | None = None) -> Admission:
    """The store work of the duties for one generation request, in ONE transaction on one pooled
    connection (one thread hop): count the request against the key's rate limit, read standing,
    identity and the disclosure flag, and count usage — in the order the checks refuse (rate limit,
    sanction, real name, usage limits), stopping at the first refusal, which is returned, not
    raised, so that what was counted before it (the rate window) is still committed.

    Core statements built once, not ORM sessions: these were three or four transactions per
    request through the ORM, the largest CPU cost of a user's request after the Guard checks. On
    PostgreSQL, when every admitted request counts usage (the default), the same statements go
    out in two round trips (`hegui.gateway.admit_pg`)."""
    now = time.time() if now is None else now
    if state.engine.dialect.name == "postgresql" and admit_pg.applies(state.settings):
        return admit_pg.admit(state, account, key, rate_limit, now)
    with serialized_writes(state.factory):
        return transact(state.engine, lambda conn: _admit_on(conn, state, account, key, rate_limit, now))


def admit_nowait(state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None, *,
                 now: float | None = None) -> Admission | None:
    """`admit` on the calling thread (the gateway's event loop), on SQLite only and only when no
    other writer is in the way (`hegui.store.engine.write_nowait`); None, nothing written,
    otherwise: the caller then runs `admit` in a thread, which waits its turn.

    Why: the transaction is ≈ 0.23 CPU ms; from a worker thread a busy loop made it wait 2–13 ms
    (the hop there and back, and the interpreter lock). 32 users' keys on SQLite, two alternated
    pairs: added p50 +5.1…+5.2 → +3.9…+4.0 ms, 3.2 → 2.7 CPU ms per request (BENCHMARKS.md,
    "Users' keys pass")."""
    if state.engine.dialect.name != "sqlite":
        return None
    now = time.time() if now is None else now
    done, adm = write_nowait(state.engine, lambda conn: _admit_on(conn, state, account, key, rate_limit, now))
    return adm if done else None


@dataclass(slots=True)
class UsageCall:
    """What `usage.record_on` is to count for an admitted request (`decide` found it needed)."""

    minor: bool
    remind: bool
    daily_request_cap: int | None
    want_notice: bool


def revoked(row: Any, minute: int, count: int | None) -> Admission | None:
    """The refusal of a request whose key the duties' read found revoked (checked before the
    rate limit: a revoked key is told so, not to slow down), or None."""
    if row.key_live is not None:
        return None
    return Admission(minute=minute, minute_requests=count or 0, refusal=invalid_api_key(), key_live=False)


def decide(state: GatewayState, row: Any, count: int | None, minute: int) -> tuple[Admission, UsageCall | None]:
    """From the duties' read (and the rate count, already checked): the admission with its
    refusal if the sanction or real-name checks refuse, and whether usage is to be counted."""
    s, svc = state.settings, services_of(state)
    view = identity.view_of(_row_part(row, "id_", _IDENTITY_COLS), s.identity, dt.date.today())
    adm = Admission(standing=enforcement.standing_json(_row_part(row, "st_", _STANDING_COLS)), identity=view,
                    minute=minute, minute_requests=count if count is not None else int(row.rate_count or 0),
                    notice_shown=row.notice_shown_at is not None, flood_minute=row.st_flood_minute)
    if s.enforcement.enabled and (err := enforcement.refusal_for(adm.standing)) is not None:
        adm.refusal = err
        return adm, None
    if not view.verified and svc.unverified == "refuse":
        adm.refusal = real_name_required()
        return adm, None
    cap = s.identity.unverified_daily_requests if (not view.verified and svc.unverified == "limit") else None
    remind = svc.duties.anti_addiction_scope == "all" or view.minor
    # With count_scope "limited", a user no limit or reminder applies to is not counted (less
    # work per request), except once for the disclosure.
    needed = (s.usage.count_scope == "all" or view.minor or remind or cap is not None
              or (s.notices.once_in_chat and not adm.notice_shown))
    if not (s.usage.enabled and needed):
        return adm, None
    return adm, UsageCall(minor=view.minor, remind=remind, daily_request_cap=cap, want_notice=s.notices.once_in_chat)


def read_statement(dialect: str, counting: bool) -> Any:
    read = _READS.get((dialect, counting))
    if read is None:
        read = _READS[dialect, counting] = _read_stmt(dialect, counting=counting)
    return read


def _admit_on(conn: Connection, state: GatewayState, account: str, key: KeyInfo, rate_limit: int | None,
              now: float) -> Admission:
    """`admit`'s statements, inside its transaction. On PostgreSQL, with a rate limit, the count is
    part of the read (`_read_stmt` ``counting``): on a refusal the read's columns are simply not
    used, so the request gets what the separate count's early return gave it."""
    minute = int(now // 60)
    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    count: int | None = None
    if rate_limit is not None and dialect == "sqlite":
        count = keystore.hit_on(conn, key.id, now=now)
    counting = rate_limit is not None and dialect == "postgresql"
    row = conn.execute(read_statement(dialect, counting), {"a": account, "key_id": key.id, "window": minute}).one()
    if counting:
        count = int(row.rate_count)
        keystore.counted(conn, key.id, minute, count)
    if (gone := revoked(row, minute, count)) is not None:
        return gone
    if rate_limit is not None and count is not None and count > rate_limit:
        return Admission(minute=minute, minute_requests=count, refusal=rate_limited(rate_limit))
    adm, call = decide(state, row, count, minute)
    if call is not None:
        try:
            adm.usage = usage.record_on(conn, state.settings.usage, account, minor=call.minor, remind=call.remind,
                                        daily_request_cap=call.daily_request_cap, want_notice=call.want_notice)
        except GatewayError as e:  # nothing was counted; the rate window still is
            adm.refusal = e
    return adm


async def duties_check(state: GatewayState, ctx: RequestContext) -> None:
    """The pre-check of the duties (after authentication): rate limit, sanctions, real name, usage
    limits, minors' hours, reminders and the one-time disclosure — one store call (`admit`)."""
    if not applies(ctx):
        return
    assert ctx.key is not None
    limit = rate_limit_of(state, ctx.key)
    checked = time.monotonic()  # the read below sees the key as of (at least) now
    try:
        if state.aio_store is not None and services_of(state).aio_duties:  # PostgreSQL: on the event loop
            adm, committed = await admit_pg.admit_early(state.aio_store, state, ctx.user_pseudo, ctx.key, limit)
            if ctx.defer_duties_commit and adm.refusal is None:
                ctx.duties_commit = committed  # the route awaits it before the answer (`checks.settle_duties`)
            else:
                await asyncio.shield(committed)
        else:
            adm = admit_nowait(state, ctx.user_pseudo, ctx.key, limit)
            if adm is None:
                adm = await in_thread(admit, state, ctx.user_pseudo, ctx.key, limit)
    except GatewayError:
        raise
    except Exception as e:  # the store failed: refused, and counted as `authenticate` counts its own
        state.metrics.fail_closed.labels("store").inc()
        raise store_failed() from e
    if not adm.key_live:  # revoked since this process cached it: refused like an unknown key (not audited)
        state.keys.forget(ctx.key.id)
        ctx.key, ctx.user_pseudo = None, "anonymous"
        raise adm.refusal or invalid_api_key()
    token = bearer(ctx)
    if token is not None:
        state.keys.confirm(token, checked)
    ctx.extra.update(standing=adm.standing, identity=adm.identity, minute=adm.minute,
                     minute_requests=adm.minute_requests, notice_shown=adm.notice_shown,
                     flood_minute=adm.flood_minute)
    if adm.refusal is not None:
        raise adm.refusal
    s = state.settings
    if adm.usage is not None:
        res = adm.usage
        notes: list[dict[str, str]] = ctx.extra.setdefault("notices", [])
        if res.first_notice:
            notes.append({"kind": "disclosure", "zh": texts.chat_disclosure(s, "zh"), "en": texts.chat_disclosure(s, "en")})
        if res.reminder_minutes is not None:
            m = res.reminder_minutes
            notes.append({"kind": "reminder", "zh": texts.reminder(s, "zh", m), "en": texts.reminder(s, "en", m)})
    if s.enforcement.enabled and s.enforcement.flood_rpm:
        await _flood(state, ctx)


async def _flood(state: GatewayState, ctx: RequestContext) -> None:
    """A user over ``flood_rpm`` this minute: record the flood (once a minute) and refuse if that
    suspends them. Past the first, a flood minute is already recorded, which the duties' read saw
    (``flood_minute``): no store transaction then — every request of a flooding user took one,
    locking the user's standing row, exactly when that user sends the most."""
    cfg = state.settings.enforcement
    if ctx.extra["minute_requests"] <= cfg.flood_rpm or ctx.extra.get("flood_minute") == ctx.extra["minute"]:
        return
    await settle_duties(state, ctx)  # this user's rows: after the duties' commit (see `on_input`)
    st = await _store(enforcement.flood, state.factory, state.key, cfg, services_of(state).thresholds, ctx.user_pseudo,
                      ctx.extra["minute"])
    if st is not None and (err := enforcement.refusal_for(st)) is not None:
        raise err


async def on_input(state: GatewayState, ctx: RequestContext, inp: Any) -> None:
    """After input moderation: a blocked input is a strike; abuse-pattern risks are counted."""
    cfg = state.settings.enforcement
    if not applies(ctx):
        return
    blocked = inp.action is Action.BLOCK
    risks = [r for r in inp.risks if not r.startswith("pii.")] or list(inp.risks)
    abuse = sorted({cfg.abuse_risks[r] for r in risks if r in cfg.abuse_risks}) if cfg.enabled else []
    run = ctx.extra.get("standing", {}).get("consecutive", 1)  # a run of strikes in progress
    if not blocked and not abuse and not (cfg.enabled and run):
        return  # nothing to write (most requests)
    # The writes below are this user's rows, so the duties' commit comes first (on PostgreSQL it may
    # still be under way, `admit_pg.admit_early`): a new user's session row is not even visible to
    # another transaction before it, and an update would miss it.
    await settle_duties(state, ctx)
    if blocked and any(n["kind"] == "disclosure" for n in ctx.extra.get("notices", ())):
        await _store(usage.disclosure_not_shown, state.factory, ctx.user_pseudo)  # a refusal carries no notices
    if not cfg.enabled:
        return
    th = services_of(state).thresholds
    if blocked:
        await _store(enforcement.strike, state.factory, state.key, cfg, th, ctx.user_pseudo, risks, abuse=abuse)
    else:
        if run:  # only a run in progress needs the write
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
    svc.aio_duties = state.engine.dialect.name == "postgresql" and admit_pg.applies(s)
    state.pre_checks.append(duties_check)
    state.rate_counted_later = lambda ctx, key: ctx.route in GENERATION_ROUTES and key.role != "admin"
    state.key_checked_later = state.rate_counted_later  # the same requests: the read checks the key too
    state.input_hooks.append(on_input)
    app.include_router(service_routes.router)
    app.include_router(service_routes.admin_router)
    return svc
