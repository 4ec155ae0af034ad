"""services: identities, one-time codes, standings and sanctions, usage, complaints, blocklist, tickets

Revision ID: 0002_services
Revises: 0001_gateway
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_services"
down_revision = "0001_gateway"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
ACC = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("account", ACC, nullable=False),
        sa.Column("name_hash", sa.String(64), nullable=True),
        sa.Column("id_hash", sa.String(64), nullable=True),
        sa.Column("id_last4", sa.String(4), nullable=True),
        sa.Column("id_verified", sa.Boolean, nullable=False),
        sa.Column("mobile_hash", sa.String(64), nullable=True),
        sa.Column("mobile_last4", sa.String(4), nullable=True),
        sa.Column("mobile_verified", sa.Boolean, nullable=False),
        sa.Column("minor_until", sa.Date, nullable=True),
        sa.Column("age_known", sa.Boolean, nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("verified_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("account", name="pk_identities"),
        sa.UniqueConstraint("id_hash", name="uq_identities_id_hash"),
        sa.UniqueConstraint("mobile_hash", name="uq_identities_mobile_hash"),
    )
    op.create_table(
        "otp_codes",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account", ACC, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_otp_codes"),
    )
    op.create_index("ix_otp_codes_account", "otp_codes", ["account"])
    op.create_table(
        "standings",
        sa.Column("account", ACC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("suspended_until", TZ, nullable=True),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("strikes_total", sa.Integer, nullable=False),
        sa.Column("consecutive", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("day_strikes", sa.Integer, nullable=False),
        sa.Column("day_abuse", sa.Integer, nullable=False),
        sa.Column("suspensions", sa.Integer, nullable=False),
        sa.Column("warnings", sa.Integer, nullable=False),
        sa.Column("flood_minute", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("account", name="pk_standings"),
    )
    op.create_table(
        "sanction_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account", ACC, nullable=False),
        sa.Column("ts", TZ, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("risks", sa.String(256), nullable=False),
        sa.Column("reason", sa.String(256), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sanction_events"),
    )
    op.create_index("ix_sanction_events_account", "sanction_events", ["account"])
    op.create_index("ix_sanction_events_ts", "sanction_events", ["ts"])
    op.create_table(
        "usage_days",
        sa.Column("account", ACC, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("active_s", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("account", "day", name="pk_usage_days"),
    )
    op.create_table(
        "usage_sessions",
        sa.Column("account", ACC, nullable=False),
        sa.Column("session_start", TZ, nullable=True),
        sa.Column("last_at", TZ, nullable=True),
        sa.Column("last_reminder_at", TZ, nullable=True),
        sa.Column("notice_shown_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("account", name="pk_usage_sessions"),
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(24), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("account", ACC, nullable=True),
        sa.Column("contact", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("assignee", sa.String(128), nullable=False),
        sa.Column("resolution", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_complaints"),
        sa.UniqueConstraint("ref", name="uq_complaints_ref"),
    )
    for col in ("type", "state", "account", "due_at"):
        op.create_index(f"ix_complaints_{col}", "complaints", [col])
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer, nullable=False),
        sa.Column("ts", TZ, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_complaint_events"),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"], ondelete="CASCADE",
                                name="fk_complaint_events_complaint_id_complaints"),
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])
    op.create_table(
        "blocklist_entries",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blocklist_entries"),
        sa.UniqueConstraint("digest", name="uq_blocklist_entries_digest"),
    )
    op.create_index("ix_blocklist_entries_complaint_id", "blocklist_entries", ["complaint_id"])
    op.create_table(
        "optimisation_tickets",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("complaint_id", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("risk", sa.String(32), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("rejected", sa.Text, nullable=False),
        sa.Column("safe_answer", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("done_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_optimisation_tickets"),
    )
    op.create_index("ix_optimisation_tickets_complaint_id", "optimisation_tickets", ["complaint_id"])
    op.create_index("ix_optimisation_tickets_due_at", "optimisation_tickets", ["due_at"])


def downgrade() -> None:
    for t in ("optimisation_tickets", "blocklist_entries", "complaint_events", "complaints", "usage_sessions",
              "usage_days", "sanction_events", "standings", "otp_codes", "identities"):
        op.drop_table(t)
