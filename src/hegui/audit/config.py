"""`AuditConfig`: what the audit log keeps and for how long."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Keep the (PII-redacted) prompt and answer text in audit rows. Off: only the minimal record.
    store_content: bool = True
    # Days content is kept. The Cybersecurity Law (Art. 21) requires logs for at least six months.
    retention_days: int = Field(default=180, ge=180)
    # Seconds between the purges the server runs by itself (0 disables the in-server schedule).
    purge_interval_s: int = Field(default=3600, ge=0)
