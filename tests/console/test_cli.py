"""`hegui console` account commands against a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hegui.cli import app

PASSWORD = "correct horse battery staple"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEGUI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HEGUI_SECRET_KEY", "cli-test-key")
    monkeypatch.delenv("HEGUI_CONFIG", raising=False)
    return tmp_path


def run(*args: str, stdin: str = "") -> object:
    return CliRunner().invoke(app, ["console", *args], input=stdin)


def test_create_admin_then_sign_in(env: Path) -> None:
    r = run("create-admin", "-u", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    r = run("create-admin", "-u", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 2 and "taken" in r.output  # type: ignore[attr-defined]
    r = run("add", "-u", "bob", "--role", "reviewer", "--password-stdin", stdin="short\n")
    assert r.exit_code == 2 and "12" in r.output  # type: ignore[attr-defined]
    # Interactive: the password is asked twice and never echoed.
    r = run("add", "-u", "bob", "--role", "reviewer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0 and PASSWORD not in r.output, r.output  # type: ignore[attr-defined]
    r = run("list")
    assert "root" in r.output and "admin" in r.output and "reviewer" in r.output  # type: ignore[attr-defined]
    assert run("unlock", "-u", "nobody").exit_code == 2  # type: ignore[attr-defined]
    assert run("passwd", "-u", "bob", "--password-stdin", stdin=PASSWORD + "!\n").exit_code == 0  # type: ignore[attr-defined]

    assert run("role", "-u", "bob", "--role", "root").exit_code == 2  # type: ignore[attr-defined]
    assert run("role", "-u", "bob", "--role", "admin").exit_code == 0  # type: ignore[attr-defined]
    assert run("disable", "-u", "root").exit_code == 0  # type: ignore[attr-defined]
    assert "disabled" in run("list").output  # type: ignore[attr-defined]

    from hegui.config import Settings
    from hegui.console.accounts import LoginError, authenticate
    from hegui.store import make_engine, session_factory

    s = Settings()
    factory = session_factory(make_engine(s.store, Path(s.var_dir)))
    assert authenticate(factory, "bob", PASSWORD + "!").role == "admin"
    with pytest.raises(LoginError):
        authenticate(factory, "root", PASSWORD)  # disabled
    assert run("disable", "-u", "root", "--enable").exit_code == 0  # type: ignore[attr-defined]
    assert authenticate(factory, "root", PASSWORD).role == "admin"
