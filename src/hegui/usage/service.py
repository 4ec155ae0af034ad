"""Usage accounting per user and day, minors' limits and quiet hours, continuous-use reminders.

Time of use is the sum of gaps between a user's requests that are shorter than ``session_gap_s``
(a longer gap ends the session and is not counted). All counters move under the lock of the
user's `UsageSession` row, so parallel requests are counted exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from hegui.gateway.errors import GatewayError
from hegui.usage.config import UsageConfig
from hegui.usage.models import UsageDay, UsageSession


@dataclass(slots=True)
class UsageResult:
    requests_today: int
    minutes_today: float
    reminder_minutes: int | None = None  # continuous minutes to remind of, if a reminder is due
    first_notice: bool = False  # the disclosure has not been shown to this user yet
    notes: list[str] = field(default_factory=list)


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def local_now(cfg: UsageConfig, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(cfg.timezone))


def in_quiet_hours(cfg: UsageConfig, local: datetime) -> bool:
    start = dt.time.fromisoformat(cfg.minor_quiet_start)
    end = dt.time.fromisoformat(cfg.minor_quiet_end)
    t = local.time()
    if start == end:
        return False
    return start <= t < end if start < end else (t >= start or t < end)


def _upsert_lock(s: Session, model: Any, values: dict[str, object], keys: list[str], touch: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE SET touch = touch``: creates the row if missing and locks it
    (a row lock on PostgreSQL, the write lock on SQLite) in one statement; add ``.returning(...)``."""
    ins = (postgresql if s.get_bind().dialect.name == "postgresql" else sqlite).insert(model).values(**values)
    col = getattr(model, touch)
    return ins.on_conflict_do_update(index_elements=keys, set_={touch: col})


def record(factory: sessionmaker[Session], cfg: UsageConfig, account: str, *, minor: bool, remind: bool,
           daily_request_cap: int | None = None, want_notice: bool = False, now: datetime | None = None) -> UsageResult:
    """Count one request. Refuses (and counts nothing) in minors' quiet hours or over a daily limit.

    ``daily_request_cap`` is an extra cap (unverified users under a "limit" policy).
    """
    now = now or datetime.now(UTC)
    local = local_now(cfg, now)
    if minor and in_quiet_hours(cfg, local):
        raise GatewayError(403, "quiet_hours",
                           f"未成年人模式：{cfg.minor_quiet_start}–{cfg.minor_quiet_end} 暂停服务，请注意休息",
                           f"minor mode: no service between {cfg.minor_quiet_start} and {cfg.minor_quiet_end}; time to rest")
    day = local.date().isoformat()
    with factory() as s, s.begin():
        if s.get_bind().dialect.name == "postgresql":
            # Usage counters need not survive a server crash (a few uncounted requests at worst);
            # not waiting for the WAL flush takes most of this transaction's time off the request.
            s.execute(text("SET LOCAL synchronous_commit TO OFF"))
        # One statement each creates the row if missing, takes its lock and reads it back.
        sess = s.execute(_upsert_lock(s, UsageSession, {"account": account}, ["account"], "account")
                         .returning(UsageSession.session_start, UsageSession.last_at, UsageSession.last_reminder_at,
                                    UsageSession.notice_shown_at)).one()
        requests, active_s = s.execute(
            _upsert_lock(s, UsageDay, {"account": account, "day": day, "requests": 0, "active_s": 0.0},
                         ["account", "day"], "requests").returning(UsageDay.requests, UsageDay.active_s)).one()
        if minor and cfg.minor_daily_requests and requests >= cfg.minor_daily_requests:
            raise GatewayError(429, "daily_limit", f"未成年人模式：今日请求次数已达上限（{cfg.minor_daily_requests} 次）",
                               f"minor mode: today's limit of {cfg.minor_daily_requests} requests is reached")
        if minor and cfg.minor_daily_minutes and active_s >= cfg.minor_daily_minutes * 60:
            raise GatewayError(429, "daily_time_limit", f"未成年人模式：今日使用时长已达上限（{cfg.minor_daily_minutes} 分钟）",
                               f"minor mode: today's limit of {cfg.minor_daily_minutes} minutes of use is reached")
        if daily_request_cap is not None and requests >= daily_request_cap:
            raise GatewayError(429, "unverified_limit", f"未完成实名认证的用户每日限 {daily_request_cap} 次请求，请完成实名认证",
                               f"unverified users are limited to {daily_request_cap} requests a day; please verify your identity")
        last = _aware(sess.last_at)
        start = _aware(sess.session_start) or now
        added = 0.0
        if last is not None and timedelta(0) <= now - last <= timedelta(seconds=cfg.session_gap_s):
            added = (now - last).total_seconds()
        else:
            start = now
        changes: dict[str, object] = {"last_at": now, "session_start": start}
        res = UsageResult(requests + 1, round((active_s + added) / 60, 2))
        reminded = _aware(sess.last_reminder_at)
        continuous = (now - start).total_seconds() / 60
        if remind and cfg.reminder_after_min and continuous >= cfg.reminder_after_min:
            due = reminded is None or reminded < start or (now - reminded).total_seconds() / 60 >= cfg.reminder_interval_min
            if due:
                res.reminder_minutes = int(continuous)
                changes["last_reminder_at"] = now
        if want_notice and sess.notice_shown_at is None:
            res.first_notice = True
            changes["notice_shown_at"] = now
        s.execute(update(UsageDay).where(UsageDay.account == account, UsageDay.day == day)
                  .values(requests=UsageDay.requests + 1, active_s=UsageDay.active_s + added))
        s.execute(update(UsageSession).where(UsageSession.account == account).values(**changes))
    return res


def summary(factory: sessionmaker[Session], cfg: UsageConfig, account: str, *, now: datetime | None = None) -> dict[str, object]:
    now = now or datetime.now(UTC)
    day = local_now(cfg, now).date().isoformat()
    with factory() as s:
        d = s.get(UsageDay, (account, day))
        return {"day": day, "requests": d.requests if d else 0, "minutes": round(d.active_s / 60, 2) if d else 0.0}


def disclosure_not_shown(factory: sessionmaker[Session], account: str) -> None:
    """The answer that was to carry the one-time disclosure was refused: show it on the next one."""
    with factory() as s, s.begin():
        s.execute(update(UsageSession).where(UsageSession.account == account).values(notice_shown_at=None))


def forget(session: Session, account: str) -> int:
    n = session.query(UsageDay).filter(UsageDay.account == account).delete()
    n += session.query(UsageSession).filter(UsageSession.account == account).delete()
    return int(n)
