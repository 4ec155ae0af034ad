"""Usage tables: requests and seconds of use per user per day, and the current session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hegui.store.base import Base


class UsageDay(Base):
    __tablename__ = "usage_days"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # local date, YYYY-MM-DD
    requests: Mapped[int] = mapped_column(Integer, default=0)
    active_s: Mapped[float] = mapped_column(Float, default=0.0)


class UsageSession(Base):
    """Continuous use: when the current session started, the last request, the last reminder."""

    __tablename__ = "usage_sessions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_reminder_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    notice_shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
