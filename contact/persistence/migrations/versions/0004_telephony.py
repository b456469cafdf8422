"""Calls, recordings, callbacks (contact/telephony).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Tables of contact/persistence/tables_telephony.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("uniqueid", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=True),
        sa.Column("number", sa.String(), nullable=True),
        sa.Column("citizen_leg", sa.String(), nullable=True),
        sa.Column("operator_id", sa.String(), nullable=True),
        sa.Column("operator_leg", sa.String(), nullable=True),
        sa.Column("consult_leg", sa.String(), nullable=True),
        sa.Column("transfer_target", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("civic_address", sa.String(), nullable=True),
        sa.Column("recording", sa.String(), nullable=True),
        _timestamp("started_at"),
        _timestamp("answered_at", nullable=True),
        _timestamp("ended_at", nullable=True),
        sa.Column("end_reason", sa.String(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("dropped", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_calls_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_calls_uniqueid")),
    )
    op.create_index(op.f("ix_calls_contact_id"), "calls", ["contact_id"])
    op.create_index(op.f("ix_calls_state_started_at"), "calls", ["state", "started_at"])

    op.create_table(
        "recordings",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("call_id", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        _timestamp("started_at"),
        _timestamp("ended_at", nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        _timestamp("purged_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_recordings_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_recordings_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("path", name=op.f("uq_recordings_path")),
    )
    op.create_index(op.f("ix_recordings_contact_id"), "recordings", ["contact_id"])
    op.create_index(
        op.f("ix_recordings_purged_at_started_at"), "recordings", ["purged_at", "started_at"]
    )

    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("source_contact_id", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("due_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("task_contact_id", sa.String(), nullable=True),
        sa.Column("leg_uniqueid", sa.String(), nullable=True),
        sa.Column("answered_contact_id", sa.String(), nullable=True),
        sa.Column("last_result", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_contact_id"],
            ["contacts.id"],
            name=op.f("fk_callbacks_source_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("source_contact_id", name=op.f("uq_callbacks_source_contact_id")),
        sa.UniqueConstraint("task_contact_id", name=op.f("uq_callbacks_task_contact_id")),
    )
    op.create_index(op.f("ix_callbacks_state"), "callbacks", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_callbacks_state"), table_name="callbacks")
    op.drop_table("callbacks")
    op.drop_index(op.f("ix_recordings_purged_at_started_at"), table_name="recordings")
    op.drop_index(op.f("ix_recordings_contact_id"), table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_calls_state_started_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_contact_id"), table_name="calls")
    op.drop_table("calls")
