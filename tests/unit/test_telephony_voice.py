"""VoiceService's decisions with fakes (no Asterisk): intake, accept → ring → bridge, the
operator's phone not answering or failing, abandoned calls and their callbacks, resyncs,
and above all: an error never hangs up a caller, it puts the caller back on hold."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contact.bus import MessageBus
from contact.config import AsteriskSettings, RoutingSettings, Settings
from contact.domain import events as ev
from contact.domain.commands import Accept, SetPresence
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Operator,
    Presence,
)
from contact.errors import NotFound, Unavailable
from contact.ports import AssignmentPolicy, Call, Callback, CallState, Recording
from contact.routing.lifecycle import ContactLifecycle
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.service import RoutingService
from contact.telephony.ami import AmiError
from contact.telephony.voice import VoiceService
from tests.fakes import FakeContactRepository, FakeOperatorRepository, ManualClock

CALLER_UID = "1795299225.0"
CALLER_CHANNEL = "PJSIP/sipp-00000000"


class FakeCallRepository:
    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self.recordings_: dict[str, Recording] = {}
        self.callbacks: dict[str, Callback] = {}
        self.languages: dict[str, Language] = {}

    async def add(self, call: Call) -> None:
        self.calls[call.id] = replace(call)

    async def save(self, call: Call) -> None:
        self.calls[call.id] = replace(call)

    async def by_uniqueid(self, uniqueid: str) -> Call | None:
        found = [c for c in self.calls.values() if c.uniqueid == uniqueid]
        return replace(found[0]) if found else None

    async def for_contact(self, contact_id: str) -> list[Call]:
        return [replace(c) for c in self.calls.values() if c.contact_id == contact_id]

    async def live(self) -> list[Call]:
        return [replace(c) for c in self.calls.values() if c.state != CallState.ENDED]

    async def add_recording(self, recording: Recording) -> None:
        self.recordings_[recording.id] = recording

    async def save_recording(self, recording: Recording) -> None:
        self.recordings_[recording.id] = recording

    async def recording(self, recording_id: str) -> Recording | None:
        return self.recordings_.get(recording_id)

    async def recordings(self, contact_id: str) -> list[Recording]:
        return [r for r in self.recordings_.values() if r.contact_id == contact_id]

    async def recordings_before(self, before: datetime) -> list[Recording]:
        return [r for r in self.recordings_.values() if r.started_at < before]

    async def add_callback(self, callback: Callback) -> bool:
        if any(c.source_contact_id == callback.source_contact_id for c in self.callbacks.values()):
            return False
        self.callbacks[callback.id] = replace(callback)
        return True

    async def save_callback(self, callback: Callback) -> None:
        self.callbacks[callback.id] = replace(callback)

    async def callback(self, callback_id: str) -> Callback | None:
        found = self.callbacks.get(callback_id)
        return replace(found) if found else None

    async def callback_for_task(self, contact_id: str) -> Callback | None:
        found = [c for c in self.callbacks.values() if c.task_contact_id == contact_id]
        return replace(found[0]) if found else None

    async def callbacks_in(self, states: frozenset[str]) -> list[Callback]:
        return [replace(c) for c in self.callbacks.values() if c.state in states]

    async def set_contact_languages(self, languages: Mapping[str, Language]) -> None:
        self.languages.update(languages)


@dataclass
class FakeCallControl:
    """Records what contact asks of the PBX; `fail` makes the named method raise."""

    actions: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    live: list[Mapping[str, str]] = field(default_factory=list)
    variables_of: dict[str, dict[str, str]] = field(default_factory=dict)
    video_of: dict[str, str | None] = field(default_factory=dict)  # leg -> the video it carries
    globals: dict[str, str] = field(default_factory=dict)

    @property
    def connected(self) -> bool:
        return True

    def _do(self, name: str, *args: object) -> None:
        self.actions.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    def named(self, name: str) -> list[tuple[object, ...]]:
        return [args for n, args in self.actions if n == name]

    async def hold(self, channel: str) -> None:
        self._do("hold", channel)

    async def ring(
        self,
        endpoint: str,
        leg_id: str,
        timeout_s: float,
        *,
        context: str = "contact-operator-wait",
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        video_of: str | None = None,
    ) -> None:
        self.video_of[leg_id] = video_of
        self._do("ring", endpoint, leg_id, context)

    async def connect(self, caller: str, leg: str) -> None:
        self._do("connect", caller, leg)

    async def blind_transfer(self, caller: str, target: str, incident_id: str | None) -> None:
        self._do("blind_transfer", caller, target, incident_id)

    async def consult(
        self, caller: str, operator_leg: str, target: str, incident_id: str | None
    ) -> None:
        self._do("consult", caller, operator_leg, target, incident_id)

    async def hangup(self, channel: str, cause: int = 16) -> None:
        self._do("hangup", channel)

    async def spy(self, endpoint: str, leg_id: str, spied: str, options: str) -> None:
        self._do("spy", endpoint, leg_id, spied, options)

    async def channels(self) -> list[Mapping[str, str]]:
        return list(self.live)

    async def variables(self, channel: str, names: Sequence[str]) -> dict[str, str]:
        return dict(self.variables_of.get(channel, {}))

    async def set_globals(self, variables: Mapping[str, str]) -> None:
        self.globals.update(variables)
        self._do("set_globals", dict(variables))


@dataclass
class Line:
    voice: VoiceService
    control: FakeCallControl
    bus: MessageBus
    contacts: FakeContactRepository
    operators: FakeOperatorRepository
    calls: FakeCallRepository
    routing: RoutingService
    clock: ManualClock
    events: list[ev.Event]

    async def signal(self, **event: str) -> None:
        self.voice.on_ami_event(dict(event))
        await self.voice.idle()

    async def call(self, uid: str = CALLER_UID, number: str = "+77011234567") -> str:
        await self.signal(
            Event="UserEvent",
            UserEvent="ContactCall",
            Uniqueid=uid,
            Channel=f"PJSIP/sipp-{uid.replace('.', '')}",
            Endpoint="sipp",
            CallerNum=number,
            XLocation="lat=43.2;lon=76.9;acc=10",
            Kind="voice",
        )
        call = self.voice.live_calls()[-1]
        return call.contact_id

    async def accept(self, contact_id: str, operator_id: str = "op") -> str:
        await self.routing.tick()
        await self.bus.execute(Accept(contact_id=contact_id, operator_id=operator_id))
        await self.voice.idle()
        (_, leg, _) = self.control.named("ring")[-1]
        assert isinstance(leg, str)
        return leg

    async def state(self, contact_id: str) -> ContactState:
        return (await self.contacts.get(contact_id)).state

    def names(self) -> list[str]:
        return [e.name for e in self.events]


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    made = await make_line(tmp_path)
    yield made
    await made.voice.stop()


async def make_line(
    tmp_path: Path, *, ring_on_offer: bool = False, operator_id: str = "op"
) -> Line:
    """A VoiceService on fakes, with one operator (`operator_id`, PJSIP/op1) ready."""
    clock = ManualClock()
    bus = MessageBus()
    contacts = FakeContactRepository()
    operators = FakeOperatorRepository(
        Operator(id=operator_id, username="op", display_name="Op", endpoint="PJSIP/op1")
    )
    routing_settings = RoutingSettings(wrap_up_s=0.0, offer_timeout_s=15.0)
    store = MemoryQueueStore(AssignmentPolicy(offer_timeout_s=15.0))
    routing = RoutingService(
        store=store,
        contacts=contacts,
        operators=operators,
        bus=bus,
        settings=routing_settings,
        clock=clock,
    )
    routing.register(bus)
    ContactLifecycle(contacts=contacts, routing=routing, bus=bus, clock=clock).register(bus)
    calls = FakeCallRepository()
    control = FakeCallControl()
    settings = Settings(
        routing=routing_settings,
        asterisk=AsteriskSettings(enabled=True, run_dir=tmp_path, ring_on_offer=ring_on_offer),
    )
    voice = VoiceService(
        settings=settings,
        bus=bus,
        contacts=contacts,
        operators=operators,
        calls=calls,
        control=control,
        routing=routing,
        clock=clock,
    )
    voice.register(bus)
    await voice.start()
    events: list[ev.Event] = []

    async def record(e: ev.Event) -> None:
        events.append(e)

    bus.subscribe_all(record)
    await bus.execute(SetPresence(operator_id=operator_id, presence=Presence.READY))
    await voice.idle()
    return Line(voice, control, bus, contacts, operators, calls, routing, clock, events)


async def test_a_call_becomes_a_queued_voice_contact_once(line: Line) -> None:
    contact_id = await line.call()
    contact = await line.contacts.get(contact_id)
    assert contact.channel is ChannelKind.VOICE and contact.state is ContactState.QUEUED
    assert contact.citizen == "+77011234567"
    assert contact.location is not None and contact.location.accuracy_m == 10
    await line.call()  # the same announcement again (a resync raced it)
    assert len(line.contacts.contacts) == 1


async def test_accept_rings_the_operator_then_bridges_the_caller(line: Line) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    assert line.control.named("ring")[-1][0] == "PJSIP/op1"
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    assert line.control.named("connect") == [(CALLER_UID, leg)]
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    call = line.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.CONNECTED
    assert "call.connected" in line.names()
    # the caller hangs up: wrap-up for the operator, who stays on it
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.WRAP_UP
    assert line.voice.live_call(contact_id) is None
    assert ("hangup", (leg,)) in line.control.actions  # the operator's leg is released


async def test_no_answer_puts_the_contact_back_at_its_place_and_the_operator_away(
    line: Line,
) -> None:
    contact_id = await line.call()
    queued_at = (await line.contacts.get(contact_id)).queued_at
    leg = await line.accept(contact_id)
    line.clock.advance(15)
    await line.signal(Event="OriginateResponse", Response="Failure", Reason="3", Uniqueid=leg)
    contact = await line.contacts.get(contact_id)
    assert contact.state is ContactState.QUEUED and contact.queued_at == queued_at
    assert [e.contact_id for e in await line.routing._store.waiting()] == [contact_id]
    assert line.operators.presence["op"] is Presence.AWAY
    assert "contact.offer_expired" in line.names()
    assert not line.control.named("hangup") and not line.control.named("hold")


async def test_an_operator_phone_failing_mid_call_returns_the_caller_to_the_queue(
    line: Line,
) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    await line.signal(Event="Hangup", Uniqueid=leg, Channel="PJSIP/op1-1", Cause="38")
    assert await line.state(contact_id) is ContactState.QUEUED
    held = [e for e in line.events if isinstance(e, ev.CallHeld)]
    assert held and held[-1].reason == "fail_safe"
    assert (CALLER_UID,) not in line.control.named("hangup")  # never dropped


async def test_the_operators_own_bye_ends_the_call_for_the_caller(line: Line) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    await line.signal(Event="Hangup", Uniqueid=leg, Channel="PJSIP/op1-1", Cause="16")
    assert (CALLER_UID,) in line.control.named("hangup")
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    ended = [e for e in line.events if isinstance(e, ev.CallEnded)]
    assert ended[-1].reason == "operator_hangup"
    assert await line.state(contact_id) is ContactState.WRAP_UP


@pytest.mark.parametrize(
    "error", [AmiError("Redirect: boom"), Unavailable("link lost"), RuntimeError("bug")]
)
async def test_any_error_while_connecting_fails_safe_to_holding(
    line: Line, error: Exception
) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    line.control.fail["connect"] = error
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    assert (CALLER_UID,) in line.control.named("hold")
    assert (CALLER_UID,) not in line.control.named("hangup")
    assert (leg,) in line.control.named("hangup")  # the operator's leg, not the caller
    assert await line.state(contact_id) is ContactState.QUEUED


async def test_a_ring_that_cannot_be_placed_returns_the_contact(line: Line) -> None:
    contact_id = await line.call()
    line.control.fail["ring"] = Unavailable("Asterisk is not connected")
    await line.routing.tick()
    await line.bus.execute(Accept(contact_id=contact_id, operator_id="op"))
    await line.voice.idle()
    assert await line.state(contact_id) is ContactState.QUEUED
    assert not line.control.named("hangup")


async def test_an_operator_without_a_safe_phone_gets_nothing_rung(line: Line) -> None:
    line.operators.operators["op"] = replace(
        line.operators.operators["op"], endpoint="PJSIP/op1&Local/x@y"
    )
    contact_id = await line.call()
    await line.routing.tick()
    await line.bus.execute(Accept(contact_id=contact_id, operator_id="op"))
    await line.voice.idle()
    assert not line.control.named("ring")
    assert await line.state(contact_id) is ContactState.QUEUED


async def test_an_abandoned_call_becomes_a_callback_task(line: Line) -> None:
    contact_id = await line.call()
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED
    tasks = [c for c in line.contacts.contacts.values() if c.channel is ChannelKind.CALLBACK]
    assert len(tasks) == 1
    task = tasks[0]
    assert task.citizen == "+77011234567" and task.state is ContactState.QUEUED
    assert task.location is not None  # where the caller was
    (callback,) = line.calls.callbacks.values()
    assert callback.task_contact_id == task.id and callback.reason == "abandoned"
    assert "callback.requested" in line.names()


async def test_no_callback_without_a_number_to_dial(line: Line) -> None:
    await line.call(number="")
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert not [c for c in line.contacts.contacts.values() if c.channel is ChannelKind.CALLBACK]


async def test_accepting_a_callback_rings_the_operator_into_the_callback_dialplan(
    line: Line,
) -> None:
    await line.call()
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    (task,) = [c for c in line.contacts.contacts.values() if c.channel is ChannelKind.CALLBACK]
    leg = await line.accept(task.id)
    (endpoint, _, context) = line.control.named("ring")[-1]
    assert (endpoint, context) == ("PJSIP/op1", "contact-callback")
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    await line.signal(Event="DialBegin", Uniqueid=leg, DestUniqueid="1795299300.5")
    await line.signal(
        Event="DialEnd", Uniqueid=leg, DestUniqueid="1795299300.5", DialStatus="ANSWER"
    )
    dialed = [e for e in line.events if isinstance(e, ev.CallbackDialed)]
    assert dialed[-1].outcome == "answered"
    await line.signal(Event="Hangup", Uniqueid=leg, Channel="PJSIP/op1-2", Cause="16")
    assert await line.state(task.id) is ContactState.WRAP_UP


async def test_a_resync_marks_vanished_calls_dropped_and_registers_unknown_callers(
    line: Line,
) -> None:
    gone = await line.call("1795299225.0")
    line.control.live = [
        {
            "Channel": "PJSIP/sipp-00000007",
            "Uniqueid": "1795299999.7",
            "Linkedid": "1795299999.7",
            "Context": "contact-hold",
            "Application": "Wait",
        }
    ]
    line.control.variables_of["1795299999.7"] = {
        "CONTACT_CALLER_NUM": "+77015555555",
        "CONTACT_KIND": "voice",
        "CONTACT_ANNOUNCED": "1",
        "CHANNEL(endpoint)": "sipp",
    }
    await line.signal(Event="FullyBooted", Status="Fully Booted")
    assert await line.state(gone) is ContactState.ABANDONED
    (call,) = await line.calls.for_contact(gone)
    assert call.dropped and call.end_reason == "link_lost"
    callbacks = list(line.calls.callbacks.values())
    assert callbacks and callbacks[0].reason == "dropped"
    found = line.voice.live_calls()
    assert [c.uniqueid for c in found] == ["1795299999.7"]
    contact = await line.contacts.get(found[0].contact_id)
    assert contact.citizen == "+77015555555" and contact.state is ContactState.QUEUED
    changed = [e for e in line.events if isinstance(e, ev.TelephonyLinkChanged)]
    assert (changed[-1].dropped, changed[-1].registered) == (1, 1)


async def test_a_restarted_node_picks_up_live_calls_from_the_database(
    line: Line, tmp_path: Path
) -> None:
    contact_id = await line.call()
    # a second service on the same stores (the node after a restart)
    second = VoiceService(
        settings=line.voice.settings,
        bus=line.bus,
        contacts=line.contacts,
        operators=line.operators,
        calls=line.calls,
        control=line.control,
        routing=line.routing,
        clock=line.clock,
    )
    await second.start()
    try:
        call = second.live_call(contact_id)
        assert call is not None and call.uniqueid == CALLER_UID
    finally:
        await second.stop()


async def test_hangup_of_a_gone_channel_is_not_an_error(line: Line) -> None:
    contact_id = await line.call()
    line.control.fail["hangup"] = NotFound("gone")
    call = line.voice.live_call(contact_id)
    assert call is not None
    with pytest.raises(NotFound):
        await line.voice.hangup(call)  # the operator's request is reported…
    assert line.voice.live_call(contact_id) is not None  # …and nothing else changed


async def test_ring_on_offer_rings_the_phone_as_the_offer_once(line: Line) -> None:
    line.voice.set_ring_on_offer(True)
    contact_id = await line.call()
    await line.routing.tick()  # the offer: accepted for the operator, the phone rings
    await line.voice.idle()
    assert len(line.control.named("ring")) == 1
    assert await line.state(contact_id) is ContactState.CONNECTED
    call = line.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.RINGING


async def test_an_app_video_call_joins_the_sos_it_reported(line: Line) -> None:
    from contact.domain.commands import RegisterContact

    sos = await line.bus.execute(
        RegisterContact(channel=ChannelKind.APP_SOS, text="SOS", citizen="device-0001")
    )
    await line.signal(
        Event="UserEvent",
        UserEvent="ContactCall",
        Uniqueid="1795299300.1",
        Channel="PJSIP/app-demo-00000001",
        Endpoint="app-demo",
        Media="video",
        ContactId=sos.contact_id,
    )
    assert len(line.contacts.contacts) == 1  # no second contact
    call = line.voice.live_call(sos.contact_id)
    assert call is not None and call.kind == "sos_video"
    await line.signal(
        Event="Hangup", Uniqueid="1795299300.1", Channel="PJSIP/app-demo-00000001", Cause="16"
    )
    assert await line.state(sos.contact_id) is ContactState.QUEUED  # the SOS stands


async def test_the_operator_leg_of_a_video_call_carries_its_video(line: Line) -> None:
    voice_id = await line.call()
    await line.accept(voice_id)
    await line.signal(
        Event="UserEvent",
        UserEvent="ContactCall",
        Uniqueid="1795299300.7",
        Channel="PJSIP/app-demo-00000007",
        Endpoint="app-demo",
        Media="video",
    )
    video = line.voice.live_calls()[-1]
    assert video.kind == "video"
    line.operators.operators["op2"] = Operator(
        id="op2", username="op2", display_name="Op2", endpoint="PJSIP/op2"
    )
    await line.bus.execute(SetPresence(operator_id="op2", presence=Presence.READY))
    video_leg = await line.accept(video.contact_id, "op2")
    voice_leg = line.control.named("ring")[0][1]
    assert isinstance(voice_leg, str)
    # a voice call's leg is audio only; the video call's leg is offered the caller's video
    assert line.control.video_of == {voice_leg: None, video_leg: "1795299300.7"}


# --- how a call ends: from its own bridge, never from the contact's state (issue 9) -----------


async def _talking(line: Line, contact_id: str) -> str:
    leg = await line.accept(contact_id)
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    return leg


def _callback_reasons(line: Line) -> list[str]:
    return [c.reason for c in line.calls.callbacks.values()]


async def test_a_caller_who_leaves_while_the_operators_phone_rings_is_called_back(
    line: Line,
) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)  # accepted: the contact is connected, her phone rings
    assert await line.state(contact_id) is ContactState.CONNECTED
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED  # not wrap-up
    assert _callback_reasons(line) == ["abandoned"]
    assert (leg,) in line.control.named("hangup")  # her phone stops ringing
    assert line.operators.presence["op"] is Presence.READY  # nothing to wrap up
    (call,) = await line.calls.for_contact(contact_id)
    assert call.end_reason == "caller_hangup" and call.answered_at is None


async def test_a_caller_back_in_the_queue_after_talking_is_called_back_when_they_leave(
    line: Line,
) -> None:
    contact_id = await line.call()
    leg = await _talking(line, contact_id)
    await line.signal(Event="Hangup", Uniqueid=leg, Channel="PJSIP/op1-1", Cause="38")
    assert await line.state(contact_id) is ContactState.QUEUED
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED
    assert _callback_reasons(line) == ["abandoned"]
    (call,) = await line.calls.for_contact(contact_id)
    assert call.answered_at is not None and call.bridged_at is None  # it talked, once


async def test_a_requeue_before_any_answer_forgets_the_accept_as_an_answer(line: Line) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    assert (await line.contacts.get(contact_id)).answered_at is not None  # set at the accept
    await line.signal(Event="OriginateResponse", Response="Failure", Reason="3", Uniqueid=leg)
    contact = await line.contacts.get(contact_id)
    assert contact.state is ContactState.QUEUED and contact.answered_at is None


async def test_asterisk_stopping_mid_conversation_drops_the_call_and_calls_the_citizen_back(
    line: Line,
) -> None:
    contact_id = await line.call()
    leg = await _talking(line, contact_id)
    # a stopping Asterisk soft-hangs up every channel (before its Shutdown event); the
    # operator's leg may go first, with normal clearing: not her act
    await line.signal(Event="SoftHangupRequest", Uniqueid=CALLER_UID, Cause="4")
    await line.signal(Event="Hangup", Uniqueid=leg, Channel="PJSIP/op1-1", Cause="16")
    assert not line.control.named("hangup")  # nothing steered: the PBX is going
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    await line.signal(Event="Shutdown", Shutdown="Cleanly", Restart="False")
    assert await line.state(contact_id) is ContactState.WRAP_UP
    (call,) = await line.calls.for_contact(contact_id)
    assert (call.end_reason, call.dropped) == ("asterisk_shutdown", True)
    assert _callback_reasons(line) == ["dropped"]
    ended = [e for e in line.events if isinstance(e, ev.CallEnded)]
    assert [(e.reason, e.dropped) for e in ended] == [("asterisk_shutdown", True)]


async def test_asterisk_stopping_while_a_phone_rings_leaves_the_operator_ready(line: Line) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    await line.signal(Event="SoftHangupRequest", Uniqueid=CALLER_UID, Cause="4")
    await line.signal(Event="OriginateResponse", Response="Failure", Reason="1", Uniqueid=leg)
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED
    assert line.operators.presence["op"] is Presence.READY  # not away: her phone was fine
    assert _callback_reasons(line) == ["dropped"]


async def test_calls_gone_while_asterisk_was_stopping_are_shutdown_drops_at_the_resync(
    line: Line,
) -> None:
    contact_id = await line.call()
    await line.signal(Event="Shutdown", Shutdown="Cleanly", Restart="False")
    await line.signal(Event="FullyBooted", Status="Fully Booted")  # a new Asterisk, no calls
    (call,) = await line.calls.for_contact(contact_id)
    assert (call.end_reason, call.dropped) == ("asterisk_shutdown", True)
    # the next loss is not blamed on that stop
    other = await line.call("1795299226.1", "+77017777777")
    await line.signal(Event="FullyBooted", Status="Fully Booted")
    (call,) = await line.calls.for_contact(other)
    assert call.end_reason == "link_lost"


async def test_a_soft_hangup_for_another_reason_is_not_asterisk_stopping(line: Line) -> None:
    contact_id = await line.call()
    await line.signal(Event="SoftHangupRequest", Uniqueid=CALLER_UID, Cause="32")
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    (call,) = await line.calls.for_contact(contact_id)
    assert (call.end_reason, call.dropped) == ("caller_hangup", False)


async def test_a_call_ending_while_its_contact_was_put_back_in_the_queue_leaves_nothing_queued(
    line: Line,
) -> None:
    from contact.domain.commands import ReturnToQueue

    contact_id = await line.call()
    await _talking(line, contact_id)
    # her workplace was lost while the caller was still bridged to her phone
    await line.bus.execute(ReturnToQueue(contact_id=contact_id, reason="workplace_lost"))
    assert await line.state(contact_id) is ContactState.QUEUED
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED  # not left in the queue
    assert _callback_reasons(line) == []  # they talked, and hung up themselves


async def test_only_the_operators_own_hang_up_is_audited_as_her_act() -> None:
    from contact.telephony.projection import TelephonyProjection

    entries: list[tuple[str, str]] = []

    class Audit:
        async def append(
            self, actor: str, action: str, subject: object, details: Mapping[str, object]
        ) -> None:
            entries.append((actor, str(details["reason"])))

    class Topics:
        async def publish(self, topic: str, body: object) -> None:
            pass

    bus = MessageBus()
    TelephonyProjection(Topics(), Audit()).register(bus)  # type: ignore[arg-type]
    for reason, dropped in (
        ("operator_hangup", False),
        ("caller_hangup", False),
        ("asterisk_shutdown", True),
        ("link_lost", True),
    ):
        await bus.publish(
            ev.CallEnded(contact_id="c", reason=reason, dropped=dropped, operator_id="op")
        )
    assert entries == [
        ("op", "operator_hangup"),
        ("system:telephony", "caller_hangup"),
        ("system:telephony", "asterisk_shutdown"),
        ("system:telephony", "link_lost"),
    ]


async def test_a_return_to_the_queue_after_another_nodes_close_leaves_the_close(
    line: Line,
) -> None:
    """Her workplace is lost while she closes the contact on another node's page: the close
    stands (it used to be written back to queued), and nothing is put back in the queue."""
    from contact.domain.commands import ReturnToQueue

    contact_id = await line.call()
    await _talking(line, contact_id)
    real_get = line.contacts.get

    async def closed_meanwhile(contact_id: str) -> Contact:
        contact = await real_get(contact_id)
        stored = line.contacts.contacts[contact_id]
        if stored.state is ContactState.CONNECTED:
            stored.transition(ContactState.CLOSED, datetime.now(UTC))
        return contact

    line.contacts.get = closed_meanwhile  # type: ignore[method-assign]
    await line.bus.execute(ReturnToQueue(contact_id=contact_id, reason="workplace_lost"))
    line.contacts.get = real_get  # type: ignore[method-assign]
    assert await line.state(contact_id) is ContactState.CLOSED
