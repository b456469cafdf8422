"""The device intake use case (OpenOrJoinContact) against fakes: join the open contact of the
source or open one with its source; two nodes at the same instant make one contact; a refusal
or a lost race leaves nothing; the join rule of an absent operator is ContactLifecycle.join's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import cast

import pytest

from contact.bus import MessageBus
from contact.channels.devices.intake import DeviceIntake
from contact.config import RoutingSettings
from contact.domain import events as ev
from contact.domain.commands import (
    DeviceIntakeResult,
    DeviceSource,
    OpenOrJoinContact,
    Outcome,
    RegisterContact,
)
from contact.domain.model import ChannelKind, ContactState, Location, LocationSource, Presence
from contact.errors import TooManyRequests
from contact.ports import AssignmentPolicy, ContactRepository
from contact.routing.attendance import Absence
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.service import RoutingService
from tests.device_fakes import FakeDeviceIntake
from tests.fakes import FakeOperatorRepository, ManualClock

HERE = Location(lat=43.25, lon=76.92, accuracy_m=None, source=LocationSource.FIXED)
THERE = Location(lat=43.26, lon=76.93, accuracy_m=15.0, source=LocationSource.GPS)
SITE = DeviceSource(kind="site", source_id="school-12", camera_ids=("cam-1",))


class FakeAttendance:
    def __init__(self) -> None:
        self.away: dict[str, Absence] = {}

    async def absence(self, operator_id: str) -> Absence | None:
        return self.away.get(operator_id)


@dataclass
class Node:
    bus: MessageBus
    lifecycle: ContactLifecycle
    events: list[ev.Event] = field(default_factory=list)

    def names(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]


def node(store: FakeDeviceIntake, attendance: FakeAttendance | None = None) -> Node:
    """One node of the center: its own bus and services, the database (the fakes) shared."""
    bus = MessageBus()
    clock = ManualClock()
    contacts = cast(ContactRepository, store.contacts)
    routing = RoutingService(
        store=MemoryQueueStore(AssignmentPolicy()),
        contacts=contacts,
        operators=FakeOperatorRepository(),
        bus=bus,
        settings=RoutingSettings(),
        clock=clock,
    )
    lifecycle = ContactLifecycle(
        contacts=contacts,
        routing=routing,
        bus=bus,
        clock=clock,
        attendance=attendance,  # type: ignore[arg-type]
    )
    lifecycle.register(bus)
    DeviceIntake(store=store, contacts=contacts, lifecycle=lifecycle, bus=bus).register(bus)
    n = Node(bus, lifecycle)

    async def record(event: ev.Event) -> None:
        n.events.append(event)

    bus.subscribe_all(record)
    return n


def alarm(zone: str = "1", event_id: str | None = None, **fields: object) -> OpenOrJoinContact:
    return OpenOrJoinContact(
        source_key="site:school-12",
        source=SITE,
        open=RegisterContact(
            channel=ChannelKind.SCHOOL_ALARM,
            text=f"Тревога, зона {zone}",
            triage_text="",
            citizen="site:school-12",
            location=HERE,
            external_id=event_id,
        ),
        join_text=f"Ещё тревога, зона {zone}",
        join_external_id=event_id,
        suggest="school_alarm",
        **fields,  # type: ignore[arg-type]
    )


async def execute(n: Node, command: OpenOrJoinContact) -> DeviceIntakeResult:
    result = await n.bus.execute(command)
    assert isinstance(result, DeviceIntakeResult)
    return result


async def texts(store: FakeDeviceIntake, contact_id: str) -> list[str]:
    return [m.text for m in await store.contacts.messages(contact_id)]


async def test_the_first_alarm_opens_a_contact_with_its_source_and_asks_for_units() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    result = await execute(n, alarm())
    assert result.outcome is Outcome.OPENED and result.created
    assert store.sources[result.contact_id] == SITE
    assert store.claims == {"site:school-12": result.contact_id}
    kinds = [type(e) for e in n.events]
    assert kinds[:2] == [ev.ContactQueued, ev.ContactReceived]
    (asked,) = n.names(ev.SuggestionRequested)
    assert isinstance(asked, ev.SuggestionRequested)
    assert (asked.contact_id, asked.reason, asked.camera_ids) == (
        result.contact_id,
        "school_alarm",
        ("cam-1",),
    )


async def test_a_second_alarm_joins_the_open_contact() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    first = await execute(n, alarm("1"))
    n.events.clear()
    second = await execute(n, alarm("2"))
    assert second == DeviceIntakeResult(first.contact_id, Outcome.JOINED)
    # both at the same instant of the test's still clock: ties are ordered by id (as in SQL)
    said = await texts(store, first.contact_id)
    assert sorted(said) == sorted(["Тревога, зона 1", "Ещё тревога, зона 2"])
    assert len(store.contacts.contacts) == 1
    assert [type(e) for e in n.events] == [ev.MessageReceived]  # no new contact, no units asked


async def test_an_alarm_after_the_contact_is_over_opens_the_next_one() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    first = await execute(n, alarm("1"))
    contact = await store.contacts.get(first.contact_id)
    contact.transition(ContactState.ABANDONED, contact.created_at)
    await store.contacts.save(contact)
    second = await execute(n, alarm("2"))
    assert second.outcome is Outcome.OPENED and second.contact_id != first.contact_id
    assert store.claims["site:school-12"] == second.contact_id
    assert await texts(store, first.contact_id) == ["Тревога, зона 1"]


@pytest.mark.parametrize("first_wins", [True, False])
async def test_two_nodes_at_the_same_instant_make_one_contact(first_wins: bool) -> None:
    store = FakeDeviceIntake()
    a, b = node(store), node(store)
    store.between = asyncio.Event()  # both have read "no open contact" before either writes
    tasks = [asyncio.create_task(execute(x, alarm(z))) for x, z in ((a, "1"), (b, "2"))]
    if not first_wins:
        tasks.reverse()
    await asyncio.sleep(0.01)
    store.between.set()
    results = await asyncio.gather(*tasks)
    assert len(store.contacts.contacts) == 1
    (contact_id,) = store.contacts.contacts
    assert {r.contact_id for r in results} == {contact_id}
    assert sorted(r.outcome for r in results) == [Outcome.JOINED, Outcome.OPENED]
    assert len(await texts(store, contact_id)) == 2  # both alarms are on it
    assert store.sources[contact_id] == SITE
    # exactly one node announced a contact and asked for units
    assert len(a.names(ev.ContactQueued) + b.names(ev.ContactQueued)) == 1
    assert len(a.names(ev.SuggestionRequested) + b.names(ev.SuggestionRequested)) == 1


async def test_admission_counts_new_contacts_only_and_a_refusal_leaves_nothing() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    admitted: list[str] = []

    def admit() -> None:
        admitted.append("x")

    def refuse() -> None:
        raise TooManyRequests("too many", error_id="rate_limited")

    with pytest.raises(TooManyRequests):
        await execute(n, alarm(admit=refuse))
    assert store.contacts.contacts == {} and store.claims == {} and store.sources == {}
    first = await execute(n, alarm(admit=admit))
    joined = await execute(n, alarm(admit=refuse))  # a join is never refused nor counted
    assert joined.contact_id == first.contact_id and joined.outcome is Outcome.JOINED
    assert admitted == ["x"]


async def test_a_retried_alarm_is_stored_once() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    first = await execute(n, alarm("1", event_id="school-12/ev-1"))
    again = await execute(n, alarm("1", event_id="school-12/ev-1"))
    assert again == DeviceIntakeResult(first.contact_id, Outcome.JOINED)
    assert await texts(store, first.contact_id) == ["Тревога, зона 1"]  # the line once
    assert len(store.contacts.contacts) == 1


async def test_a_sticky_window_takes_repeats_even_over() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    first = await execute(n, alarm(sticky=True))
    contact = await store.contacts.get(first.contact_id)
    contact.transition(ContactState.ABANDONED, contact.created_at)
    await store.contacts.save(contact)
    repeat = await execute(n, alarm("2", sticky=True))
    assert repeat == DeviceIntakeResult(first.contact_id, Outcome.COLLAPSED)
    assert len(store.contacts.contacts) == 1


async def test_an_sos_again_moves_the_contact_to_the_phone() -> None:
    store = FakeDeviceIntake()
    n = node(store)
    sos = OpenOrJoinContact(
        source_key="device:d-1",
        source=DeviceSource(kind="device", source_id="d-1"),
        open=RegisterContact(channel=ChannelKind.APP_SOS, text="SOS", citizen="d-1", location=HERE),
        relocate=True,
        suggest="app_sos",
    )
    first = await execute(n, sos)
    again = await execute(n, replace(sos, open=replace(sos.open, location=THERE)))
    assert again == DeviceIntakeResult(first.contact_id, Outcome.JOINED)
    assert (await store.contacts.get(first.contact_id)).location == THERE
    assert await texts(store, first.contact_id) == ["SOS"]  # nothing added: the SOS is enough


async def _held(store: FakeDeviceIntake, n: Node, state: ContactState) -> str:
    first = await execute(n, alarm("1"))
    contact = await store.contacts.get(first.contact_id)
    contact.transition(ContactState.OFFERED, contact.created_at)
    contact.operator_id = "op"
    contact.transition(ContactState.CONNECTED, contact.created_at)
    if state is ContactState.WRAP_UP:
        contact.transition(ContactState.WRAP_UP, contact.created_at)
    await store.contacts.save(contact)
    return first.contact_id


async def test_an_absent_operator_s_connected_contact_is_joined_and_requeued() -> None:
    store, attendance = FakeDeviceIntake(), FakeAttendance()
    n = node(store, attendance)
    contact_id = await _held(store, n, ContactState.CONNECTED)
    attendance.away["op"] = Absence("holder_without_session", Presence.AWAY)
    result = await execute(n, alarm("2"))
    assert result == DeviceIntakeResult(contact_id, Outcome.JOINED, requeued=True)
    assert (await store.contacts.get(contact_id)).state is ContactState.QUEUED


async def test_an_absent_operator_s_wrap_up_is_left_to_her_and_a_new_contact_opened() -> None:
    store, attendance = FakeDeviceIntake(), FakeAttendance()
    n = node(store, attendance)
    contact_id = await _held(store, n, ContactState.WRAP_UP)
    attendance.away["op"] = Absence("holder_without_session", Presence.AWAY)
    result = await execute(n, alarm("2"))
    assert result.outcome is Outcome.OPENED and result.contact_id != contact_id
    assert store.claims["site:school-12"] == result.contact_id
    assert (await store.contacts.get(contact_id)).state is ContactState.WRAP_UP
