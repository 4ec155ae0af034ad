"""Personal-information requests of a user (PIPL Art. 45–47, Measures Art. 13): access and deletion.

Deletion removes the user's stored inputs and outputs everywhere they are kept (audit content,
complaint texts and the tickets made from them), the identity and usage records, and keeps only the
minimal record the law requires: the audit rows without content (their hash chain still verifies,
Cybersecurity Law Art. 21) and the sanction counts (Art. 19). The receipt lists what was removed and
is signed with the installation key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from hegui.audit import AuditEntry, append
from hegui.complaints.models import Complaint, ComplaintEvent, OptimisationTicket
from hegui.complaints.service import complaint_json
from hegui.enforcement.service import events as sanction_events
from hegui.enforcement.service import get_standing
from hegui.identity import service as identity
from hegui.identity.config import IdentityConfig
from hegui.store.models import AuditRecord
from hegui.usage import service as usage
from hegui.usage.models import UsageDay

KEPT = [
    "audit rows without content (hash chain, Cybersecurity Law Art. 21) / 不含内容的审计记录",
    "sanction counts and risk ids (Measures Art. 19) / 处置计数与风险类别",
]


def access(factory: sessionmaker[Session], icfg: IdentityConfig, account: str, *, limit: int = 1000) -> dict[str, Any]:
    """Everything stored about the account (a copy for the user, PIPL Art. 45)."""
    with factory() as s:
        audit = s.execute(select(AuditRecord).where(AuditRecord.user_pseudo == account).order_by(AuditRecord.seq.desc())
                          .limit(limit)).scalars()
        audit_rows = [{"seq": r.seq, "ts": r.ts.isoformat(), "kind": r.kind, "route": r.route, "action": r.action,
                       "risks": [x for x in r.risks.split(",") if x], "content": r.content} for r in audit]
        complaints = [complaint_json(c) for c in s.execute(select(Complaint).where(Complaint.account == account)).scalars()]
        days = [{"day": d.day, "requests": d.requests, "minutes": round(d.active_s / 60, 2)}
                for d in s.execute(select(UsageDay).where(UsageDay.account == account).order_by(UsageDay.day)).scalars()]
    return {"account": account, "identity": identity.view(factory, icfg, account).to_dict(),
            "standing": get_standing(factory, account), "sanctions": sanction_events(factory, account),
            "usage": days, "complaints": complaints, "audit": audit_rows}


def erase(factory: sessionmaker[Session], key: bytes, account: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Delete the account's content and personal records; returns a signed receipt."""
    now = now or datetime.now(UTC)
    removed: dict[str, int] = {}
    with factory() as s, s.begin():
        sqlite_store = s.get_bind().dialect.name == "sqlite"
        if sqlite_store:
            # Overwrite the freed bytes with zeros, so the erased text is not left in the file.
            s.execute(text("PRAGMA secure_delete = ON"))
        res = s.execute(update(AuditRecord).where(AuditRecord.user_pseudo == account, AuditRecord.content.is_not(None))
                        .values(content=None))
        removed["audit_content"] = int(res.rowcount or 0)
        ids = [c for c in s.execute(select(Complaint.id).where(Complaint.account == account)).scalars()]
        if ids:
            s.execute(update(Complaint).where(Complaint.id.in_(ids))
                      .values(description="", prompt="", content="", contact="", resolution=""))
            s.execute(update(ComplaintEvent).where(ComplaintEvent.complaint_id.in_(ids)).values(text=""))
            s.execute(update(OptimisationTicket).where(OptimisationTicket.complaint_id.in_(ids))
                      .values(prompt="", rejected=""))
        removed["complaints"] = len(ids)
        removed["identity"] = identity.forget(s, account)
        removed["usage"] = usage.forget(s, account)
        receipt: dict[str, Any] = {
            "receipt_id": "R" + now.strftime("%y%m%d") + secrets.token_hex(5).upper(),
            "type": "pi_deletion", "account": account, "completed_at": now.isoformat(),
            "removed": removed, "kept": KEPT,
        }
        receipt["signature"] = sign_receipt(key, receipt)
        s.add(Complaint(ref=receipt["receipt_id"], token_hash=identity.keyed(key, "complaint", secrets.token_urlsafe(18)),
                        type="pi_deletion", state="closed", account=account, contact="", description="",
                        prompt="", content="", request_id="", assignee="system",
                        resolution=json.dumps({k: receipt[k] for k in ("removed", "signature")}), created_at=now,
                        due_at=now + timedelta(days=15), closed_at=now))
    if sqlite_store:
        _truncate_wal(factory)
    append(factory, key, [AuditEntry(request_id=receipt["receipt_id"], kind="pi_request", user_pseudo=account,
                                     route="/v1/hegui/requests", model="-", action="delete", status=200, latency_ms=0.0,
                                     detail=json.dumps(removed, separators=(",", ":"))[:128])], keep_content=False)
    return receipt


def _truncate_wal(factory: sessionmaker[Session]) -> None:
    """SQLite: copy the write-ahead log into the database and empty it, so the frames that still hold
    the erased text are gone from disk too (best effort: readers may keep it for a moment)."""
    with factory() as s:
        s.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def sign_receipt(key: bytes, receipt: dict[str, Any]) -> str:
    body = {k: v for k, v in receipt.items() if k != "signature"}
    blob = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, b"receipt:" + blob, hashlib.sha256).hexdigest()
