"""Applying `Guard` to requests and answers, and turning the outcome into audit entries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from hegui.audit import AuditEntry
from hegui.gateway.errors import GatewayError, moderation_failed, store_failed
from hegui.gateway.state import GatewayState, RequestContext, log
from hegui.guard import Verdict
from hegui.policy import Action, Role

_BIG = 20_000  # texts longer than this are checked in a worker thread, not on the event loop
# Detectors that wait on the network (an external judge): every check goes to a worker thread, or
# one slow judge call would stall every other request on the event loop.
NETWORK_DETECTORS = frozenset({"judge", "escalate"})


def offload_checks(detector_names: list[str]) -> bool:
    return any(n in NETWORK_DETECTORS for n in detector_names)


def check(state: GatewayState, text: str, role: Role) -> Verdict:
    t0 = time.perf_counter()
    v = state.guard.check(text, role)
    state.metrics.moderation_seconds.labels(role.value).observe(time.perf_counter() - t0)
    state.metrics.moderation.labels(role.value, "error" if v.error else v.action.value).inc()
    for r in v.risks:
        state.metrics.risks.labels(role.value, r).inc()
    return v


async def acheck(state: GatewayState, text: str, role: Role) -> Verdict:
    if state.offload_checks or len(text) > _BIG:
        return await run_in_threadpool(check, state, text, role)
    return check(state, text, role)


@dataclass(slots=True)
class Outcome:
    """The combined verdict over several texts (messages, choices)."""

    action: Action
    verdicts: list[Verdict]
    error: bool
    texts: list[str] = field(default_factory=list)

    @property
    def risks(self) -> list[str]:
        return list(dict.fromkeys(r for v in self.verdicts for r in v.risks))

    @property
    def refusal(self) -> str:
        for v in self.verdicts:
            if v.blocked and v.refusal:
                return v.refusal
        return "抱歉，我无法提供帮助。/ Sorry, I can't help with that."


async def moderate(state: GatewayState, texts: list[str], role: Role) -> Outcome:
    verdicts = [await acheck(state, t, role) for t in texts]
    error = any(v.error for v in verdicts)
    action = Action.ALLOW
    for v in verdicts:
        if v.action.severity > action.severity:
            action = v.action
    return Outcome(action, verdicts, error, list(texts))


def fail_closed_on_error(state: GatewayState, outcome: Outcome) -> None:
    if outcome.error:
        state.metrics.fail_closed.labels("moderation").inc()
        raise moderation_failed()


_PERSONAL = ("pii.", "hg.secret")


def pii_free(text: str, verdict: Verdict) -> str | None:
    """``text`` with every personal-information finding replaced by its tag, whatever the policy did
    with it (a blocked text, or a risk the policy allows, keeps its PII in ``verdict.redacted``).
    None when the text was never checked (a failed detector): it cannot be shown to be PII-free."""
    if verdict.error:
        return None
    spans = sorted((f.start, f.end, f.risk) for f in verdict.findings if f.has_span and f.risk.startswith(_PERSONAL))
    out: list[str] = []
    pos = 0
    for start, end, risk in spans:
        if start < pos:  # overlaps the previous span: widen it, one tag
            pos = max(pos, end)
            continue
        out.append(text[pos:start])
        out.append(f"<{risk.split('.', 1)[-1].upper()}>")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def audit_content(state: GatewayState, outcome: Outcome | None) -> str | None:
    """PII-free text for the audit row (no content at all when retention of content is off)."""
    if outcome is None or not state.settings.audit.store_content:
        return None
    parts = [pii_free(t, v) for t, v in zip(outcome.texts, outcome.verdicts, strict=True)]
    if any(p is None for p in parts):
        return None
    return "\n".join(p for p in parts if p is not None)


async def write_audit(
    state: GatewayState, ctx: RequestContext, *, status: int, inp: Outcome | None, out: Outcome | None,
    detail: str = "", raise_on_failure: bool = True,
) -> None:
    """One row for the request and one per moderation decision, in one transaction."""
    base: dict[str, Any] = {
        "request_id": ctx.request_id, "user_pseudo": ctx.user_pseudo, "route": ctx.route,
        "model": ctx.model or "-", "key_id": ctx.key.id if ctx.key else None,
    }
    entries: list[AuditEntry] = []
    for kind, outcome in (("input", inp), ("output", out)):
        if outcome is None:
            continue
        entries.append(AuditEntry(
            kind=kind, action="error" if outcome.error else outcome.action.value, status=status,
            latency_ms=sum(v.latency_ms for v in outcome.verdicts), risks=outcome.risks,
            content=audit_content(state, outcome), **base,
        ))
    worst = "allow"
    for o in (inp, out):
        if o is not None and o.action.value in ("block", "redact", "flag") and worst != "block":
            worst = o.action.value if worst == "allow" or o.action is Action.BLOCK else worst
    entries.append(AuditEntry(kind="request", action=worst, status=status, latency_ms=ctx.elapsed_ms(),
                              detail=detail, **base))
    try:
        await state.audit.write(entries, keep_content=state.settings.audit.store_content)  # group commit
    except Exception as e:
        state.metrics.fail_closed.labels("audit").inc()
        log.error("audit write failed", extra={"request_id": ctx.request_id, "error": type(e).__name__})
        if raise_on_failure:
            raise store_failed() from e


def bad_request(zh: str, en: str) -> GatewayError:
    return GatewayError(400, "invalid_request", zh, en)
