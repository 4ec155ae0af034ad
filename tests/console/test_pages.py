"""The console's service pages over HTTP (real app, real store on SQLite and PostgreSQL, TestClient): the complaint workflow
(filters, assign, reply, reject, close), finding users by key, key prefix and last four digits,
sanctions by role, the blocklist (add, remove with a reason, export) and tickets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import add_accounts, csrf_of, make_settings
from .test_security import login


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from hegui.gateway.app import create_app
    from hegui.store.testing import pg_available, temp_store

    if request.param == "postgres" and not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432")
    tmp = tmp_path_factory.mktemp("pages")
    with temp_store(request.param, tmp) as store:
        a = create_app(make_settings(tmp / "var", None, store=store.model_dump()))
        add_accounts(a.state.hegui)
        yield a
        a.state.hegui.engine.dispose()


def _post(c: TestClient, path: str, **data: str) -> Any:
    tok = csrf_of(c.get("/console/overview").text)
    return c.post(path, data={"csrf": tok, **data}, follow_redirects=True)


def test_complaint_workflow(app: Any) -> None:
    st = app.state.hegui
    from hegui.complaints import service as complaints

    ref = complaints.submit(st.factory, st.key, st.settings.complaints,
                            {"type": "privacy", "description": "回答泄露了我的住址", "content": "他住在某某小区某号楼",
                             "contact": "me@example.org"}, account=None)["ref"]
    c = login(app, "rita")
    page = c.get("/console/complaints", params={"state": "received", "type": "privacy"}).text
    assert ref in page
    assert ref not in c.get("/console/complaints", params={"type": "ip"}).text
    assert ref not in c.get("/console/complaints", params={"overdue": "1"}).text
    assert c.get("/console/complaints", params={"state": "bogus"}).status_code == 400
    assert ref in c.get("/console/overview").text  # open complaints by due date
    r = _post(c, f"/console/complaints/{ref}/assign")
    assert r.status_code == 200 and "in_review" in r.text and "rita" in r.text
    r = _post(c, f"/console/complaints/{ref}/reply", text="我们正在核实，请耐心等待。")
    assert "我们正在核实" in r.text
    # A decision needs a reason; the service's message is shown in the page's language.
    r = _post(c, f"/console/complaints/{ref}/decision", decision="reject", reason="")
    assert r.status_code == 400 and "须填写处理结论" in r.text
    r = _post(c, f"/console/complaints/{ref}/decision", decision="reject", reason="内容为虚构示例，不涉及真实个人")
    assert 'id="complaint-state">rejected' in r.text
    r = _post(c, f"/console/complaints/{ref}/close")
    assert 'id="complaint-state">closed' in r.text
    assert c.get("/console/complaints/NOPE123").status_code == 404
    # The workflow's trail is in the history, with the console account as the actor.
    assert r.text.count("console:rita") >= 3


def test_find_users_and_sanction_by_role(app: Any) -> None:
    st = app.state.hegui
    from hegui.audit import pseudonymize
    from hegui.store import keys as keystore

    key, _ = keystore.create_key(st.factory, st.key, "bob")
    u = {"Authorization": f"Bearer {key}"}
    api = TestClient(app)
    assert api.post("/v1/hegui/identity", headers=u, json={"mobile": "13700004321"}).status_code == 201
    acc = pseudonymize(st.key, "bob")
    c = login(app, "rita")
    for q in ("bob", key, key[:8], "4321", acc):
        page = c.get("/console/users", params={"q": q}).text
        assert f'data-account="{acc}"' in page, q
    assert "…4321" in c.get("/console/users", params={"q": "4321"}).text
    r = _post(c, f"/console/users/{acc}/sanction", action="warn", reason="首次提醒")
    assert r.status_code == 200 and "首次提醒" in r.text
    # A reviewer may not terminate; an admin may.
    assert _post(c, f"/console/users/{acc}/sanction", action="terminate", reason="x").status_code == 403
    a = login(app, "ada")
    r = _post(a, f"/console/users/{acc}/sanction", action="terminate", reason="多次违规")
    assert "terminated" in r.text
    r = _post(a, f"/console/users/{acc}/sanction", action="bogus", reason="x")
    assert r.status_code == 400


def test_blocklist_add_remove_export_and_tickets(app: Any) -> None:
    c = login(app, "rita")
    r = _post(c, "/console/blocklist/add", text="某某产品是诈骗，快去举报他们", reason="监管部门通报")
    assert r.status_code == 200 and "某某产品是诈骗" in r.text
    assert _post(c, "/console/blocklist/add", text="短", reason="x").status_code == 400
    export = c.get("/console/blocklist/export").text
    assert "某某产品是诈骗" in export and export.endswith("\n")
    entry = json.loads(export.splitlines()[0])["id"]
    assert _post(c, f"/console/blocklist/{entry}/remove", reason="").status_code == 400  # a reason is required
    r = _post(c, f"/console/blocklist/{entry}/remove", reason="误加")
    assert r.status_code == 200 and "某某产品是诈骗" not in r.text
    assert _post(c, f"/console/blocklist/{entry}/remove", reason="again").status_code == 400
    assert c.get("/console/blocklist/export", params={"what": "tickets"}).status_code == 200
    assert _post(c, "/console/tickets/999/done").status_code == 404
    v = login(app, "vic")
    assert "blocklist-add" not in v.get("/console/blocklist").text  # no form for a viewer


def test_upstream_health_shows_a_dead_upstream(tmp_path: Any) -> None:
    from hegui.gateway.app import create_app

    from .conftest import scripted

    a = create_app(make_settings(tmp_path / "var", f"http://127.0.0.1:{scripted.free_port()}/v1"))
    add_accounts(a.state.hegui)
    page = login(a, "vic").get("/console/overview").text
    assert 'class="bad"' in page and "异常" in page
