"""Telegram and WhatsApp: the durable chat inbox, conversations, outbound deliveries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Tables of contact/persistence/tables_channels.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "chat_inbox",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("lane", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _timestamp("received_at"),
        _timestamp("processed_at", nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("contact_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_chat_inbox")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_chat_inbox_channel_external_id")
        ),
    )
    op.create_index(op.f("ix_chat_inbox_processed_at"), "chat_inbox", ["processed_at"])

    op.create_table(
        "chat_conversations",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("citizen", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("language_chosen", sa.Boolean(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=True),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("wa_id", sa.String(), nullable=True),
        sa.Column("display_name", sa.String(), nullable=True),
        _timestamp("last_inbound_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("channel", "citizen", name=op.f("pk_chat_conversations")),
    )
    op.create_index(op.f("ix_chat_conversations_contact_id"), "chat_conversations", ["contact_id"])
    op.create_index(op.f("ix_chat_conversations_wa_id"), "chat_conversations", ["wa_id"])

    op.create_table(
        "chat_deliveries",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=True),
        sa.Column("citizen", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_deliveries")),
    )
    op.create_index(
        op.f("ix_chat_deliveries_channel_external_id"),
        "chat_deliveries",
        ["channel", "external_id"],
    )
    op.create_index(
        op.f("ix_chat_deliveries_channel_status"), "chat_deliveries", ["channel", "status"]
    )
    op.create_index(op.f("ix_chat_deliveries_contact_id"), "chat_deliveries", ["contact_id"])


def downgrade() -> None:
    for table in ("chat_deliveries", "chat_conversations", "chat_inbox"):
        op.drop_table(table)
