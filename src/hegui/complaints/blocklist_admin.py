"""Staff management of the blocklist: list, add by hand, remove with a reason, export.

Upholding a complaint adds entries (`service.decide`); staff also add content reported through other
channels and remove entries added in error. Every change is written to the hash-chained audit log
with the actor and the reason (not the text).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit import AuditEntry, append
from hegui.complaints.models import BlocklistEntry
from hegui.detect.blocklist import MIN_CHARS, canonical, digest


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).isoformat()


def entry_json(e: BlocklistEntry) -> dict[str, Any]:
    return {"id": e.id, "complaint_id": e.complaint_id, "text": e.text, "active": e.active,
            "created_at": _iso(e.created_at)}


def entries(factory: sessionmaker[Session], *, include_removed: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
    q = select(BlocklistEntry).order_by(BlocklistEntry.id.desc()).limit(limit)
    if not include_removed:
        q = q.where(BlocklistEntry.active.is_(True))
    with factory() as s:
        return [entry_json(e) for e in s.execute(q).scalars()]


def _audit(factory: sessionmaker[Session], key: bytes, action: str, entry_id: int, actor: str, reason: str) -> None:
    append(factory, key, [AuditEntry(request_id=f"blocklist-{action}-{entry_id}", kind="blocklist", user_pseudo="staff",
                                     route="/blocklist", model="-", action=action, status=200, latency_ms=0.0,
                                     risks=["hg.blocklist"], detail=f"{actor}: {reason}"[:128])], keep_content=False)


def add(factory: sessionmaker[Session], key: bytes, text: str, actor: str, reason: str) -> tuple[int, str]:
    """Add ``text`` (normalised) to the blocklist; returns (entry id, canonical text)."""
    if not reason.strip():
        raise ValueError("a reason is required / 须填写理由")
    from hegui.complaints.service import scrub

    canon = canonical(scrub(text or "", drop=True))  # no personal information in the blocklist
    if len(canon) < MIN_CHARS:
        raise ValueError(f"the content needs at least {MIN_CHARS} letters or digits / 内容过短，无法加入屏蔽库")
    d = digest(canon)
    with factory() as s, s.begin():
        e = s.execute(select(BlocklistEntry).where(BlocklistEntry.digest == d)).scalar_one_or_none()
        if e is None:
            e = BlocklistEntry(complaint_id=None, text=canon, digest=d, created_at=datetime.now(UTC), active=True)
            s.add(e)
        e.active = True
        s.flush()
        entry_id = e.id
    _audit(factory, key, "add", entry_id, actor, reason.strip())
    return entry_id, canon


def remove(factory: sessionmaker[Session], key: bytes, entry_id: int, actor: str, reason: str) -> None:
    """Deactivate an entry (kept for the record); the detector drops it on its next refresh."""
    if not reason.strip():
        raise ValueError("a reason is required / 须填写理由")
    with factory() as s, s.begin():
        e = s.get(BlocklistEntry, entry_id)
        if e is None or not e.active:
            raise LookupError("no such active entry / 条目不存在")
        e.active = False
    _audit(factory, key, "remove", entry_id, actor, reason.strip())


def export_jsonl(factory: sessionmaker[Session]) -> str:
    lines = [json.dumps(e, ensure_ascii=False) for e in entries(factory)]
    return "\n".join(lines) + ("\n" if lines else "")
