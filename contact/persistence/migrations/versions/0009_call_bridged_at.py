"""A call's current conversation: when its caller was bridged to someone, cleared at a requeue.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

`calls.bridged_at` decides whether a citizen whose call ends was talking to someone (wrap-up)
or still waiting for one (abandoned, with a callback): contact/telephony/voice.py. Plain
SQLAlchemy types only (no import of contact.*).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("bridged_at")
