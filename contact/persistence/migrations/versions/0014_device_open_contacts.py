"""The open contact of each device source: one row per source, deciding join-or-open.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Table of contact/persistence/tables_registries.py (OpenSourceContactRow). A device's intake (an
app SOS, a kiosk's press, a school alarm, a camera alert) joins the open contact of its source
or opens a new one; which one is decided by this row (its primary key, a conditional update) in
the new contact's own transaction, on every node at once (contact/channels/devices/store.py).
Earlier versions decided it with a lock of one process: this revision records, for every source
with an open contact, its newest one (what those versions joined), and for every camera alert
window its contact. Plain SQL both SQLite and PostgreSQL run; no import of contact.*.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None

# the key each channel's source had as its contacts' citizen (channels/*/parse.citizen_of)
_OPEN = (
    "SELECT citizen, id, channel FROM contacts"
    " WHERE state NOT IN ('closed', 'abandoned') AND citizen IS NOT NULL AND ("
    "  (channel = 'kiosk' AND citizen LIKE 'kiosk:%')"
    "  OR (channel = 'school_alarm' AND citizen LIKE 'site:%')"
    "  OR channel = 'app_sos')"
    " ORDER BY created_at, id"
)
_WINDOWS = (
    "SELECT g.group_id, g.contact_id FROM camera_alert_groups g"
    " JOIN contacts c ON c.id = g.contact_id"
)


def upgrade() -> None:
    op.create_table(
        "device_open_contacts",
        sa.Column("source_key", sa.String(), nullable=False),
        sa.Column("contact_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_device_open_contacts_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_device_open_contacts")),
    )
    op.create_index(
        op.f("ix_device_open_contacts_contact_id"), "device_open_contacts", ["contact_id"]
    )
    bind = op.get_bind()
    newest: dict[str, str] = {}
    for citizen, contact_id, channel in bind.execute(sa.text(_OPEN)):
        key = f"device:{citizen}" if channel == "app_sos" else str(citizen)
        newest[key] = str(contact_id)  # ordered by creation: the newest wins
    for group_id, contact_id in bind.execute(sa.text(_WINDOWS)):
        newest[f"camera-alert:{group_id}"] = str(contact_id)
    if newest:
        bind.execute(
            sa.text("INSERT INTO device_open_contacts (source_key, contact_id) VALUES (:key, :id)"),
            [{"key": k, "id": v} for k, v in newest.items()],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_open_contacts_contact_id"), table_name="device_open_contacts")
    op.drop_table("device_open_contacts")
