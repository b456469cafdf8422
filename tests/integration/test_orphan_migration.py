"""Migration 0011 on both backends: contacts left `connected` or in wrap-up by earlier versions
under an operator who cannot be working them (no operator, away or never signed in, no
session) are marked orphaned since they were answered, for the sweeper's first pass; contacts
of an operator at work and finished ones are left alone."""

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

operators = sa.table(
    "operators",
    *(sa.column(n) for n in ("id", "username", "display_name", "role", "languages")),
    *(sa.column(n) for n in ("capabilities", "active", "password_hash", "presence")),
    sa.column("created_at", UtcDateTime),
)
sessions = sa.table(
    "sessions",
    *(sa.column(n) for n in ("token_hash", "operator_id", "role", "csrf_token")),
    sa.column("created_at", UtcDateTime),
    sa.column("last_seen_at", UtcDateTime),
)
contacts = sa.table(
    "contacts",
    *(sa.column(n) for n in ("id", "channel", "state", "priority", "summary", "operator_id")),
    sa.column("created_at", UtcDateTime),
    sa.column("queued_at", UtcDateTime),
    sa.column("answered_at", UtcDateTime),
)


def operator(id_: str, presence: str | None) -> dict[str, object]:
    return {
        "id": id_,
        "username": id_,
        "display_name": id_,
        "role": "operator",
        "languages": "kk,ru",
        "capabilities": "chat",
        "active": True,
        "password_hash": "x",
        "presence": presence,
        "created_at": T0,
    }


def contact(id_: str, state: str, holder: str | None, minute: int) -> dict[str, object]:
    return {
        "id": id_,
        "channel": "app",
        "state": state,
        "priority": 4,
        "summary": "",
        "operator_id": holder,
        "created_at": T0,
        "queued_at": T0,
        "answered_at": T0 + timedelta(minutes=minute),
    }


async def test_0011_marks_contacts_orphaned_by_earlier_versions(database_url: str) -> None:
    await upgrade(database_url, "0010")
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(operators),
                [
                    operator("away", "away"),
                    operator("never", None),
                    operator("at-work", "busy"),
                    operator("no-session", "busy"),
                ],
            )
            await conn.execute(
                sa.insert(sessions),
                [
                    {
                        "token_hash": "h" * 64,
                        "operator_id": "at-work",
                        "role": "operator",
                        "csrf_token": "c",
                        "created_at": T0,
                        "last_seen_at": T0,
                    }
                ],
            )
            await conn.execute(
                sa.insert(contacts),
                [
                    contact("of-away", "connected", "away", 1),
                    contact("of-never", "wrap_up", "never", 2),
                    contact("of-nobody", "connected", None, 3),
                    contact("of-no-session", "connected", "no-session", 4),
                    contact("of-at-work", "connected", "at-work", 5),
                    contact("closed", "closed", "away", 6),
                    contact("waiting", "queued", None, 7),
                ],
            )
    finally:
        await engine.dispose()

    await upgrade(database_url)
    db = await SqlDatabase.open(DatabaseSettings(url=database_url))
    try:
        marked = {c.id: c.orphaned_at for c in await db.contacts.in_states(frozenset(ContactState))}
    finally:
        await db.close()
    assert marked == {
        "of-away": T0 + timedelta(minutes=1),
        "of-never": T0 + timedelta(minutes=2),
        "of-nobody": T0 + timedelta(minutes=3),
        "of-no-session": T0 + timedelta(minutes=4),
        "of-at-work": None,
        "closed": None,
        "waiting": None,
    }
