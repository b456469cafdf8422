"""Units, unit statuses, cameras, districts, dispatches, incident grouping.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Tables of contact/persistence/tables_dispatch.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("callsign", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("district_id", sa.String(), nullable=True),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("crew", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _timestamp("status_at"),
        sa.Column("dispatch_id", sa.String(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        _timestamp("position_at", nullable=True),
        sa.Column("token_hash", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("callsign", name=op.f("uq_units_callsign")),
    )
    op.create_index(op.f("ix_units_status"), "units", ["status"])

    op.create_table(
        "unit_status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        _timestamp("at"),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=True),
        sa.Column("dispatch_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_status_history")),
    )
    op.create_index(
        op.f("ix_unit_status_history_unit_id_at"), "unit_status_history", ["unit_id", "at"]
    )

    op.create_table(
        "dispatches",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=True),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("operator_id", sa.String(), nullable=False),
        sa.Column("district_id", sa.String(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("eta_source", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        _timestamp("received_at"),
        _timestamp("dispatched_at"),
        _timestamp("acknowledged_at", nullable=True),
        _timestamp("en_route_at", nullable=True),
        _timestamp("arrived_at", nullable=True),
        _timestamp("cleared_at", nullable=True),
        sa.Column("response_s", sa.Float(), nullable=True),
        sa.Column("first_on_scene", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
    )
    for column in ("contact_id", "incident_id", "unit_id", "state", "dispatched_at"):
        op.create_index(op.f(f"ix_dispatches_{column}"), "dispatches", [column])

    op.create_table(
        "cameras",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("stream_url", sa.Text(), nullable=False),
        sa.Column("snapshot_url", sa.Text(), nullable=True),
        sa.Column("district_id", sa.String(), nullable=True),
        _timestamp("imported_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_index(op.f("ix_cameras_imported_at"), "cameras", ["imported_at"])

    op.create_table(
        "camera_health",
        sa.Column("camera_id", sa.String(), nullable=False),
        sa.Column("ok_count", sa.BigInteger(), nullable=False),
        sa.Column("failure_count", sa.BigInteger(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _timestamp("last_ok_at", nullable=True),
        _timestamp("last_failure_at", nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("camera_id", name=op.f("pk_camera_health")),
    )

    op.create_table(
        "districts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name_kk", sa.String(), nullable=False),
        sa.Column("name_ru", sa.String(), nullable=False),
        sa.Column("department", sa.String(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _timestamp("imported_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
    )

    op.create_table(
        "incident_dispatch",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("district_id", sa.String(), nullable=True),
        sa.Column("department", sa.String(), nullable=True),
        sa.Column("outside_districts", sa.Boolean(), nullable=False),
        _timestamp("last_contact_at"),
        _timestamp("updated_at"),
        _timestamp("closed_at", nullable=True),
        sa.Column("merged_into", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_dispatch")),
    )
    op.create_index(
        op.f("ix_incident_dispatch_last_contact_at"), "incident_dispatch", ["last_contact_at"]
    )

    op.create_table(
        "incident_contacts",
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        _timestamp("received_at"),
        _timestamp("joined_at"),
        sa.Column("how", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_incident_contacts")),
    )
    op.create_index(op.f("ix_incident_contacts_incident_id"), "incident_contacts", ["incident_id"])
    op.create_index(op.f("ix_incident_contacts_lat"), "incident_contacts", ["lat"])


def downgrade() -> None:
    for table in (
        "incident_contacts",
        "incident_dispatch",
        "districts",
        "camera_health",
        "cameras",
        "dispatches",
        "unit_status_history",
        "units",
    ):
        op.drop_table(table)
