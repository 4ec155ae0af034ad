"""Identity tables: keyed hashes only, never a clear ID number, name or mobile number."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hegui.store.base import Base


class Identity(Base):
    """One registered account. ``minor_until`` is kept only for minors (the day they turn 18)."""

    __tablename__ = "identities"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)  # pseudonym of the API key's user
    name_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    id_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    id_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    mobile_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    mobile_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    mobile_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    minor_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    age_known: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OtpCode(Base):
    """A one-time code sent by SMS: only its keyed hash, with expiry, attempts and use."""

    __tablename__ = "otp_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
