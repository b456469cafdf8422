"""The triage lexicon as an admin edited it, and its version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Tables of contact/persistence/tables_triage.py. Plain SQLAlchemy types only (no import of
contact.*), so this file keeps describing the schema as it was when the tables move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "triage_lexicon",
        sa.Column("lang", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("term", sa.String(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("lang", "category", "term", name=op.f("pk_triage_lexicon")),
    )
    op.create_table(
        "triage_lexicon_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_lexicon_state")),
    )


def downgrade() -> None:
    op.drop_table("triage_lexicon_state")
    op.drop_table("triage_lexicon")
