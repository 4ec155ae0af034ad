"""The GB 45438-2025 implicit label: seven fields in a fixed JSON shape (Appendix E).

Every file format carries the same string, ``{"AIGC":{"Label":…,…,"ReservedCode2":…}}``, so the model
lives here once and the per-format modules only move bytes. Values are checked against the
standard's character set (Appendix E j): GB18030 code points 0x21, 0x23–0x5B, 0x5D–0x7E, plus the
escaped quote ``\\"``; a value outside it is refused rather than written, because a reader that
follows the standard may reject the whole label.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

FIELDS: tuple[str, ...] = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
REQUIRED: tuple[str, ...] = ("Label", "ContentProducer", "ProduceID", "ContentPropagator", "PropagateID")
# "1" AI-generated, "2" possibly AI-generated, "3" suspected AI-generated (Appendix E).
LABEL_VALUES: dict[str, str] = {"1": "generated", "2": "possibly generated", "3": "suspected generated"}

# Allowed characters; ``\"`` is the only escape the standard admits, so it is removed before the check.
_CHARSET = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]*$")


class LabelError(ValueError):
    """A label that cannot be written or read, with the reason in words."""


def charset_problem(value: str) -> str | None:
    """Why ``value`` is outside the Appendix E character set, or None when it is inside."""
    plain = value.replace('\\"', "")
    if _CHARSET.match(plain):
        return None
    bad = next(c for c in plain if not _CHARSET.match(c))
    return f"character {bad!r} (U+{ord(bad):04X}) is outside the GB 45438 Appendix E character set"


@dataclass(frozen=True)
class AIGCLabel:
    """One implicit label. Field names are the standard's exact spellings."""

    Label: str
    ContentProducer: str
    ProduceID: str
    ReservedCode1: str = ""
    ContentPropagator: str = ""
    PropagateID: str = ""
    ReservedCode2: str = ""

    def problems(self) -> list[str]:
        """Every way this label departs from Appendix E (empty when it conforms)."""
        out: list[str] = []
        if self.Label not in LABEL_VALUES:
            out.append(f"Label must be one of 1, 2, 3, not {self.Label!r}")
        for name in REQUIRED:
            if not getattr(self, name):
                out.append(f"{name} is empty")
        for name in FIELDS:
            p = charset_problem(getattr(self, name))
            if p:
                out.append(f"{name}: {p}")
        return out

    def validate(self) -> AIGCLabel:
        """This label, or LabelError listing every problem."""
        probs = self.problems()
        if probs:
            raise LabelError("invalid AIGC label: " + "; ".join(probs))
        return self

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in FIELDS}

    def to_json(self) -> str:
        """The exact string the standard stores: compact, field order as in Appendix E, no Base64."""
        return json.dumps({"AIGC": self.to_dict()}, ensure_ascii=True, separators=(",", ":"))

    def with_fields(self, **changes: str) -> AIGCLabel:
        return replace(self, **changes)

    @classmethod
    def from_json(cls, text: str | bytes) -> AIGCLabel:
        """Parse ``{"AIGC":{…}}`` (or the bare inner object, as some writers store it)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise LabelError("AIGC label is not UTF-8 text") from None
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabelError(f"AIGC label is not valid JSON: {e.msg} at char {e.pos}") from None
        if isinstance(data, dict) and "AIGC" in data:
            data = data["AIGC"]
        if not isinstance(data, dict):
            raise LabelError("AIGC label must be a JSON object with the seven fields")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise LabelError(f"AIGC label has unknown fields: {', '.join(unknown)}")
        missing = [k for k in ("Label", "ContentProducer", "ProduceID") if k not in data]
        if missing:
            raise LabelError(f"AIGC label lacks required fields: {', '.join(missing)}")
        if not all(isinstance(v, str) for v in data.values()):
            raise LabelError("every AIGC field must be a string")
        return cls(**{k: data.get(k, "") for k in FIELDS})

    def asdict(self) -> dict[str, str]:
        return asdict(self)


def new_produce_id() -> str:
    """A unique content id in the allowed character set (32 hex digits)."""
    return uuid.uuid4().hex


def first_write(provider_code: str, produce_id: str | None = None, label: str = "1") -> AIGCLabel:
    """The producer's label. First-write rule (Appendix E note 1): the propagator fields repeat the
    producer's, so a file is complete before any platform touches it."""
    pid = produce_id or new_produce_id()
    return AIGCLabel(
        Label=label,
        ContentProducer=provider_code,
        ProduceID=pid,
        ContentPropagator=provider_code,
        PropagateID=pid,
    ).validate()


def propagate(label: AIGCLabel, propagator_code: str, propagate_id: str | None = None) -> AIGCLabel:
    """The label a distributing platform writes (Measures Art. 6): its own code and content id; the
    producer's fields and ReservedCode1 are kept so the producer's signature stays checkable."""
    return label.with_fields(
        ContentPropagator=propagator_code,
        PropagateID=propagate_id or new_produce_id(),
        ReservedCode2="",
    ).validate()
