"""Idempotent intake: what the request under a contact's external_id said.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

contacts.request_sha256 (contact/persistence/tables.py): a reused Idempotency-Key with another
body is answered 422 instead of being folded into the first contact. Plain SQLAlchemy types
only (no import of contact.*).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("request_sha256", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("request_sha256")
