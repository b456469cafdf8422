"""The SQL store's contract, run on SQLite and on a real PostgreSQL.

Every test gets a database of its own, created by the migrations (not create_all), so the
migrations are what is tested. PostgreSQL missing makes these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
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
    ContactState,
    Incident,
    IncidentState,
    Language,
    Location,
    LocationSource,
    Message,
    MessageDirection,
    Operator,
    Presence,
    Priority,
    Role,
    Skills,
    new_id,
)
from contact.errors import Conflict, NotFound, Unavailable
from contact.persistence.database import SqlDatabase
from contact.persistence.engine import create_engine
from contact.persistence.migrate import head_revision, schema_status, upgrade
from contact.persistence.tables import metadata
from contact.ports import Session

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


# --- contacts --------------------------------------------------------------------------------


async def test_contact_round_trips_every_field(db: SqlDatabase) -> None:
    contact = make_contact(
        channel=ChannelKind.TELEGRAM,
        priority=Priority.SOS,
        created_at=datetime(2025, 3, 14, 14, 26, 53, 589793, tzinfo=ALMATY),  # 09:26:53 UTC
        state=ContactState.CONNECTED,
        language=Language.KK,
        citizen="tg:123456789",
        location=Location(
            lat=43.238949,
            lon=76.889709,
            accuracy_m=12.5,
            source=LocationSource.SHARED,
            address="Абая 10, Алматы",
        ),
        summary="Қол сөмкесін тартып алды / вырвали сумку",
        incident_id=new_id(),
        operator_id=new_id(),
        queued_at=at(1.5),
        answered_at=at(7.25),
        closed_at=at(300),
        disposition="dispatched",
    )
    assert await db.contacts.add(contact) == contact.id

    stored = await db.contacts.get(contact.id)

    assert stored == contact
    for value in (stored.created_at, stored.queued_at, stored.answered_at, stored.closed_at):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
    assert stored.created_at == at(0)


async def test_contact_with_only_required_fields(db: SqlDatabase) -> None:
    contact = make_contact()
    await db.contacts.add(contact)
    assert await db.contacts.get(contact.id) == contact


async def test_save_persists_what_changes(db: SqlDatabase) -> None:
    contact = make_contact(language=Language.RU)
    await db.contacts.add(contact)
    contact.transition(ContactState.QUEUED, at(1))
    contact.transition(ContactState.OFFERED, at(2))
    contact.operator_id = "op-1"
    contact.transition(ContactState.CONNECTED, at(3))
    contact.relocated(Location(lat=51.1694, lon=71.4491, source=LocationSource.MANUAL))
    contact.priority = Priority.SOS
    contact.language = Language.KK
    contact.incident_id = "inc-1"
    contact.summary = "updated"
    contact.transition(ContactState.CLOSED, at(4))
    contact.disposition = "resolved"

    await db.contacts.save(contact)

    assert await db.contacts.get(contact.id) == contact


async def test_unknown_ids_are_not_found(db: SqlDatabase) -> None:
    with pytest.raises(NotFound):
        await db.contacts.get("missing")
    with pytest.raises(NotFound):
        await db.contacts.save(make_contact(id="missing"))
    with pytest.raises(NotFound):
        await db.contacts.attachment_content("missing")
    with pytest.raises(NotFound):
        await db.contacts.add_message(make_message("missing", "hello", at(0)))
    assert await db.contacts.find_by_external_id(ChannelKind.APP, "missing") is None
    assert await db.contacts.messages("missing") == []
    assert await db.contacts.attachments("missing") == []


async def test_naive_datetimes_are_refused(db: SqlDatabase) -> None:
    with pytest.raises(ValueError, match="naive"):
        await db.contacts.add(make_contact(created_at=datetime(2025, 1, 1, 12, 0)))


async def test_add_with_a_known_external_id_stores_nothing(db: SqlDatabase) -> None:
    first = make_contact(channel=ChannelKind.TELEGRAM)
    first_id = await db.contacts.add(
        first, make_message(first.id, "help", at(0)), external_id="update-1"
    )
    again = make_contact(channel=ChannelKind.TELEGRAM)

    again_id = await db.contacts.add(
        again,
        make_message(again.id, "help", at(1)),
        [(make_attachment(again.id, b"photo"), b"photo")],
        external_id="update-1",
    )

    assert again_id == first_id == first.id
    with pytest.raises(NotFound):
        await db.contacts.get(again.id)
    assert [m.text for m in await db.contacts.messages(first.id)] == ["help"]
    assert await db.contacts.attachments(again.id) == []
    assert await db.contacts.find_by_external_id(ChannelKind.TELEGRAM, "update-1") == first
    # the same id from another channel is another intake
    other = make_contact(channel=ChannelKind.WHATSAPP)
    assert await db.contacts.add(other, external_id="update-1") == other.id


async def test_concurrent_adds_of_one_intake_store_one_contact(db: SqlDatabase) -> None:
    candidates = [make_contact(channel=ChannelKind.APP_SOS) for _ in range(20)]

    ids = await asyncio.gather(
        *(
            db.contacts.add(c, make_message(c.id, "SOS", at(0)), external_id="report-7")
            for c in candidates
        )
    )

    assert len(set(ids)) == 1
    stored = [c for c in await db.contacts.recent(100) if c.id in {x.id for x in candidates}]
    assert [c.id for c in stored] == [ids[0]]
    assert len(await db.contacts.messages(ids[0])) == 1


async def test_attachments_round_trip_their_bytes(db: SqlDatabase) -> None:
    contact = make_contact()
    photo = os.urandom(5 * 1024 * 1024)
    note = b"\x00\xffvoice note"
    first = make_attachment(contact.id, photo, filename="IMG_0001.jpg")
    second = make_attachment(contact.id, note, media_type="audio/ogg")

    await db.contacts.add(contact, None, [(first, photo), (second, note)])

    assert await db.contacts.attachments(contact.id) == [first, second]
    assert await db.contacts.attachment_content(first.id) == (first, photo)
    assert await db.contacts.attachment_content(second.id) == (second, note)


async def test_add_is_one_transaction(db: SqlDatabase) -> None:
    contact = make_contact()
    clash = make_attachment(contact.id, b"a")
    duplicate = make_attachment(contact.id, b"b", id=clash.id)  # fails at the last insert

    with pytest.raises(Conflict):
        await db.contacts.add(
            contact, make_message(contact.id, "hi", at(0)), [(clash, b"a"), (duplicate, b"b")]
        )

    with pytest.raises(NotFound):
        await db.contacts.get(contact.id)
    assert await db.contacts.messages(contact.id) == []
    assert await db.contacts.attachments(contact.id) == []


async def test_a_part_of_another_contact_is_refused(db: SqlDatabase) -> None:
    contact = make_contact()
    with pytest.raises(ValueError):
        await db.contacts.add(contact, make_message("someone-else", "hi", at(0)))
    with pytest.raises(ValueError):
        await db.contacts.add(contact, None, [(make_attachment("someone-else", b"x"), b"x")])


async def test_in_states_is_oldest_first_for_rebuilding_the_queue(db: SqlDatabase) -> None:
    # created in one order, queued in another; ties on queued_at fall back to created_at
    late = make_contact(created_at=at(0), state=ContactState.QUEUED, queued_at=at(30))
    early = make_contact(created_at=at(5), state=ContactState.OFFERED, queued_at=at(10))
    tie_newer = make_contact(created_at=at(9), state=ContactState.QUEUED, queued_at=at(20))
    tie_older = make_contact(created_at=at(8), state=ContactState.QUEUED, queued_at=at(20))
    never_queued = make_contact(created_at=at(1), state=ContactState.NEW)
    closed = make_contact(created_at=at(2), state=ContactState.CLOSED, queued_at=at(3))
    for contact in (late, early, tie_newer, tie_older, never_queued, closed):
        await db.contacts.add(contact)

    waiting = await db.contacts.in_states(frozenset({ContactState.QUEUED, ContactState.OFFERED}))
    opened = await db.contacts.in_states(
        frozenset({ContactState.NEW, ContactState.QUEUED, ContactState.OFFERED})
    )

    assert [c.id for c in waiting] == [early.id, tie_older.id, tie_newer.id, late.id]
    assert [c.id for c in opened] == [
        early.id,
        tie_older.id,
        tie_newer.id,
        late.id,
        never_queued.id,
    ]
    assert await db.contacts.in_states(frozenset()) == []


async def test_recent_is_newest_first(db: SqlDatabase) -> None:
    contacts = [make_contact(created_at=at(i)) for i in (3, 1, 2)]
    for contact in contacts:
        await db.contacts.add(contact)

    assert [c.created_at for c in await db.contacts.recent(2)] == [at(3), at(2)]


async def test_messages_come_in_time_order_and_redeliveries_once(db: SqlDatabase) -> None:
    contact = make_contact(channel=ChannelKind.WHATSAPP)
    first = make_message(contact.id, "first", at(0), external_id="wamid.1")
    await db.contacts.add(contact, first)
    third = make_message(contact.id, "third", at(20), external_id="wamid.3")
    reply = Message(
        id=new_id(),
        contact_id=contact.id,
        direction=MessageDirection.OUTBOUND,
        text="second",
        created_at=at(10),
        author="op-1",
    )
    await db.contacts.add_message(third)
    await db.contacts.add_message(reply)
    await db.contacts.add_message(make_message(contact.id, "third", at(21), external_id="wamid.3"))

    assert await db.contacts.messages(contact.id) == [first, reply, third]
    with pytest.raises(Conflict):
        await db.contacts.add_message(reply)  # the same message id is a caller's bug


# --- operators -------------------------------------------------------------------------------


async def test_operators(db: SqlDatabase) -> None:
    aigerim = make_operator(
        "aigerim",
        display_name="Айгерім",
        role=Role.SUPERVISOR,
        skills=Skills(languages=frozenset({Language.KK}), capabilities=frozenset()),
        endpoint="PJSIP/op1",
        active=False,
    )
    boris = make_operator("boris")
    await db.operators.add(aigerim, "hash-a")
    await db.operators.add(boris, "hash-b")

    assert await db.operators.get(aigerim.id) == aigerim
    assert await db.operators.all() == [aigerim, boris]
    credentials = await db.operators.by_username("boris")
    assert credentials is not None
    assert (credentials.operator, credentials.password_hash) == (boris, "hash-b")
    assert await db.operators.by_username("nobody") is None

    await db.operators.set_password(boris.id, "hash-b2")
    credentials = await db.operators.by_username("boris")
    assert credentials is not None and credentials.password_hash == "hash-b2"

    with pytest.raises(Conflict):
        await db.operators.add(make_operator("boris"), "hash-c")
    with pytest.raises(NotFound):
        await db.operators.get("missing")
    with pytest.raises(NotFound):
        await db.operators.set_password("missing", "x")
    with pytest.raises(NotFound):
        await db.operators.set_presence("missing", Presence.READY)


async def test_presences_are_remembered(db: SqlDatabase) -> None:
    ready, away, never = (make_operator(name) for name in ("ready", "away", "never"))
    for operator in (ready, away, never):
        await db.operators.add(operator, "h")
    await db.operators.set_presence(ready.id, Presence.BUSY)
    await db.operators.set_presence(ready.id, Presence.READY)
    await db.operators.set_presence(away.id, Presence.AWAY)

    assert await db.operators.presences() == {ready.id: Presence.READY, away.id: Presence.AWAY}


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

    await db.sessions.delete(token_hash)
    assert await db.sessions.get(token_hash) is None
    assert await db.sessions.get(other_hash) is not None
    await db.sessions.delete_for_operator(operator.id)
    assert await db.sessions.get(other_hash) is None


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
