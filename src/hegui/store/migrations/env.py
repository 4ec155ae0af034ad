"""Alembic environment: the engine comes from `hegui.store.migrate`, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

# Every models module, so the tables are registered on Base.metadata (autogenerate sees them all).
import hegui.complaints.models
import hegui.console.models
import hegui.enforcement.models
import hegui.identity.models
import hegui.store.models
import hegui.usage.models  # noqa: F401
from hegui.store.base import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # Two replicas starting together must not both run the same migration.
        connection.execute(text("SELECT pg_advisory_lock(4801)"))
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(4801)"))
            connection.commit()
