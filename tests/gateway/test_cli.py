"""The store-backed commands on a SQLite store: db upgrade/current, keys create/list/revoke,
audit verify/purge, and serve's refusals of bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.cli import app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEGUI_SECRET_KEY", "cli-test-secret")
    for k in ("HEGUI_CONFIG", "HEGUI_STORE__URL", "HEGUI_STORE__DB_SCHEMA"):
        monkeypatch.delenv(k, raising=False)
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_db_and_keys(env: Path) -> None:
    from hegui.store.migrate import head

    assert run("audit", "verify")[0] == 2  # no schema yet: a clear error, not a traceback
    code, out, _ = run("db", "upgrade")
    assert code == 0 and head() in out
    assert run("db", "current")[1].strip() == head()
    code, out, err = run("keys", "create", "--user", "dora", "--rpm", "30")
    key = out.strip()
    assert code == 0 and key.startswith("hg-") and "\n" not in key and "cannot be shown again" in err
    assert key.encode() not in (env / "var" / "hegui.db").read_bytes()
    code, out, _ = run("keys", "list", "--json")
    rows = [json.loads(x) for x in out.splitlines()]
    assert [(r["user"], r["rate_limit_rpm"], r["prefix"]) for r in rows] == [("dora", 30, key[:8])]
    assert "key" not in rows[0]
    assert run("keys", "revoke", str(rows[0]["id"]))[0] == 0
    assert run("keys", "revoke", str(rows[0]["id"]))[0] == 1
    assert run("keys", "list")[1] == ""
    assert "revoked" in run("keys", "list", "--all")[1]
    assert run("keys", "create", "--user", "x", "--role", "root")[0] == 2


def test_audit_commands(env: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    code, out, _ = run("audit", "verify")
    assert code == 0 and "OK: 0 rows" in out
    assert run("audit", "purge")[1].strip() == "content purged from 0 rows"
    assert run("audit", "purge", "--days", "30")[0] != 0  # below the legal minimum


def test_serve_refuses_bad_arguments(env: Path) -> None:
    code, _, err = run("serve", "--upstream", "ftp://x")
    assert code == 2 and "http(s) URL" in err
    code, _, err = run("serve", "--config", str(env / "missing.yaml"))
    assert code == 2 and "not found" in err
