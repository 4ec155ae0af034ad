"""API keys: create, look up, list, revoke, and count requests per key per minute.

Keys are 32 random bytes, so a keyed SHA-256 (fast, per request) is as strong as a slow password
hash here; only that hash and an 8-character prefix (to find the row) are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from hegui.store.engine import serialized_writes
from hegui.store.models import ApiKey, RateWindow

KEY_PREFIX = "hg-"
ROLES = ("admin", "user")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    user: str
    role: str
    rate_limit_rpm: int | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(secret_key: bytes, api_key: str) -> str:
    return hmac.new(secret_key, b"apikey:" + api_key.encode("utf-8"), hashlib.sha256).hexdigest()


def _utc(ts: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; they were written in UTC, so say so (same value on both stores).
    return ts.replace(tzinfo=UTC) if ts is not None and ts.tzinfo is None else ts


def _info(k: ApiKey) -> KeyInfo:
    return KeyInfo(k.id, k.user, k.role, k.rate_limit_rpm, k.prefix, _utc(k.created_at), _utc(k.revoked_at))  # type: ignore[arg-type]


def create_key(
    factory: sessionmaker[Session], secret_key: bytes, user: str, *, role: str = "user",
    rate_limit_rpm: int | None = None, api_key: str | None = None,
) -> tuple[str, KeyInfo]:
    """A new key for ``user``; returns the key in clear (shown once) and its record."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r} / 角色须为 admin 或 user")
    user = user.strip()
    if not user or len(user) > 128:
        raise ValueError("user name must be 1–128 characters / 用户名须为 1–128 个字符")
    key = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
    if len(key) < 20:
        raise ValueError("an API key must be at least 20 characters / API 密钥至少 20 个字符")
    with factory() as session, session.begin():
        row = ApiKey(
            prefix=key[:8], key_hash=_hash(secret_key, key), user=user, role=role,
            rate_limit_rpm=rate_limit_rpm, created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return key, _info(row)


_KEYS = ApiKey.__table__
# Built once, run on a plain connection: this runs on every request not served by `KeyCache`, and
# building the statement or an ORM session around it cost more than the query.
_LOOKUP = (select(_KEYS.c.id, _KEYS.c.user, _KEYS.c.role, _KEYS.c.rate_limit_rpm, _KEYS.c.prefix, _KEYS.c.created_at,
                  _KEYS.c.revoked_at)
           .where(_KEYS.c.key_hash == bindparam("h"), _KEYS.c.revoked_at.is_(None)))


def lookup(factory: sessionmaker[Session], secret_key: bytes, api_key: str) -> KeyInfo | None:
    """The live key record for ``api_key``, or None (unknown or revoked)."""
    with factory.kw["bind"].connect() as conn:
        row = conn.execute(_LOOKUP, {"h": _hash(secret_key, api_key)}).one_or_none()
    if row is None:
        return None
    return KeyInfo(row.id, row.user, row.role, row.rate_limit_rpm, row.prefix, _utc(row.created_at),  # type: ignore[arg-type]
                   _utc(row.revoked_at))


def list_keys(factory: sessionmaker[Session], *, include_revoked: bool = False) -> list[KeyInfo]:
    with factory() as session:
        q = select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            q = q.where(ApiKey.revoked_at.is_(None))
        return [_info(k) for k in session.execute(q).scalars()]


def revoke(factory: sessionmaker[Session], key_id: int) -> bool:
    with factory() as session, session.begin():
        res = session.execute(
            update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
        )
        return bool(res.rowcount)


def count_keys(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).select_from(ApiKey)).scalar_one())


def _hit_stmts(dialect: str) -> tuple[Any, Any]:
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(RateWindow.__table__)
    t = RateWindow.__table__
    count = (ins.values(key_id=bindparam("key_id"), window=bindparam("window"), count=1)
             .on_conflict_do_update(index_elements=["key_id", "window"], set_={"count": t.c.count + 1})
             .returning(t.c.count))
    forget = t.delete().where(t.c.key_id == bindparam("kid"), t.c.window < bindparam("before"))
    return count, forget


# Built once: building the upsert and its cache key per request cost more CPU than running it.
_HIT = {d: _hit_stmts(d) for d in ("sqlite", "postgresql")}


def count_statement(dialect: str) -> Any:
    """The statement that counts one request of a key in a minute and returns the new count
    (parameters ``key_id``, ``window``; ``dialect`` "postgresql" or "sqlite"), for callers that
    embed it in a larger statement (the gateway's duties read, as a CTE on PostgreSQL). Whoever
    runs it must call `counted` with the count it returned."""
    return _HIT[dialect][0]


def forget_statement(dialect: str) -> Any:
    """What `counted` runs on a minute's first request: delete the key's windows before
    ``before`` (parameters ``kid``, ``before``), for callers that send it themselves."""
    return _HIT[dialect][1]


def counted(conn: Connection, key_id: int, window: int, count: int) -> None:
    """What follows a count in the caller's transaction: the first of a new minute forgets the
    key's older windows (so the table holds at most two rows per key)."""
    if count == 1:
        conn.execute(_HIT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"][1],
                     {"kid": key_id, "before": window - 1})


def hit_on(conn: Connection, key_id: int, *, now: float | None = None) -> int:
    """`hit` inside the caller's transaction (the gateway folds it into the request's one transaction)."""
    window = int((now if now is not None else time.time()) // 60)
    count_stmt = _HIT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"][0]
    count = int(conn.execute(count_stmt, {"key_id": key_id, "window": window}).scalar_one())
    counted(conn, key_id, window, count)
    return count


def hit(factory: sessionmaker[Session], key_id: int, *, now: float | None = None) -> int:
    """Count one request for ``key_id`` in the current minute (atomic across processes); returns the count."""
    with serialized_writes(factory), factory.kw["bind"].begin() as conn:
        return hit_on(conn, key_id, now=now)


class KeyCache:
    """Live keys looked up recently, for ``ttl_s`` seconds: the lookup is a store round trip on
    every request, and keys almost never change.

    The bound that buys: a key revoked by *another* process (``hegui keys revoke``, another
    worker or replica) keeps working here for at most ``ttl_s`` seconds; a revocation through this
    process (`forget`) takes effect at once. Unknown and revoked keys are never cached, so a new
    key works at once and a flood of bad keys is not remembered. Entries are keyed by the keyed
    hash, so no key is kept in clear. ``ttl_s`` 0 turns the cache off.

    Refresh ahead (`get_refreshing`): a key used in the last quarter of its entry's life is looked
    up again in the background while the entry still serves, so a key in steady use never makes a
    request wait for the store (with 32 users' keys that was one request in eight, waiting 2–14
    ms). The bound stays: an entry still expires ``ttl_s`` after the lookup that made it, and a
    refresh that finds the key revoked drops it at once.

    Checked by the caller (``checked_later``): a request whose own store read checks that the key
    is still live — the service duties' read, on every user's generation request — takes the
    entry for up to ``known_s`` (10 minutes) after the last check, with no lookup and no refresh:
    what an entry holds besides liveness (id, user, role, rate limit) never changes, and the
    read refuses a revoked key itself (its `confirm` restarts the entry's ``ttl_s`` too). A user
    who comes back after a few seconds then costs no lookup (before, every such request waited
    for one in a worker thread), and revocation takes effect on the next of their requests.
    """

    REFRESH_AT = 0.75  # of ttl_s: an entry this old is refreshed ahead of its expiry

    def __init__(self, secret_key: bytes, ttl_s: float, *, max_entries: int = 10_000, known_s: float = 600.0) -> None:
        self.secret_key, self.ttl_s, self.max_entries = secret_key, ttl_s, max_entries
        self.known_s = max(known_s, ttl_s)
        # hash → (monotonic time of the last store read that found the key live, the key)
        self._entries: dict[str, tuple[float, KeyInfo]] = {}
        self._refreshing: set[str] = set()  # hashes with a refresh under way
        self._generation = 0  # bumped by `forget`
        self._lock = threading.Lock()

    def get(self, api_key: str) -> KeyInfo | None:
        """The cached live record, or None (not cached, expired, or the cache is off)."""
        return self.get_refreshing(api_key)[0]

    def get_refreshing(self, api_key: str, checked_later: Callable[[KeyInfo], bool] | None = None,
                       ) -> tuple[KeyInfo | None, bool]:
        """`get`, and whether the caller should now `refresh` the entry: True once per entry, when
        it is in the last quarter of its life and no refresh of it is under way. An entry for
        which ``checked_later`` is true (the caller's own read checks the key) serves for up to
        ``known_s`` and is never due for a refresh."""
        if self.ttl_s <= 0:
            return None, False
        h = _hash(self.secret_key, api_key)
        hit = self._entries.get(h)
        now = time.monotonic()
        if hit is None or hit[0] + self.known_s <= now:
            return None, False
        checked, info = hit
        if checked_later is not None and checked_later(info):
            return info, False
        left = checked + self.ttl_s - now
        if left <= 0:
            return None, False
        if left > self.ttl_s * (1 - self.REFRESH_AT) or h in self._refreshing:
            return info, False
        with self._lock:
            if h in self._refreshing:
                return info, False
            self._refreshing.add(h)
        return info, True

    def confirm(self, api_key: str, checked: float) -> None:
        """A store read that began at ``checked`` (`time.monotonic`) found the key live: its entry,
        if it is still here, counts from then. (A `forget` meanwhile removed the entry, so a read
        from before a revocation here cannot bring the key back.)"""
        h = _hash(self.secret_key, api_key)
        with self._lock:
            hit = self._entries.get(h)
            if hit is not None and hit[0] < checked:
                self._entries[h] = (checked, hit[1])

    def refresh(self, factory: sessionmaker[Session], api_key: str) -> KeyInfo | None:
        """`lookup` for an entry `get_refreshing` said is due; a key found revoked or unknown is
        dropped. The caller handles a store error (the entry then simply expires)."""
        h = _hash(self.secret_key, api_key)
        try:
            info = self.lookup(factory, api_key)
            if info is None:
                with self._lock:
                    self._entries.pop(h, None)
            return info
        finally:
            with self._lock:
                self._refreshing.discard(h)

    def lookup(self, factory: sessionmaker[Session], api_key: str) -> KeyInfo | None:
        """`lookup` in the store, remembering a live key — unless `forget` ran meanwhile: a row
        read before a revocation here must not bring the key back for another ``ttl_s``."""
        gen = self._generation
        checked = time.monotonic()
        info = lookup(factory, self.secret_key, api_key)
        if info is not None and self.ttl_s > 0:
            with self._lock:
                if gen != self._generation:
                    return info
                if len(self._entries) >= self.max_entries:
                    now = time.monotonic()
                    self._entries = {h: e for h, e in self._entries.items() if e[0] + self.known_s > now}
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                h = _hash(self.secret_key, api_key)
                self._entries[h] = (checked, info)
                self._refreshing.discard(h)  # a fresh entry: due again in its own last quarter
        return info

    def forget(self, key_id: int | None = None) -> None:
        """Drop ``key_id`` (revoked here), or everything."""
        with self._lock:
            self._generation += 1
            if key_id is None:
                self._entries.clear()
            else:
                self._entries = {h: e for h, e in self._entries.items() if e[1].id != key_id}
