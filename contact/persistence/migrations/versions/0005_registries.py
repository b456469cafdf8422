"""Registries of the non-chat channels: app devices, SOS kiosks, alarm sites, camera alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Tables of contact/persistence/tables_registries.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

from alembic import op  # noqa: F401 - used as the revision gains tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
