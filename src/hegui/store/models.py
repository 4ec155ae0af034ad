"""Tables of the gateway: API keys, rate-limit windows, the audit log and its chain head.

Later features add their own model modules deriving from the same `Base` plus one migration each.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hegui.store.base import Base


class ApiKey(Base):
    """An API key. Only a keyed hash of the secret is stored; ``prefix`` finds the row quickly."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The account this key acts for (an operator-chosen account name, not a real name).
    user: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16), default="user")  # "admin" or "user"
    rate_limit_rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RateWindow(Base):
    """Requests counted per key per fixed minute, shared by every gateway process using the store."""

    __tablename__ = "rate_windows"

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # unix minute
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditChainHead(Base):
    """One row (id 1): the last sequence number and row hash. Writers lock it to keep one chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    """One audit row: a request or one moderation decision. Content is redacted and purgeable;
    ``content_digest`` stays so the chain still verifies after a purge."""

    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # request | input | output
    user_pseudo: Mapped[str] = mapped_column(String(64), index=True)
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    route: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    risks: Mapped[str] = mapped_column(Text, default="")  # comma-separated risk ids
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(128), default="")
    content: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
