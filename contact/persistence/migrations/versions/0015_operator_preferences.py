"""Operators' own language for the pages (kk, ru, en) and the form texts about them take.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Both nullable: an operator who chose nothing keeps the browser's language and neutral wording.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("ui_language", sa.String(), nullable=True))
        batch.add_column(sa.Column("gender", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("gender")
        batch.drop_column("ui_language")
