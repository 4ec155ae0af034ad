"""`GatewayConfig`: upstreams, limits, streaming mode, labels."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hegui.labels.text import TextLabelConfig


class StreamMode(StrEnum):
    # Nothing unchecked reaches the client: text is released sentence by sentence after its check.
    BUFFERED = "buffered"
    # Text is forwarded at once and checked behind; a violation stops the stream (lower latency).
    STREAM_FIRST = "stream_first"


class UpstreamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str  # base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8001/v1
    api_key: SecretStr | None = None
    # Model name to send upstream (default: the name the client asked for).
    model: str | None = None


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One upstream for every model (``hegui serve --upstream`` / HEGUI_GATEWAY__UPSTREAM_URL).
    upstream_url: str | None = None
    upstream_api_key: SecretStr | None = None
    # Model name → upstream; wins over ``upstream_url`` for the names it lists.
    models: dict[str, UpstreamConfig] = Field(default_factory=dict)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    connect_retries: int = Field(default=2, ge=0, le=10)
    max_connections: int = Field(default=256, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    stream_mode: StreamMode = StreamMode.BUFFERED
    # Buffered mode releases text at sentence ends; a sentence longer than this is cut and checked.
    stream_buffer_chars: int = Field(default=400, ge=16)
    # Characters of already-released text re-checked with each new piece (violations across a cut).
    stream_overlap_chars: int = Field(default=64, ge=0)
    label: TextLabelConfig = Field(default_factory=TextLabelConfig)
    # Requests per minute per key (0: unlimited); a key's own limit wins.
    rate_limit_rpm: int = Field(default=600, ge=0)
    # Admin key to create on start if no key with this value exists (HEGUI_GATEWAY__ADMIN_KEY or HEGUI_ADMIN_KEY).
    admin_key: SecretStr | None = None
    json_logs: bool = True
