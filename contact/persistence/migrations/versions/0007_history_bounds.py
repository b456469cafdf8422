"""Indexes that bound hot queries by what they need, not by history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Incident grouping reads the members of the last window in a box around a point: the index
leads with received_at (the window) and carries lat, lon (the box), replacing the lat index
that made grouping read a latitude band of all history. The supervisor's open incidents are
read newest first per state, a page at a time; the response-time report reads the arrivals
of a period.
"""

from __future__ import annotations

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_incident_contacts_lat"), table_name="incident_contacts")
    op.create_index(
        op.f("ix_incident_contacts_received_at_lat_lon"),
        "incident_contacts",
        ["received_at", "lat", "lon"],
    )
    op.drop_index(op.f("ix_incidents_state"), table_name="incidents")
    op.create_index(
        op.f("ix_incidents_state_created_at_id"), "incidents", ["state", "created_at", "id"]
    )
    op.create_index(op.f("ix_dispatches_arrived_at"), "dispatches", ["arrived_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dispatches_arrived_at"), table_name="dispatches")
    op.drop_index(op.f("ix_incidents_state_created_at_id"), table_name="incidents")
    op.create_index(op.f("ix_incidents_state"), "incidents", ["state"])
    op.drop_index(op.f("ix_incident_contacts_received_at_lat_lon"), table_name="incident_contacts")
    op.create_index(op.f("ix_incident_contacts_lat"), "incident_contacts", ["lat"])
