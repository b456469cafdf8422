"""Migration 0014 on both backends: the open contacts of device sources that earlier versions
joined by a lock of one process are recorded as their sources' open contacts (the newest one
of each source), and camera alert windows keep their contact, so the next intake after the
upgrade joins them as before; finished contacts, chats and SIP kiosk calls are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contact.config import DatabaseSettings
from contact.persistence.engine import create_engine
from contact.persistence.migrate import upgrade
from contact.persistence.tables import UtcDateTime

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

contacts = sa.table(
    "contacts",
    *(sa.column(n) for n in ("id", "channel", "state", "priority", "summary", "citizen")),
    sa.column("created_at", UtcDateTime),
)
groups = sa.table(
    "camera_alert_groups",
    *(sa.column(n) for n in ("dedupe_key", "group_id", "camera_id", "kind", "contact_id")),
    sa.column("first_at", UtcDateTime),
    sa.column("last_at", UtcDateTime),
    sa.column("count"),
)


def contact(id_: str, channel: str, state: str, citizen: str, minute: int) -> dict[str, object]:
    return {
        "id": id_,
        "channel": channel,
        "state": state,
        "priority": 1,
        "summary": "",
        "citizen": citizen,
        "created_at": T0 + timedelta(minutes=minute),
    }


async def test_0014_records_the_open_contact_of_each_source(database_url: str) -> None:
    await upgrade(database_url, "0013")
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(contacts),
                [
                    contact("kiosk-old", "kiosk", "connected", "kiosk:park-01", 1),
                    contact("kiosk-new", "kiosk", "queued", "kiosk:park-01", 2),  # the newest
                    contact("kiosk-closed", "kiosk", "closed", "kiosk:park-01", 3),
                    contact("sip-kiosk", "kiosk", "queued", "kiosk-sip-01", 4),  # a SIP call
                    contact("site-open", "school_alarm", "wrap_up", "site:school-12", 5),
                    contact("sos-open", "app_sos", "offered", "device-0001", 6),
                    contact("sos-over", "app_sos", "abandoned", "device-0002", 7),
                    contact("chat", "telegram", "queued", "tg:42", 8),
                    contact("alert", "camera", "closed", "camera:cam-1", 9),
                ],
            )
            await conn.execute(
                sa.insert(groups),
                [
                    {
                        "dedupe_key": "k" * 64,
                        "group_id": "window-1",
                        "camera_id": "cam-1",
                        "kind": "weapon",
                        "contact_id": "alert",
                        "first_at": T0,
                        "last_at": T0,
                        "count": 2,
                    }
                ],
            )
    finally:
        await engine.dispose()

    await upgrade(database_url)
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text("SELECT source_key, contact_id FROM device_open_contacts")
                )
            ).all()
    finally:
        await engine.dispose()
    assert dict((str(k), str(v)) for k, v in rows) == {
        "kiosk:park-01": "kiosk-new",
        "site:school-12": "site-open",
        "device:device-0001": "sos-open",
        "camera-alert:window-1": "alert",
    }
