"""Supervisors on a live call: listen, whisper (coaching the operator) and barge, each checked by
who hears whom. The caller plays 600 Hz, the operator 1000 Hz, the supervisor 1500 Hz; every
party records what reaches it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.model import Role
from tests.integration.test_voice_harness import (
    Parties,
    Party,
    Pbx,
    VoiceCenter,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx

pytestmark = pytest.mark.timeout(120)

CALLER, OPERATOR, SUPERVISOR = 600.0, 1000.0, 1500.0
HEARD, SILENT = 0.15, 0.02  # shares of the received power


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(voice_settings(tmp_path, pbx))
    yield center
    await center.center.client.close()


def _shares(party: Party, since: float) -> dict[float, float]:
    return {hz: round(party.rtp.hears(hz, since), 3) for hz in (CALLER, OPERATOR, SUPERVISOR)}


async def test_listen_whisper_and_barge_give_the_right_who_hears_whom(
    vc: VoiceCenter, parties: Parties
) -> None:
    op_phone = await parties.phone(OPERATOR)
    sup_phone = await parties.phone(SUPERVISOR, calls=3)
    op = await vc.operator("spied-on", op_phone)
    boss = await vc.operator("boss", sup_phone, role=Role.SUPERVISOR)
    await op.ready()
    caller = await parties.caller(CALLER, hold_ms=30000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)

    # an operator may not spy
    await op.post(f"/api/v1/calls/{contact_id}/spy", {"mode": "listen"}, status=403)

    expectations = {
        # mode: (caller hears the supervisor, operator hears the supervisor)
        "listen": (False, False),
        "whisper": (False, True),
        "barge": (True, True),
    }
    report = {}
    for mode, (caller_hears, operator_hears) in expectations.items():
        spied = await boss.post(f"/api/v1/calls/{contact_id}/spy", {"mode": mode}, status=202)
        start = time.monotonic()
        await vc.until(
            lambda start=start: sup_phone.rtp.heard(start).size > 4000,  # type: ignore[misc]
            within_s=10,
            what=f"{mode}: audio at the supervisor",
        )
        t0 = time.monotonic()
        await asyncio.sleep(1.2)
        heard = {
            "supervisor": _shares(sup_phone, t0),
            "caller": _shares(caller, t0),
            "operator": _shares(op_phone, t0),
        }
        report[mode] = heard
        # the supervisor always hears both sides
        assert heard["supervisor"][CALLER] > HEARD, (mode, heard)
        assert heard["supervisor"][OPERATOR] > HEARD, (mode, heard)
        # the conversation itself goes on
        assert heard["caller"][OPERATOR] > HEARD, (mode, heard)
        assert heard["operator"][CALLER] > HEARD, (mode, heard)
        assert (heard["caller"][SUPERVISOR] > HEARD) is caller_hears, (mode, heard)
        assert (heard["caller"][SUPERVISOR] < SILENT) is not caller_hears, (mode, heard)
        assert (heard["operator"][SUPERVISOR] > HEARD) is operator_hears, (mode, heard)
        assert (heard["operator"][SUPERVISOR] < SILENT) is not operator_hears, (mode, heard)
        await vc.telephony.ami.action({"Action": "Hangup", "Channel": spied["leg"]})
        await asyncio.sleep(0.3)
    print("\nwho hears whom (share of received power):")
    for mode, heard in report.items():
        print(f"  {mode:8} {heard}")

    audit = await vc.center.container.db.audit.entries(subject=contact_id)
    audit.sort(key=lambda e: e.seq)
    spies = [(e.actor, e.details.get("mode")) for e in audit if e.action == "call.spy"]
    assert spies == [(boss.operator_id, m) for m in expectations]
    assert caller.sipp.proc.poll() is None  # the call went on throughout
    await op.close()
    await boss.close()
