"""The duties' store work in one transaction (`services.admit`, `usage.record_on`), on SQLite and
PostgreSQL: the one-statement count for users without limits gives exactly what the
check-then-count path gives, on random request sequences; a refused request is still counted
against the rate limit but not as usage."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hegui.store.models import RateWindow
from hegui.usage import service as usage
from hegui.usage.config import UsageConfig
from hegui.usage.models import UsageDay, UsageSession


def _reference(times: list[datetime], cfg: UsageConfig) -> list[tuple[int, float]]:
    """Requests and minutes of use per local day, computed from the definition: time of use is the
    sum of the gaps between requests that are at most ``session_gap_s``."""
    out: list[tuple[int, float]] = []
    per_day: dict[str, tuple[int, float]] = {}
    last: datetime | None = None
    for t in times:
        day = usage.local_now(cfg, t).date().isoformat()
        n, secs = per_day.get(day, (0, 0.0))
        gap = (t - last).total_seconds() if last is not None else None
        if gap is not None and 0 <= gap <= cfg.session_gap_s:
            secs += gap
        per_day[day] = (n + 1, secs)
        last = t
        out.append((n + 1, round(secs / 60, 2)))
    return out


def test_one_statement_count_matches_check_then_count(make_gateway):
    g = make_gateway()
    f = g.state.factory
    rng = random.Random(7)
    for trial in range(6):
        cfg = UsageConfig(session_gap_s=rng.choice([60, 300, 1800]), reminder_after_min=rng.choice([0, 5, 30]),
                          reminder_interval_min=rng.choice([5, 20]))
        t = datetime(2026, 3, 2, 15, 0, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 600))
        times = []
        for _ in range(40):
            t += timedelta(seconds=rng.choice([5, 30, 90, 200, 400, 2000, 20000]) * rng.random())
            times.append(t)
        remind, notice = rng.random() < 0.5, rng.random() < 0.5
        fast = [usage.record(f, cfg, f"fast-{trial}", minor=False, remind=remind, want_notice=notice, now=x) for x in times]
        # A cap no request reaches takes the check-then-count path with the same outcome expected.
        slow = [usage.record(f, cfg, f"slow-{trial}", minor=False, remind=remind, want_notice=notice,
                             daily_request_cap=10**9, now=x) for x in times]
        got = [(r.requests_today, r.minutes_today, r.reminder_minutes, r.first_notice) for r in fast]
        assert got == [(r.requests_today, r.minutes_today, r.reminder_minutes, r.first_notice) for r in slow]
        assert [(r.requests_today, r.minutes_today) for r in fast] == _reference(times, cfg)
        assert sum(r.first_notice for r in fast) == (1 if notice else 0)
        with f() as s:
            for table, cols in ((UsageDay, ("day", "requests", "active_s")),
                                (UsageSession, ("session_start", "last_at", "last_reminder_at", "notice_shown_at"))):
                rows = {a: [tuple(getattr(r, c) for c in cols) for r in s.execute(
                    select(table).where(table.account == a).order_by(*(getattr(table, c) for c in cols[:1])))
                    .scalars()] for a in (f"fast-{trial}", f"slow-{trial}")}
                fr, sr = rows[f"fast-{trial}"], rows[f"slow-{trial}"]
                assert len(fr) == len(sr) and all(
                    x == y or (isinstance(x, float) and abs(x - y) < 1e-6) for a, b in zip(fr, sr, strict=True)
                    for x, y in zip(a, b, strict=True)), (fr, sr)


def test_refused_requests_count_against_the_rate_limit_not_as_usage(make_gateway):
    from hegui.store import keys

    g = make_gateway(usage={"minor_daily_requests": 2, "minor_quiet_start": "00:00", "minor_quiet_end": "00:00"},
                     identity={"unknown_age_is_minor": True})  # an unregistered user counts as a minor
    key, info = keys.create_key(g.state.factory, g.state.key, "limited", rate_limit_rpm=4)
    h = {"Authorization": f"Bearer {key}"}
    if time.time() % 60 > 50:  # rate windows are wall-clock minutes: all six requests in one
        time.sleep(60.5 - time.time() % 60)
    codes = [g.chat(h, "你好").status_code for _ in range(5)]
    # 2 answered, the 3rd and 4th refused by the minor's daily limit, the 5th by the rate limit.
    assert codes == [200, 200, 429, 429, 429], codes
    assert g.chat(h, "你好").json()["error"]["code"] == "rate_limited"
    with g.state.factory() as s:
        counted = s.execute(select(RateWindow.count).where(RateWindow.key_id == info.id)).scalars().all()
        day = s.execute(select(UsageDay.requests).where(UsageDay.account == g.pseudo("limited"))).scalars().all()
    assert sum(counted) == 6  # every request, refused or not, counted in the minute's window
    assert day == [2]  # only the answered ones as usage
    details = [r.detail for r in g_audit(g) if r.key_id == info.id and r.kind == "request"]
    assert details.count("daily_limit") == 2 and details.count("rate_limited") == 2  # refusals audited


def g_audit(g):  # type: ignore[no-untyped-def]
    from hegui.store.models import AuditRecord

    with g.state.factory() as s:
        return list(s.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars())


def test_store_failure_in_the_duties_refuses_and_is_counted(make_gateway):
    from sqlalchemy import text

    g = make_gateway()
    u = g.user("someone")
    assert g.chat(u, "你好").status_code == 200
    with g.state.engine.begin() as conn:  # the standings table becomes unreadable
        conn.execute(text("ALTER TABLE standings RENAME TO standings_gone"))
    try:
        r = g.chat(u, "你好")
        assert r.status_code == 503, r.text
        assert 'hegui_fail_closed_total{reason="store"} 1.0' in g.client.get("/metrics").text
    finally:
        with g.state.engine.begin() as conn:
            conn.execute(text("ALTER TABLE standings_gone RENAME TO standings"))
    assert g.chat(u, "你好").status_code == 200
