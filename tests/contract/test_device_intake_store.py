"""The device intake's store contract, run on the fake (tests/device_fakes.py), on SQLite and on
PostgreSQL (SqlDeviceIntake): the same answers, so unit tests on the fake say what the
database does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from contact.channels.devices.ports import DeviceIntakeStore, Joining
from contact.channels.devices.store import SqlDeviceIntake
from contact.config import DatabaseSettings
from contact.domain.commands import DeviceSource
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Message,
    MessageDirection,
    Priority,
    new_id,
)
from contact.errors import NotFound
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from tests.device_fakes import FakeDeviceIntake

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SITE = DeviceSource(kind="site", source_id="school-12", camera_ids=("cam-1",), details={"z": 1})


@dataclass
class Subject:
    store: DeviceIntakeStore
    contacts: Any  # ContactRepository
    sql: SqlDatabase | None

    async def source_of(self, contact_id: str) -> DeviceSource | None:
        if isinstance(self.store, FakeDeviceIntake):
            return await self.store.source_of(contact_id)
        assert self.sql is not None
        async with self.sql.store.read() as session:
            row = (
                await session.exec(  # type: ignore[call-overload]
                    text(
                        "SELECT kind, source_id, camera_ids, details FROM intake_sources "
                        "WHERE contact_id = :id"
                    ).bindparams(id=contact_id)
                )
            ).first()
        if row is None:
            return None
        return DeviceSource(
            kind=row[0],
            source_id=row[1],
            camera_ids=tuple(json.loads(row[2])),
            details=json.loads(row[3]),
        )


@pytest.fixture
async def subject(backend: str | None) -> AsyncIterator[Subject]:
    if backend is None:
        fake = FakeDeviceIntake()
        yield Subject(fake, fake.contacts, None)
        return
    await upgrade(backend)
    db = await SqlDatabase.open(DatabaseSettings(url=backend))
    try:
        yield Subject(SqlDeviceIntake(db.store), db.contacts, db)
    finally:
        await db.close()


def _contact(external_id: str | None = None) -> tuple[Contact, Message]:
    contact = Contact(new_id(), ChannelKind.SCHOOL_ALARM, Priority.SOS, created_at=NOW)
    contact.citizen = "site:school-12"
    contact.transition(ContactState.QUEUED, NOW)
    message = Message(
        new_id(), contact.id, MessageDirection.INBOUND, "alarm", NOW, external_id=external_id
    )
    return contact, message


def _line(
    contact_id: str, text: str = "again", external_id: str | None = None, second: int = 1
) -> Message:
    at = NOW + timedelta(seconds=second)
    return Message(
        new_id(), contact_id, MessageDirection.INBOUND, text, at, external_id=external_id
    )


async def test_the_first_intake_opens_with_its_source(subject: Subject) -> None:
    store = subject.store
    assert await store.current("site:school-12") is None
    contact, message = _contact()
    assert await store.open("site:school-12", None, contact, message, (), SITE) == contact.id
    assert await store.current("site:school-12") == contact.id
    assert (await subject.contacts.get(contact.id)).state is ContactState.QUEUED
    assert [m.text for m in await subject.contacts.messages(contact.id)] == ["alarm"]
    assert await subject.source_of(contact.id) == SITE


async def test_an_opening_on_a_stale_view_writes_nothing(subject: Subject) -> None:
    store = subject.store
    first, m1 = _contact()
    assert await store.open("site:school-12", None, first, m1, (), SITE) == first.id
    late, m2 = _contact()
    # it saw no open contact (None), another intake opened one meanwhile
    assert await store.open("site:school-12", None, late, m2, (), SITE) is None
    # it saw an older contact than the one there now
    assert await store.open("site:school-12", "gone", late, m2, (), SITE) is None
    assert await store.current("site:school-12") == first.id
    assert await subject.contacts.find_by_external_id(ChannelKind.SCHOOL_ALARM, "x") is None
    with pytest.raises(NotFound):
        await subject.contacts.get(late.id)
    assert await subject.source_of(late.id) is None


async def test_an_opening_replaces_the_contact_it_saw(subject: Subject) -> None:
    store = subject.store
    first, m1 = _contact()
    await store.open("site:school-12", None, first, m1, (), SITE)
    second, m2 = _contact()
    assert await store.open("site:school-12", first.id, second, m2, (), SITE) == second.id
    assert await store.current("site:school-12") == second.id
    assert await store.current("site:school-13") is None  # one row per source


async def test_a_retry_of_a_stored_intake_answers_with_it(subject: Subject) -> None:
    store = subject.store
    first, m1 = _contact("school-12/ev-1")
    await store.open("site:school-12", None, first, m1, (), SITE, external_id="school-12/ev-1")
    again, m2 = _contact("school-12/ev-1")
    stored = await store.open(
        "site:school-12", first.id, again, m2, (), SITE, external_id="school-12/ev-1"
    )
    assert stored == first.id
    assert await store.current("site:school-12") == first.id


async def test_a_join_stores_its_line_while_the_contact_is_the_open_one(subject: Subject) -> None:
    store = subject.store
    contact, message = _contact()
    await store.open("site:school-12", None, contact, message, (), SITE)
    assert await store.join("site:school-12", contact.id, _line(contact.id)) is Joining.JOINED
    assert await store.join("site:school-12", contact.id, None) is Joining.JOINED
    line = _line(contact.id, "zone 2", external_id="school-12/ev-2", second=2)
    assert await store.join("site:school-12", contact.id, line) is Joining.JOINED
    twice = _line(contact.id, "zone 2", external_id="school-12/ev-2", second=3)
    assert await store.join("site:school-12", contact.id, twice) is Joining.DUPLICATE
    texts = [m.text for m in await subject.contacts.messages(contact.id)]
    assert texts == ["alarm", "again", "zone 2"]
    # not the source's contact: moved, nothing stored
    assert await store.join("site:school-13", contact.id, _line(contact.id)) is Joining.MOVED


async def test_a_join_of_a_contact_that_is_over_is_moved(subject: Subject) -> None:
    store = subject.store
    contact, message = _contact()
    await store.open("site:school-12", None, contact, message, (), SITE)
    stored = await subject.contacts.get(contact.id)
    stored.transition(ContactState.ABANDONED, NOW)
    await subject.contacts.save(stored)
    assert await store.join("site:school-12", contact.id, _line(contact.id)) is Joining.MOVED
    assert len(await subject.contacts.messages(contact.id)) == 1
