"""Throw-away stores for tests (this project's and yours): a SQLite file or a fresh PostgreSQL schema.

Every storage test runs on both; PostgreSQL tests get their own schema, dropped afterwards, so
parallel runs and several developers can share one server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from hegui.store.config import StoreConfig
from hegui.store.engine import make_engine

PG_URL = os.environ.get("HEGUI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgres")


def pg_available(url: str = PG_URL) -> bool:
    from sqlalchemy import create_engine

    try:
        eng = create_engine(url, connect_args={"connect_timeout": 2})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


@contextmanager
def temp_store(backend: str, tmp_path: Path) -> Iterator[StoreConfig]:
    """A `StoreConfig` for an empty store on ``backend``; a PostgreSQL schema is dropped on exit."""
    if backend == "sqlite":
        yield StoreConfig(url=f"sqlite:///{(tmp_path / 'store.db').as_posix()}")
        return
    if backend != "postgres":
        raise ValueError(f"backend must be one of {BACKENDS}")
    schema = f"hg_test_{uuid.uuid4().hex[:12]}"
    cfg = StoreConfig(url=PG_URL, db_schema=schema)
    try:
        yield cfg
    finally:
        eng = make_engine(StoreConfig(url=PG_URL), tmp_path)
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()
