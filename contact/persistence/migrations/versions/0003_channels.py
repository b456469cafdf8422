"""Telegram and WhatsApp conversations, citizen profiles, channel dedupe (issue 4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Tables of contact/persistence/tables_channels.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

from alembic import op  # noqa: F401 - used as the revision gains tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
