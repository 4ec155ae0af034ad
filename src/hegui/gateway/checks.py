"""The built-in pre-request checks: authentication and the per-key rate limit."""

from __future__ import annotations

import asyncio
import logging

from hegui.audit.pseudonym import pseudonymize
from hegui.gateway.errors import GatewayError, store_failed
from hegui.gateway.state import GatewayState, RequestContext, in_thread
from hegui.store import keys as keystore

log = logging.getLogger("hegui.gateway")


def bearer(ctx: RequestContext) -> str | None:
    auth = ctx.request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return ctx.request.headers.get("x-api-key") or None


def invalid_api_key() -> GatewayError:
    return GatewayError(401, "invalid_api_key", "API 密钥无效或已吊销", "invalid or revoked API key")


async def authenticate(state: GatewayState, ctx: RequestContext) -> None:
    """Attribute the request to a live key, or refuse it (401). A key seen in the last
    ``store.key_cache_s`` seconds needs no store call (`KeyCache`); nor, for up to its
    ``known_s``, one whose liveness a later check reads itself (`GatewayState.key_checked_later`:
    the service duties, for a user's generation request)."""
    token = bearer(ctx)
    if not token:
        raise GatewayError(401, "missing_api_key", "缺少 API 密钥（Authorization: Bearer …）",
                           "missing API key (Authorization: Bearer …)")
    info, refresh = state.keys.get_refreshing(token, lambda key: state.key_checked_later(ctx, key))
    if refresh:  # in use and near its expiry: looked up again off the request's path
        _refresh_later(state, token)
    count: int | None = None
    try:
        if info is None:
            info, count = await in_thread(_lookup_and_count, state, ctx, token)
        elif _count_now(state, ctx, info):
            count = await in_thread(keystore.hit, state.factory, info.id)
    except Exception as e:
        state.metrics.fail_closed.labels("store").inc()
        raise store_failed() from e
    if info is None:
        raise invalid_api_key()
    ctx.key = info
    ctx.user_pseudo = pseudonymize(state.key, info.user)
    if count is not None:
        ctx.extra["rate_count"] = count


async def settle_duties(state: GatewayState, ctx: RequestContext) -> None:
    """Await the duties' commit that `services.duties_check` handed over (`RequestContext.duties_commit`);
    a store failure there refuses the request like one in the duties themselves. Routes that set
    ``defer_duties_commit`` call this before auditing or releasing anything of an answer."""
    committed, ctx.duties_commit = ctx.duties_commit, None
    if committed is None:
        return
    try:
        await asyncio.shield(committed)  # a cancelled request must not cancel the transaction's task
    except Exception as e:
        state.metrics.fail_closed.labels("store").inc()
        raise store_failed() from e


def _refresh_later(state: GatewayState, token: str) -> None:
    async def run() -> None:
        try:
            await in_thread(state.keys.refresh, state.factory, token)
        except Exception as e:  # the entry just expires; the next lookup fails closed if the store is down
            log.warning("key refresh failed", extra={"error": type(e).__name__})

    state.spawn(run())  # held until done, and drained on shutdown like the other background work


def rate_limit_of(state: GatewayState, key: keystore.KeyInfo) -> int | None:
    """The requests per minute ``key`` may make, or None when no limit applies."""
    if rate_limit not in state.pre_checks:
        return None
    return (key.rate_limit_rpm if key.rate_limit_rpm is not None else state.settings.gateway.rate_limit_rpm) or None


def rate_limited(limit: int) -> GatewayError:
    return GatewayError(429, "rate_limited", f"请求过于频繁（每分钟 {limit} 次），请稍后再试",
                        f"too many requests ({limit} per minute); try again shortly", headers={"Retry-After": "60"})


def _count_now(state: GatewayState, ctx: RequestContext, key: keystore.KeyInfo) -> bool:
    return rate_limit_of(state, key) is not None and not state.rate_counted_later(ctx, key)


def _lookup_and_count(state: GatewayState, ctx: RequestContext, token: str) -> tuple[keystore.KeyInfo | None, int | None]:
    """The key, and (when `rate_limit` follows, a limit applies and no later check counts it) its
    request counted in the same worker-thread call: one thread hop per request instead of two."""
    info = state.keys.lookup(state.factory, token)
    if info is None or not _count_now(state, ctx, info):
        return info, None
    return info, keystore.hit(state.factory, info.id)


async def rate_limit(state: GatewayState, ctx: RequestContext) -> None:
    """Requests per minute per key, counted in the store so all workers share one budget."""
    if ctx.key is None:
        return
    limit = rate_limit_of(state, ctx.key)
    if limit is None or state.rate_counted_later(ctx, ctx.key):
        return
    try:
        count = ctx.extra.pop("rate_count", None)
        if count is None:  # not counted by `authenticate` (a custom pre-check order)
            count = await in_thread(keystore.hit, state.factory, ctx.key.id)
    except Exception as e:
        state.metrics.fail_closed.labels("store").inc()
        raise store_failed() from e
    if count > limit:
        raise rate_limited(limit)


async def require_admin(state: GatewayState, ctx: RequestContext) -> None:
    if ctx.key is None or ctx.key.role != "admin":
        raise GatewayError(403, "admin_only", "需要管理员密钥", "an admin key is required")


DEFAULT_CHECKS = (authenticate, rate_limit)
