"""API keys: create, look up, list, revoke, and count requests per key per minute.

Keys are 32 random bytes, so a keyed SHA-256 (fast, per request) is as strong as a slow password
hash here; only that hash and an 8-character prefix (to find the row) are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
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


def lookup(factory: sessionmaker[Session], secret_key: bytes, api_key: str) -> KeyInfo | None:
    """The live key record for ``api_key``, or None (unknown or revoked)."""
    h = _hash(secret_key, api_key)
    t = ApiKey.__table__
    with factory() as session:
        # A Core row, not an ORM object: this runs on every request, and loading an identity-mapped
        # instance costs more than the query.
        row = session.execute(
            select(t.c.id, t.c.user, t.c.role, t.c.rate_limit_rpm, t.c.prefix, t.c.created_at, t.c.revoked_at)
            .where(t.c.key_hash == h, t.c.revoked_at.is_(None))
        ).one_or_none()
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


def hit(factory: sessionmaker[Session], key_id: int, *, now: float | None = None) -> int:
    """Count one request for ``key_id`` in the current minute (atomic across processes); returns the count."""
    window = int((now if now is not None else time.time()) // 60)
    with serialized_writes(factory), factory() as session, session.begin():
        dialect = session.get_bind().dialect.name
        ins = (postgresql if dialect == "postgresql" else sqlite).insert(RateWindow)
        stmt = ins.values(key_id=key_id, window=window, count=1).on_conflict_do_update(
            index_elements=["key_id", "window"], set_={"count": RateWindow.count + 1}
        ).returning(RateWindow.count)
        count = int(session.execute(stmt).scalar_one())
        if count == 1:  # first hit of a new minute: forget old windows of this key
            session.execute(RateWindow.__table__.delete().where(RateWindow.key_id == key_id, RateWindow.window < window - 1))
        return count
