"""`UsageConfig`: limits for minors and reminders against over-reliance."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class UsageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Count use and apply minors' limits, quiet hours and reminders.
    enabled: bool = True
    # Whose use is counted: "all" users, or only those a limit or reminder applies to ("limited":
    # minors, unverified users under a "limit" policy, everyone when reminders are for all) — one
    # write transaction less per request for the others.
    count_scope: str = Field(default="all", pattern=r"^(all|limited)$")
    # Wall clock for days and quiet hours.
    timezone: str = "Asia/Shanghai"
    # Minors: requests per day (0: no limit).
    minor_daily_requests: int = Field(default=100, ge=0)
    # Minors: minutes of use per day (0: no limit).
    minor_daily_minutes: int = Field(default=60, ge=0)
    # Minors: no service from this time (HH:MM, in ``timezone``)…
    minor_quiet_start: str = "22:00"
    # …until this time (equal to the start: no quiet hours).
    minor_quiet_end: str = "06:00"
    # A gap longer than this ends a session of continuous use (and is not counted as use).
    session_gap_s: int = Field(default=600, ge=1)
    # Remind after this much continuous use, then every ``reminder_interval_min`` (0: never).
    reminder_after_min: float = Field(default=60, ge=0)
    # Minutes between further reminders in the same session.
    reminder_interval_min: float = Field(default=30, gt=0)

    @field_validator("minor_quiet_start", "minor_quiet_end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"{v!r} is not a HH:MM time / 时间须为 HH:MM")
        return v
