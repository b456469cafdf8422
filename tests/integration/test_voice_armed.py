"""Ring on offer through the armed phone, on a real Asterisk with real sipp phones: contact
arms the ready operator's phone in Asterisk (CONTACT_ARMED), the dialplan rings it as the
call arrives (no Originate from contact), the queue's offer confirms it, and the call is
bridged with audio both ways; an armed phone that does not answer returns the call to its
place; an arm left behind by a dead contact lapses."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.model import ContactState
from contact.ports import CallState
from tests.integration.test_voice_harness import (
    Parties,
    Pbx,
    VoiceCenter,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.ports import free_udp_port

pytestmark = pytest.mark.timeout(120)
ASTERISK_UNIQUEID = re.compile(r"^[0-9]{9,}\.[0-9]+$")  # not one of contact's own hex ids


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(
        voice_settings(tmp_path, pbx, free_udp_port(), offer_timeout_s=4.0, ring_on_offer=True)
    )
    yield center
    await center.center.client.close()


async def armed_global(pbx: Pbx) -> str:
    out = await pbx.runner.cli("dialplan show globals")
    found = re.search(r"CONTACT_ARMED=(\S*)", out)
    return found.group(1) if found else ""


async def test_the_armed_phone_rings_from_the_dialplan_and_is_bridged(
    vc: VoiceCenter, parties: Parties, pbx: Pbx
) -> None:
    phone = await parties.phone(1000.0, answer_after_ms=300)
    op = await vc.operator("arman", phone)
    await op.ready()
    armed = await vc.until(lambda: armed_global(pbx), what="the operator's phone armed")
    assert armed.split("|")[1] == op.operator_id and armed.split("|")[2].startswith("PJSIP/")

    caller = await parties.caller(600.0, hold_ms=6000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.next_event("call.connected", within_s=10)
    call = vc.telephony.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.CONNECTED
    # the leg is Asterisk's own (the dialplan's Originate), not one contact originated
    assert call.operator_leg is not None and ASTERISK_UNIQUEID.match(call.operator_leg)
    assert (await vc.center.container.db.contacts.get(contact_id)).state is (ContactState.CONNECTED)
    # the operator is busy: nothing is armed while nobody else is ready
    assert await armed_global(pbx) == ""
    t0 = time.monotonic()
    await asyncio.sleep(1.5)
    assert phone.rtp.hears(600.0, t0 + 0.3) > 0.5
    assert caller.rtp.hears(1000.0, t0 + 0.3) > 0.5
    ended = await op.next_event("call.ended", within_s=10)
    assert ended["data"]["reason"] == "caller_hangup"
    assert await caller.sipp.done() == 0
    assert await phone.sipp.done() == 0
    await op.close()


async def test_an_armed_phone_not_answering_returns_the_call_to_its_place(
    vc: VoiceCenter, parties: Parties, pbx: Pbx
) -> None:
    phone = await parties.phone(answer_after_ms=None)  # rings until cancelled
    op = await vc.operator("sleepy", phone)
    await op.ready()
    await vc.until(lambda: armed_global(pbx), what="the operator's phone armed")
    caller = await parties.caller(hold_ms=20000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    before = await vc.center.container.db.contacts.get(contact_id)

    async def requeued() -> bool:
        contact = await vc.center.container.db.contacts.get(contact_id)
        return contact.state is ContactState.QUEUED

    # the ring time (the offer timeout, 4 s) passes: back in the queue, the operator away
    await vc.until(requeued, within_s=15, what="requeued")
    after = await vc.center.container.db.contacts.get(contact_id)
    assert after.queued_at == before.queued_at
    call = vc.telephony.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING and call.operator_leg is None
    assert await phone.sipp.done() == 0  # it saw the CANCEL
    assert caller.sipp.proc.poll() is None  # the caller still holds
    presences = await vc.center.container.db.operators.presences()
    assert presences[op.operator_id].value == "away"
    assert await armed_global(pbx) == ""
    await op.close()


async def test_a_lapsed_arm_rings_nobody(vc: VoiceCenter, parties: Parties, pbx: Pbx) -> None:
    """An arm whose time is up (contact died and stopped refreshing it) is not taken."""
    phone = await parties.phone(answer_after_ms=200)
    op = await vc.operator("lapsed", phone)
    await vc.telephony.voice.stop()  # contact's voice side gone: nobody refreshes the arm
    await vc.telephony.control.set_globals(
        {"CONTACT_ARMED": f"4|{op.operator_id}|PJSIP/sipp-op|{int(time.time()) - 1}"}
    )
    await parties.caller(hold_ms=3000)
    await asyncio.sleep(2.0)
    channels = await pbx.runner.cli("core show channels concise")
    assert "sipp-op" not in channels, channels  # the operator's phone never rang
    assert phone.sipp.proc.poll() is None  # and its sipp still waits for a call
    await op.close()
