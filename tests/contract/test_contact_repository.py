"""The contact and operator repositories' contract, run on the SQL adapter (SQLite and a real
PostgreSQL) and on the unit tests' fakes (tests/fakes.py) alike, so the fakes cannot drift from
what the real adapter does. PostgreSQL missing makes these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import pytest

from contact.config import DatabaseSettings
from contact.domain.model import (
    ChannelKind,
    ContactState,
    Gender,
    Language,
    Location,
    LocationSource,
    Message,
    MessageDirection,
    Presence,
    Priority,
    Role,
    Skills,
    UiLanguage,
    new_id,
)
from contact.errors import Conflict, NotFound, Unauthorized
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from contact.ports import ContactRepository, OperatorRepository
from tests.fakes import FakeContactRepository, FakeOperatorRepository
from tests.integration.test_persistence_contract import (
    ALMATY,
    at,
    make_attachment,
    make_contact,
    make_message,
    make_operator,
)


class Repositories(Protocol):
    @property
    def contacts(self) -> ContactRepository: ...

    @property
    def operators(self) -> OperatorRepository: ...


@dataclass
class Fakes:
    contacts: FakeContactRepository = field(default_factory=FakeContactRepository)
    operators: FakeOperatorRepository = field(default_factory=FakeOperatorRepository)


@pytest.fixture
async def db(backend: str | None) -> AsyncIterator[Repositories]:
    if backend is None:
        yield Fakes()
        return
    await upgrade(backend)
    database = await SqlDatabase.open(DatabaseSettings(url=backend))
    yield database
    await database.close()


# --- contacts --------------------------------------------------------------------------------


async def test_contact_round_trips_every_field(db: Repositories) -> None:
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


async def test_contact_with_only_required_fields(db: Repositories) -> None:
    contact = make_contact()
    await db.contacts.add(contact)
    assert await db.contacts.get(contact.id) == contact


async def test_save_persists_what_changes(db: Repositories) -> None:
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


async def test_save_if_writes_only_while_state_and_holder_are_as_read(db: Repositories) -> None:
    """The conditional save routing's offer, its return and an abandon use: nothing written
    once another node changed the state or the holder, every column written otherwise."""
    contact = make_contact(language=Language.RU)
    await db.contacts.add(contact)
    contact.transition(ContactState.QUEUED, at(1))
    await db.contacts.save(contact)

    offered = await db.contacts.get(contact.id)
    offered.transition(ContactState.OFFERED, at(2))
    offered.operator_id = "op-1"
    offered.priority = Priority.SOS
    assert await db.contacts.save_if(offered, state=ContactState.QUEUED, operator_id=None)
    assert await db.contacts.get(contact.id) == offered

    stale = await db.contacts.get(contact.id)
    stale.transition(ContactState.QUEUED, at(3))  # a return read before the accept below
    accepted = await db.contacts.get(contact.id)
    accepted.transition(ContactState.CONNECTED, at(3))
    assert await db.contacts.save_if(accepted, state=ContactState.OFFERED, operator_id="op-1")
    assert not await db.contacts.save_if(stale, state=ContactState.OFFERED, operator_id="op-1")
    assert not await db.contacts.save_if(accepted, state=ContactState.CONNECTED, operator_id="op-2")
    assert not await db.contacts.save_if(accepted, state=ContactState.CONNECTED, operator_id=None)
    assert await db.contacts.get(contact.id) == accepted
    ghost = make_contact()
    assert not await db.contacts.save_if(ghost, state=ContactState.NEW, operator_id=None)


async def test_save_if_only_some_fields_leaves_the_others_as_stored(db: Repositories) -> None:
    """`only` names the contact's fields (its location is several columns): a priority or a
    location written alone never takes a state or a holder back."""
    contact = make_contact(language=Language.RU)
    await db.contacts.add(contact)
    contact.transition(ContactState.QUEUED, at(1))
    await db.contacts.save(contact)
    stale = await db.contacts.get(contact.id)
    fresh = await db.contacts.get(contact.id)
    fresh.transition(ContactState.OFFERED, at(2))
    fresh.operator_id = "op-1"
    await db.contacts.save(fresh)

    stale.priority = Priority.SOS
    stale.relocated(Location(lat=43.25, lon=76.95, accuracy_m=12.0, source=LocationSource.GPS))
    stale.state, stale.operator_id = fresh.state, fresh.operator_id  # the condition holds
    stale.transition(ContactState.CONNECTED, at(3))  # a state that must not be written
    assert await db.contacts.save_if(
        stale,
        state=ContactState.OFFERED,
        operator_id="op-1",
        only=frozenset({"priority", "location"}),
    )
    stored = await db.contacts.get(contact.id)
    assert (stored.state, stored.operator_id) == (ContactState.OFFERED, "op-1")
    assert stored.priority is Priority.SOS and stored.location == stale.location


async def test_unknown_ids_are_not_found(db: Repositories) -> None:
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


async def test_naive_datetimes_are_refused(db: Repositories) -> None:
    with pytest.raises(ValueError, match="naive"):
        await db.contacts.add(make_contact(created_at=datetime(2025, 1, 1, 12, 0)))


async def test_add_with_a_known_external_id_stores_nothing(db: Repositories) -> None:
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


async def test_a_guard_runs_first_and_its_refusal_stores_and_tells_nothing(
    db: Repositories,
) -> None:
    """RegisterContact.guard: the app's check that a report without a device token is not from
    a registered device runs before the replay look-up, so a refused request never learns the
    id of a stored report."""
    first = make_contact(channel=ChannelKind.APP)
    await db.contacts.add(first, external_id="key-1", fingerprint="sha-1")
    calls: list[str] = []

    def refuse(_connection: object) -> None:
        calls.append("refused")
        raise Unauthorized("registered", error_id="device_token_required")

    def allow(_connection: object) -> None:
        calls.append("allowed")

    replay, new = make_contact(channel=ChannelKind.APP), make_contact(channel=ChannelKind.APP)
    with pytest.raises(Unauthorized):
        await db.contacts.add(replay, external_id="key-1", guard=refuse)
    with pytest.raises(Unauthorized):
        await db.contacts.add(new, make_message(new.id, "help", at(0)), guard=refuse)
    with pytest.raises(Unauthorized):
        await db.contacts.intake_fingerprint(ChannelKind.APP, "key-1", refuse)
    with pytest.raises(NotFound):
        await db.contacts.get(new.id)

    assert await db.contacts.add(replay, external_id="key-1", guard=allow) == first.id
    assert await db.contacts.intake_fingerprint(ChannelKind.APP, "key-1", allow) == (
        first.id,
        "sha-1",
    )
    assert await db.contacts.intake_fingerprint(ChannelKind.APP, None, allow) is None
    assert await db.contacts.add(new, guard=allow) == new.id
    assert calls == ["refused"] * 3 + ["allowed"] * 4


async def test_concurrent_adds_of_one_intake_store_one_contact(db: Repositories) -> None:
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


async def test_attachments_round_trip_their_bytes(db: Repositories) -> None:
    contact = make_contact()
    photo = os.urandom(5 * 1024 * 1024)
    note = b"\x00\xffvoice note"
    first = make_attachment(contact.id, photo, filename="IMG_0001.jpg")
    second = make_attachment(contact.id, note, media_type="audio/ogg")

    await db.contacts.add(contact, None, [(first, photo), (second, note)])

    assert await db.contacts.attachments(contact.id) == [first, second]
    assert await db.contacts.attachment_content(first.id) == (first, photo)
    assert await db.contacts.attachment_content(second.id) == (second, note)


async def test_add_is_one_transaction(db: Repositories) -> None:
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


async def test_a_part_of_another_contact_is_refused(db: Repositories) -> None:
    contact = make_contact()
    with pytest.raises(ValueError):
        await db.contacts.add(contact, make_message("someone-else", "hi", at(0)))
    with pytest.raises(ValueError):
        await db.contacts.add(contact, None, [(make_attachment("someone-else", b"x"), b"x")])


async def test_in_states_is_oldest_first_for_rebuilding_the_queue(db: Repositories) -> None:
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


async def test_recent_is_newest_first(db: Repositories) -> None:
    contacts = [make_contact(created_at=at(i)) for i in (3, 1, 2)]
    for contact in contacts:
        await db.contacts.add(contact)

    assert [c.created_at for c in await db.contacts.recent(2)] == [at(3), at(2)]


async def test_messages_come_in_time_order_and_redeliveries_once(db: Repositories) -> None:
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


async def test_operators(db: Repositories) -> None:
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


async def test_each_operators_language_and_form_are_kept(db: Repositories) -> None:
    dana = make_operator("dana", ui_language=UiLanguage.EN, gender=Gender.FEMALE)
    erlan = make_operator("erlan")
    await db.operators.add(dana, "h")
    await db.operators.add(erlan, "h")
    assert await db.operators.get(dana.id) == dana
    got = await db.operators.get(erlan.id)
    assert (got.ui_language, got.gender) == (None, Gender.OTHER)

    await db.operators.set_preferences(erlan.id, UiLanguage.KK, Gender.MALE)
    await db.operators.set_preferences(dana.id, None, Gender.OTHER)
    got = await db.operators.get(erlan.id)
    assert (got.ui_language, got.gender) == (UiLanguage.KK, Gender.MALE)
    got = await db.operators.get(dana.id)
    assert (got.ui_language, got.gender) == (None, Gender.OTHER)
    with pytest.raises(NotFound):
        await db.operators.set_preferences("missing", None, Gender.OTHER)


async def test_presences_are_remembered(db: Repositories) -> None:
    ready, away, never = (make_operator(name) for name in ("ready", "away", "never"))
    for operator in (ready, away, never):
        await db.operators.add(operator, "h")
    await db.operators.set_presence(ready.id, Presence.BUSY)
    await db.operators.set_presence(ready.id, Presence.READY)
    await db.operators.set_presence(away.id, Presence.AWAY)

    assert await db.operators.presences() == {ready.id: Presence.READY, away.id: Presence.AWAY}
