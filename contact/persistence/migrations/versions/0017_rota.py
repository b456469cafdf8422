"""The published staffing rota: operators needed per hour of the week and skill group.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Table of contact/persistence/tables_rota.py. Plain SQLAlchemy types only (no import of
contact.*).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "rota_hours",
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("skill_group", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("languages", sa.String(), nullable=False),
        sa.Column("capabilities", sa.String(), nullable=False),
        sa.Column("scenario", sa.String(), nullable=False),
        sa.Column("service_level", sa.Float(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("hour_of_week", "skill_group", name=op.f("pk_rota_hours")),
    )


def downgrade() -> None:
    op.drop_table("rota_hours")
