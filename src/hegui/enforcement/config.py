"""`EnforcementConfig`: thresholds come from the policy's `Duties`; these are the rest."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _abuse_risks() -> dict[str, str]:
    # spam generation, malware, fraud and marketing floods (hg.*), and speculation/hype built on false
    # information (A.1.g) or unethical business practice (A.3.b), as draft Art. 19 lists them.
    return {"hg.spam": "spam", "hg.malware": "malware", "hg.fraud": "fraud", "hg.gambling": "marketing",
            "A.3.b": "marketing", "A.1.g": "speculation"}


class EnforcementConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strikes, suspensions and abuse patterns in the request path.
    enabled: bool = True
    # Blocked inputs in a row that suspend (unset: the policy's Duties, TC260 practice 3).
    strikes_consecutive: int | None = Field(default=None, ge=1)
    # Blocked inputs in a day that suspend (unset: the policy's Duties, 5).
    strikes_per_day: int | None = Field(default=None, ge=1)
    # The suspension that reaches this count terminates instead (unset: the policy's Duties, 3).
    suspensions_before_termination: int | None = Field(default=None, ge=1)
    # Length of an automatic suspension.
    suspension_hours: float = Field(default=24.0, gt=0)
    # Art. 19 abuse patterns: risk id → pattern name; a pattern seen this many times in a day suspends.
    abuse_risks: dict[str, str] = Field(default_factory=_abuse_risks)
    # Abuse events in a day that suspend.
    abuse_per_day: int = Field(default=3, ge=1)
    # Requests in one minute that count as a flood (one abuse event per minute; 0: off).
    flood_rpm: int = Field(default=120, ge=0)
