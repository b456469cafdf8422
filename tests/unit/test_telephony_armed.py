"""The armed phone (ring on offer): contact keeps CONTACT_ARMED set to the operator its queue
would offer the next call to; the dialplan rings that phone itself; the queue's offer
confirms the ring, and a ring it did not confirm stops. With fakes (no Asterisk); the real
dialplan is exercised in tests/integration/test_voice_calls.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.commands import SetPresence
from contact.domain.model import ContactState, Operator, Presence
from contact.ports import CallState
from contact.telephony.voice import armed as armed_module
from contact.telephony.voice import intake as intake_module
from tests.unit.test_telephony_voice import CALLER_CHANNEL, CALLER_UID, Line, make_line

OP = "a" * 32
OTHER = "b" * 32
LEG = "1795299225.7"


@pytest.fixture
async def armed(tmp_path: Path) -> AsyncIterator[Line]:
    line = await make_line(tmp_path, ring_on_offer=True, operator_id=OP)
    yield line
    await line.voice.stop()


async def announce(line: Line, armed_for: str | None = OP) -> str:
    await line.signal(
        Event="UserEvent",
        UserEvent="ContactCall",
        Uniqueid=CALLER_UID,
        Channel=CALLER_CHANNEL,
        Endpoint="sipp",
        CallerNum="+77011234567",
        Kind="voice",
        Armed=armed_for or "",
    )
    return line.voice.live_calls()[-1].contact_id


async def leg_rings(line: Line, leg: str = LEG) -> None:
    await line.signal(
        Event="UserEvent", UserEvent="ContactArmedRing", Uniqueid=leg, Caller=CALLER_UID
    )


async def leg_answers(line: Line, leg: str = LEG) -> None:
    await line.signal(
        Event="UserEvent", UserEvent="ContactArmedAnswered", Uniqueid=leg, Caller=CALLER_UID
    )


async def offer(line: Line) -> None:
    await line.routing.tick()
    await line.voice.idle()


def armed_value(line: Line) -> str:
    return line.control.globals.get("CONTACT_ARMED", "")


async def test_the_longest_idle_ready_operator_is_armed_and_disarmed_when_away(
    armed: Line,
) -> None:
    ring, operator, endpoint, until = armed_value(armed).split("|")
    assert (ring, operator, endpoint) == ("15", OP, "PJSIP/op1")
    assert float(until) > armed.clock()
    await armed.bus.execute(SetPresence(operator_id=OP, presence=Presence.AWAY))
    await armed.voice.idle()
    assert armed_value(armed) == ""


async def test_without_ring_on_offer_nothing_is_armed(tmp_path: Path) -> None:
    line = await make_line(tmp_path, operator_id=OP)
    try:
        assert not line.control.named("set_globals")
    finally:
        await line.voice.stop()


async def test_an_armed_ring_confirmed_by_the_offer_is_the_ring(armed: Line) -> None:
    contact_id = await announce(armed)
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.RINGING and call.operator_id == OP
    # the dialplan emptied the arm; contact does not arm the same, still unconfirmed, phone
    assert armed_value(armed) == ""
    await leg_rings(armed)
    assert "call.ringing" in armed.names()
    await offer(armed)
    assert await armed.state(contact_id) is ContactState.CONNECTED  # ring on offer: accepted
    assert not armed.control.named("ring")  # contact originated nothing: it already rang
    await leg_answers(armed)
    assert armed.control.named("connect") == [(CALLER_UID, LEG)]


async def test_an_armed_phone_answered_before_the_offer_is_connected_at_the_offer(
    armed: Line,
) -> None:
    contact_id = await announce(armed)
    await leg_rings(armed)
    await leg_answers(armed)
    assert not armed.control.named("connect")  # the queue has not offered it yet
    await offer(armed)
    assert armed.control.named("connect") == [(CALLER_UID, LEG)]
    assert await armed.state(contact_id) is ContactState.CONNECTED


async def test_the_queue_offering_someone_else_stops_the_armed_phone(armed: Line) -> None:
    await armed.operators.add(
        Operator(id=OTHER, username="other", display_name="Other", endpoint="PJSIP/op2"), "x"
    )
    contact_id = await announce(armed)
    await leg_rings(armed)
    # meanwhile the armed operator stepped away and another became ready
    await armed.bus.execute(SetPresence(operator_id=OP, presence=Presence.AWAY))
    await armed.bus.execute(SetPresence(operator_id=OTHER, presence=Presence.READY))
    await offer(armed)
    assert ("hangup", (LEG,)) in armed.control.actions
    (endpoint, leg, _) = armed.control.named("ring")[-1]
    assert endpoint == "PJSIP/op2"
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.operator_id == OTHER and call.operator_leg == leg


async def test_an_armed_leg_announced_after_the_queue_chose_another_is_hung_up(
    armed: Line,
) -> None:
    await armed.operators.add(
        Operator(id=OTHER, username="other", display_name="Other", endpoint="PJSIP/op2"), "x"
    )
    await announce(armed)
    await armed.bus.execute(SetPresence(operator_id=OP, presence=Presence.AWAY))
    await armed.bus.execute(SetPresence(operator_id=OTHER, presence=Presence.READY))
    await offer(armed)
    await leg_rings(armed)  # its announcement comes late
    assert ("hangup", (LEG,)) in armed.control.actions


async def test_an_armed_ring_nobody_confirms_stops_and_the_caller_keeps_waiting(
    armed: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(armed_module, "ARMED_CONFIRM_S", 0.01)
    contact_id = await announce(armed)
    await leg_rings(armed)
    await armed.bus.execute(SetPresence(operator_id=OP, presence=Presence.AWAY))
    await offer(armed)  # nobody ready: no offer
    await asyncio.sleep(0.05)
    await armed.voice.idle()
    assert ("hangup", (LEG,)) in armed.control.actions
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING and call.operator_id is None
    assert await armed.state(contact_id) is ContactState.QUEUED
    assert not armed.control.named("hold")  # the caller never left holding


async def test_the_caller_hanging_up_while_the_armed_phone_rings_releases_it(
    armed: Line,
) -> None:
    contact_id = await announce(armed)
    await leg_rings(armed)
    await armed.signal(Event="Hangup", Uniqueid=CALLER_UID, Channel=CALLER_CHANNEL, Cause="16")
    assert ("hangup", (LEG,)) in armed.control.actions
    assert await armed.state(contact_id) is ContactState.ABANDONED


async def test_an_armed_leg_whose_call_is_never_announced_is_hung_up(
    armed: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(armed_module, "ARMED_CONFIRM_S", 0.01)
    await leg_rings(armed)
    assert not armed.control.named("hangup")  # its ContactCall may still be on its way
    await asyncio.sleep(0.05)
    await armed.voice.idle()
    assert ("hangup", (LEG,)) in armed.control.actions


async def test_the_leg_announced_before_its_call_is_the_calls_ringing_phone(
    armed: Line,
) -> None:
    """The dialplan rings the armed phone before it announces the call (the real order)."""
    await leg_rings(armed)
    contact_id = await announce(armed)
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.RINGING and call.operator_leg == LEG
    assert "call.ringing" in armed.names()
    await offer(armed)
    assert not armed.control.named("ring") and not armed.control.named("hangup")
    await leg_answers(armed)
    assert armed.control.named("connect") == [(CALLER_UID, LEG)]


async def test_an_armed_phone_failing_before_its_call_is_announced_leaves_the_call_waiting(
    armed: Line,
) -> None:
    await leg_rings(armed)
    await armed.signal(Event="Hangup", Uniqueid=LEG, Channel="PJSIP/op1-00000001", Cause="21")
    contact_id = await announce(armed)
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING and call.operator_id is None
    await offer(armed)  # the queue offers it as usual: contact rings the phone itself
    (endpoint, leg, _) = armed.control.named("ring")[-1]
    assert endpoint == "PJSIP/op1" and leg != LEG


async def test_an_armed_phone_that_never_rang_returns_the_call(
    armed: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asterisk could not make the armed phone's channel: no leg, no hangup, ever."""
    monkeypatch.setattr(armed_module, "ARMED_CONFIRM_S", 0.01)
    contact_id = await announce(armed)
    await offer(armed)
    assert await armed.state(contact_id) is ContactState.CONNECTED
    await asyncio.sleep(0.05)
    await armed.voice.idle()
    assert await armed.state(contact_id) is ContactState.QUEUED
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING


async def test_the_armed_phone_not_answering_returns_the_call_like_any_missed_offer(
    armed: Line,
) -> None:
    contact_id = await announce(armed)
    await leg_rings(armed)
    await offer(armed)
    queued_at = (await armed.contacts.get(contact_id)).queued_at
    # Asterisk's ring timeout: the leg ends unanswered
    await armed.signal(Event="Hangup", Uniqueid=LEG, Channel="PJSIP/op1-00000001", Cause="19")
    contact = await armed.contacts.get(contact_id)
    assert contact.state is ContactState.QUEUED and contact.queued_at == queued_at
    assert armed.operators.presence[OP] is Presence.AWAY


async def test_a_hostile_armed_header_is_ignored(armed: Line) -> None:
    contact_id = await announce(armed, armed_for="op1,Dial(PJSIP/x)")
    call = armed.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING and call.operator_id is None


async def test_a_second_caller_taking_the_same_arm_waits_and_its_leg_is_hung_up(
    armed: Line,
) -> None:
    first = await announce(armed)
    await leg_rings(armed)
    second_uid = "1795299225.9"
    await armed.signal(
        Event="UserEvent",
        UserEvent="ContactCall",
        Uniqueid=second_uid,
        Channel="PJSIP/sipp-00000009",
        Endpoint="sipp",
        CallerNum="+77011234568",
        Kind="voice",
        Armed=OP,
    )
    second = armed.voice.live_calls()[-1]
    assert second.uniqueid == second_uid
    assert second.state == CallState.HOLDING and second.operator_id is None
    await armed.signal(
        Event="UserEvent", UserEvent="ContactArmedRing", Uniqueid="1795299225.10", Caller=second_uid
    )
    assert ("hangup", ("1795299225.10",)) in armed.control.actions
    call = armed.voice.live_call(first)
    assert call is not None and call.operator_leg == LEG and call.state == CallState.RINGING


async def test_languages_chosen_together_are_stored_in_one_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The menus' answers are bookkeeping: a burst of them is one commit, not one each."""
    monkeypatch.setattr(intake_module, "LANGUAGE_WRITE_S", 0.05)
    line = await make_line(tmp_path, operator_id=OP)
    writes: list[dict[str, object]] = []
    store = line.calls.set_contact_languages

    async def counted(languages: dict[str, object]) -> None:
        writes.append(dict(languages))
        await store(languages)  # type: ignore[arg-type]

    line.calls.set_contact_languages = counted  # type: ignore[method-assign,assignment]
    try:
        first = await announce(line, None)
        uids = [CALLER_UID]
        await line.signal(
            Event="UserEvent", UserEvent="ContactCall", Uniqueid="1795299225.5",
            Channel="PJSIP/sipp-00000005", Endpoint="sipp", CallerNum="+77011234569",
            Kind="voice",
        )  # fmt: skip
        second = line.voice.live_calls()[-1].contact_id
        uids.append("1795299225.5")
        for uid, language in zip(uids, ("kk", "ru"), strict=True):
            line.voice.on_ami_event(
                {"Event": "UserEvent", "UserEvent": "ContactLanguage", "Uniqueid": uid,
                 "Language": language}
            )  # fmt: skip
        await line.voice.idle()
        assert "call.language_chosen" in line.names()  # shown at once
        await asyncio.sleep(0.1)
        assert len(writes) == 1 and set(writes[0]) == {first, second}
        assert line.calls.languages[first].value == "kk"
    finally:
        await line.voice.stop()
