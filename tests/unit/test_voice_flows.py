"""Each voice flow on fakes (FakeCallControl, in-memory stores; no Asterisk), with its explicit
states: ringing and the accept, a caller leaving while the phone rings, hold and resume,
transfers (blind and attended: completed, failed, cancelled), a drop when Asterisk stops, the
resync's ghosts and orphans, and the fail-safe to holding. No flow may move a call in a way
the state table (contact/telephony/voice/states.py) does not list."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contact.domain import events as ev
from contact.domain.model import ChannelKind, ContactState
from contact.errors import Conflict, Unprocessable
from contact.ports import Call, CallState
from contact.telephony.ami import AmiError
from contact.telephony.voice.states import (
    CALL_MOVES,
    IllegalStep,
    Transfer,
    TransferEvent,
    TransferState,
    allowed,
)
from tests.unit.test_telephony_voice import CALLER_CHANNEL, CALLER_UID, Line, make_line

SERVICE_LEG = "1795299400.9"


@pytest.fixture(autouse=True)
def no_illegal_moves(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="contact.telephony.voice.states")
    yield
    illegal = [r.getMessage() for r in caplog.records if "illegal" in r.getMessage()]
    assert not illegal


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    made = await make_line(tmp_path)
    yield made
    await made.voice.stop()


def _moves(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The call's moves as logged (`before -> why -> after`)."""
    return [
        r.getMessage().removeprefix("call: ")
        for r in caplog.records
        if r.name == "contact.telephony.voice.states" and r.getMessage().startswith("call: ")
    ]


def _live(line: Line, contact_id: str) -> Call:
    call = line.voice.live_call(contact_id)
    assert call is not None
    return call


async def _talking(line: Line, contact_id: str) -> str:
    leg = await line.accept(contact_id)
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    return leg


def _phase(transfer: Transfer) -> TransferState:
    return transfer.state  # read afresh (the flows move it)


def _transfers(line: Line) -> list[tuple[str, str]]:
    return [(e.mode, e.outcome) for e in line.events if isinstance(e, ev.CallTransferred)]


async def _act(line: Line, contact_id: str, what: str, *args: str) -> None:
    call = _live(line, contact_id)
    async with line.voice.locked(call):
        await getattr(line.voice, what)(call, *args)
    await line.voice.idle()


# --- ringing ----------------------------------------------------------------------------------


async def test_an_accept_rings_then_connects_holding_ringing_connected(
    line: Line, caplog: pytest.LogCaptureFixture
) -> None:
    contact_id = await line.call()
    assert _live(line, contact_id).state == CallState.HOLDING
    leg = await line.accept(contact_id)
    call = _live(line, contact_id)
    assert (call.state, call.operator_leg, call.operator_id) == (CallState.RINGING, leg, "op")
    assert line.voice.book.call_of(leg) is call  # the leg finds its call
    await line.signal(Event="OriginateResponse", Response="Success", Reason="4", Uniqueid=leg)
    assert line.voice.book.bridging_to(CALLER_UID) == leg
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b1")
    assert call.state == CallState.CONNECTED and call.answered_at is not None
    assert line.voice.book.bridging_to(CALLER_UID) is None
    assert _moves(caplog) == ["holding -> ring -> ringing", "ringing -> bridged -> connected"]


async def test_a_caller_leaving_while_the_phone_rings_is_abandoned_with_a_callback(
    line: Line,
) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert await line.state(contact_id) is ContactState.ABANDONED
    assert (leg,) in line.control.named("hangup")  # her phone stops ringing
    (callback,) = line.calls.callbacks.values()
    assert callback.reason == "abandoned" and callback.task_contact_id is not None
    task = await line.contacts.get(callback.task_contact_id)
    assert task.channel is ChannelKind.CALLBACK and task.state is ContactState.QUEUED
    assert line.voice.live_call(contact_id) is None
    assert line.voice.book.leg_of(leg) is None  # nothing of it is left in the book


# --- hold ---------------------------------------------------------------------------------------


async def test_hold_then_resume_reconnects_the_operators_leg(
    line: Line, caplog: pytest.LogCaptureFixture
) -> None:
    contact_id = await line.call()
    leg = await _talking(line, contact_id)
    await _act(line, contact_id, "hold")
    call = _live(line, contact_id)
    assert call.state == CallState.HELD and (CALLER_UID,) in line.control.named("hold")
    held = [e for e in line.events if isinstance(e, ev.CallHeld)]
    assert held[-1].reason == "operator"
    with pytest.raises(Conflict):
        await _act(line, contact_id, "hold")  # held already
    await _act(line, contact_id, "resume")
    assert call.state == CallState.RINGING
    assert line.control.named("connect")[-1] == (CALLER_UID, leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b2")
    assert call.state == CallState.CONNECTED
    with pytest.raises(Conflict):
        await _act(line, contact_id, "resume")  # not held
    assert "connected -> hold -> held" in _moves(caplog)
    assert "held -> resume -> ringing" in _moves(caplog)


async def test_resuming_after_the_phone_was_put_down_rings_it_again(line: Line) -> None:
    contact_id = await line.call()
    await _talking(line, contact_id)
    await _act(line, contact_id, "hold")
    call = _live(line, contact_id)
    call.operator_leg = None  # her phone left the held call
    rings = len(line.control.named("ring"))
    await _act(line, contact_id, "resume")
    assert len(line.control.named("ring")) == rings + 1
    assert call.state == CallState.RINGING and call.operator_leg is not None


# --- transfers ---------------------------------------------------------------------------------


async def test_a_blind_transfer_answered_completes_and_closes_the_contact(line: Line) -> None:
    contact_id = await line.call()
    leg = await _talking(line, contact_id)
    await _act(line, contact_id, "transfer", "103", "blind")
    call = _live(line, contact_id)
    assert call.state == CallState.TRANSFERRING
    assert line.control.named("blind_transfer")[-1][:2] == (CALLER_UID, "103")
    assert (leg,) in line.control.named("hangup") and call.operator_leg is None
    transfer = line.voice.book.transfer(CALLER_UID)
    assert transfer is not None and _phase(transfer) is TransferState.DIALING
    await line.signal(Event="DialBegin", Uniqueid=CALLER_UID, DestUniqueid=SERVICE_LEG)
    assert call.consult_leg == SERVICE_LEG
    await line.signal(
        Event="DialEnd", Uniqueid=CALLER_UID, DestUniqueid=SERVICE_LEG, DialStatus="ANSWER"
    )
    assert call.state == CallState.TRANSFERRED and _phase(transfer) is TransferState.COMPLETED
    assert line.voice.book.transfer(CALLER_UID) is None
    contact = await line.contacts.get(contact_id)
    assert contact.state is ContactState.WRAP_UP and contact.disposition == "transferred:103"
    assert _transfers(line) == [("blind", "started"), ("blind", "completed")]
    # the service hangs up: the call is over
    await line.signal(Event="Hangup", Uniqueid=SERVICE_LEG, Channel="PJSIP/s-1", Cause="16")
    assert (CALLER_UID,) in line.control.named("hangup")


async def test_a_blind_transfer_not_answered_puts_the_caller_back_at_the_head(
    line: Line,
) -> None:
    contact_id = await line.call()
    await _talking(line, contact_id)
    await _act(line, contact_id, "transfer", "103", "blind")
    transfer = line.voice.book.transfer(CALLER_UID)
    assert transfer is not None
    await line.signal(
        Event="UserEvent",
        UserEvent="ContactTransfer",
        Uniqueid=CALLER_UID,
        Result="NOANSWER",
        Target="103",
    )
    call = _live(line, contact_id)
    assert call.state == CallState.HOLDING and call.operator_id is None
    assert _phase(transfer) is TransferState.FAILED
    assert await line.state(contact_id) is ContactState.QUEUED
    assert _transfers(line)[-1] == ("blind", "failed")
    assert (CALLER_UID,) not in line.control.named("hangup")  # never dropped


async def _consulting(line: Line, contact_id: str) -> tuple[Call, str]:
    leg = await _talking(line, contact_id)
    await _act(line, contact_id, "transfer", "112", "attended")
    call = _live(line, contact_id)
    assert call.state == CallState.CONSULTING
    assert line.control.named("consult")[-1][:3] == (CALLER_UID, leg, "112")
    await line.signal(Event="DialBegin", Uniqueid=leg, DestUniqueid=SERVICE_LEG)
    assert call.consult_leg == SERVICE_LEG
    return call, leg


async def test_an_attended_transfer_answered_then_completed(line: Line) -> None:
    contact_id = await line.call()
    call, leg = await _consulting(line, contact_id)
    transfer = line.voice.book.transfer(CALLER_UID)
    assert transfer is not None and _phase(transfer) is TransferState.DIALING
    await line.signal(Event="DialEnd", Uniqueid=leg, DestUniqueid=SERVICE_LEG, DialStatus="ANSWER")
    assert _phase(transfer) is TransferState.CONSULTING
    await _act(line, contact_id, "complete_transfer")
    assert _phase(transfer) is TransferState.COMPLETING
    assert line.control.named("connect")[-1] == (CALLER_UID, SERVICE_LEG)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b3")
    assert call.state == CallState.TRANSFERRED and _phase(transfer) is TransferState.COMPLETED
    assert (leg,) in line.control.named("hangup")  # the operator is done
    assert await line.state(contact_id) is ContactState.WRAP_UP
    assert _transfers(line) == [
        ("attended", "started"),
        ("attended", "consulting"),
        ("attended", "completed"),
    ]


async def test_an_attended_transfer_cancelled_goes_back_to_the_operator(line: Line) -> None:
    contact_id = await line.call()
    call, leg = await _consulting(line, contact_id)
    await line.signal(Event="DialEnd", Uniqueid=leg, DestUniqueid=SERVICE_LEG, DialStatus="ANSWER")
    await _act(line, contact_id, "cancel_transfer")
    transfer = line.voice.book.transfer(CALLER_UID)
    assert transfer is not None and _phase(transfer) is TransferState.CANCELLING
    assert (SERVICE_LEG,) in line.control.named("hangup")
    # [contact-consult] ends: the operator's Dial is over
    await line.signal(
        Event="UserEvent", UserEvent="ContactConsult", Uniqueid=leg, Result="ANSWER", Target="112"
    )
    assert _phase(transfer) is TransferState.CANCELLED
    assert call.state == CallState.RINGING and call.consult_leg is None
    assert line.control.named("connect")[-1] == (CALLER_UID, leg)
    await line.signal(Event="BridgeEnter", Uniqueid=CALLER_UID, BridgeUniqueid="b4")
    assert call.state == CallState.CONNECTED
    assert await line.state(contact_id) is ContactState.CONNECTED
    assert _transfers(line)[-1] == ("attended", "cancelled")


async def test_an_attended_transfer_not_answered_fails_back_to_the_operator(line: Line) -> None:
    contact_id = await line.call()
    call, leg = await _consulting(line, contact_id)
    await line.signal(
        Event="UserEvent", UserEvent="ContactConsult", Uniqueid=leg, Result="NOANSWER"
    )
    assert call.state == CallState.RINGING
    assert line.control.named("connect")[-1] == (CALLER_UID, leg)
    assert _transfers(line)[-1] == ("attended", "failed")
    assert line.voice.book.transfer(CALLER_UID) is None


async def test_transfers_refuse_what_they_cannot_do(line: Line) -> None:
    contact_id = await line.call()
    with pytest.raises(Conflict):  # not connected
        await _act(line, contact_id, "transfer", "103", "blind")
    await _talking(line, contact_id)
    with pytest.raises(Unprocessable):
        await _act(line, contact_id, "transfer", "999", "blind")
    with pytest.raises(Unprocessable):
        await _act(line, contact_id, "transfer", "103", "sideways")
    with pytest.raises(Conflict):
        await _act(line, contact_id, "complete_transfer")
    with pytest.raises(Conflict):
        await _act(line, contact_id, "cancel_transfer")
    assert line.voice.book.transfer(CALLER_UID) is None
    assert _live(line, contact_id).state == CallState.CONNECTED


# --- fail-safe -------------------------------------------------------------------------------


async def test_a_transfer_the_pbx_refuses_fails_safe_to_holding(line: Line) -> None:
    contact_id = await line.call()
    leg = await _talking(line, contact_id)
    line.control.fail["blind_transfer"] = AmiError("Redirect: boom")
    with pytest.raises(AmiError):
        await _act(line, contact_id, "transfer", "103", "blind")
    call = _live(line, contact_id)
    assert call.state == CallState.HOLDING and call.operator_id is None
    assert (CALLER_UID,) in line.control.named("hold")
    assert (CALLER_UID,) not in line.control.named("hangup")
    assert (leg,) in line.control.named("hangup")
    assert await line.state(contact_id) is ContactState.QUEUED
    held = [e for e in line.events if isinstance(e, ev.CallHeld)]
    assert held[-1].reason == "fail_safe"
    assert line.voice.book.transfer(CALLER_UID) is None


# --- drops ---------------------------------------------------------------------------------------


async def test_a_call_ended_by_a_stopping_asterisk_is_a_drop_with_a_callback(line: Line) -> None:
    contact_id = await line.call()
    await _talking(line, contact_id)
    await line.signal(Event="Shutdown", Shutdown="Cleanly", Restart="True")
    assert line.voice.book.shutting_down
    await line.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    (call,) = await line.calls.for_contact(contact_id)
    assert (call.state, call.end_reason, call.dropped) == (
        CallState.ENDED,
        "asterisk_shutdown",
        True,
    )
    assert [c.reason for c in line.calls.callbacks.values()] == ["dropped"]
    assert await line.state(contact_id) is ContactState.WRAP_UP
    await line.signal(Event="FullyBooted", Status="Fully Booted")
    assert not line.voice.book.shutting_down  # a running Asterisk's picture again


# --- resync -------------------------------------------------------------------------------------


async def test_a_resync_drops_ghosts_hangs_up_orphans_and_keeps_the_living(line: Line) -> None:
    ghost = await line.call("1795299225.0", "+77011111111")
    alive = await line.call("1795299226.1", "+77012222222")
    line.control.live = [
        {  # the living caller, still waiting
            "Channel": "PJSIP/sipp-00000001",
            "Uniqueid": "1795299226.1",
            "Linkedid": "1795299226.1",
            "Context": "contact-hold",
            "Application": "Wait",
        },
        {  # an operator's leg no call of ours has
            "Channel": "PJSIP/op1-00000009",
            "Uniqueid": "1795299230.9",
            "Linkedid": "1795299230.9",
            "Context": "contact-operator-wait",
            "Application": "Wait",
            "ChannelStateDesc": "Up",
        },
    ]
    await line.signal(Event="FullyBooted", Status="Fully Booted")
    (gone,) = await line.calls.for_contact(ghost)
    assert (gone.end_reason, gone.dropped) == ("link_lost", True)
    assert await line.state(ghost) is ContactState.ABANDONED
    assert ("1795299230.9",) in line.control.named("hangup")
    assert [c.contact_id for c in line.voice.live_calls()] == [alive]
    assert ("1795299226.1",) not in line.control.named("hangup")
    changed = [e for e in line.events if isinstance(e, ev.TelephonyLinkChanged)]
    assert (changed[-1].live_calls, changed[-1].dropped, changed[-1].registered) == (1, 1, 0)


async def test_a_resync_connects_an_answer_nobody_heard(line: Line) -> None:
    contact_id = await line.call()
    leg = await line.accept(contact_id)  # ringing; its OriginateResponse is lost
    line.control.live = [
        {
            "Channel": CALLER_CHANNEL,
            "Uniqueid": CALLER_UID,
            "Linkedid": CALLER_UID,
            "Context": "contact-hold",
            "Application": "Wait",
        },
        {
            "Channel": "PJSIP/op1-00000001",
            "Uniqueid": leg,
            "Linkedid": leg,
            "Context": "contact-operator-wait",
            "Application": "Wait",
            "ChannelStateDesc": "Up",
        },
    ]
    await line.signal(Event="FullyBooted", Status="Fully Booted")
    assert line.control.named("connect")[-1] == (CALLER_UID, leg)
    assert (leg,) not in line.control.named("hangup")


async def test_a_drift_check_finds_a_call_whose_hangup_was_missed(line: Line) -> None:
    contact_id = await line.call()
    line.control.live = []
    event = await line.voice.resync(full=False)
    assert event.dropped == 1
    (call,) = await line.calls.for_contact(contact_id)
    assert (call.end_reason, call.dropped) == ("caller_hangup", False)  # not a system loss
    assert await line.state(contact_id) is ContactState.ABANDONED


# --- the state tables ---------------------------------------------------------------------------


def test_every_call_state_may_end_but_an_ended_call_goes_nowhere() -> None:
    for state in CALL_MOVES:
        assert allowed(state, CallState.ENDED) is (state != CallState.ENDED)
        assert not allowed(CallState.ENDED, state)
    assert not allowed(CallState.HOLDING, CallState.CONNECTED)  # never without ringing
    assert not allowed(CallState.TRANSFERRING, CallState.RINGING)


def test_a_transfer_answers_only_the_events_its_state_knows() -> None:
    blind = Transfer("blind", "103")
    assert blind.step(TransferEvent.BRIDGED) is TransferState.COMPLETED and blind.over
    with pytest.raises(IllegalStep):
        blind.step(TransferEvent.CANCEL)
    attended = Transfer("attended", "112")
    for event, state in [
        (TransferEvent.ANSWERED, TransferState.CONSULTING),
        (TransferEvent.CANCEL, TransferState.CANCELLING),
        (TransferEvent.ENDED, TransferState.CANCELLED),
    ]:
        assert attended.step(event) is state
    with pytest.raises(IllegalStep):
        Transfer("attended", "112").step(TransferEvent.COMPLETE)  # nothing answered yet


def test_a_restarted_node_rebuilds_a_transfer_from_the_calls_row() -> None:
    from datetime import UTC, datetime

    call = Call("c", "k", CALLER_UID, CALLER_CHANNEL, "in", "voice", datetime.now(UTC))
    assert Transfer.of(call) is None
    call.state, call.transfer_target = CallState.CONSULTING, "112"
    assert Transfer.of(call) == Transfer("attended", "112", TransferState.DIALING)
    call.consult_leg = SERVICE_LEG
    assert Transfer.of(call) == Transfer("attended", "112", TransferState.CONSULTING)
    call.state = CallState.TRANSFERRING
    assert Transfer.of(call) == Transfer("blind", "112", TransferState.DIALING)
