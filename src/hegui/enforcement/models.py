"""Sanction tables: per-user counts and risk ids, and the list of sanction events. No content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hegui.store.base import Base


class Standing(Base):
    """A user's standing. Counters are changed only under the row's lock (see `service.strike`)."""

    __tablename__ = "standings"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | suspended | terminated
    suspended_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(String(256), default="")
    strikes_total: Mapped[int] = mapped_column(Integer, default=0)
    consecutive: Mapped[int] = mapped_column(Integer, default=0)
    day: Mapped[str] = mapped_column(String(10), default="")
    day_strikes: Mapped[int] = mapped_column(Integer, default=0)
    day_abuse: Mapped[int] = mapped_column(Integer, default=0)
    suspensions: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    flood_minute: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SanctionEvent(Base):
    """One strike, warning, suspension, lift, termination or abuse detection (risk ids only)."""

    __tablename__ = "sanction_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    risks: Mapped[str] = mapped_column(String(256), default="")
    reason: Mapped[str] = mapped_column(String(256), default="")
    actor: Mapped[str] = mapped_column(String(64), default="system")
