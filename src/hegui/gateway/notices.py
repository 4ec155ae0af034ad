"""Notices the usage check queues on a request (rest reminders, the one-time disclosure) and the
response paths render in the answer's language."""

from __future__ import annotations

from typing import Any

from hegui.gateway.state import RequestContext


def notice_texts(ctx: RequestContext, lang: str) -> list[str]:
    notes: list[dict[str, str]] = ctx.extra.get("notices", [])
    key = "en" if lang == "en" else "zh"
    return [n[key] for n in notes]


def add_notices(ctx: RequestContext, data: dict[str, Any], kind: str, lang: str) -> None:
    """Append queued notices to the first answer and list them under ``hegui.notices``."""
    texts = notice_texts(ctx, lang)
    if not texts:
        return
    data.setdefault("hegui", {})["notices"] = [{"kind": n["kind"], "text": t}
                                               for n, t in zip(ctx.extra["notices"], texts, strict=True)]
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return
    c = choices[0]
    if kind == "chat" and isinstance(c.get("message"), dict) and isinstance(c["message"].get("content"), str):
        c["message"]["content"] += "\n\n" + "\n".join(texts)
    elif kind != "chat" and isinstance(c.get("text"), str):
        c["text"] += "\n\n" + "\n".join(texts)
