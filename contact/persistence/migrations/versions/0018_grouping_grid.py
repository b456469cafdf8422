"""Incident grouping finds nearby members through a grid, not a time range.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

The index of 0007 led with received_at: grouping read every member of the last window (30
minutes) and filtered the box inside the index, so its cost grew with the rate (100 reports a
second fill a window with 180,000). Each member now carries the 0.01° grid cell of its place
(contact/dispatch/grouping.py: grid_cell), indexed with its arrival; grouping asks for the
few cells around a point, each from the window's start, and checks the box inside the
index (lat, lon) before it reads a row. Plain SQLAlchemy only (no import of
contact.*): the cell's arithmetic is written out here, floor((lat + 90) * 100) * 36000 +
floor((lon + 180) * 100), both terms never negative.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("incident_contacts", sa.Column("cell", sa.BigInteger(), nullable=True))
    # SQLite: CAST truncates, which is floor for what is never negative; PostgreSQL: floor
    floor = "CAST({} AS INTEGER)" if op.get_bind().dialect.name == "sqlite" else "floor({})"
    lat_row, lon_column = floor.format("(lat + 90.0) * 100"), floor.format("(lon + 180.0) * 100")
    op.execute(
        f"UPDATE incident_contacts SET cell = {lat_row} * 36000 + {lon_column}"
        " WHERE lat IS NOT NULL AND lon IS NOT NULL"
    )
    op.drop_index(op.f("ix_incident_contacts_received_at_lat_lon"), table_name="incident_contacts")
    op.create_index(
        op.f("ix_incident_contacts_cell_received_at_lat_lon"),
        "incident_contacts",
        ["cell", "received_at", "lat", "lon"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_incident_contacts_cell_received_at_lat_lon"), table_name="incident_contacts"
    )
    op.create_index(
        op.f("ix_incident_contacts_received_at_lat_lon"),
        "incident_contacts",
        ["received_at", "lat", "lon"],
    )
    with op.batch_alter_table("incident_contacts") as batch:
        batch.drop_column("cell")
