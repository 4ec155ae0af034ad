"""`StoreConfig`: where the database is."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # SQLAlchemy URL. Empty: SQLite file ``<var_dir>/hegui.db``. PostgreSQL:
    # ``postgresql+psycopg://user:pass@host:5432/db``.
    url: str = ""
    # PostgreSQL schema to use (created if missing); lets several installations share one database.
    db_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    # PostgreSQL connections per gateway process (as many again may overflow under load).
    pool_size: int = Field(default=10, ge=1)
    # PostgreSQL: a pooled connection idle longer than this many seconds is pinged before use (a
    # round trip); one used more recently is not. 0 pings on every checkout. After a server restart
    # a connection the ping skipped fails on its first statement; the pool then replaces all of
    # its connections, and the gateway's per-request transactions retry once on a fresh one.
    pool_ping_idle_s: float = Field(default=1.0, ge=0)
    # Seconds a SQLite writer waits for the file lock before failing (closed).
    sqlite_busy_timeout_s: float = Field(default=10.0, gt=0)
    # Seconds a gateway process remembers a live API key instead of looking it up on every request.
    # A key revoked by another process (`hegui keys revoke`, another worker or replica) keeps
    # working in this one for at most this long; revoked through this process's admin API, at
    # once. 0 turns the cache off.
    key_cache_s: float = Field(default=2.0, ge=0, le=60)
