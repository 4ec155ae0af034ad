"""Storage: one SQLAlchemy `Base`, engines for SQLite/PostgreSQL, Alembic migrations in the package.

A feature adds a models module deriving from `Base` and one migration file under
``migrations/versions`` whose ``down_revision`` is the current head.

The names below load on first use (PEP 562): `hegui.config` imports `hegui.store.config` for
every command, and importing the models and migrations here would pull in SQLAlchemy's ORM and
Alembic (≈ 0.26 s) for commands that never open the store, such as `hegui scan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hegui import lazy

if TYPE_CHECKING:
    from hegui.store.base import Base
    from hegui.store.config import StoreConfig
    from hegui.store.engine import StoreError, make_engine, resolve_url, session_factory, transaction
    from hegui.store.migrate import current, upgrade

_SOURCES = {
    "Base": "hegui.store.base",
    "StoreConfig": "hegui.store.config",
    "StoreError": "hegui.store.engine",
    "make_engine": "hegui.store.engine",
    "resolve_url": "hegui.store.engine",
    "session_factory": "hegui.store.engine",
    "transaction": "hegui.store.engine",
    "current": "hegui.store.migrate",
    "upgrade": "hegui.store.migrate",
}

__all__ = [
    "Base",
    "StoreConfig",
    "StoreError",
    "current",
    "make_engine",
    "resolve_url",
    "session_factory",
    "transaction",
    "upgrade",
]


__getattr__ = lazy.exports(__name__, _SOURCES)
