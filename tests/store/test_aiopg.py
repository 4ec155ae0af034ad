"""The gateway's asynchronous PostgreSQL connections (`hegui.store.aiopg.AsyncPgPool`): the store's
server and schema, reused when left idle, never pooled after a failed transaction or when
broken, bounded (a request beyond the bound waits, then fails), closed for good by ``aclose``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from hegui.store import StoreConfig, make_engine
from hegui.store import aiopg as aiopg_mod
from hegui.store.aiopg import AsyncPgPool


def test_pool_reuses_bounds_and_closes(pg_config: StoreConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_config, tmp_path)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    pool = AsyncPgPool(engine, pg_config.db_schema, 1)
    monkeypatch.setattr(aiopg_mod, "WAIT_S", 0.2)

    async def main() -> None:
        async with pool.connection() as c:
            pid = c.info.backend_pid
            assert c.autocommit
            await c.execute("INSERT INTO t VALUES (1)")  # the store's schema (search_path)
        async with pool.connection() as c:
            assert c.info.backend_pid == pid  # left idle: reused
            await c.execute("BEGIN")
            with pytest.raises(psycopg.errors.UndefinedTable):
                await c.execute("SELECT * FROM no_such_table")
        async with pool.connection() as c:
            assert c.info.backend_pid != pid  # the failed transaction's connection was closed
            held = asyncio.Event()

            async def second() -> None:
                async with pool.connection():
                    held.set()

            with pytest.raises(psycopg.OperationalError, match="no store connection became free"):
                await second()  # the one connection is in use here
            assert not held.is_set()
        await pool.aclose()
        with pytest.raises(psycopg.OperationalError, match="closed"):
            async with pool.connection():
                pass

    asyncio.run(main())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    engine.dispose()
