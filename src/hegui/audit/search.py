"""Read-only queries over the audit log: search rows, and counts over time for dashboards.

Kept next to the chain so the console and the admin REST API answer from one place. A "user" is
searched by pseudonym; an operator may type the account name and it is pseudonymised here with the
installation key, so the clear name is never stored or compared in the database.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit.pseudonym import pseudonymize
from hegui.store.models import AuditRecord

MAX_LIMIT = 500


@dataclass(slots=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    request_id: str = ""
    user: str = ""  # a pseudonym or an account name
    risk: str = ""  # a risk id, or a prefix such as "A.1" or "pii"
    action: str = ""
    kind: str = ""
    limit: int = 100
    before_seq: int | None = None  # paging: rows older than this sequence number


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    ts: datetime
    request_id: str
    kind: str
    user_pseudo: str
    model: str
    action: str
    risks: tuple[str, ...]
    status: int
    latency_ms: float
    detail: str
    content: str | None


def _aware(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def _naive_utc(ts: datetime) -> datetime:
    # Compare in UTC; SQLite stores naive UTC wall time.
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def search(factory: sessionmaker[Session], key: bytes, q: AuditQuery) -> list[AuditRow]:
    """Rows matching ``q``, newest first (at most ``MAX_LIMIT``)."""
    stmt = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(max(1, min(q.limit, MAX_LIMIT)))
    with factory() as session:
        dialect = session.get_bind().dialect.name

        def ts(v: datetime) -> datetime:
            return _naive_utc(v) if dialect == "sqlite" else v

        if q.since:
            stmt = stmt.where(AuditRecord.ts >= ts(q.since))
        if q.until:
            stmt = stmt.where(AuditRecord.ts < ts(q.until))
        if q.request_id:
            stmt = stmt.where(AuditRecord.request_id == q.request_id.strip())
        if q.user:
            u = q.user.strip()
            stmt = stmt.where(AuditRecord.user_pseudo.in_({u, pseudonymize(key, u)}))
        if q.risk:
            r = _esc(q.risk.strip().rstrip("."))
            # risks is a comma-separated list: match a whole id, or ids under a dotted prefix
            # ("A.1" finds A.1.a but not A.10; "pii" finds pii.email).
            col = AuditRecord.risks
            stmt = stmt.where(or_(*(col.like(p, escape="\\") for p in (
                r, f"{r},%", f"%,{r}", f"%,{r},%", f"{r}.%", f"%,{r}.%"))))
        if q.action:
            stmt = stmt.where(AuditRecord.action == q.action)
        if q.kind:
            stmt = stmt.where(AuditRecord.kind == q.kind)
        if q.before_seq:
            stmt = stmt.where(AuditRecord.seq < q.before_seq)
        return [
            AuditRow(r.seq, _aware(r.ts), r.request_id, r.kind, r.user_pseudo, r.model, r.action,
                     tuple(x for x in r.risks.split(",") if x), r.status, r.latency_ms, r.detail, r.content)
            for r in session.execute(stmt).scalars()
        ]


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError("times are YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC) / 时间格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM")


def query_from_params(params: Mapping[str, str], *, limit: int = 100) -> AuditQuery:
    """An `AuditQuery` from URL parameters (``from``, ``to``, ``request_id``, ``user``, ``risk``,
    ``action``, ``kind``, ``before``), as the console and the admin API take them. A date-only
    ``to`` includes that day. Raises ValueError for a malformed time."""

    def g(name: str, size: int = 128) -> str:
        return str(params.get(name, "") or "")[:size]

    until = _parse_time(g("to", 32))
    if until is not None and len(g("to", 32).strip()) == 10:
        until += timedelta(days=1)
    before = g("before", 20)
    return AuditQuery(since=_parse_time(g("from", 32)), until=until, request_id=g("request_id", 64), user=g("user"),
                      risk=g("risk", 64), action=g("action", 16), kind=g("kind", 16), limit=limit,
                      before_seq=int(before) if before.isdigit() else None)


def row_json(r: AuditRow) -> dict[str, object]:
    return {"seq": r.seq, "ts": r.ts.isoformat(), "request_id": r.request_id, "kind": r.kind, "user": r.user_pseudo,
            "model": r.model, "action": r.action, "risks": list(r.risks), "status": r.status,
            "latency_ms": r.latency_ms, "detail": r.detail, "content": r.content}


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(slots=True)
class AuditStats:
    """Counts per day (UTC dates, oldest first) over the last ``days`` days."""

    days: list[str]
    requests: list[int]
    blocked: list[int]
    redacted: list[int]
    # risk id → per-day counts of moderation decisions that blocked or redacted for it
    by_risk: dict[str, list[int]] = field(default_factory=dict)
    top_risks: list[tuple[str, int]] = field(default_factory=list)
    rows_scanned: int = 0
    truncated: bool = False


def stats(factory: sessionmaker[Session], *, days: int = 14, now: datetime | None = None,
          max_rows: int = 500_000) -> AuditStats:
    """Traffic and block/redact decisions per day and per risk.

    Counted in Python over the few columns needed (portable across SQLite and PostgreSQL); past
    ``max_rows`` rows the oldest days are incomplete and ``truncated`` says so.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    labels = [(start + timedelta(days=i)).date().isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    requests, blocked, redacted = [0] * days, [0] * days, [0] * days
    by_risk: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    totals: Counter[str] = Counter()
    n = 0
    with factory() as session:
        since = _naive_utc(start) if session.get_bind().dialect.name == "sqlite" else start
        stmt = (select(AuditRecord.ts, AuditRecord.kind, AuditRecord.action, AuditRecord.risks)
                .where(AuditRecord.ts >= since).order_by(AuditRecord.seq.desc()).limit(max_rows))
        for ts, kind, action, risks in session.execute(stmt):
            n += 1
            i = index.get(_aware(ts).astimezone(UTC).date().isoformat())
            if i is None:
                continue
            if kind == "request":
                requests[i] += 1
                continue
            if action not in ("block", "redact"):
                continue
            (blocked if action == "block" else redacted)[i] += 1
            for r in (x for x in risks.split(",") if x):
                by_risk[r][i] += 1
                totals[r] += 1
    return AuditStats(labels, requests, blocked, redacted, dict(by_risk), totals.most_common(10), n, n >= max_rows)


def count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(AuditRecord)).scalar_one())
