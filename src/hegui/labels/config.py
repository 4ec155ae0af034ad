"""`LabelsConfig`: who we are in the label (provider code), how labels are signed, how they look."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hegui.labels.aigc import charset_problem
from hegui.labels.text import is_compliant_label

Algorithm = Literal["sm2", "ed25519", "hmac-sha256"]
C2PAAlgorithm = Literal["es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"]
Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]


class LabelsConfig(BaseModel):
    """The ``labels`` section of the settings."""

    model_config = ConfigDict(extra="forbid")

    # ContentProducer / ContentPropagator code. Set it to the provider's code (TC260 practice: 27
    # characters, 001 + 1 + USCC + product suffix); the default marks an unconfigured installation.
    provider_code: str = "hegui-unconfigured"
    # ReservedCode1 signature: SM3withSM2 (TC260-PG-202511A), Ed25519, or HMAC-SHA256 (shared key).
    algorithm: Algorithm = "sm2"
    # Private key file; created on first use (mode 0600) under var_dir/labels/ when unset.
    key_path: Path | None = None
    # Visible label on images and video; must name AI and generation (GB 45438 §5).
    label_text: str = "AI生成"
    position: Corner = "bottom-right"
    # Text height as a fraction of the shortest side; the standard's floor is 0.05.
    text_height: float = Field(default=0.06, ge=0.05, le=0.5)
    # Video: seconds the label shows on the start frames (floor 2 s), or the whole video.
    video_seconds: float = Field(default=2.0, ge=2.0)
    video_throughout: bool = False
    # Invisible image watermark (--watermark): the key choosing its chips (None = hegui's public
    # default, so anyone can detect it; set a private key to keep detection to yourself).
    watermark_key: str | None = None
    # PSNR the watermark embedding aims at, dB (higher = fainter and less robust; bench at 42).
    watermark_psnr: float = Field(default=42.0, ge=30.0, le=60.0)
    # C2PA manifest (`label apply --c2pa`, extra hegui[c2pa]): PEM certificate chain, end-entity
    # first (not self-signed; C2PA-usable EKU such as emailProtection). Signing is offline (no
    # timestamp authority): a manifest validates only while the certificate does.
    c2pa_cert_path: Path | None = None
    # PEM private key of the C2PA signing certificate.
    c2pa_key_path: Path | None = None
    # C2PA signature algorithm; must match the key (es256/384/512: EC, ps256/384/512: RSA, ed25519).
    c2pa_algorithm: C2PAAlgorithm = "es256"
    # PEM CA certificates whose C2PA manifests `verify` reports as "Trusted" (else "Valid" at best).
    c2pa_trust_anchors: Path | None = None
    # Refuse inputs larger than these instead of exhausting memory.
    max_pixels: int = 100_000_000
    max_bytes: int = 2 * 1024**3

    @field_validator("provider_code")
    @classmethod
    def _code(cls, v: str) -> str:
        p = charset_problem(v)
        if p or not v:
            raise ValueError(f"provider_code {v!r}: {p or 'empty'} (use the ASCII provider code)")
        return v

    @field_validator("label_text")
    @classmethod
    def _text(cls, v: str) -> str:
        if not is_compliant_label(v):
            raise ValueError(f"label_text {v!r} must contain 人工智能/AI and 生成/合成 (GB 45438)")
        return v
