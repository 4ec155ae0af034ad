"""console: staff accounts, sessions, edited texts

Revision ID: 0003_console
Revises: 0002_services
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_console"
down_revision = "0002_services"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.Column("disabled_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_accounts"),
        sa.UniqueConstraint("username", name="uq_console_accounts_username"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
        sa.ForeignKeyConstraint(["account_id"], ["console_accounts.id"], ondelete="CASCADE",
                                name="fk_console_sessions_account_id_console_accounts"),
    )
    op.create_index("ix_console_sessions_account_id", "console_sessions", ["account_id"])
    op.create_table(
        "text_overrides",
        sa.Column("section", sa.String(32), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("section", name="pk_text_overrides"),
    )


def downgrade() -> None:
    op.drop_table("text_overrides")
    op.drop_table("console_sessions")
    op.drop_table("console_accounts")
