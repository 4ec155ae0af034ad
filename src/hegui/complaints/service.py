"""Complaint intake and workflow, upholding into the blocklist and optimisation tickets.

States: ``received`` → ``in_review`` (assigned) → ``upheld`` | ``rejected`` → ``closed``. Each type
has a published time limit; ``due_at`` follows from it and open complaints past it are overdue.
Upholding a content complaint adds the content to the blocklist (the service stops generating it
at once) and opens a model-optimisation ticket due by the policy's deadline (draft Art. 15).
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hegui.complaints.config import CONTENT_TYPES, TYPES, ComplaintsConfig
from hegui.complaints.models import BlocklistEntry, Complaint, ComplaintEvent, OptimisationTicket
from hegui.detect.blocklist import MIN_CHARS, canonical, digest
from hegui.gateway.errors import GatewayError
from hegui.identity.service import keyed
from hegui.text import normalize

OPEN = ("received", "in_review")
STATES = ("received", "in_review", "upheld", "rejected", "closed")


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    t = _aware(t)
    return t.isoformat() if t else None


def _text(body: dict[str, Any], field: str, limit: int, *, required: bool = False) -> str:
    v = body.get(field, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        raise GatewayError(400, "invalid_request", f"{field} 须为字符串", f"'{field}' must be a string")
    v = v.strip()
    if required and not v:
        raise GatewayError(400, "invalid_request", f"缺少 {field}", f"'{field}' is required")
    if len(v) > limit:
        raise GatewayError(400, "invalid_request", f"{field} 过长（上限 {limit} 字符）", f"'{field}' is too long (limit {limit})")
    return v


@functools.lru_cache(maxsize=1)
def _pii() -> Any:
    from hegui.detect import DetectorRegistry

    return DetectorRegistry.create("pii")


def scrub(text: str, *, drop: bool = False) -> str:
    """``text`` with the personal information the ``pii`` detector finds replaced by its type tag
    (``<ID_CARD>``) or dropped: upheld content goes to the blocklist and to fine-tuning data, and
    neither may carry a person's ID number, phone or address (a privacy complaint's content often does)."""
    if not text:
        return text
    norm = normalize(text)
    spans = sorted((norm.to_original(f.start, f.end), f.risk) for f in _pii().detect(norm) if f.has_span)
    out, pos = [], 0
    for (s, e), risk in spans:
        if s < pos:  # overlaps the previous span: already removed
            continue
        out.append(text[pos:s])
        out.append("" if drop else f"<{risk.split('.', 1)[-1].upper()}>")
        pos = e
    out.append(text[pos:])
    return "".join(out)


def complaint_json(c: Complaint, now: datetime | None = None, *, admin: bool = True) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    due = _aware(c.due_at)
    d: dict[str, Any] = {"ref": c.ref, "type": c.type, "state": c.state, "created_at": _iso(c.created_at),
                         "due_at": _iso(due), "overdue": c.state in OPEN and due is not None and due < now,
                         "closed_at": _iso(c.closed_at), "resolution": c.resolution}
    if admin:
        d.update({"id": c.id, "account": c.account, "contact": c.contact, "description": c.description,
                  "prompt": c.prompt, "content": c.content, "request_id": c.request_id, "assignee": c.assignee})
    return d


def _event(s: Session, c: Complaint, actor: str, kind: str, text: str, now: datetime, *, public: bool = False) -> None:
    s.add(ComplaintEvent(complaint_id=c.id, ts=now, actor=actor[:128], kind=kind, text=text, public=public))


def submit(factory: sessionmaker[Session], key: bytes, cfg: ComplaintsConfig, body: dict[str, Any], *,
           account: str | None, now: datetime | None = None) -> dict[str, Any]:
    """File a complaint (anyone may; ``account`` when a user key came with it). Returns ref, token, due date."""
    now = now or datetime.now(UTC)
    ctype = body.get("type")
    if ctype not in TYPES:
        raise GatewayError(400, "invalid_type", f"投诉类型须为：{', '.join(TYPES)}", f"type must be one of: {', '.join(TYPES)}")
    lim = cfg.max_text_chars
    description = _text(body, "description", lim, required=True)
    contact = _text(body, "contact", 256)
    prompt, content = _text(body, "prompt", lim), _text(body, "content", lim)
    request_id = _text(body, "request_id", 64)
    if request_id and account and not content:
        prompt, content = _from_audit(factory, request_id, account, prompt)
    if ctype in CONTENT_TYPES and ctype != "pi_shielding" and not content:
        raise GatewayError(400, "content_required", "内容类投诉须提供被投诉的生成内容（content）",
                           "a content complaint needs the generated content complained about ('content')")
    if ctype == "appeal" and account is None:
        raise GatewayError(401, "missing_api_key", "申诉须使用本人的 API 密钥", "an appeal must be sent with your own API key")
    if account is None and not contact:
        raise GatewayError(400, "contact_required", "非用户投诉须留下联系方式（contact）", "please leave a contact so we can reply")
    token = secrets.token_urlsafe(18)
    due = now + timedelta(days=cfg.time_limits_days.get(ctype, 7.0))
    for _ in range(3):
        ref = "C" + now.strftime("%y%m%d") + secrets.token_hex(4).upper()
        try:
            with factory() as s, s.begin():
                c = Complaint(ref=ref, token_hash=keyed(key, "complaint", token), type=ctype, state="received",
                              account=account, contact=contact, description=description, prompt=prompt, content=content,
                              request_id=request_id, assignee="", resolution="", created_at=now, due_at=due)
                s.add(c)
                s.flush()
                _event(s, c, "complainant", "state", "received", now)
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - three random collisions
        raise GatewayError(503, "try_again", "请重试", "please try again")
    return {"ref": ref, "token": token, "type": ctype, "state": "received", "due_at": _iso(due),
            "time_limit_days": cfg.time_limits_days.get(ctype, 7.0)}


def _from_audit(factory: sessionmaker[Session], request_id: str, account: str, prompt: str) -> tuple[str, str]:
    """A user complaining about one of their own requests (the ``X-Request-Id`` of the answer) need
    not paste it: the prompt and answer come from the audit log (PII-redacted, as stored there)."""
    from hegui.store.models import AuditRecord

    with factory() as s:
        rows = s.execute(select(AuditRecord.kind, AuditRecord.content).where(
            AuditRecord.request_id == request_id, AuditRecord.user_pseudo == account)).all()
    got = {k: c for k, c in rows if c}
    return prompt or got.get("input", ""), got.get("output", "")


def public_status(factory: sessionmaker[Session], key: bytes, ref: str, token: str) -> dict[str, Any]:
    """What the complainant sees with the token they got: state, due date and the replies."""
    with factory() as s:
        c = s.execute(select(Complaint).where(Complaint.ref == ref)).scalar_one_or_none()
        if c is None or not token or keyed(key, "complaint", token) != c.token_hash:
            raise GatewayError(404, "not_found", "投诉不存在或凭证错误", "no such complaint, or the token is wrong")
        replies = s.execute(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id, ComplaintEvent.public.is_(True))
                            .order_by(ComplaintEvent.id)).scalars()
        return {**complaint_json(c, admin=False), "replies": [{"ts": _iso(e.ts), "text": e.text} for e in replies]}


def _get(s: Session, ref: str, *, lock: bool = False) -> Complaint:
    q = select(Complaint).where(Complaint.ref == ref)
    c = s.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if c is None:
        raise GatewayError(404, "not_found", "投诉不存在", "no such complaint")
    return c


def detail(factory: sessionmaker[Session], ref: str) -> dict[str, Any]:
    with factory() as s:
        c = _get(s, ref)
        evs = s.execute(select(ComplaintEvent).where(ComplaintEvent.complaint_id == c.id).order_by(ComplaintEvent.id)).scalars()
        tickets = s.execute(select(OptimisationTicket).where(OptimisationTicket.complaint_id == c.id)).scalars()
        return {**complaint_json(c), "events": [{"ts": _iso(e.ts), "actor": e.actor, "kind": e.kind, "text": e.text,
                                                 "public": e.public} for e in evs],
                "tickets": [ticket_json(t) for t in tickets]}


def listing(factory: sessionmaker[Session], *, state: str | None = None, ctype: str | None = None,
            overdue: bool = False, limit: int = 200, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    q = select(Complaint).order_by(Complaint.due_at).limit(limit)
    if state:
        q = q.where(Complaint.state == state)
    if ctype:
        q = q.where(Complaint.type == ctype)
    if overdue:
        q = q.where(Complaint.state.in_(OPEN), Complaint.due_at < now)
    with factory() as s:
        return [complaint_json(c, now) for c in s.execute(q).scalars()]


def overdue_count(factory: sessionmaker[Session], now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(Complaint)
                             .where(Complaint.state.in_(OPEN), Complaint.due_at < now)).scalar_one())


def assign(factory: sessionmaker[Session], ref: str, assignee: str, actor: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not isinstance(assignee, str) or not assignee.strip() or len(assignee) > 128:
        raise GatewayError(400, "invalid_request", "须指定处理人", "an assignee is required")
    with factory() as s, s.begin():
        c = _get(s, ref, lock=True)
        if c.state not in OPEN:
            raise GatewayError(409, "closed", "投诉已处理完毕", "the complaint is already decided")
        c.assignee, c.state = assignee.strip(), "in_review"
        _event(s, c, actor, "assign", c.assignee, now)
        return complaint_json(c, now)


def reply(factory: sessionmaker[Session], ref: str, text: str, actor: str, *, public: bool = True,
          now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    if not isinstance(text, str) or not text.strip() or len(text) > 10_000:
        raise GatewayError(400, "invalid_request", "回复内容须为 1–10000 个字符", "the reply must be 1–10000 characters")
    with factory() as s, s.begin():
        c = _get(s, ref)
        _event(s, c, actor, "reply" if public else "note", text.strip(), now, public=public)
        return complaint_json(c, now)


def ticket_json(t: OptimisationTicket) -> dict[str, Any]:
    return {"id": t.id, "complaint_id": t.complaint_id, "state": t.state, "risk": t.risk, "created_at": _iso(t.created_at),
            "due_at": _iso(t.due_at), "done_at": _iso(t.done_at)}


def decide(factory: sessionmaker[Session], cfg: ComplaintsConfig, ref: str, decision: str, actor: str, *,
           reason: str, safe_answer: str = "", deadline_days: int | None = None,
           on_blocklisted: Callable[[int, str], None] | None = None, on_appeal: Callable[[str, str], None] | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """Uphold or reject. An upheld content complaint goes to the blocklist and opens a ticket; an
    upheld appeal lifts the sanction (``on_appeal``)."""
    now = now or datetime.now(UTC)
    if decision not in ("uphold", "reject"):
        raise GatewayError(400, "invalid_request", "决定须为 uphold 或 reject", "decision must be 'uphold' or 'reject'")
    if not isinstance(reason, str) or not reason.strip():
        raise GatewayError(400, "reason_required", "须填写处理结论", "a reason is required")
    new_entry: tuple[int, str] | None = None
    with factory() as s, s.begin():
        c = _get(s, ref, lock=True)
        if c.state not in OPEN:
            raise GatewayError(409, "closed", "投诉已处理完毕", "the complaint is already decided")
        c.state, c.resolution = ("upheld" if decision == "uphold" else "rejected"), reason.strip()[:2000]
        _event(s, c, actor, "state", f"{c.state}: {c.resolution}", now, public=True)
        if decision == "uphold" and c.type in CONTENT_TYPES:
            text = c.content or c.prompt
            canon = canonical(scrub(text, drop=True)) if text else ""
            if len(canon) < MIN_CHARS:
                raise GatewayError(400, "content_too_short", "被投诉内容过短，无法加入屏蔽库",
                                   "the content is too short to blocklist")
            d = digest(canon)
            entry = s.execute(select(BlocklistEntry).where(BlocklistEntry.digest == d)).scalar_one_or_none()
            if entry is None:
                entry = BlocklistEntry(complaint_id=c.id, text=canon, digest=d, created_at=now, active=True)
                s.add(entry)
            entry.active = True
            s.flush()
            new_entry = (entry.id, canon)
            days = deadline_days or cfg.optimisation_days_default
            s.add(OptimisationTicket(complaint_id=c.id, state="open", risk="hg.blocklist", prompt=scrub(c.prompt),
                                     rejected=scrub(c.content), safe_answer=safe_answer.strip() if isinstance(safe_answer, str) else "",
                                     created_at=now, due_at=now + timedelta(days=days)))
        account, ctype = c.account, c.type
        s.flush()
    if new_entry and on_blocklisted:
        on_blocklisted(*new_entry)
    if decision == "uphold" and ctype == "appeal" and account and on_appeal:
        on_appeal(account, f"appeal {ref} upheld: {reason.strip()[:120]}")
    return detail(factory, ref)


def close(factory: sessionmaker[Session], ref: str, actor: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with factory() as s, s.begin():
        c = _get(s, ref, lock=True)
        if c.state in OPEN:
            raise GatewayError(409, "undecided", "投诉尚未作出决定", "decide (uphold or reject) before closing")
        c.state, c.closed_at = "closed", now
        _event(s, c, actor, "state", "closed", now)
        return complaint_json(c, now)


def tickets(factory: sessionmaker[Session], *, state: str | None = "open") -> list[dict[str, Any]]:
    q = select(OptimisationTicket).order_by(OptimisationTicket.due_at)
    if state:
        q = q.where(OptimisationTicket.state == state)
    with factory() as s:
        return [ticket_json(t) for t in s.execute(q).scalars()]


def export_jsonl(factory: sessionmaker[Session], refusal: str, *, ticket_id: int | None = None) -> str:
    """Fine-tuning cases for the model team: one JSON object a line (prompt, rejected, chosen)."""
    q = select(OptimisationTicket).order_by(OptimisationTicket.id)
    q = q.where(OptimisationTicket.id == ticket_id) if ticket_id is not None else q.where(OptimisationTicket.state == "open")
    with factory() as s:
        rows = list(s.execute(q).scalars())
        if ticket_id is not None and not rows:
            raise GatewayError(404, "not_found", "工单不存在", "no such ticket")
        lines = [json.dumps({"ticket": t.id, "complaint_id": t.complaint_id, "risk": t.risk, "prompt": t.prompt,
                             "rejected": t.rejected, "chosen": t.safe_answer or refusal, "due_at": _iso(t.due_at)},
                            ensure_ascii=False) for t in rows]
    return "\n".join(lines) + ("\n" if lines else "")


def finish_ticket(factory: sessionmaker[Session], ticket_id: int, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with factory() as s, s.begin():
        t = s.get(OptimisationTicket, ticket_id)
        if t is None:
            raise GatewayError(404, "not_found", "工单不存在", "no such ticket")
        t.state, t.done_at = "done", now
        return ticket_json(t)


class StoreSource:
    """The blocklist detector's view of the store: a cheap version, then the rows when it changed."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def version(self) -> object:
        with self.factory() as s:
            return tuple(s.execute(select(func.count(), func.max(BlocklistEntry.id)).where(BlocklistEntry.active.is_(True))).one())

    def rows(self) -> list[tuple[int, str]]:
        return self.rows_after(0)

    def rows_after(self, entry_id: int) -> list[tuple[int, str]]:
        with self.factory() as s:
            return [(int(i), t) for i, t in s.execute(select(BlocklistEntry.id, BlocklistEntry.text)
                                                    .where(BlocklistEntry.active.is_(True), BlocklistEntry.id > entry_id)
                                                    .order_by(BlocklistEntry.id))]
