"""Storage: one SQLAlchemy `Base`, engines for SQLite/PostgreSQL, Alembic migrations in the package.

A feature adds a models module deriving from `Base` and one migration file under
``migrations/versions`` whose ``down_revision`` is the current head.
"""

from hegui.store.base import Base
from hegui.store.config import StoreConfig
from hegui.store.engine import StoreError, make_engine, resolve_url, session_factory, transaction
from hegui.store.migrate import current, upgrade

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
