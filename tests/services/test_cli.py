"""`hegui complaints …` and `hegui users …` against a store the gateway filled (SQLite)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hegui.cli import app

from .conftest import BLOCKED


@pytest.fixture
def backend():  # SQLite only: the commands share the store code the HTTP tests run on both
    return lambda: {}


def test_cli_users_and_complaints(make_gateway, tmp_path):
    g = make_gateway(enforcement={"strikes_consecutive": 1})
    u = g.user("cli-user")
    g.chat(u, BLOCKED)
    ref = g.client.post("/v1/hegui/complaints", json={"type": "ip", "description": "抄袭", "contact": "a@b.cn",
                                                      "prompt": "写首诗", "content": "床前明月光疑是地上霜举头望明月"}).json()["ref"]
    env = {"HEGUI_VAR_DIR": str(g.settings.var_dir), "HEGUI_SECRET_KEY": "services-test-key",
           "HEGUI_POLICY": g.settings.policy}
    run = CliRunner().invoke
    r = run(app, ["users", "show", "cli-user"], env=env)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["standing"]["status"] == "suspended" and shown["account"] == g.pseudo("cli-user")
    r = run(app, ["users", "sanction", "cli-user", "--action", "lift", "--reason", "复核"], env=env)
    assert r.exit_code == 0 and json.loads(r.output)["status"] == "active"
    r = run(app, ["users", "sanction", "cli-user", "--action", "lift", "--reason", "again"], env=env)
    assert r.exit_code == 2 and "neither suspended" in r.output
    assert g.chat(u, "你好").status_code == 200
    r = run(app, ["complaints", "list"], env=env)
    assert [json.loads(x)["ref"] for x in r.output.splitlines()] == [ref]
    assert run(app, ["complaints", "overdue"], env=env).exit_code == 0
    g.client.post(f"/admin/v1/complaints/{ref}/decision", headers=g.admin,
                  json={"decision": "uphold", "reason": "侵权", "safe_answer": "我可以为你写一首原创的诗。"})
    out = tmp_path / "cases.jsonl"
    r = run(app, ["complaints", "export-tickets", "--out", str(out)], env=env)
    assert r.exit_code == 0, r.output
    case = json.loads(out.read_text(encoding="utf-8"))
    assert case["prompt"] == "写首诗" and case["chosen"] == "我可以为你写一首原创的诗。"
    assert run(app, ["complaints", "export-tickets", "--ticket", "999"], env=env).exit_code == 2
