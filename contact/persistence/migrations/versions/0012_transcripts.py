"""Transcripts: the recognised utterances of each call leg.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Table of contact/persistence/tables_transcripts.py. Plain SQLAlchemy types only (no import of
contact.*). The full-text index (SQLite FTS5 / PostgreSQL GIN over to_tsvector) is created by
contact/persistence/transcripts.py, idempotently: it is not a table Alembic can compare.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.Column("speaker", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("leg_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_transcript_segments_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_segments")),
    )
    op.create_index(
        op.f("ix_transcript_segments_contact_id"), "transcript_segments", ["contact_id"]
    )
    op.create_index(
        op.f("ix_transcript_segments_created_at"), "transcript_segments", ["created_at"]
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS transcript_search")  # SQLite's FTS5 index, if created
    op.drop_table("transcript_segments")
