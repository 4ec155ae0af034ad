"""Texts edited in the console — the explicit label (``gateway.label``) and the user notices
(``notices``) — kept in the store and laid over the configuration.

Each save is validated by the same pydantic models the configuration uses (a label without both
"AI" and "generated" words is refused, GB 45438) and written to the audit log (who, which section;
not the text). The gateway applies the overrides when it starts and re-reads them every
``REFRESH_S`` seconds, so every worker process converges on the edit.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit import AuditEntry, append
from hegui.console.models import TextOverride
from hegui.labels.text import TextLabelConfig

REFRESH_S = 5.0
SECTIONS = ("label", "notices")


class TextsError(ValueError):
    """An edit that the configuration model refuses, with its reasons."""


def _models(settings: Any) -> dict[str, tuple[type[BaseModel], Any, str]]:
    """section → (model class, owner object, attribute on the owner)."""
    out: dict[str, tuple[type[BaseModel], Any, str]] = {"label": (TextLabelConfig, settings.gateway, "label")}
    notices = getattr(settings, "notices", None)
    if notices is not None:
        out["notices"] = (type(notices), settings, "notices")
    return out


def load(factory: sessionmaker[Session]) -> dict[str, dict[str, Any]]:
    with factory() as s:
        return {r.section: json.loads(r.value) for r in s.execute(select(TextOverride)).scalars()}


def apply(settings: Any, overrides: dict[str, dict[str, Any]]) -> None:
    """Lay ``overrides`` over ``settings`` in place (fields the override lacks keep their config value)."""
    for section, (model, owner, attr) in _models(settings).items():
        if section in overrides:
            current = getattr(owner, attr).model_dump()
            current.update(overrides[section])
            setattr(owner, attr, model.model_validate(current))


def save(factory: sessionmaker[Session], key: bytes, settings: Any, section: str, values: dict[str, Any], actor: str) -> None:
    """Validate and store an edit of ``section``, apply it to ``settings`` and audit who made it."""
    models = _models(settings)
    if section not in models:
        raise TextsError(f"unknown section {section!r}")
    model, owner, attr = models[section]
    merged = getattr(owner, attr).model_dump()
    merged.update(values)
    try:
        validated = model.model_validate(merged)
    except ValidationError as e:
        raise TextsError("; ".join(str(err["msg"]) for err in e.errors())) from None
    now = datetime.now(UTC)
    with factory() as s, s.begin():
        row = s.get(TextOverride, section)
        blob = json.dumps(validated.model_dump(mode="json"), ensure_ascii=False)
        if row is None:
            s.add(TextOverride(section=section, value=blob, updated_at=now, updated_by=actor[:64]))
        else:
            row.value, row.updated_at, row.updated_by = blob, now, actor[:64]
    append(factory, key, [AuditEntry(request_id=f"console-texts-{int(now.timestamp())}", kind="console",
                                     user_pseudo="staff", route="/console/policy", model="-", action="edit",
                                     status=200, latency_ms=0.0, detail=f"{actor[:64]}: edited {section}")],
           keep_content=False)
    setattr(owner, attr, validated)


class Refresher:
    """Re-reads the overrides at most every ``REFRESH_S`` seconds (called from request paths)."""

    def __init__(self, settings: Any, factory: sessionmaker[Session]) -> None:
        self.settings, self.factory, self.next_at = settings, factory, 0.0

    def maybe_refresh(self) -> None:
        now = time.monotonic()
        if now < self.next_at:
            return
        self.next_at = now + REFRESH_S
        apply(self.settings, load(self.factory))
