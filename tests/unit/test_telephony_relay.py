"""Voice from a standby node, with fakes: two nodes share the stores and a Broadcast, each with
its own bus; one drives the (fake) PBX. An accept on the standby rings the operator's phone
through the driving node; a nudge lost on the way is rung by the driving node's periodic
check; a call action on the standby runs on the driving node, whose answer (or ContactError)
comes back; no answer is a 503; and no browser hears the relay's topic."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from contact.broadcast import MemoryBroadcast
from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.commands import Accept
from contact.domain.model import ContactState, Operator, Role
from contact.errors import ContactError, Unavailable
from contact.http.ws import Hub, Subscriber
from contact.ports import AuditEntry, AuditLog, CallState
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.service import RoutingService
from contact.telephony.actions import Actor, CallActions
from contact.telephony.relay import TOPIC, Relay
from contact.telephony.spy import SpyService
from contact.telephony.voice import VoiceService
from tests.unit.test_telephony_voice import CALLER_UID, Line, make_line

OP = Actor(operator_id="op", role=Role.OPERATOR)
BOSS = Actor(operator_id="boss", role=Role.SUPERVISOR)


class LossyBroadcast(MemoryBroadcast):
    """Every node hears every message, its own included (as over Redis), unless `lose`: then
    a message is gone without a trace (pub/sub is at-most-once)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose = False
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.sent.append((topic, dict(payload)))
        if not self.lose:
            await super().publish(topic, payload)


@dataclass
class Audit:
    entries_: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        self.entries_.append((actor, action, subject))
        return None  # type: ignore[return-value]  # nobody reads it here


@dataclass
class Node:
    name: str
    bus: MessageBus
    voice: VoiceService
    relay: Relay
    routing: RoutingService


@dataclass
class Room:
    leader: Line  # the driving node (its VoiceService started, the fake PBX its own)
    lead: Node
    standby: Node
    broadcast: LossyBroadcast
    audit: Audit

    async def settle(self) -> None:
        for _ in range(3):
            for node in (self.standby, self.lead):
                await node.relay.idle()
                await node.voice.idle()


def _node(
    name: str,
    line: Line,
    bus: MessageBus,
    voice: VoiceService,
    routing: RoutingService,
    broadcast: LossyBroadcast,
    audit: Audit,
    *,
    leading: bool,
    listens: bool = True,
    timeout_s: float = 1.0,
) -> Node:
    """What Telephony wires on each node, on the fakes."""
    spy = SpyService(control=line.control, audit=cast(AuditLog, audit), bus=bus)  # append only
    actions = CallActions(voice=lambda: voice, spy=spy, operators=line.operators)
    relay = Relay(
        broadcast=broadcast,
        node=name,
        leading=lambda: leading,
        holder=lambda: "a",
        run=actions.run,
        nudge=voice.nudge,
        peers=True,
        offers=voice.ring_on_offer,
        timeout_s=timeout_s,
    )
    bus.subscribe(ev.ContactAccepted, relay.relay)
    bus.subscribe(ev.ContactOffered, relay.relay)

    async def heard(topic: str, body: Mapping[str, Any]) -> None:
        if topic == TOPIC:
            await relay.heard(body)

    if listens:
        broadcast.listen(heard)
    return Node(name, bus, voice, relay, routing)


async def make_room(
    tmp_path: Path, *, ring_on_offer: bool = False, leader_listens: bool = True
) -> Room:
    line = await make_line(tmp_path, ring_on_offer=ring_on_offer)
    line.operators.operators["boss"] = Operator(
        id="boss", username="boss", display_name="Boss", endpoint="PJSIP/boss1"
    )
    broadcast, audit = LossyBroadcast(), Audit()
    lead = _node(
        "a", line, line.bus, line.voice, line.routing, broadcast, audit,
        leading=True, listens=leader_listens,
    )  # fmt: skip
    # the standby: the same stores, a bus of its own, a VoiceService never started
    bus = MessageBus()
    routing = RoutingService(
        store=line.routing._store,
        contacts=line.contacts,
        operators=line.operators,
        bus=bus,
        settings=line.voice.settings.routing,
        clock=line.clock,
    )
    routing.register(bus)
    ContactLifecycle(contacts=line.contacts, routing=routing, bus=bus, clock=line.clock).register(
        bus
    )
    voice = VoiceService(
        settings=line.voice.settings,
        bus=bus,
        contacts=line.contacts,
        operators=line.operators,
        calls=line.calls,
        control=line.control,
        routing=routing,
        clock=line.clock,
    )
    voice.register(bus)
    standby = _node("b", line, bus, voice, routing, broadcast, audit, leading=False, timeout_s=0.2)
    return Room(line, lead, standby, broadcast, audit)


@pytest.fixture
async def room(tmp_path: Path) -> AsyncIterator[Room]:
    made = await make_room(tmp_path)
    yield made
    await made.standby.relay.stop()
    await made.lead.relay.stop()
    await made.leader.voice.stop()


async def _connected(room: Room) -> str:
    """A caller talking to `op` (accepted and bridged on the driving node)."""
    line = room.leader
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=str(leg))
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    return contact_id


# ---------------------------------------------------------------------------- ringing


async def test_an_accept_on_a_standby_rings_the_operator_through_the_driving_node(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    line = room.leader
    contact_id = await line.call()
    await line.routing.tick()  # offered to op
    with caplog.at_level(logging.WARNING):
        await room.standby.bus.execute(Accept(contact_id=contact_id, operator_id="op"))
        assert not room.standby.voice.busy  # the standby's own service does nothing
        await room.settle()
    assert "no live call" not in caplog.text
    (nudge,) = [body for topic, body in room.broadcast.sent if topic == TOPIC]
    assert nudge == {
        "type": "nudge",
        "event": "contact.accepted",
        "contact_id": contact_id,
        "operator_id": "op",
        "from": "b",
    }
    ((endpoint, leg, context),) = line.control.named("ring")
    assert (endpoint, context) == ("PJSIP/op1", "contact-operator-wait")
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=str(leg))
    assert line.control.named("connect") == [(CALLER_UID, leg)]


async def test_a_callback_task_accepted_on_a_standby_is_dialled_once(room: Room) -> None:
    line = room.leader
    await line.call()
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel="PJSIP/sipp-0", Cause="16")
    (task,) = [c for c in line.contacts.contacts.values() if c.channel.value == "callback"]
    await line.routing.tick()
    await room.standby.bus.execute(Accept(contact_id=task.id, operator_id="op"))
    await room.settle()
    ((endpoint, _, context),) = line.control.named("ring")
    assert (endpoint, context) == ("PJSIP/op1", "contact-callback")
    line.voice.nudge("contact.accepted", task.id, "op")  # the same nudge again
    await room.settle()
    assert len(line.control.named("ring")) == 1
    assert await line.state(task.id) is ContactState.CONNECTED


async def test_the_driving_node_relays_nothing_and_ignores_stale_nudges(room: Room) -> None:
    line = room.leader
    contact_id = await line.call()
    await line.accept(contact_id)  # on the driving node's own bus: rung, no relay
    assert not [body for topic, body in room.broadcast.sent if topic == TOPIC]
    assert len(line.control.named("ring")) == 1
    # a nudge for another operator (the contact moved on meanwhile): nothing rings
    line.voice.nudge("contact.accepted", contact_id, "someone-else")
    await room.settle()
    assert len(line.control.named("ring")) == 1


async def test_a_lost_nudge_is_rung_by_the_periodic_check(room: Room) -> None:
    line = room.leader
    contact_id = await line.call()
    await line.routing.tick()
    room.broadcast.lose = True
    await room.standby.bus.execute(Accept(contact_id=contact_id, operator_id="op"))
    await room.settle()
    assert not line.control.named("ring")  # nobody heard of it
    assert await line.voice.ring_missed() == 1
    ((endpoint, _, _),) = line.control.named("ring")
    assert endpoint == "PJSIP/op1"
    call = line.voice.live_call(contact_id)
    assert call is not None and (call.state, call.operator_id) == (CallState.RINGING, "op")
    # idempotent: the phone rings already
    assert await line.voice.ring_missed() == 0
    assert len(line.control.named("ring")) == 1


async def test_waiting_calls_are_not_rung_by_the_periodic_check(room: Room) -> None:
    line = room.leader
    contact_id = await line.call()
    await line.routing.tick()  # offered, not accepted; no ring on offer
    assert await line.voice.ring_missed() == 0
    assert await line.state(contact_id) is ContactState.OFFERED
    assert not line.control.named("ring")


async def test_ring_on_offer_from_a_standbys_routing(tmp_path: Path) -> None:
    room = await make_room(tmp_path, ring_on_offer=True)
    line = room.leader
    try:
        contact_id = await line.call()
        await room.standby.routing.tick()  # the standby's routing offers: its bus has it
        await room.settle()
        assert [e for e in line.events if isinstance(e, ev.ContactOffered)] == []
        assert len(line.control.named("ring")) == 1
        assert await line.state(contact_id) is ContactState.CONNECTED  # accepted for op
        # the same, lost: the periodic check rings and accepts
        line.voice.on_ami_event(
            {
                "Event": "UserEvent",
                "UserEvent": "ContactCall",
                "Uniqueid": "1795299226.0",
                "Channel": "PJSIP/sipp-2",
                "Endpoint": "sipp",
                "CallerNum": "+77012222222",
                "Kind": "voice",
            }
        )
        await line.voice.idle()
        second = line.voice.live_calls()[-1].contact_id
        line.operators.operators["op2"] = Operator(
            id="op2", username="op2", display_name="Op2", endpoint="PJSIP/op2"
        )
        from contact.domain.commands import SetPresence
        from contact.domain.model import Presence

        await room.standby.bus.execute(SetPresence(operator_id="op2", presence=Presence.READY))
        room.broadcast.lose = True
        await room.standby.routing.tick()
        await room.settle()
        assert await line.state(second) is ContactState.OFFERED
        assert len(line.control.named("ring")) == 1
        assert await line.voice.ring_missed() == 1
        await room.settle()
        assert line.control.named("ring")[-1][0] == "PJSIP/op2"
        assert await line.state(second) is ContactState.CONNECTED
    finally:
        await room.standby.relay.stop()
        await room.lead.relay.stop()
        await line.voice.stop()


# ---------------------------------------------------------------------------- call actions


async def test_a_call_action_on_a_standby_runs_on_the_driving_node(room: Room) -> None:
    line = room.leader
    contact_id = await _connected(room)
    held = await room.standby.relay.act("hold", contact_id, OP, {})
    assert held["call"]["state"] == CallState.HELD and held["call"]["contact_id"] == contact_id
    assert line.control.named("hold") == [(CALLER_UID,)]
    assert room.standby.relay.forwarded == 1 and room.lead.relay.answered == 1
    resumed = await room.standby.relay.act("resume", contact_id, OP, {})
    assert resumed["call"]["state"] == CallState.RINGING  # connecting to the leg that is up


async def test_the_driving_nodes_contact_error_comes_back_as_it_was(room: Room) -> None:
    contact_id = await _connected(room)
    with pytest.raises(ContactError) as not_held:
        await room.standby.relay.act("resume", contact_id, OP, {})
    assert (not_held.value.error_id, not_held.value.status) == ("call_not_held", 409)
    with pytest.raises(ContactError) as not_yours:
        await room.standby.relay.act("hold", contact_id, Actor("op2", Role.OPERATOR), {})
    assert (not_yours.value.error_id, not_yours.value.status) == ("not_yours", 403)
    with pytest.raises(ContactError) as no_call:
        await room.standby.relay.act("hangup", "no-such-contact", BOSS, {})
    assert (no_call.value.error_id, no_call.value.status) == ("no_live_call", 404)
    with pytest.raises(ContactError) as bad:
        await room.standby.relay.act("transfer", contact_id, OP, {"target": "911", "mode": "x"})
    assert (bad.value.error_id, bad.value.status) == ("bad_target", 422)
    assert not room.leader.control.named("hold")  # nothing reached the PBX
    # a supervisor may hang up another's call
    done = await room.standby.relay.act("hangup", contact_id, BOSS, {})
    assert done["call"]["id"] and (CALLER_UID,) in room.leader.control.named("hangup")


async def test_a_supervisor_on_a_standby_spies_through_the_driving_node(room: Room) -> None:
    contact_id = await _connected(room)
    done = await room.standby.relay.act("spy", contact_id, BOSS, {"mode": "listen"})
    assert done["mode"] == "listen" and done["call"]["contact_id"] == contact_id
    ((endpoint, leg, spied, _),) = room.leader.control.named("spy")
    assert (endpoint, leg, spied) == ("PJSIP/boss1", done["leg"], CALLER_UID)
    assert room.audit.entries_ == [("boss", "call.spy", contact_id)]  # once


async def test_spy_legs_are_listed_and_stopped_through_the_driving_node(room: Room) -> None:
    """The driving node keeps who spies on what until the leg hangs up; a standby lists them
    and stops a supervisor's own (her desk phone's) through it; operators may do neither."""
    contact_id = await _connected(room)
    assert (await room.standby.relay.act("spy_legs", "", BOSS, {}))["legs"] == []
    done = await room.standby.relay.act("spy", contact_id, BOSS, {"mode": "whisper"})
    (listed,) = (await room.standby.relay.act("spy_legs", "", BOSS, {}))["legs"]
    assert (listed["contact_id"], listed["supervisor_id"], listed["mode"]) == (
        contact_id,
        "boss",
        "whisper",
    )
    for action in ("spy_legs", "spy_stop"):
        with pytest.raises(ContactError) as refused:
            await room.standby.relay.act(action, contact_id, OP, {})
        assert refused.value.status == 403
    other = Actor("boss2", Role.SUPERVISOR)  # another supervisor stops none of hers
    assert (await room.standby.relay.act("spy_stop", contact_id, other, {}))["stopped"] == 0
    stopped = await room.standby.relay.act("spy_stop", contact_id, BOSS, {})
    assert stopped["stopped"] == 1 and (done["leg"],) in room.leader.control.named("hangup")
    assert (await room.standby.relay.act("spy_legs", "", BOSS, {}))["legs"] == []


async def test_the_driving_node_runs_its_own_routes_actions_without_the_broadcast(
    room: Room,
) -> None:
    contact_id = await _connected(room)
    sent = len(room.broadcast.sent)
    done = await room.lead.relay.act("hold", contact_id, OP, {})
    assert done["call"]["state"] == CallState.HELD
    assert len(room.broadcast.sent) == sent and room.lead.relay.answered == 0


async def test_no_answer_from_the_driving_node_is_a_503(tmp_path: Path) -> None:
    room = await make_room(tmp_path, leader_listens=False)  # its subscriber is gone
    try:
        contact_id = await _connected(room)
        with pytest.raises(Unavailable) as unreachable:
            await room.standby.relay.act("hold", contact_id, OP, {})
        assert unreachable.value.error_id == "telephony_unreachable"
        assert unreachable.value.status == 503
        assert not room.standby.relay._waiting
        assert not room.leader.control.named("hold")
    finally:
        await room.standby.relay.stop()
        await room.leader.voice.stop()


async def test_no_driving_node_at_all_is_telephony_standby(room: Room) -> None:
    room.standby.relay._holder = lambda: None
    with pytest.raises(Unavailable) as standby:
        await room.standby.relay.act("hold", "c1", OP, {})
    assert (standby.value.error_id, standby.value.status) == ("telephony_standby", 503)
    assert not [body for topic, body in room.broadcast.sent if topic == TOPIC]


async def test_a_request_is_run_only_by_the_node_it_was_sent_to_while_it_drives(
    room: Room,
) -> None:
    contact_id = await _connected(room)
    room.standby.relay._holder = lambda: "c"  # a node that left meanwhile
    with pytest.raises(Unavailable) as unreachable:
        await room.standby.relay.act("hold", contact_id, OP, {})
    assert unreachable.value.error_id == "telephony_unreachable"
    room.standby.relay._holder = lambda: "a"
    room.lead.relay._leading = lambda: False  # its lease lapsed: it says so at once
    with pytest.raises(ContactError) as lapsed:
        await room.standby.relay.act("hold", contact_id, OP, {})
    assert (lapsed.value.error_id, lapsed.value.status) == ("telephony_standby", 503)
    assert not room.leader.control.named("hold")


async def test_no_browser_hears_the_relay() -> None:
    hub = Hub()
    sub = Subscriber(ws=None, owner="boss")  # type: ignore[arg-type]  # never sends here
    for topic in ("queue", "operator:boss", "supervisor", "contact:c1"):
        hub.subscribe(sub, topic)
    await hub.deliver(TOPIC, {"type": "request", "id": "r1"})
    assert hub.delivered == 0 and sub.outbox.empty()
    await hub.deliver("supervisor", {"type": "call.ringing"})
    assert hub.delivered == 1
