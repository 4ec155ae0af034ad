"""Console fixtures: a real gateway app (SQLite, test policy) with console accounts of each role."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hegui.testing import ThreadedServer

PASSWORD = "correct horse battery staple"
ADMIN_KEY = "hegui-console-admin-key-0123456789"
POLICY = """\
extends: interim-2023
rules:
  - {risk: pii.email, input: block, output: block, threshold: 0.5}
"""


def _load(name: str, path: Path) -> Any:
    """The gateway tests' scripted upstream, loaded by path (the test folders are not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


scripted = _load("hegui_test_scripted_upstream", Path(__file__).parents[1] / "gateway" / "scripted_upstream.py")


def make_settings(var_dir: Path, upstream_url: str | None, *, store: dict[str, Any] | None = None, **console: Any) -> Any:
    from hegui.config import Settings

    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "policy.yaml").write_text(POLICY, encoding="utf-8")
    return Settings(policy=str(var_dir / "policy.yaml"), var_dir=var_dir, secret_key="console-test-secret",
                    guard={"detectors": ["pii"]}, audit={"purge_interval_s": 0}, store=store or {},
                    gateway={"upstream_url": upstream_url, "admin_key": ADMIN_KEY, "read_timeout_s": 3},
                    console={"max_failures": 3, **console})


def add_accounts(state: Any) -> None:
    from hegui.console.accounts import create_account

    for name, role in (("ada", "admin"), ("rita", "reviewer"), ("vic", "viewer")):
        create_account(state.factory, name, PASSWORD, role)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


@pytest.fixture(params=["sqlite", "postgres"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A session factory on a fresh, migrated store: a SQLite file, then a PostgreSQL schema."""
    from hegui.store import make_engine, session_factory, upgrade
    from hegui.store.testing import pg_available, temp_store

    if request.param == "postgres" and not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432")
    with temp_store(request.param, tmp_path) as cfg:
        engine = make_engine(cfg, tmp_path)
        upgrade(engine)
        yield session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Any]:
    with scripted.ScriptedUpstream() as up:
        yield up


class Server(ThreadedServer):
    """The real gateway (console included) under uvicorn in a thread, on a free port."""

    def __init__(self, settings: Any) -> None:
        from hegui.gateway.app import create_app

        self.app = create_app(settings)
        self.state = self.app.state.hegui
        super().__init__(self.app, name="gateway", start_timeout_s=20, stop_timeout_s=15)

    def user_key(self, user: str) -> str:
        from hegui.store import keys as keystore

        key, _ = keystore.create_key(self.state.factory, self.state.key, user)
        return key
