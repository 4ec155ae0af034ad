"""`ConsoleConfig`: sessions, lock-out, cookies and where the CLI's reports are."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class CookieSecure(StrEnum):
    # Secure cookies when the request arrived over TLS (or a trusted proxy said so to uvicorn).
    AUTO = "auto"
    ALWAYS = "always"
    # Only for a console reached over plain HTTP on a trusted network.
    NEVER = "never"


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Directory holding the HTML reports of `hegui scan` / `hegui assess` (default: <var_dir>/reports).
    reports_dir: Path | None = None
    # A session ends this long after login, or after this long without a request.
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    idle_minutes: float = Field(default=30.0, gt=0)
    # Failed logins in a row before the account is locked, and for how long.
    max_failures: int = Field(default=5, ge=1, le=100)
    lockout_minutes: float = Field(default=15.0, gt=0)
    cookie_secure: CookieSecure = CookieSecure.AUTO
    # Shortest password accepted for a console account.
    min_password_chars: int = Field(default=12, ge=8)
