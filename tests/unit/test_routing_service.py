"""RoutingService + ContactLifecycle with fakes, the in-process store and a manual clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from contact.bus import MessageBus
from contact.config import RoutingSettings
from contact.domain import events as ev
from contact.domain.commands import Accept, Close, Decline, RegisterContact, SetPresence
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Operator,
    Presence,
    Skills,
)
from contact.errors import Conflict
from contact.ports import AssignmentPolicy
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.service import RoutingService
from tests.fakes import FakeContactRepository, FakeOperatorRepository, ManualClock


@dataclass
class Room:
    bus: MessageBus
    routing: RoutingService
    contacts: FakeContactRepository
    operators: FakeOperatorRepository
    store: MemoryQueueStore
    clock: ManualClock
    events: list[ev.Event]

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    async def report(self, text: str = "шум", language: Language | None = None) -> str:
        registered = await self.bus.execute(
            RegisterContact(
                channel=ChannelKind.APP, text=text, language=language, citizen="device-1"
            )
        )
        return str(registered.contact_id)


def room(
    *operators: Operator, contacts: FakeContactRepository | None = None, **settings: float
) -> Room:
    clock = ManualClock()
    bus = MessageBus()
    contacts = contacts or FakeContactRepository()
    ops = FakeOperatorRepository(*operators)
    values: dict[str, Any] = {"wrap_up_s": 30.0, "offer_timeout_s": 15.0, **settings}
    config = RoutingSettings(**values)
    store = MemoryQueueStore(
        AssignmentPolicy(
            offer_timeout_s=config.offer_timeout_s, language_fallback_s=config.language_fallback_s
        )
    )
    routing = RoutingService(
        store=store, contacts=contacts, operators=ops, bus=bus, settings=config, clock=clock
    )
    routing.register(bus)
    ContactLifecycle(contacts=contacts, routing=routing, bus=bus, clock=clock).register(bus)
    events: list[ev.Event] = []

    async def record(e: ev.Event) -> None:
        events.append(e)

    bus.subscribe_all(record)
    return Room(bus, routing, contacts, ops, store, clock, events)


def operator(oid: str, *languages: Language) -> Operator:
    skills = Skills(languages=frozenset(languages or Language))
    return Operator(id=oid, username=oid, display_name=oid, skills=skills)


async def ready(r: Room, oid: str) -> None:
    await r.bus.execute(SetPresence(operator_id=oid, presence=Presence.READY))


async def test_report_is_offered_accepted_closed_then_wrap_up_ends_by_timer() -> None:
    r = room(operator("a"))
    await ready(r, "a")
    cid = await r.report()
    await r.routing.tick()
    assert (await r.contacts.get(cid)).state is ContactState.OFFERED
    await r.bus.execute(Accept(contact_id=cid, operator_id="a"))
    await r.bus.execute(Close(contact_id=cid, operator_id="a"))
    assert r.operators.presence["a"] is Presence.WRAP_UP
    r.clock.advance(29)
    await r.routing.tick()
    assert r.operators.presence["a"] is Presence.WRAP_UP
    r.clock.advance(2)
    await r.routing.tick()
    assert r.operators.presence.get("a") is Presence.READY
    assert r.names()[:4] == [
        "operator.presence_changed",
        "contact.queued",
        "contact.received",
        "message.received",
    ]
    assert "contact.accepted" in r.names() and "contact.closed" in r.names()


async def test_missed_offer_goes_back_to_its_place_and_sets_the_operator_away() -> None:
    r = room(operator("a"), operator("b"))
    first = await r.report("первый")
    r.clock.advance(1)
    second = await r.report("второй")
    await ready(r, "a")
    await r.routing.tick()
    assert [o.contact_id for o in await r.store.offers()] == [first]
    r.clock.advance(15.1)
    await r.routing.tick()
    assert r.operators.presence["a"] is Presence.AWAY
    expired = [e for e in r.events if isinstance(e, ev.OfferExpired)]
    assert [(e.contact_id, e.declined) for e in expired] == [(first, False)]
    assert [e.contact_id for e in await r.store.waiting()] == [first, second]
    await ready(r, "b")
    await r.routing.tick()
    assert (await r.contacts.get(first)).operator_id == "b"


async def test_decline_keeps_the_place_and_the_operator_ready() -> None:
    r = room(operator("a"))
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    await r.bus.execute(Decline(contact_id=cid, operator_id="a"))
    assert r.operators.presence["a"] is Presence.READY
    assert (await r.contacts.get(cid)).state is ContactState.QUEUED
    with pytest.raises(Conflict):
        await r.bus.execute(Decline(contact_id=cid, operator_id="a"))


async def test_accepting_someone_elses_offer_is_a_conflict() -> None:
    r = room(operator("a"), operator("b"))
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    with pytest.raises(Conflict):
        await r.bus.execute(Accept(contact_id=cid, operator_id="b"))


async def test_sla_breach_is_raised_once() -> None:
    r = room()
    cid = await r.report()
    r.clock.advance(9)
    await r.routing.tick()
    assert "contact.sla_breached" not in r.names()
    r.clock.advance(2)
    await r.routing.tick()
    await r.routing.tick()
    breaches = [e for e in r.events if isinstance(e, ev.SlaBreached)]
    assert [(b.contact_id, round(b.waited_s)) for b in breaches] == [(cid, 11)]


async def test_rebuild_after_a_restart_restores_order_and_returns_dead_offers() -> None:
    r = room(operator("a"))
    ids = []
    for i in range(3):
        ids.append(await r.report(f"r{i}"))
        r.clock.advance(0.001)
    await ready(r, "a")
    await r.routing.tick()  # ids[0] offered to a
    # a new node with an empty store (the old one died), same durable state
    fresh = MemoryQueueStore(AssignmentPolicy())
    again = RoutingService(
        store=fresh,
        contacts=r.contacts,
        operators=r.operators,
        bus=r.bus,
        settings=RoutingSettings(),
        clock=r.clock,
    )
    r.operators.presence["a"] = Presence.READY
    await again.rebuild()
    assert [e.contact_id for e in await fresh.waiting()] == ids
    assert (await r.contacts.get(ids[0])).state is ContactState.QUEUED
    assert {s.operator_id for s in await fresh.operators()} == {"a"}


async def test_abandon_while_offered_frees_the_operator() -> None:
    from contact.domain.commands import Abandon

    r = room(operator("a"))
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    await r.bus.execute(Abandon(contact_id=cid))
    assert r.operators.presence["a"] is Presence.READY
    assert await r.store.offers() == []
    statuses = {s.operator_id: s.presence for s in await r.store.operators()}
    assert statuses["a"] is Presence.READY


async def test_presence_set_by_the_queue_cannot_be_set_by_hand() -> None:
    r = room(operator("a"))
    with pytest.raises(Conflict):
        await r.bus.execute(SetPresence(operator_id="a", presence=Presence.BUSY))


async def test_logout_returns_a_held_offer() -> None:
    r = room(operator("a"))
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    await r.routing.log_out("a")
    assert [e.contact_id for e in await r.store.waiting()] == [cid]
    assert r.operators.presence["a"] is Presence.AWAY


async def test_the_queued_view_from_the_event_equals_the_stored_contacts() -> None:
    from contact.http.views import public_contact, queued_view

    r = room()
    cid = await r.report("шум", language=Language.KK)
    (queued,) = [e for e in r.events if isinstance(e, ev.ContactQueued)]
    assert queued_view(queued) == public_contact(await r.contacts.get(cid))


class _ReadThenPause(FakeContactRepository):
    """A repository whose next read of `contact_id` by the routing's offer lets `meanwhile`
    run before the offer saves (the same moment, another task or node)."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_on: str | None = None
        self.meanwhile: Any = None

    async def get(self, contact_id: str) -> Contact:
        contact = await super().get(contact_id)
        if contact_id == self.pause_on and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return contact


def racing_room() -> tuple[Room, _ReadThenPause]:
    repo = _ReadThenPause()
    return room(operator("a"), contacts=repo), repo


async def test_an_abandon_in_the_moment_of_the_offer_is_not_overwritten_by_it() -> None:
    """This node: the caller leaves between the offer's read and its save. The abandon
    waits for the offer (the contact's lock) and then ends it: abandoned, operator ready."""
    from contact.domain.commands import Abandon

    r, repo = racing_room()
    cid = await r.report()
    await ready(r, "a")
    pending: list[asyncio.Task[object]] = []

    async def caller_leaves() -> None:
        pending.append(asyncio.create_task(r.bus.execute(Abandon(contact_id=cid))))
        await asyncio.sleep(0.01)  # it runs now, unless it waits for the offer

    repo.pause_on, repo.meanwhile = cid, caller_leaves
    await r.routing.tick()
    await asyncio.gather(*pending)
    assert (await repo.get(cid)).state is ContactState.ABANDONED
    assert await r.store.offers() == []
    assert r.operators.presence["a"] is Presence.READY


async def test_another_nodes_abandon_between_read_and_save_is_not_overwritten() -> None:
    """Another node abandons (no shared lock): the offer's save is conditional on the state
    it read, so it writes nothing and gives the operator back."""
    r, repo = racing_room()
    cid = await r.report()
    await ready(r, "a")

    async def other_node_abandons() -> None:
        stored = repo.contacts[cid]
        stored.transition(ContactState.ABANDONED, datetime.now(UTC))

    repo.pause_on, repo.meanwhile = cid, other_node_abandons
    await r.routing.tick()
    assert (await repo.get(cid)).state is ContactState.ABANDONED
    assert await r.store.offers() == []
    statuses = {s.operator_id: s.presence for s in await r.store.operators()}
    assert statuses["a"] is Presence.READY
    assert "contact.offered" not in r.names()


async def test_an_abandon_that_read_the_contact_queued_ends_the_offer_saved_meanwhile() -> None:
    """The other way round: the abandon read it queued, another node offered it before the
    abandon saved. The abandon reads again and ends the offer (the operator is given back)."""
    from contact.domain.commands import Abandon

    r, repo = racing_room()
    cid = await r.report()

    async def other_node_offers() -> None:
        stored = repo.contacts[cid]
        stored.transition(ContactState.OFFERED, datetime.now(UTC))
        stored.operator_id = "a"

    repo.pause_on, repo.meanwhile = cid, other_node_offers
    await r.bus.execute(Abandon(contact_id=cid))
    assert (await repo.get(cid)).state is ContactState.ABANDONED
    abandoned = [e for e in r.events if isinstance(e, ev.ContactAbandoned)]
    assert [e.previous for e in abandoned] == [ContactState.OFFERED]


async def test_raising_a_priority_never_writes_back_a_state_changed_meanwhile() -> None:
    """A transcript raises a waiting caller to SOS while another node offers him: the offer
    stands (it used to be written back to queued) and the priority is raised."""
    from contact.domain.model import Priority

    r, repo = racing_room()
    cid = await r.report()

    async def other_node_offers() -> None:
        stored = repo.contacts[cid]
        stored.transition(ContactState.OFFERED, datetime.now(UTC))
        stored.operator_id = "a"

    repo.pause_on, repo.meanwhile = cid, other_node_offers
    assert await r.routing.reprioritise(cid, Priority.SOS)
    stored = await repo.get(cid)
    assert (stored.state, stored.operator_id, stored.priority) == (
        ContactState.OFFERED,
        "a",
        Priority.SOS,
    )


async def test_a_new_location_never_writes_back_a_state_changed_meanwhile() -> None:
    """The citizen shares a location while another node's operator accepts him: the accept
    stands and the contact moves."""
    from contact.domain.commands import UpdateLocation
    from contact.domain.model import Location, LocationSource

    r, repo = racing_room()
    cid = await r.report()

    async def other_node_accepts() -> None:
        stored = repo.contacts[cid]
        stored.transition(ContactState.OFFERED, datetime.now(UTC))
        stored.operator_id = "a"
        stored.transition(ContactState.CONNECTED, datetime.now(UTC))

    repo.pause_on, repo.meanwhile = cid, other_node_accepts
    here = Location(lat=43.25, lon=76.95, accuracy_m=10.0, source=LocationSource.GPS)
    await r.bus.execute(UpdateLocation(contact_id=cid, location=here))
    stored = await repo.get(cid)
    assert (stored.state, stored.operator_id, stored.location) == (
        ContactState.CONNECTED,
        "a",
        here,
    )


async def test_an_accept_after_another_nodes_abandon_is_refused_and_frees_the_operator() -> None:
    """The caller hangs up (another node) between the accept's read and its save: the accept
    is refused as expired, the contact stays abandoned, and the operator is ready again."""
    from contact.domain.commands import Accept

    r, repo = racing_room()
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    assert (await repo.get(cid)).state is ContactState.OFFERED

    async def other_node_abandons() -> None:
        repo.contacts[cid].transition(ContactState.ABANDONED, datetime.now(UTC))

    repo.pause_on, repo.meanwhile = cid, other_node_abandons
    with pytest.raises(Conflict) as refused:
        await r.bus.execute(Accept(contact_id=cid, operator_id="a"))
    assert refused.value.error_id == "offer_expired"
    assert (await repo.get(cid)).state is ContactState.ABANDONED
    statuses = {s.operator_id: s.presence for s in await r.store.operators()}
    assert statuses["a"] is Presence.READY and r.operators.presence["a"] is Presence.READY


async def test_a_close_after_a_supervisor_took_the_contact_on_another_node_is_not_hers() -> None:
    """Her close read the contact as hers; a supervisor handed it to a colleague (another
    node) before her save: the close is refused, the colleague keeps it open."""
    r, repo = racing_room()
    cid = await r.report()
    await ready(r, "a")
    await r.routing.tick()
    await r.bus.execute(Accept(contact_id=cid, operator_id="a"))

    async def supervisor_hands_it_over() -> None:
        repo.contacts[cid].operator_id = "b"

    repo.pause_on, repo.meanwhile = cid, supervisor_hands_it_over
    with pytest.raises(Conflict) as refused:
        await r.bus.execute(Close(contact_id=cid, operator_id="a"))
    assert refused.value.error_id == "not_yours"
    stored = await repo.get(cid)
    assert (stored.state, stored.operator_id) == (ContactState.CONNECTED, "b")


async def test_a_rebuild_does_not_requeue_an_offer_accepted_meanwhile() -> None:
    """A rebuild finds a contact offered with no live offer (the store restarted empty) while
    another node's operator accepts it: the accept stands, nothing is queued."""
    r, repo = racing_room()
    cid = await r.report()
    stored = repo.contacts[cid]
    stored.transition(ContactState.OFFERED, datetime.now(UTC))
    stored.operator_id = "b"
    await r.store.remove(cid)  # the offer died with the store
    real_in_states = repo.in_states

    async def accepted_meanwhile(states: frozenset[ContactState]) -> list[Contact]:
        found = await real_in_states(states)
        repo.contacts[cid].transition(ContactState.CONNECTED, datetime.now(UTC))
        return found

    repo.in_states = accepted_meanwhile  # type: ignore[method-assign]
    await r.routing.rebuild()
    assert (await repo.get(cid)).state is ContactState.CONNECTED
    assert [e.contact_id for e in await r.store.waiting()] == []
