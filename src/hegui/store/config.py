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
    # Seconds a SQLite writer waits for the file lock before failing (closed).
    sqlite_busy_timeout_s: float = Field(default=10.0, gt=0)
