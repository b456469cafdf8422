"""Units, unit statuses, cameras, districts, incident grouping (issue 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Tables of contact/persistence/tables_dispatch.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

from alembic import op  # noqa: F401 - used as the revision gains tables

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
