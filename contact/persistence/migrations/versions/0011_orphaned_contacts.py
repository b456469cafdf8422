"""Contacts whose operator is gone: when that was seen, when the supervisors got them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

routing/orphans.py marks a connected or wrap-up contact whose holder is gone (`orphaned_at`) and,
past CONTACT_ROUTING_ORPHAN_AFTER_S, requeues it or hands it to the supervisors
(`escalated_at`). Earlier versions left such contacts `connected` for ever: this revision marks
every open contact held by an operator who cannot be working it now (no operator, away or
never signed in, or no session at all) as orphaned since it was answered, so the sweeper's
first pass on the new code requeues or escalates it (after checking her absence again: a
mark on someone present is cleared). Plain SQL both SQLite and PostgreSQL run; no import of
contact.*.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("orphaned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text(
            "UPDATE contacts SET orphaned_at = COALESCE(answered_at, queued_at, created_at) "
            "WHERE state IN ('connected', 'wrap_up') AND orphaned_at IS NULL AND ("
            " operator_id IS NULL"
            " OR operator_id NOT IN (SELECT id FROM operators"
            "  WHERE presence IS NOT NULL AND presence <> 'away')"
            " OR operator_id NOT IN (SELECT operator_id FROM sessions))"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("orphaned_at")
