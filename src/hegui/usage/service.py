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

from sqlalchemy import Connection, bindparam, update
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


def _stmts(dialect: str) -> dict[str, Any]:
    """The statements of `record_on` for one dialect, built once: building a statement (and its
    cache key) on every request cost more CPU than running it."""
    ins = (postgresql if dialect == "postgresql" else sqlite).insert
    sess_t, day_t = UsageSession.__table__, UsageDay.__table__
    # ``INSERT … ON CONFLICT DO UPDATE SET x = x``: creates the row if missing and locks it (a row
    # lock on PostgreSQL, the write lock on SQLite) in one statement, reading it back.
    lock_session = (ins(sess_t).values(account=bindparam("account"))
                    .on_conflict_do_update(index_elements=["account"], set_={"account": sess_t.c.account})
                    .returning(sess_t.c.session_start, sess_t.c.last_at, sess_t.c.last_reminder_at,
                               sess_t.c.notice_shown_at))
    day_ins = ins(day_t).values(account=bindparam("account"), day=bindparam("day"), requests=0, active_s=0.0)
    lock_day = (day_ins.on_conflict_do_update(index_elements=["account", "day"], set_={"requests": day_t.c.requests})
                .returning(day_t.c.requests, day_t.c.active_s))
    # No limit to check first (an adult, no cap): create-or-count in one statement.
    inc_ins = ins(day_t).values(account=bindparam("account"), day=bindparam("day"), requests=1,
                                active_s=bindparam("added"))
    count_day = (inc_ins.on_conflict_do_update(
        index_elements=["account", "day"],
        set_={"requests": day_t.c.requests + 1, "active_s": day_t.c.active_s + inc_ins.excluded.active_s})
        .returning(day_t.c.requests, day_t.c.active_s))
    add_day = (update(day_t).where(day_t.c.account == bindparam("acct"), day_t.c.day == bindparam("d"))
               .values(requests=day_t.c.requests + 1, active_s=day_t.c.active_s + bindparam("added")))
    set_session = (update(sess_t).where(sess_t.c.account == bindparam("acct"))
                   .values(session_start=bindparam("start"), last_at=bindparam("last"),
                           last_reminder_at=bindparam("reminded"), notice_shown_at=bindparam("shown")))
    return {"lock_session": lock_session, "lock_day": lock_day, "count_day": count_day, "add_day": add_day,
            "set_session": set_session}


_STMTS = {d: _stmts(d) for d in ("sqlite", "postgresql")}


def record(factory: sessionmaker[Session], cfg: UsageConfig, account: str, *, minor: bool, remind: bool,
           daily_request_cap: int | None = None, want_notice: bool = False, now: datetime | None = None) -> UsageResult:
    """Count one request. Refuses (and counts nothing) in minors' quiet hours or over a daily limit.

    ``daily_request_cap`` is an extra cap (unverified users under a "limit" policy).
    """
    engine = factory.kw["bind"]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Usage counters need not survive a server crash (a few uncounted requests at worst);
            # not waiting for the WAL flush takes most of this transaction's time off the request.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return record_on(conn, cfg, account, minor=minor, remind=remind, daily_request_cap=daily_request_cap,
                         want_notice=want_notice, now=now)


def record_on(conn: Connection, cfg: UsageConfig, account: str, *, minor: bool, remind: bool,
              daily_request_cap: int | None = None, want_notice: bool = False, now: datetime | None = None) -> UsageResult:
    """`record` inside the caller's transaction (the gateway's one transaction per request).

    A refusal raises `GatewayError` before anything is counted; the caller may still commit (the
    rows it may have created hold no count)."""
    now = now or datetime.now(UTC)
    check_quiet_hours(cfg, now, minor=minor)
    day = day_of(cfg, now)
    st = _STMTS["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    sess = conn.execute(st["lock_session"], {"account": account}).one()
    start, added = session_step(cfg, sess, now)
    if minor or daily_request_cap is not None:
        requests, active_s = conn.execute(st["lock_day"], {"account": account, "day": day}).one()
        check_limits(cfg, requests, active_s, minor=minor, daily_request_cap=daily_request_cap)
        conn.execute(st["add_day"], {"acct": account, "d": day, "added": added})
        res = UsageResult(requests + 1, round((active_s + added) / 60, 2))
    else:  # no limit to check first: create-or-count in one statement
        requests, active_s = conn.execute(st["count_day"], {"account": account, "day": day, "added": added}).one()
        res = UsageResult(requests, round(active_s / 60, 2))
    conn.execute(st["set_session"], session_values(cfg, sess, res, account=account, start=start, now=now,
                                                   remind=remind, want_notice=want_notice))
    return res


# The steps of `record_on`, shared with the gateway's two-round-trip PostgreSQL path
# (`hegui.gateway.admit_pg`), which runs the same statements in fewer round trips.

def check_quiet_hours(cfg: UsageConfig, now: datetime, *, minor: bool) -> None:
    if minor and in_quiet_hours(cfg, local_now(cfg, now)):
        raise GatewayError(403, "quiet_hours",
                           f"未成年人模式：{cfg.minor_quiet_start}–{cfg.minor_quiet_end} 暂停服务，请注意休息",
                           f"minor mode: no service between {cfg.minor_quiet_start} and {cfg.minor_quiet_end}; time to rest")


def day_of(cfg: UsageConfig, now: datetime) -> str:
    return local_now(cfg, now).date().isoformat()


def session_step(cfg: UsageConfig, sess: Any, now: datetime) -> tuple[datetime, float]:
    """(start of the continuous session, seconds of use this request adds) from the locked session row."""
    last = _aware(sess.last_at)
    start = _aware(sess.session_start) or now
    if last is not None and timedelta(0) <= now - last <= timedelta(seconds=cfg.session_gap_s):
        return start, (now - last).total_seconds()
    return now, 0.0


def check_limits(cfg: UsageConfig, requests: int, active_s: float, *, minor: bool, daily_request_cap: int | None) -> None:
    """Refuse (nothing counted yet) when today's requests or time already reach a limit."""
    if minor and cfg.minor_daily_requests and requests >= cfg.minor_daily_requests:
        raise GatewayError(429, "daily_limit", f"未成年人模式：今日请求次数已达上限（{cfg.minor_daily_requests} 次）",
                           f"minor mode: today's limit of {cfg.minor_daily_requests} requests is reached")
    if minor and cfg.minor_daily_minutes and active_s >= cfg.minor_daily_minutes * 60:
        raise GatewayError(429, "daily_time_limit", f"未成年人模式：今日使用时长已达上限（{cfg.minor_daily_minutes} 分钟）",
                           f"minor mode: today's limit of {cfg.minor_daily_minutes} minutes of use is reached")
    if daily_request_cap is not None and requests >= daily_request_cap:
        raise GatewayError(429, "unverified_limit", f"未完成实名认证的用户每日限 {daily_request_cap} 次请求，请完成实名认证",
                           f"unverified users are limited to {daily_request_cap} requests a day; please verify your identity")


def session_values(cfg: UsageConfig, sess: Any, res: UsageResult, *, account: str, start: datetime, now: datetime,
                   remind: bool, want_notice: bool) -> dict[str, Any]:
    """The session row's new values (parameters of ``set_session``); sets ``res``'s reminder and
    first-notice fields when one is due."""
    reminded = _aware(sess.last_reminder_at)
    new_reminded, shown = sess.last_reminder_at, sess.notice_shown_at
    continuous = (now - start).total_seconds() / 60
    if remind and cfg.reminder_after_min and continuous >= cfg.reminder_after_min:
        due = reminded is None or reminded < start or (now - reminded).total_seconds() / 60 >= cfg.reminder_interval_min
        if due:
            res.reminder_minutes = int(continuous)
            new_reminded = now
    if want_notice and sess.notice_shown_at is None:
        res.first_notice = True
        shown = now
    return {"acct": account, "start": start, "last": now, "reminded": new_reminded, "shown": shown}


def statements(dialect: str) -> dict[str, Any]:
    """`record_on`'s statements for ``dialect`` ("postgresql" or "sqlite"), built once."""
    return _STMTS[dialect]


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
