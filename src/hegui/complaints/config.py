"""`ComplaintsConfig`: published time limits per complaint type."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TYPES = (
    "illegal_content", "likeness", "reputation", "privacy", "trade_secret", "ip",
    "pi_access", "pi_correction", "pi_deletion", "pi_shielding", "appeal",
)
CONTENT_TYPES = frozenset({"illegal_content", "likeness", "reputation", "privacy", "trade_secret", "ip", "pi_shielding"})


def _limits() -> dict[str, float]:
    d = dict.fromkeys(TYPES, 7.0)
    d["illegal_content"] = 1.0
    d.update({"pi_access": 15.0, "pi_correction": 15.0, "pi_deletion": 15.0})
    return d


class ComplaintsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Complaint routes, the blocklist detector and the overdue gauge.
    enabled: bool = True
    # Days to handle each type (published at /v1/hegui/notice).
    time_limits_days: dict[str, float] = Field(default_factory=_limits)
    # Days to fix the model for upheld content when the policy sets no deadline (draft Art. 15: 90).
    optimisation_days_default: int = Field(default=90, ge=1)
    # Near-duplicate matching of upheld content: share of the entry's character 3-grams found in a text.
    blocklist_containment: float = Field(default=0.7, gt=0, le=1)
    # Seconds between reloads of the blocklist from the store (other workers' upholds).
    blocklist_refresh_s: float = Field(default=2.0, ge=0)
    # Longest description, prompt or content accepted in a complaint.
    max_text_chars: int = Field(default=20_000, ge=100)
