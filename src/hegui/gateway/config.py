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


class MediaConfig(BaseModel):
    """Labels on what ``/v1/images/generations`` and ``/v1/audio/speech`` return (GB 45438; the
    implicit metadata label is always written, signed with the ``labels`` key)."""

    model_config = ConfigDict(extra="forbid")

    # Visible label on generated images (labels.label_text in labels.position; Deep Synthesis
    # Art. 17 requires explicit labels on synthesised images).
    explicit_images: bool = True
    # The audible 短长短短 cue before synthesised speech (explicit label, GB 45438 §5.3).
    explicit_audio: bool = True
    # Invisible watermark carrying a hash of the ProduceID (survives re-encoding and resizing).
    watermark_images: bool = True
    # An upstream that answers with image URLs: the gateway fetches them (at most this many bytes,
    # from the URL the upstream gave) and returns b64_json, since it cannot label a file it does not serve.
    max_fetch_bytes: int = Field(default=50_000_000, ge=1024)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # One upstream for every model (``hegui serve --upstream`` / HEGUI_GATEWAY__UPSTREAM_URL).
    upstream_url: str | None = None
    # Bearer token sent to ``upstream_url`` (never logged).
    upstream_api_key: SecretStr | None = None
    # Model name → upstream; wins over ``upstream_url`` for the names it lists.
    models: dict[str, UpstreamConfig] = Field(default_factory=dict)
    # Seconds to open a connection to an upstream; connection failures are retried (the request never reached it).
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # Seconds of upstream silence before the request fails with 504 (or a stream ends with upstream_timeout).
    read_timeout_s: float = Field(default=120.0, gt=0)
    # Retries on connection errors only; a request that reached the model server is never sent twice.
    connect_retries: int = Field(default=2, ge=0, le=10)
    # Pooled connections to the upstreams, per gateway process.
    max_connections: int = Field(default=256, ge=1)
    # Larger request bodies are refused with 413 (declared or streamed).
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # buffered: nothing unchecked reaches the client; stream_first: forward at once, check behind (docs/gateway.md).
    stream_mode: StreamMode = StreamMode.BUFFERED
    # Buffered mode releases text at sentence ends; a sentence longer than this is cut and checked.
    stream_buffer_chars: int = Field(default=400, ge=16)
    # Buffered mode releases the first clause (up to a comma) as soon as it is checked, for a faster
    # first token; later pieces end at sentences.
    stream_first_clause: bool = True
    # Characters of already-released text re-checked with each new piece (violations across a cut).
    stream_overlap_chars: int = Field(default=64, ge=0)
    label: TextLabelConfig = Field(default_factory=TextLabelConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    # Requests per minute per key (0: unlimited); a key's own limit wins.
    rate_limit_rpm: int = Field(default=600, ge=0)
    # Admin key to create on start if no key with this value exists (HEGUI_GATEWAY__ADMIN_KEY or HEGUI_ADMIN_KEY).
    admin_key: SecretStr | None = None
    # JSON lines on stderr (whitelisted, non-personal fields only); false: plain text.
    json_logs: bool = True
    # Milliseconds a thread may hold the interpreter lock while another waits (Python's default: 5). The store
    # calls (audit commits, key lookups) run in worker threads while the event loop checks other requests;
    # at 5 ms a finished commit can wait that long for the loop. 0: leave the interpreter's setting.
    gil_switch_interval_ms: float = Field(default=1.0, ge=0, le=100)
