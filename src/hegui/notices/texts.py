"""The disclosure (Art. 10), terms with the labelling methods (Labelling Measures Art. 8), guidance
(Art. 18), and the model name and filing number, assembled from configuration."""

from __future__ import annotations

from typing import Any


def _pick(d: dict[str, str], lang: str) -> str:
    return d.get(lang) or d.get("zh") or next(iter(d.values()), "")


def limits_text(settings: Any, lang: str) -> str:
    u = settings.usage
    scope = settings_duties(settings).anti_addiction_scope
    if lang == "en":
        parts = [f"Minors: at most {u.minor_daily_requests} requests and {u.minor_daily_minutes} minutes a day, "
                 f"no service {u.minor_quiet_start}–{u.minor_quiet_end}."]
        if u.reminder_after_min:
            who = "all users" if scope == "all" else "minors"
            parts.append(f"A rest reminder is shown to {who} after {u.reminder_after_min:g} minutes of continuous use.")
        return " ".join(parts)
    parts = [f"未成年人每日最多 {u.minor_daily_requests} 次请求、{u.minor_daily_minutes} 分钟，"
             f"{u.minor_quiet_start}–{u.minor_quiet_end} 不提供服务。"]
    if u.reminder_after_min:
        who = "所有用户" if scope == "all" else "未成年人"
        parts.append(f"连续使用 {u.reminder_after_min:g} 分钟后向{who}提示休息。")
    return "".join(parts)


def settings_duties(settings: Any) -> Any:
    from hegui.policy import load_policy

    return load_policy(settings.policy).duties


def notice(settings: Any, lang: str) -> dict[str, Any]:
    n = settings.notices
    return {
        "lang": lang,
        "service": _pick(n.service_name, lang),
        "model": n.model_name,
        "filing_number": n.filing_number,
        "audience": _pick(n.audience, lang),
        "uses": _pick(n.uses, lang),
        "limits": limits_text(settings, lang),
        "terms": _pick(n.terms, lang),
        "guidance": _pick(n.guidance, lang),
        "complaints": _pick(n.complaints, lang),
        "complaint_time_limits_days": dict(settings.complaints.time_limits_days),
    }


def chat_disclosure(settings: Any, lang: str) -> str:
    """The short form shown once per user inside a chat answer."""
    d = notice(settings, lang)
    model = ""
    if d["model"]:
        model = (f"Model: {d['model']}" if lang == "en" else f"模型：{d['model']}") + (
            f" ({d['filing_number']})" if d["filing_number"] else "") + ("。" if lang != "en" else ". ")
    head = "[Notice] " if lang == "en" else "【服务说明】"
    sep = " " if lang == "en" else ""
    return head + sep.join(x for x in (model.strip(), d["audience"], d["uses"], d["limits"], d["guidance"]) if x)


def reminder(settings: Any, lang: str, minutes: int) -> str:
    return _pick(settings.notices.reminder, lang).format(minutes=minutes)
