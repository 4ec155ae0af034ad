"""Fixtures for the service duties: a real gateway app (FastAPI TestClient, real store) on SQLite
or a fresh PostgreSQL schema, and a tiny test upstream.

Blocked inputs are deterministic: the test policy blocks e-mail addresses (the real PII detector),
so "my mail is a@b.cn" is a blocked prompt without any model.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .upstream import TestUpstream

ADMIN_KEY = "hegui-services-admin-key-0123456789"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BLOCKED = "请把资料发到 spam.test@example.com 这个邮箱"


def policy_yaml(base: str, duties: dict[str, Any] | None = None) -> str:
    lines = [f"extends: {base}", "rules:", "  - {risk: pii.email, input: block, output: block, threshold: 0.5}"]
    if duties:
        lines.append("duties:")
        lines += [f"  {k}: {v}" for k, v in duties.items()]
    return "\n".join(lines) + "\n"


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def upstream() -> Iterator[TestUpstream]:
    with TestUpstream() as up:
        yield up


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Makes store settings: a SQLite file under each gateway's var dir, or a fresh PostgreSQL
    schema per gateway (dropped afterwards)."""
    if request.param == "sqlite":
        yield lambda: {}
        return
    if not pg_available():
        pytest.skip("PostgreSQL is not answering at 127.0.0.1:5432")
    import psycopg

    schemas: list[str] = []

    def make() -> dict[str, Any]:
        schemas.append(f"hg_svc_{uuid.uuid4().hex[:12]}")
        return {"url": PG_URL, "db_schema": schemas[-1]}

    yield make
    with psycopg.connect(PG_DSN, autocommit=True) as c:
        for schema in schemas:
            c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Gateway:
    """A gateway app with a TestClient, an admin client and helpers to make user keys."""

    def __init__(self, tmp: Path, store: dict[str, Any], upstream_url: str | None, *, base: str = "interim-2023",
                 duties: dict[str, Any] | None = None, **sections: Any) -> None:
        from hegui.config import Settings
        from hegui.gateway.app import create_app

        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "policy.yaml").write_text(policy_yaml(base, duties), encoding="utf-8")
        self.settings = Settings(policy=str(tmp / "policy.yaml"), var_dir=tmp, secret_key="services-test-key",
                                 guard={"detectors": ["pii"]}, store=store,
                                 audit={"purge_interval_s": 0, **sections.pop("audit", {})},
                                 gateway={"upstream_url": upstream_url, "admin_key": ADMIN_KEY, "rate_limit_rpm": 0,
                                          **sections.pop("gateway", {})},
                                 **sections)
        self.app = create_app(self.settings)
        self.state = self.app.state.hegui
        self.client = TestClient(self.app)
        self.client.__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def user(self, name: str) -> dict[str, str]:
        from hegui.store import keys

        key, _ = keys.create_key(self.state.factory, self.state.key, name)
        return {"Authorization": f"Bearer {key}"}

    def pseudo(self, name: str) -> str:
        from hegui.audit.pseudonym import pseudonymize

        return pseudonymize(self.state.key, name)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    def chat(self, headers: dict[str, str], text: str) -> Any:
        return self.client.post("/v1/chat/completions", headers=headers,
                                json={"model": "m", "messages": [{"role": "user", "content": text}]})

    def sender(self) -> Any:
        return self.state.services.sender


@pytest.fixture
def make_gateway(tmp_path: Path, backend: Any, upstream: TestUpstream) -> Iterator[Any]:
    made: list[Gateway] = []

    def make(**kw: Any) -> Gateway:
        g = Gateway(tmp_path / f"g{len(made)}", {**backend(), **kw.pop("store", {})}, upstream.url, **kw)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


def dump_store(state: Any) -> str:
    """Every value of every row of every table, as text: what a grep of the database would see."""
    from sqlalchemy import MetaData, select

    md = MetaData()
    md.reflect(bind=state.engine)
    parts: list[str] = []
    with state.engine.connect() as c:
        for t in md.sorted_tables:
            for row in c.execute(select(t)):
                parts.extend(str(v) for v in row if v is not None)
    return "\n".join(parts)


def sqlite_bytes(var_dir: Path) -> bytes:
    """The raw SQLite files (database and write-ahead log)."""
    return b"".join(p.read_bytes() for p in var_dir.glob("hegui.db*") if p.is_file())
