"""Registries of the non-chat channels: app devices, SOS kiosks, alarm sites, camera alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Tables of contact/persistence/tables_registries.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_index("ix_contacts_citizen_created_at", "contacts", ["citizen", "created_at"])

    op.create_table(
        "app_devices",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        _timestamp("registered_at"),
        _timestamp("last_seen_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_devices_token_hash")),
    )

    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("partner", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("sip_account", sa.String(), nullable=True),
        sa.Column("camera_id", sa.String(), nullable=True),
        sa.Column("hmac_key", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        _timestamp("last_heartbeat_at", nullable=True),
        _timestamp("state_changed_at", nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosks")),
    )
    op.create_index(op.f("ix_kiosks_state"), "kiosks", ["state"])

    op.create_table(
        "kiosk_events",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kiosk_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        _timestamp("received_at"),
        _timestamp("reported_at", nullable=True),
        sa.Column("detail", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_events_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_events")),
    )
    op.create_index(
        op.f("ix_kiosk_events_kiosk_id_received_at"), "kiosk_events", ["kiosk_id", "received_at"]
    )

    op.create_table(
        "alarm_sites",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("camera_ids", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_sites")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_alarm_sites_key_hash")),
    )

    op.create_table(
        "camera_alert_groups",
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("group_id", sa.String(), nullable=False),
        sa.Column("camera_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=True),
        _timestamp("first_at"),
        _timestamp("last_at"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dedupe_key", name=op.f("pk_camera_alert_groups")),
        sa.UniqueConstraint("group_id", name=op.f("uq_camera_alert_groups_group_id")),
    )

    op.create_table(
        "intake_sources",
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("camera_ids", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_intake_sources_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_intake_sources")),
    )
    op.create_index(op.f("ix_intake_sources_source_id"), "intake_sources", ["source_id"])

    op.create_table(
        "seen_signatures",
        sa.Column("digest", sa.String(length=64), nullable=False),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_seen_signatures")),
    )
    op.create_index(op.f("ix_seen_signatures_expires_at"), "seen_signatures", ["expires_at"])


def downgrade() -> None:
    for table in (
        "seen_signatures",
        "intake_sources",
        "camera_alert_groups",
        "alarm_sites",
        "kiosk_events",
        "kiosks",
        "app_devices",
    ):
        op.drop_table(table)
    op.drop_index("ix_contacts_citizen_created_at", table_name="contacts")
