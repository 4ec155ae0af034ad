"""Gateway fixtures: the scripted upstream and real gateways (uvicorn in a thread, real HTTP).

Deterministic verdicts come from the real PII detector and a test policy that blocks e-mail
addresses (everything else in the interim-2023 preset stays: ID numbers, phones and bank cards are
redacted). The keyword detector is not used, so these tests do not depend on it.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hegui.testing import ThreadedServer

from .scripted_upstream import ScriptedUpstream

ADMIN_KEY = "hegui-test-admin-key-0123456789"
POLICY = """\
extends: interim-2023
rules:
  - {risk: pii.email, input: block, output: block, threshold: 0.5}
"""


def write_policy(dir_: Path) -> Path:
    p = dir_ / "policy.yaml"
    p.write_text(POLICY, encoding="utf-8")
    return p


def make_settings(var_dir: Path, upstream_url: str | None, **gateway: Any) -> Any:
    from hegui.config import Settings

    var_dir.mkdir(parents=True, exist_ok=True)
    gw: dict[str, Any] = {"upstream_url": upstream_url, "admin_key": ADMIN_KEY, "read_timeout_s": 1.5,
                          "connect_retries": 1, "max_body_bytes": 4096, **gateway}
    return Settings(policy=str(write_policy(var_dir)), var_dir=var_dir, secret_key="test-secret-key",
                    guard={"detectors": ["pii"]}, gateway=gw, audit={"purge_interval_s": 0},
                    # The service duties have their own tests (tests/services): no strikes, no notice here.
                    enforcement={"enabled": False}, notices={"once_in_chat": False})


class LogCapture(logging.Handler):
    """Every ``hegui.*`` record as the JSON line the gateway would write."""

    def __init__(self) -> None:
        super().__init__()
        from hegui.gateway.logs import JsonFormatter

        self.setFormatter(JsonFormatter())
        self.buf = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.buf.write(self.format(record) + "\n")

    def text(self) -> str:
        return self.buf.getvalue()


class GatewayServer(ThreadedServer):
    """A real gateway on a free port; ``user_key`` is a fresh user key."""

    def __init__(self, settings: Any) -> None:
        from hegui.gateway.app import create_app
        from hegui.store import keys as keystore

        self.settings = settings
        self.app = create_app(settings)
        self.state = self.app.state.hegui
        super().__init__(self.app, name="gateway", start_timeout_s=20, stop_timeout_s=15)
        self.url = f"{self.base}/v1"
        self.user_key, _ = keystore.create_key(self.state.factory, self.state.key, "alice")

    def audit_rows(self, request_id: str | None = None, *, wait_kinds: int = 0, timeout: float = 5.0) -> list[Any]:
        """Audit rows (of one request), waiting up to ``timeout`` for ``wait_kinds`` of them."""
        from sqlalchemy import select

        from hegui.store.models import AuditRecord

        deadline = time.monotonic() + timeout
        while True:
            with self.state.factory() as s:
                q = select(AuditRecord).order_by(AuditRecord.seq)
                if request_id:
                    q = q.where(AuditRecord.request_id == request_id)
                rows = list(s.execute(q).scalars())
            if len(rows) >= wait_kinds or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


@pytest.fixture(scope="session")
def upstream() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture(scope="session")
def logs() -> Iterator[LogCapture]:
    h = LogCapture()
    logging.getLogger("hegui").addHandler(h)
    logging.getLogger("hegui").setLevel(logging.INFO)
    yield h
    logging.getLogger("hegui").removeHandler(h)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream, logs: LogCapture) -> Iterator[GatewayServer]:
    """Buffered mode, SQLite."""
    s = make_settings(tmp_path_factory.mktemp("gw") / "var", upstream.url)
    with GatewayServer(s) as g:
        yield g


@pytest.fixture(scope="module")
def gw_first(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream, logs: LogCapture) -> Iterator[GatewayServer]:
    """Stream-first mode, SQLite."""
    s = make_settings(tmp_path_factory.mktemp("gwf") / "var", upstream.url, stream_mode="stream_first")
    with GatewayServer(s) as g:
        yield g
