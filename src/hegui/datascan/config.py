"""`ScanConfig`: the ``scan`` section of the settings, so a corpus scan is set by YAML like the rest.

Command-line options win over these values; these win over the built-in defaults. The TC260
thresholds themselves (5 %, 98 %, 96 %, 4,000 items, 10 %) are the standard's and stay fixed in
`hegui.datascan.protocol`: a configuration must not be able to make a failing corpus pass.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QualityFlag = Literal["empty", "too_short", "symbols", "digits", "repetitive"]


class QualityThresholds(BaseModel):
    """When a quality flag is set (Gopher/C4-style heuristics, in characters for Chinese)."""

    model_config = ConfigDict(extra="forbid")

    # Fewer non-blank characters than this: ``too_short``.
    min_chars: int = Field(default=10, ge=0)
    # Share of symbols (not letters, digits, spaces or CJK punctuation) above this: ``symbols``.
    max_symbol_ratio: float = Field(default=0.3, ge=0, le=1)
    # Share of digits above this: ``digits``.
    max_digit_ratio: float = Field(default=0.5, ge=0, le=1)
    # Share of characters in repeated lines, or covered by a repeated 10-gram, above this: ``repetitive``.
    max_repetition: float = Field(default=0.3, ge=0, le=1)


class MinHashConfig(BaseModel):
    """Near-duplicate detection: MinHash over character n-grams, LSH bands × rows."""

    model_config = ConfigDict(extra="forbid")

    # Bins of the MinHash sketch (hegui.datascan.minhash: fast similarity sketching).
    num_perm: int = Field(default=128, ge=8, le=1024)
    # LSH bands; a pair is a candidate when one band matches. More bands: lower similarity caught.
    bands: int = Field(default=12, ge=1)
    # Signature rows per band (bands × rows ≤ num_perm). More rows: fewer false candidates.
    rows: int = Field(default=10, ge=1)
    # Character n-gram length of the shingles (whitespace removed first).
    ngram: int = Field(default=5, ge=1, le=32)
    # Seed of the MinHash permutations (keep it fixed to compare scans).
    seed: int = 42

    @model_validator(mode="after")
    def _fits(self) -> MinHashConfig:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows ({self.bands} × {self.rows}) must not exceed num_perm ({self.num_perm})")
        return self


class ScanConfig(BaseModel):
    """The ``scan`` section (``hegui scan``); see docs/scan.md, "Configuration"."""

    model_config = ConfigDict(extra="forbid")

    # Detectors run on every document; empty = the gateway's own list (guard.detectors).
    detectors: list[str] = Field(default_factory=list)
    # Quality flags that make --filter reject a document (they are always annotated).
    reject_flags: list[QualityFlag] = Field(default_factory=lambda: ["empty", "too_short", "symbols", "repetitive"])
    quality: QualityThresholds = Field(default_factory=QualityThresholds)
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    # Seed of the review and automated samples (same seed, same samples on any machine).
    seed: int = 20231
    # Manual-review sample size (TC260: at least 4,000 for the check to pass).
    review_size: int = Field(default=4000, ge=0)
    # Share of documents in the automated check: 1 = all; TC260 asks for at least 0.10.
    auto_fraction: float = Field(default=1.0, gt=0, le=1)
    # Annotations file format: jsonl or parquet (--annotations-format / the --annotations extension win).
    output_format: Literal["jsonl", "parquet"] = "jsonl"
    # Field/column holding the text (--text-field).
    text_field: str = "text"
    # Field/column holding the document id (--id-field); unset: file and offset.
    id_field: str | None = None
    # Plain text: one document per line or per file (--text-unit).
    text_unit: Literal["line", "file"] = "line"
    # local processes or a Ray cluster (--executor).
    executor: Literal["local", "ray"] = "local"
    # Worker processes, 0 = all cores (--workers).
    workers: int = Field(default=0, ge=0)
    # The largest shard (MB) uncompressed line files are split into (--shard-mb); a corpus under
    # 16 × this is cut into 16 shards of at least 4 MiB (`readers.shard_size`).
    shard_mb: int = Field(default=32, ge=1)
