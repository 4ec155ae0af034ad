"""`IdentityConfig`: how users prove who they are."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class HttpVerifierConfig(BaseModel):
    """A real-name provider reached over HTTP (the many Chinese 实名认证 services sit behind an adapter)."""

    model_config = ConfigDict(extra="forbid")

    # The provider adapter's endpoint (POST, JSON).
    url: str
    # Shared secret for the request signature (HMAC-SHA256 over ``timestamp.body``).
    secret: SecretStr
    # Seconds to wait for the provider; a timeout refuses the registration (nothing is stored).
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class SmsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "memory" (development and tests: codes kept in process memory, never logged), "http" (POST to
    # ``url``) or "module:Class" of your own `SmsSender`.
    sender: str = "memory"
    # The SMS gateway endpoint for the "http" sender (POST ``{"to", "text"}``).
    url: str | None = None
    # Bearer key for the SMS gateway.
    api_key: SecretStr | None = None
    # Seconds to wait for the SMS gateway.
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Message text; ``{code}`` and ``{minutes}`` are filled in (Chinese and English are both sent).
    template_zh: str = "您的验证码是 {code}，{minutes} 分钟内有效。请勿告知他人。"
    # English part of the message.
    template_en: str = "Your verification code is {code}; it expires in {minutes} minutes. Do not share it."


class IdentityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # How an ID number is verified: "offline" (checksum, birth date, region only; for development or
    # where a contract covers the real check) or "http" (the provider in ``http``).
    id_verifier: str = Field(default="offline", pattern=r"^(offline|http)$")
    # The real-name provider for the "http" verifier.
    http: HttpVerifierConfig | None = None
    # How one-time codes are sent.
    sms: SmsConfig = Field(default_factory=SmsConfig)
    # Seconds a one-time code is valid.
    otp_ttl_s: int = Field(default=300, ge=30, le=3600)
    # Wrong codes allowed before a new one must be requested.
    otp_max_attempts: int = Field(default=5, ge=1, le=20)
    # Seconds between two codes sent to one account.
    otp_resend_interval_s: int = Field(default=60, ge=0)
    # Accept the old 15-digit ID form (no check digit).
    allow_15_digit: bool = False
    # Users with no known age (mobile only) are treated as minors when true.
    unknown_age_is_minor: bool = False
    # Requests per day for unverified users where the policy says "limit".
    unverified_daily_requests: int = Field(default=20, ge=0)
