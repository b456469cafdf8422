"""The SQL store's contract, run on SQLite and on a real PostgreSQL.

Every test gets a database of its own, created by the migrations (not create_all), so the
migrations are what is tested. PostgreSQL missing makes these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from contact.config import DatabaseSettings
from contact.domain.model import (
    Attachment,
    Capability,
    ChannelKind,
    Contact,
    Incident,
    IncidentState,
    Location,
    LocationSource,
    Message,
    MessageDirection,
    Operator,
    Priority,
    Role,
    Skills,
    new_id,
)
from contact.errors import Conflict, NotFound, Unavailable
from contact.persistence.database import SqlDatabase
from contact.persistence.engine import create_engine
from contact.persistence.migrate import head_revision, schema_status, upgrade
from contact.ports import Session
from contact.schema import metadata

ALMATY = timezone(timedelta(hours=5))
T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_contact(**fields: object) -> Contact:
    values: dict[str, object] = {
        "id": new_id(),
        "channel": ChannelKind.APP,
        "priority": Priority.CHAT,
        "created_at": at(0),
    }
    values.update(fields)
    return Contact(**values)  # type: ignore[arg-type]


def make_message(contact_id: str, text: str, created_at: datetime, **fields: object) -> Message:
    return Message(
        id=new_id(),
        contact_id=contact_id,
        direction=MessageDirection.INBOUND,
        text=text,
        created_at=created_at,
        **fields,  # type: ignore[arg-type]
    )


def make_attachment(contact_id: str, content: bytes, **fields: object) -> Attachment:
    values: dict[str, object] = {
        "id": new_id(),
        "contact_id": contact_id,
        "media_type": "image/jpeg",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    values.update(fields)
    return Attachment(**values)  # type: ignore[arg-type]


def make_operator(username: str, **fields: object) -> Operator:
    values: dict[str, object] = {"id": new_id(), "username": username, "display_name": username}
    values.update(fields)
    return Operator(**values)  # type: ignore[arg-type]


# --- schema ----------------------------------------------------------------------------------


async def test_migrations_build_exactly_the_tables(database_url: str) -> None:
    assert await schema_status(database_url) == (None, head_revision())
    await upgrade(database_url)
    await upgrade(database_url)  # a second run is a no-op
    assert await schema_status(database_url) == (head_revision(), head_revision())

    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()
    assert differences == []


async def test_sqlite_is_durable_and_creates_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "contact.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.connect() as conn:
            values = {
                pragma: (await conn.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert path.exists()
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


async def test_plain_sqlite_url_is_accepted_and_status_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "var" / "plain.db"
    url = f"sqlite:///{path}"
    assert await schema_status(url) == (None, head_revision())
    assert not path.parent.exists()
    await upgrade(url)
    assert await schema_status(url) == (head_revision(), head_revision())


# --- sessions --------------------------------------------------------------------------------


async def test_sessions(db: SqlDatabase) -> None:
    operator = make_operator("dana", skills=Skills(capabilities=frozenset({Capability.CHAT})))
    await db.operators.add(operator, "h")
    token_hash = hashlib.sha256(b"cookie-1").hexdigest()
    other_hash = hashlib.sha256(b"cookie-2").hexdigest()
    session = Session(token_hash, operator.id, Role.OPERATOR, "csrf-1", at(0), at(0))
    await db.sessions.create(session)
    await db.sessions.create(
        Session(other_hash, operator.id, Role.OPERATOR, "csrf-2", at(1), at(1))
    )

    assert await db.sessions.get(token_hash) == session
    assert await db.sessions.get("missing") is None

    await db.sessions.touch(token_hash, at(60))
    touched = await db.sessions.get(token_hash)
    assert touched is not None
    assert (touched.created_at, touched.last_seen_at) == (at(0), at(60))
    await db.sessions.touch("missing", at(60))  # logged out meanwhile: nothing to do

    with pytest.raises(Conflict):
        await db.sessions.create(session)
    with pytest.raises(NotFound):
        await db.sessions.create(Session("h" * 64, "missing", Role.OPERATOR, "c", at(0), at(0)))

    mine = sorted(await db.sessions.for_operator(operator.id), key=lambda s: s.token_hash)
    assert [s.token_hash for s in mine] == sorted([token_hash, other_hash])
    assert await db.sessions.for_operator("missing") == []

    await db.sessions.delete(token_hash)
    assert await db.sessions.get(token_hash) is None
    assert await db.sessions.get(other_hash) is not None
    await db.sessions.delete_for_operator(operator.id)
    assert await db.sessions.get(other_hash) is None
    assert await db.sessions.for_operator(operator.id) == []


# --- incidents -------------------------------------------------------------------------------


async def test_incidents(db: SqlDatabase) -> None:
    incident = Incident(id=new_id(), created_at=at(0).astimezone(ALMATY))
    await db.incidents.add(incident)
    assert await db.incidents.get(incident.id) == incident

    incident.state = IncidentState.DISPATCHED
    incident.category = "robbery"
    incident.location = Location(lat=-33.5, lon=179.99, accuracy_m=0.0, source=LocationSource.GPS)
    incident.contact_ids = ["c3", "c1", "c2"]
    await db.incidents.save(incident)

    stored = await db.incidents.get(incident.id)
    assert stored == incident
    assert stored.created_at.utcoffset() == timedelta(0)

    with pytest.raises(Conflict):
        await db.incidents.add(incident)
    with pytest.raises(NotFound):
        await db.incidents.get("missing")
    with pytest.raises(NotFound):
        await db.incidents.save(Incident(id="missing", created_at=at(0)))


# --- health ----------------------------------------------------------------------------------


async def test_ping(db: SqlDatabase) -> None:
    await db.ping()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/contact",  # nothing listens there
        "sqlite+aiosqlite:///{tmp}",  # a directory, not a database file
    ],
)
async def test_an_unreachable_database_is_unavailable(url: str, tmp_path: Path) -> None:
    threads_before = set(threading.enumerate())
    db = await SqlDatabase.open(DatabaseSettings(url=url.format(tmp=tmp_path)))
    try:
        with pytest.raises(Unavailable):
            await db.ping()
        with pytest.raises(Unavailable):
            await db.contacts.get("any")
        with pytest.raises(Unavailable):
            await db.audit.append("system", "test")
    finally:
        await db.close()
    # aiosqlite stops the worker thread of a failed connect without awaiting it; let it end
    # before this test's loop closes, or it reports to a closed loop (a warning, made an error)
    for _ in range(200):
        if not set(threading.enumerate()) - threads_before:
            break
        await asyncio.sleep(0.01)


async def test_a_locked_sqlite_database_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/contact.db"
    await upgrade(url)
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    locker = sqlite3.connect(tmp_path / "contact.db", isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(Unavailable):  # after busy_timeout (5 s) of waiting
            await db.contacts.add(make_contact())
    finally:
        locker.close()
        await db.close()
