"""Migration 0016 on both backends: a contact already in wrap-up gets the moment the audit log
recorded its wrap-up (the latest, when there are several), one without such a record keeps
NULL, other contacts are left alone; districts get an empty English name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contact.config import DatabaseSettings
from contact.domain.model import ContactState
from contact.persistence.database import SqlDatabase
from contact.persistence.engine import create_engine
from contact.persistence.migrate import upgrade
from contact.persistence.tables import UtcDateTime

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

contacts = sa.table(
    "contacts",
    *(sa.column(n) for n in ("id", "channel", "state", "priority", "summary", "operator_id")),
    sa.column("created_at", UtcDateTime),
    sa.column("answered_at", UtcDateTime),
)
audit = sa.table(
    "audit_log",
    *(sa.column(n) for n in ("seq", "actor", "action", "subject", "details", "prev_hash")),
    sa.column("hash"),
    sa.column("at", UtcDateTime),
)
districts = sa.table(
    "districts",
    *(sa.column(n) for n in ("id", "name_kk", "name_ru", "department", "geometry", "position")),
    sa.column("imported_at", UtcDateTime),
)


def contact(id_: str, state: str) -> dict[str, object]:
    return {
        "id": id_,
        "channel": "voice",
        "state": state,
        "priority": 3,
        "summary": "",
        "operator_id": "op",
        "created_at": T0,
        "answered_at": T0,
    }


def entry(seq: int, action: str, subject: str, minute: int) -> dict[str, object]:
    return {
        "seq": seq,
        "actor": "op",
        "action": action,
        "subject": subject,
        "details": "{}",
        "prev_hash": "0" * 64,
        "hash": f"{seq:064d}",
        "at": T0 + timedelta(minutes=minute),
    }


async def test_0016_gives_contacts_in_wrap_up_their_moment(database_url: str) -> None:
    await upgrade(database_url, "0015")
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(contacts),
                [
                    contact("wrapping", "wrap_up"),
                    contact("twice", "wrap_up"),
                    contact("unrecorded", "wrap_up"),
                    contact("talking", "connected"),
                    contact("closed", "closed"),
                ],
            )
            await conn.execute(
                sa.insert(audit),
                [
                    entry(1, "contact.accept", "wrapping", 1),
                    entry(2, "contact.wrap_up", "wrapping", 3),
                    entry(3, "contact.wrap_up", "twice", 4),
                    entry(4, "contact.wrap_up", "twice", 6),
                    entry(5, "contact.wrap_up", "closed", 7),
                ],
            )
            await conn.execute(
                sa.insert(districts),
                [
                    {
                        "id": "almaly",
                        "name_kk": "Алмалы ауданы",
                        "name_ru": "Алмалинский район",
                        "department": "УП",
                        "geometry": "{}",
                        "position": 0,
                        "imported_at": T0,
                    }
                ],
            )
    finally:
        await engine.dispose()

    await upgrade(database_url)
    db = await SqlDatabase.open(DatabaseSettings(url=database_url))
    try:
        found = {
            c.id: c.wrapped_up_at for c in await db.contacts.in_states(frozenset(ContactState))
        }
    finally:
        await db.close()
    assert found == {
        "wrapping": T0 + timedelta(minutes=3),
        "twice": T0 + timedelta(minutes=6),
        "unrecorded": None,
        "talking": None,
        "closed": None,
    }
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            names = (await conn.execute(sa.text("SELECT id, name_en FROM districts"))).all()
    finally:
        await engine.dispose()
    assert [tuple(n) for n in names] == [("almaly", None)]
