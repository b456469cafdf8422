"""Quick replies of the operator's page, admin-editable, with a first set in kk and ru.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Table of contact/persistence/tables_workspace.py. Plain SQLAlchemy types only (no import of
contact.*).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

# (id, language, label, text): what an operator of a 102 line writes again and again
FIRST_SET = [
    ("qr-ru-1", "ru", "Наряд выехал", "Наряд полиции уже выехал к вам. Оставайтесь на месте."),
    ("qr-ru-2", "ru", "Адрес", "Уточните, пожалуйста, точный адрес или ориентир."),
    ("qr-ru-3", "ru", "Безопасность", "Если вам угрожает опасность, уйдите в безопасное место."),
    (
        "qr-ru-4",
        "ru",
        "Оставайтесь на связи",
        "Оставайтесь на связи, мы работаем по вашему обращению.",
    ),
    ("qr-kk-1", "kk", "Жасақ шықты", "Полиция жасағы сізге шығып кетті. Орныңызда болыңыз."),
    ("qr-kk-2", "kk", "Мекенжай", "Нақты мекенжайды немесе бағдарды нақтылаңызшы."),
    ("qr-kk-3", "kk", "Қауіпсіздік", "Егер сізге қауіп төнсе, қауіпсіз жерге барыңыз."),
    (
        "qr-kk-4",
        "kk",
        "Байланыста болыңыз",
        "Байланыста болыңыз, өтінішіңізбен жұмыс істеп жатырмыз.",
    ),
]


def upgrade() -> None:
    table = op.create_table(
        "quick_replies",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quick_replies")),
    )
    op.create_index(
        op.f("ix_quick_replies_language_position"), "quick_replies", ["language", "position"]
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        table,
        [
            {
                "id": rid,
                "language": lang,
                "label": label,
                "text": text,
                "position": int(rid.rsplit("-", 1)[1]),
                "updated_at": now,
                "updated_by": "migration",
            }
            for rid, lang, label, text in FIRST_SET
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quick_replies_language_position"), table_name="quick_replies")
    op.drop_table("quick_replies")
