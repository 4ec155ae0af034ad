"""Strikes, suspension, termination, abuse patterns and the admin's actions.

Every change to a user's counters happens under the lock of their `Standing` row, taken by an
``UPDATE`` as the first statement of the transaction (a row lock on PostgreSQL, the write lock on
SQLite), so parallel strikes never lose an update. Each action is written to the sanction events
and to the hash-chained audit log (risk ids and reasons only; never the blocked text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit import AuditEntry, append
from hegui.enforcement.config import EnforcementConfig
from hegui.enforcement.models import SanctionEvent, Standing
from hegui.gateway.errors import GatewayError
from hegui.policy import Duties


@dataclass(frozen=True, slots=True)
class Thresholds:
    consecutive: int
    per_day: int
    before_termination: int

    @classmethod
    def of(cls, cfg: EnforcementConfig, duties: Duties) -> Thresholds:
        return cls(cfg.strikes_consecutive or duties.strikes_consecutive,
                   cfg.strikes_per_day or duties.strikes_per_day,
                   cfg.suspensions_before_termination or duties.suspensions_before_termination)


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def _ensure(s: Session, account: str) -> None:
    ins = (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert(Standing)
    s.execute(ins.values(account=account, status="active", reason="", strikes_total=0, consecutive=0, day="",
                         day_strikes=0, day_abuse=0, suspensions=0, warnings=0, flood_minute=0)
              .on_conflict_do_nothing(index_elements=["account"]))


def _locked(s: Session, account: str) -> Standing:
    """The account's row, locked for the rest of the transaction."""
    _ensure(s, account)
    s.execute(update(Standing).where(Standing.account == account).values(account=Standing.account))
    return s.execute(select(Standing).where(Standing.account == account).with_for_update()).scalar_one()


def standing_json(st: Standing | None, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if st is None:
        return {"status": "active", "strikes_total": 0, "consecutive": 0, "day_strikes": 0, "suspensions": 0,
                "warnings": 0, "suspended_until": None, "reason": ""}
    status = st.status
    until = _aware(st.suspended_until)
    if status == "suspended" and until is not None and until <= now:
        status = "active"
    return {"status": status, "strikes_total": st.strikes_total, "consecutive": st.consecutive,
            "day_strikes": st.day_strikes if st.day == now.date().isoformat() else 0, "suspensions": st.suspensions,
            "warnings": st.warnings, "suspended_until": until.isoformat() if until and status == "suspended" else None,
            "reason": st.reason if status != "active" else ""}


def get_standing(factory: sessionmaker[Session], account: str) -> dict[str, Any]:
    with factory() as s:
        return standing_json(s.get(Standing, account))


def _event(s: Session, audit: list[AuditEntry], account: str, kind: str, now: datetime, *, risks: Sequence[str] = (),
           reason: str = "", actor: str = "system") -> None:
    s.add(SanctionEvent(account=account, ts=now, kind=kind, risks=",".join(risks)[:256], reason=reason[:256], actor=actor[:64]))
    audit.append(AuditEntry(request_id=f"sanction-{kind}", kind="sanction", user_pseudo=account, route="/enforcement",
                            model="-", action=kind, status=200, latency_ms=0.0, risks=list(risks),
                            detail=f"{actor}: {reason}"[:128]))


def _suspend(s: Session, st: Standing, audit: list[AuditEntry], now: datetime, hours: float, th: Thresholds,
             reason: str, actor: str, risks: Sequence[str] = ()) -> None:
    st.suspensions += 1
    st.consecutive = 0
    st.day_strikes = 0
    st.day_abuse = 0
    if st.suspensions >= th.before_termination:
        st.status, st.suspended_until = "terminated", None
        st.reason = f"累计暂停 {st.suspensions} 次 / terminated after {st.suspensions} suspensions ({reason})"[:256]
        _event(s, audit, st.account, "terminate", now, risks=risks, reason=st.reason, actor=actor)
        return
    st.status, st.suspended_until, st.reason = "suspended", now + timedelta(hours=hours), reason[:256]
    _event(s, audit, st.account, "suspend", now, risks=risks, reason=reason, actor=actor)


def _roll_day(st: Standing, now: datetime) -> None:
    today = now.date().isoformat()
    if st.day != today:
        st.day, st.day_strikes, st.day_abuse = today, 0, 0
    until = _aware(st.suspended_until)
    if st.status == "suspended" and until is not None and until <= now:
        st.status, st.suspended_until, st.reason = "active", None, ""


def _write_audit(factory: sessionmaker[Session], key: bytes, audit: list[AuditEntry]) -> None:
    if audit:
        append(factory, key, audit, keep_content=False)


def strike(factory: sessionmaker[Session], key: bytes, cfg: EnforcementConfig, th: Thresholds, account: str,
           risks: Sequence[str], *, abuse: Sequence[str] = (), count: bool = True,
           now: datetime | None = None) -> dict[str, Any]:
    """Count one blocked input (and any abuse pattern it shows); suspend or terminate at the thresholds.

    ``count=False`` records only the abuse pattern of an input that was not blocked (flagged, say).
    """
    now = now or datetime.now(UTC)
    audit: list[AuditEntry] = []
    with factory() as s, s.begin():
        st = _locked(s, account)
        _roll_day(st, now)
        st.updated_at = now
        if count:
            st.strikes_total += 1
            st.consecutive += 1
            st.day_strikes += 1
            _event(s, audit, account, "strike", now, risks=risks)
        if abuse:
            st.day_abuse += 1
            _event(s, audit, account, "abuse", now, risks=risks, reason="pattern: " + ",".join(abuse))
        if st.status == "active":
            if st.consecutive >= th.consecutive:
                _suspend(s, st, audit, now, cfg.suspension_hours, th, f"连续 {th.consecutive} 次违规请求 / {th.consecutive} consecutive blocked requests", "system", risks)
            elif st.day_strikes >= th.per_day:
                _suspend(s, st, audit, now, cfg.suspension_hours, th, f"单日 {th.per_day} 次违规请求 / {th.per_day} blocked requests in one day", "system", risks)
            elif abuse and st.day_abuse >= cfg.abuse_per_day:
                _suspend(s, st, audit, now, cfg.suspension_hours, th, "滥用 / abuse: " + ",".join(abuse), "system", risks)
        out = standing_json(st, now)
    _write_audit(factory, key, audit)
    return out


def clean_input(factory: sessionmaker[Session], account: str) -> None:
    """An input that was not blocked ends a run of consecutive strikes."""
    with factory() as s, s.begin():
        s.execute(update(Standing).where(Standing.account == account, Standing.consecutive > 0).values(consecutive=0))


def flood(factory: sessionmaker[Session], key: bytes, cfg: EnforcementConfig, th: Thresholds, account: str,
          minute: int, *, now: datetime | None = None) -> dict[str, Any] | None:
    """A request flood seen in ``minute``: one abuse event per minute; suspends at ``abuse_per_day``."""
    now = now or datetime.now(UTC)
    audit: list[AuditEntry] = []
    with factory() as s, s.begin():
        st = _locked(s, account)
        if st.flood_minute == minute:
            return None
        _roll_day(st, now)
        st.flood_minute = minute
        st.day_abuse += 1
        _event(s, audit, account, "abuse", now, reason=f"pattern: flood (> {cfg.flood_rpm} requests/minute)")
        if st.status == "active" and st.day_abuse >= cfg.abuse_per_day:
            _suspend(s, st, audit, now, cfg.suspension_hours, th, "请求洪泛 / abuse: request flood", "system")
        out = standing_json(st, now)
    _write_audit(factory, key, audit)
    return out


ADMIN_ACTIONS = ("warn", "suspend", "lift", "terminate")


def admin_action(factory: sessionmaker[Session], key: bytes, cfg: EnforcementConfig, th: Thresholds, account: str,
                 action: str, reason: str, actor: str, *, hours: float | None = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """An admin's warning, suspension, lift or termination, with a reason (required)."""
    now = now or datetime.now(UTC)
    if action not in ADMIN_ACTIONS:
        raise GatewayError(400, "invalid_action", f"操作须为 {ADMIN_ACTIONS} 之一", f"action must be one of {ADMIN_ACTIONS}")
    if not isinstance(reason, str) or not reason.strip():
        raise GatewayError(400, "reason_required", "须填写处置理由", "a reason is required")
    if hours is not None and not (0 < hours <= 24 * 3650):
        raise GatewayError(400, "invalid_hours", "暂停时长无效", "invalid suspension length")
    reason = reason.strip()[:200]
    audit: list[AuditEntry] = []
    with factory() as s, s.begin():
        st = _locked(s, account)
        _roll_day(st, now)
        if st.status == "terminated" and action != "lift":
            raise GatewayError(409, "terminated", "该用户已被终止服务", "the user's service is already terminated")
        if action == "warn":
            st.warnings += 1
            _event(s, audit, account, "warn", now, reason=reason, actor=actor)
        elif action == "suspend":
            st.suspensions += 1
            st.status, st.suspended_until, st.reason = "suspended", now + timedelta(hours=hours or cfg.suspension_hours), reason
            _event(s, audit, account, "suspend", now, reason=reason, actor=actor)
        elif action == "terminate":
            st.status, st.suspended_until, st.reason = "terminated", None, reason
            _event(s, audit, account, "terminate", now, reason=reason, actor=actor)
        else:
            if st.status == "active":
                raise GatewayError(409, "not_sanctioned", "该用户未被暂停或终止", "the user is neither suspended nor terminated")
            st.status, st.suspended_until, st.reason, st.consecutive = "active", None, "", 0
            _event(s, audit, account, "lift", now, reason=reason, actor=actor)
        st.updated_at = now
        out = standing_json(st, now)
    _write_audit(factory, key, audit)
    return out


def events(factory: sessionmaker[Session], account: str, limit: int = 200) -> list[dict[str, Any]]:
    with factory() as s:
        rows = s.execute(select(SanctionEvent).where(SanctionEvent.account == account)
                         .order_by(SanctionEvent.id.desc()).limit(limit)).scalars()
        return [{"id": e.id, "ts": _aware(e.ts).isoformat(), "kind": e.kind,  # type: ignore[union-attr]
                 "risks": [r for r in e.risks.split(",") if r], "reason": e.reason, "actor": e.actor} for e in rows]


def sanctioned(factory: sessionmaker[Session], *, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Users suspended or terminated now (a suspension that ran out is not listed)."""
    statuses = (status,) if status else ("suspended", "terminated")
    with factory() as s:
        rows = s.execute(select(Standing).where(Standing.status.in_(statuses))
                         .order_by(Standing.updated_at.desc()).limit(limit)).scalars()
        out = [{"account": r.account, **standing_json(r)} for r in rows]
    return [u for u in out if u["status"] != "active"]


def refusal_for(st: dict[str, Any]) -> GatewayError | None:
    """The error a sanctioned user gets, with the reason and (for a suspension) the end time."""
    if st["status"] == "terminated":
        return GatewayError(403, "account_terminated", f"您的服务已被终止（原因：{st['reason']}）。如有异议可申诉：POST /v1/hegui/complaints",
                            f"your service has been terminated ({st['reason']}); appeal via POST /v1/hegui/complaints")
    if st["status"] == "suspended":
        return GatewayError(403, "account_suspended",
                            f"您的服务已暂停至 {st['suspended_until']}（原因：{st['reason']}）。如有异议可申诉：POST /v1/hegui/complaints",
                            f"your service is suspended until {st['suspended_until']} ({st['reason']}); appeal via POST /v1/hegui/complaints")
    return None
