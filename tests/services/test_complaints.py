"""Complaints and personal-information requests through the HTTP API: intake by anyone, workflow
with due dates, uphold → the answer can no longer be generated (and a near-duplicate with inserted
punctuation neither) → optimisation ticket with JSONL export; appeals; deletion leaves no trace."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hegui.complaints.models import Complaint

from .conftest import BLOCKED, dump_store, sqlite_bytes

PROMPT = "说说那家公司老板的事"
ANSWER = "那家公司的老板王大锤是个骗子，卷走了员工的工资后逃到了国外，大家千万不要相信他。"
PUNCTUATED = "那家公司的老板·王大锤，是个骗子！！卷走了 员工的工资后……逃到了国外；大家千万不要相信他"
PARAPHRASE = "那家公司的老板王大锤就是个骗子，卷走了员工的工资以后逃到了国外，大家千万不要相信他啊。"


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


def test_complaint_upheld_blocks_answer_and_near_duplicates(make_gateway, upstream):
    upstream.answers.update({PROMPT: ANSWER, "再说一遍": PUNCTUATED, "换个说法": PARAPHRASE, "天气": "今天天气晴朗，适合出门散步。"})
    g = make_gateway()
    u = g.user("reader")
    r = g.chat(u, PROMPT)
    assert r.status_code == 200 and ANSWER in r.json()["choices"][0]["message"]["content"]
    # A person harmed, not a user, complains: no key, a contact for the reply.
    r = g.client.post("/v1/hegui/complaints", json={"type": "reputation", "description": "这段内容诽谤我",
                                                    "contact": "wang@example.org", "prompt": PROMPT, "content": ANSWER})
    assert r.status_code == 201, r.text
    c = r.json()
    due = _ts(c["due_at"]) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < due <= timedelta(days=7) and c["time_limit_days"] == 7
    ref, token = c["ref"], c["token"]
    listed = g.client.get("/admin/v1/complaints?state=received", headers=g.admin).json()["data"]
    assert [x["ref"] for x in listed] == [ref] and listed[0]["overdue"] is False
    assert g.client.post(f"/admin/v1/complaints/{ref}/assign", headers=g.admin, json={"assignee": "法务-李"}).json()["state"] == "in_review"
    assert g.client.post(f"/admin/v1/complaints/{ref}/reply", headers=g.admin, json={"text": "已收到，正在核实。"}).status_code == 200
    assert g.client.post(f"/admin/v1/complaints/{ref}/reply", headers=g.admin,
                         json={"text": "internal note", "public": False}).status_code == 200
    r = g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin,
                      json={"decision": "uphold", "reason": "内容不实，构成诽谤", "safe_answer": "抱歉，我无法提供未经证实的个人指控。"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["state"] == "upheld" and len(d["tickets"]) == 1
    ticket = d["tickets"][0]
    assert timedelta(days=89) < _ts(ticket["due_at"]) - datetime.now(UTC) <= timedelta(days=90)
    # The same answer can no longer be generated; nor with punctuation inserted; nor a close paraphrase.
    for prompt in (PROMPT, "再说一遍", "换个说法"):
        r = g.chat(u, prompt)
        assert r.status_code == 200
        body = r.json()
        content = body["choices"][0]["message"]["content"]
        assert body["choices"][0]["finish_reason"] == "content_filter", prompt
        assert "王大锤" not in content and "hg.blocklist" in body["hegui"]["risks"]
    r = g.chat(u, "天气")
    assert r.json()["choices"][0]["finish_reason"] == "stop"
    # The complainant sees the public replies and the decision with the token, nothing without it.
    pub = g.client.get(f"/v1/hegui/complaints/{ref}?token={token}").json()
    assert pub["state"] == "upheld" and pub["replies"][0]["text"] == "已收到，正在核实。"
    assert all("internal note" not in x["text"] for x in pub["replies"]) and "contact" not in pub
    assert g.client.get(f"/v1/hegui/complaints/{ref}?token=wrong").status_code == 404
    # The ticket exports the case as fine-tuning data.
    lines = g.client.get("/admin/v1/tickets/export", headers=g.admin).text.splitlines()
    case = json.loads(lines[0])
    assert (case["prompt"], case["rejected"], case["chosen"]) == (PROMPT, ANSWER, "抱歉，我无法提供未经证实的个人指控。")
    assert g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin,
                         json={"decision": "reject", "reason": "x"}).status_code == 409
    assert g.client.post(f"/admin/v1/complaints/{ref}/close", headers=g.admin).json()["state"] == "closed"
    assert g.client.post(f"/admin/v1/tickets/{ticket['id']}/done", headers=g.admin).json()["state"] == "done"
    assert g.client.get("/admin/v1/tickets/export", headers=g.admin).text == ""


def test_blocklist_reaches_another_worker(make_gateway, upstream, tmp_path):
    """Two apps on one store (two workers): an uphold in one blocks the answer in the other."""
    upstream.answers[PROMPT] = ANSWER
    g = make_gateway(complaints={"blocklist_refresh_s": 0})
    from .conftest import Gateway

    other = Gateway(tmp_path / "other", g.settings.store.model_dump(), g.settings.gateway.upstream_url,
                    complaints={"blocklist_refresh_s": 0})
    if not g.settings.store.url:  # SQLite: point the second app at the first one's file
        other.close()
        other = Gateway(tmp_path / "other2", {"url": f"sqlite:///{(g.settings.var_dir / 'hegui.db').as_posix()}"},
                        g.settings.gateway.upstream_url, complaints={"blocklist_refresh_s": 0})
    try:
        u = g.user("reader")
        assert other.chat(u, PROMPT).json()["choices"][0]["finish_reason"] == "stop"
        ref = g.client.post("/v1/hegui/complaints", headers=u, json={"type": "illegal_content", "description": "谣言",
                                                                     "content": ANSWER}).json()["ref"]
        assert g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin,
                             json={"decision": "uphold", "reason": "谣言"}).status_code == 200
        assert other.chat(u, PROMPT).json()["choices"][0]["finish_reason"] == "content_filter"
    finally:
        other.close()


def test_complaint_bad_input_overdue_and_reject(make_gateway):
    g = make_gateway()
    post = g.client.post
    assert post("/v1/hegui/complaints", json={"type": "nonsense", "description": "x", "contact": "a"}).status_code == 400
    r = post("/v1/hegui/complaints", json={"type": "illegal_content", "description": "x", "contact": "a"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "content_required"
    r = post("/v1/hegui/complaints", json={"type": "privacy", "description": "x", "content": "一些内容"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "contact_required"
    assert post("/v1/hegui/complaints", json={"type": "appeal", "description": "x", "contact": "a"}).status_code == 401
    assert post("/v1/hegui/complaints", json={"type": "ip", "description": 5, "contact": "a", "content": "c"}).status_code == 400
    assert post("/v1/hegui/complaints", content=b"{not json", headers={"content-type": "application/json"}).status_code == 400
    ref = post("/v1/hegui/complaints", json={"type": "ip", "description": "抄袭我的小说", "contact": "a@b.cn",
                                            "content": "一段抄来的小说内容"}).json()["ref"]
    assert g.client.get("/admin/v1/complaints/alerts", headers=g.admin).json()["overdue"] == 0
    with g.state.factory() as s, s.begin():
        s.execute(update(Complaint).where(Complaint.ref == ref).values(due_at=datetime.now(UTC) - timedelta(hours=1)))
    assert "hegui_complaints_overdue 1.0" in g.client.get("/metrics").text
    alerts = g.client.get("/admin/v1/complaints/alerts", headers=g.admin).json()
    assert alerts["overdue"] == 1 and alerts["data"][0]["ref"] == ref and alerts["data"][0]["overdue"]
    assert g.client.get("/admin/v1/complaints?overdue=1", headers=g.admin).json()["data"][0]["ref"] == ref
    assert g.client.post(f"/admin/v1/complaints/{ref}/close", headers=g.admin).status_code == 409
    assert g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin, json={"decision": "reject"}).status_code == 400
    r = g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin, json={"decision": "reject", "reason": "非原创"})
    assert r.json()["state"] == "rejected" and r.json()["tickets"] == []
    assert g.client.get("/admin/v1/complaints/alerts", headers=g.admin).json()["overdue"] == 0
    assert g.client.get("/admin/v1/complaints/NOPE", headers=g.admin).status_code == 404
    assert g.client.get("/admin/v1/complaints", headers=g.user("u")).status_code == 403


def test_appeal_upheld_lifts_suspension(make_gateway):
    g = make_gateway(enforcement={"strikes_consecutive": 1})
    u = g.user("appellant")
    g.chat(u, BLOCKED)
    assert g.chat(u, "你好").status_code == 403
    r = g.client.post("/v1/hegui/complaints", headers=u, json={"type": "appeal", "description": "我只是留了个邮箱"})
    assert r.status_code == 201
    g.client.post(f"/admin/v1/complaints/{r.json()['ref']}/decision", headers=g.admin,
                  json={"decision": "uphold", "reason": "留邮箱不属违规"})
    assert g.chat(u, "你好").status_code == 200
    kinds = [e["kind"] for e in g.client.get("/admin/v1/users/appellant", headers=g.admin).json()["sanctions"]]
    assert kinds[0] == "lift"


def test_access_then_deletion_leaves_no_trace(make_gateway, upstream):
    secret_prompt = "我打算下周五去杭州西湖边的小茶馆见老朋友"
    secret_answer = "祝你在西湖边的小茶馆和老朋友相聚愉快！"
    upstream.answers[secret_prompt] = secret_answer
    g = make_gateway()
    u, other = g.user("leaver"), g.user("stayer")
    assert g.chat(u, secret_prompt).status_code == 200
    assert g.chat(other, "你好").status_code == 200
    assert g.client.post("/v1/hegui/identity", headers=u, json={"mobile": "13700001111"}).status_code == 201
    r = g.client.post("/v1/hegui/complaints", headers=u, json={"type": "privacy", "description": "回答里提到了我的行程",
                                                               "prompt": secret_prompt, "content": secret_answer})
    assert r.status_code == 201
    r = g.client.post("/v1/hegui/requests", headers=u, json={"type": "correction", "description": "请更正我的手机号"})
    assert r.status_code == 201 and r.json()["type"] == "pi_correction"
    data = g.client.post("/v1/hegui/requests", headers=u, json={"type": "access"}).json()
    assert any(secret_prompt in (a["content"] or "") for a in data["audit"]) and data["identity"]["registered"]
    assert len(data["complaints"]) == 2
    before = dump_store(g.state)
    assert secret_prompt in before and secret_answer in before
    r = g.client.post("/v1/hegui/requests", headers=u, json={"type": "deletion"})
    assert r.status_code == 200, r.text
    receipt = r.json()["receipt"]
    assert receipt["removed"]["audit_content"] >= 2 and receipt["removed"]["identity"] >= 1
    assert receipt["removed"]["complaints"] == 2 and len(receipt["signature"]) == 64
    from hegui.complaints.pirequests import sign_receipt

    assert sign_receipt(g.state.key, receipt) == receipt["signature"]
    after = dump_store(g.state)
    for s in (secret_prompt, secret_answer, "西湖", "回答里提到了我的行程", "请更正我的手机号"):
        assert s not in after, s
    if not g.settings.store.url:  # SQLite: not in the files either (freed bytes zeroed, log emptied)
        raw = sqlite_bytes(g.settings.var_dir)
        for s in (secret_prompt, secret_answer, "回答里提到了我的行程"):
            assert s.encode() not in raw, s
    # The minimal record stays: the audit chain still verifies; the other user's content is untouched.
    assert g.client.get("/admin/v1/audit/verify", headers=g.admin).json()["ok"] is True
    assert "你好" in after
    assert g.client.post("/v1/hegui/requests", headers=u, json={"type": "access"}).json()["identity"]["registered"] is False
    assert g.client.post("/v1/hegui/requests", headers=u, json={"type": "teleport"}).status_code == 400


def test_admin_blocklist_add_remove(make_gateway, upstream):
    upstream.answers["讲个段子"] = "这是一个被人工加入屏蔽库的段子内容，不应再生成。"
    g = make_gateway()
    u = g.user("reader")
    assert g.chat(u, "讲个段子").json()["choices"][0]["finish_reason"] == "stop"
    r = g.client.post("/admin/v1/blocklist", headers=g.admin, json={"text": "被人工加入屏蔽库的段子内容"})
    assert r.status_code == 400  # a reason is required
    assert g.client.post("/admin/v1/blocklist", headers=g.admin, json={"text": "短", "reason": "x"}).status_code == 400
    r = g.client.post("/admin/v1/blocklist", headers=g.admin, json={"text": "被人工加入屏蔽库的段子内容", "reason": "网信办通知"})
    assert r.status_code == 201
    entry = r.json()["id"]
    assert g.chat(u, "讲个段子").json()["choices"][0]["finish_reason"] == "content_filter"
    assert [e["id"] for e in g.client.get("/admin/v1/blocklist", headers=g.admin).json()["data"]] == [entry]
    r = g.client.request("DELETE", f"/admin/v1/blocklist/{entry}", headers=g.admin, json={"reason": "误加"})
    assert r.status_code == 200
    assert g.client.request("DELETE", f"/admin/v1/blocklist/{entry}", headers=g.admin, json={"reason": "again"}).status_code == 404
    assert g.chat(u, "讲个段子").json()["choices"][0]["finish_reason"] == "stop"


def test_user_complains_by_request_id(make_gateway, upstream):
    upstream.answers["讲讲那位明星"] = "那位明星李某某私下吸毒成瘾，已经被警方秘密调查了好几次。"
    g = make_gateway()
    u = g.user("fan")
    r = g.chat(u, "讲讲那位明星")
    rid = r.headers["x-request-id"]
    # Another user cannot pull someone else's request into their complaint.
    other = g.client.post("/v1/hegui/complaints", headers=g.user("nosy"),
                          json={"type": "reputation", "description": "x", "request_id": rid})
    assert other.status_code == 400 and other.json()["error"]["code"] == "content_required"
    ref = g.client.post("/v1/hegui/complaints", headers=u, json={"type": "reputation", "description": "造谣",
                                                                 "request_id": rid}).json()["ref"]
    c = g.client.get(f"/admin/v1/complaints/{ref}", headers=g.admin).json()
    assert c["prompt"] == "讲讲那位明星" and "吸毒" in c["content"]
    g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin, json={"decision": "uphold", "reason": "谣言"})
    assert g.chat(u, "讲讲那位明星").json()["choices"][0]["finish_reason"] == "content_filter"


def test_upheld_privacy_content_keeps_no_personal_information(make_gateway, upstream):
    """A privacy complaint's content carries the person's data; the blocklist entry and the
    fine-tuning case must not, and the answer is still blocked."""
    import datetime as dt

    from hegui.detect.pii.validators import make_resident_id

    pid = make_resident_id("440305", dt.date(1985, 3, 9), 321)
    leak = f"张小红住在深圳市南山区，她的身份证号是{pid}，手机号 13800138000，每天晚上八点下班回家。"
    upstream.answers["张小红的信息"] = leak
    g = make_gateway()
    u = g.user("doxxer")
    ref = g.client.post("/v1/hegui/complaints", json={"type": "privacy", "description": "泄露我的信息", "contact": "z@x.cn",
                                                      "prompt": "张小红的信息", "content": leak}).json()["ref"]
    g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin, json={"decision": "uphold", "reason": "隐私"})
    entries = g.client.get("/admin/v1/blocklist", headers=g.admin).json()["data"]
    assert entries and pid not in entries[0]["text"] and "13800138000" not in entries[0]["text"]
    case = json.loads(g.client.get("/admin/v1/tickets/export", headers=g.admin).text.splitlines()[0])
    assert pid not in case["rejected"] and "<ID_CARD>" in case["rejected"] and "13800138000" not in case["rejected"]
    r = g.chat(u, "张小红的信息").json()
    assert r["choices"][0]["finish_reason"] == "content_filter" and "hg.blocklist" in r["hegui"]["risks"]
