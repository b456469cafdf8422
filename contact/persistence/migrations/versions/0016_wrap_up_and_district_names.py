"""When a contact went to wrap-up; districts' names in English.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

`contacts.wrapped_up_at`: when the conversation ended and its operator's wrap-up began, so the
operator page's wrap-up timer goes on from there after a reload instead of starting at 0. A
contact already in wrap-up gets the moment the audit log recorded (`contact.wrap_up`), else
stays NULL (the page then counts from when it is shown, as before).
`districts.name_en`: a district's name for the English pages (NULL: the Russian name is shown).
Plain SQL both SQLite and PostgreSQL run; no import of contact.*.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("wrapped_up_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text(
            "UPDATE contacts SET wrapped_up_at = (SELECT max(a.at) FROM audit_log a"
            " WHERE a.subject = contacts.id AND a.action = 'contact.wrap_up')"
            " WHERE state = 'wrap_up'"
        )
    )
    with op.batch_alter_table("districts") as batch:
        batch.add_column(sa.Column("name_en", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("districts") as batch:
        batch.drop_column("name_en")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("wrapped_up_at")
