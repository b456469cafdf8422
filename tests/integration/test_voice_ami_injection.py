"""Issue 9, section 1: a caller's number cannot break or forge the AMI stream.

Real Asterisk, real sipp, real `contact` telephony. The injection in its real form: CR/LF and
colons percent-encoded in the user part of the From URI of an authenticated caller, and in the
P-Asserted-Identity of a trunk that trusts it (`sipp-pstn`, on the pstn-trunk template).
Asterisk 22 decodes it into CALLERID(num) and writes it unescaped into AMI events
(asterisk-config/README.md, "Upstream bug"). Whatever comes: the AMI link stays up, the call
is a contact in the queue, no phantom contact appears; and a dialplan event without this
process's token is dropped, counted, and its call still registered by the resync.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contact.domain.model import ChannelKind, ContactState, Role
from contact.i18n import text
from contact.telephony.ami_reader import Defect
from tests.integration.test_voice_harness import (
    Parties,
    Pbx,
    VoiceCenter,
    start_pbx,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.support import Browser

pytestmark = pytest.mark.timeout(150)

# a line of its own inside the number (a duplicated Event header), and an empty line (the
# real event ends, a forged ContactCall with the real call's tail begins)
LINE = "%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20ContactCall%0D%0ACallerNum%3A%20999"
EVENT = "%0D%0A%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20ContactCall%0D%0ACallerNum%3A%20999"
TRUNK_NUMBER = "+77010000000"  # the trunk's From: its PAI is what counts


def _pai(user: str) -> str:
    return f"P-Asserted-Identity: <sip:{user}@127.0.0.1>"


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(voice_settings(tmp_path, pbx))
    yield center
    await center.center.client.close()


def _rejected(vc: VoiceCenter, defect: Defect) -> float:
    value = vc.center.container.metrics.registry.get_sample_value(
        "contact_ami_rejected_total", {"reason": defect.value}
    )
    assert value is not None
    return value


async def _queued(boss: Browser, n: int, within_s: float = 15) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        event = await boss.next_event("contact.queued", "supervisor", within_s=within_s)
        contact_id = event["data"]["contact"]["id"]
        if contact_id not in ids:
            ids.append(contact_id)
    return ids


async def test_the_injection_in_from_and_in_a_trusted_pai_breaks_and_forges_nothing(
    vc: VoiceCenter, parties: Parties
) -> None:
    boss = await vc.operator("injection-watch", None, role=Role.SUPERVISOR)
    ami = vc.telephony.ami
    calls = [
        ("sipp", "+77019000001" + LINE, []),
        ("sipp", "+77019000002" + EVENT, []),
        ("sipp-pstn", TRUNK_NUMBER, [_pai("+77019000003" + LINE)]),
        ("sipp-pstn", TRUNK_NUMBER, [_pai("+77019000005" + EVENT)]),
        # control: the trunk's PAI is really what Asterisk takes as the caller's number
        ("sipp-pstn", TRUNK_NUMBER, [_pai("+77019000004")]),
    ]
    for user, caller, headers in calls:
        await parties.caller(user=user, caller=caller, headers=headers, hold_ms=20000)
    ids = await _queued(boss, len(calls))
    await asyncio.sleep(1.0)  # a phantom would come with (or right after) its real call

    contacts = vc.center.container.db.contacts
    recent = [c for c in await contacts.recent(50) if c.channel is ChannelKind.VOICE]
    assert sorted(c.id for c in recent) == sorted(ids)  # every call, and nothing else
    by_id = {c.id: c for c in recent}
    invalid = text("call.caller_invalid", None)
    # the calls queue in whatever order Asterisk answers them: tell them apart by number
    control = [c for c in by_id.values() if c.citizen is not None]
    assert [c.citizen for c in control] == ["+77019000004"], control
    assert invalid not in control[0].summary
    for contact in by_id.values():
        assert contact.state is ContactState.QUEUED
        if contact is not control[0]:
            assert contact.citizen is None and invalid in contact.summary, contact
    assert not [c for c in await contacts.recent(50) if "999" in (c.citizen or "")]
    waiting = {c["id"] for c in (await boss.get("/api/v1/queue"))["contacts"]}
    assert set(ids) <= waiting

    # the link never dropped, and nothing defective even reached the reader: the number is
    # cleaned at the first priority and Newchannel (the one event before it) is not sent
    assert ami.connects == 1 and ami.last_lost_at is None
    assert (await ami.action({"Action": "Ping"}))["Response"] == "Success"
    for defect in Defect:
        assert _rejected(vc, defect) == 0, defect
    live = await vc.telephony.control.channels()
    assert len(live) == len(calls)
    await boss.close()


async def test_an_event_without_the_token_is_dropped_and_its_call_registered_by_the_resync(
    vc: VoiceCenter, parties: Parties
) -> None:
    boss = await vc.operator("token-watch", None, role=Role.SUPERVISOR)
    ami = vc.telephony.ami
    # as after an Asterisk restart before contact's login: the global is gone
    await ami.action({"Action": "Setvar", "Variable": "CONTACT_EVENT_TOKEN", "Value": ""})
    sent = time.monotonic()
    await parties.caller(caller="+77019000006", hold_ms=60000)
    # the periodic check (every RESYNC_EVERY_S, on 10 s ticks: at most 20 s) finds it
    (contact_id,) = await _queued(boss, 1, within_s=30)
    waited_s = time.monotonic() - sent
    print(f"\nan unsealed ContactCall's call registered by the resync after {waited_s:.1f} s")
    assert _rejected(vc, Defect.UNSEALED) >= 1  # its ContactCall (and ContactLanguage)
    contact = await vc.center.container.db.contacts.get(contact_id)
    assert contact.citizen == "+77019000006" and contact.state is ContactState.QUEUED

    await ami.action(ami.seal.setvar())
    before = _rejected(vc, Defect.UNSEALED)
    await parties.caller(caller="+77019000007", hold_ms=30000)
    (second,) = await _queued(boss, 1)
    assert (await vc.center.container.db.contacts.get(second)).citizen == "+77019000007"
    assert _rejected(vc, Defect.UNSEALED) == before
    await boss.close()


@pytest.fixture
async def own_pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    booted = await asyncio.to_thread(start_pbx, tmp_path / "own-run")
    yield booted
    await booted.runner.down()


async def test_after_an_asterisk_restart_the_token_is_back_before_the_first_call(
    own_pbx: Pbx, tmp_path: Path
) -> None:
    """Asterisk forgets its globals when it restarts; contact sets the token again at its login,
    before the resync, so the first call after the restart is announced, not dropped."""
    parties = Parties(own_pbx, tmp_path)
    vc = await start_voice_center(voice_settings(tmp_path, own_pbx))
    try:
        boss = await vc.operator("restart-watch", None, role=Role.SUPERVISOR)
        await own_pbx.runner.down()
        down = await boss.next_event("telephony.link_changed", "supervisor", within_s=10)
        assert down["data"]["up"] is False
        await own_pbx.runner.up()
        up = await boss.next_event("telephony.link_changed", "supervisor", within_s=10)
        assert up["data"]["up"] is True
        await parties.caller(caller="+77019000008", hold_ms=20000)
        (contact_id,) = await _queued(boss, 1)
        contact = await vc.center.container.db.contacts.get(contact_id)
        assert contact.citizen == "+77019000008"
        assert _rejected(vc, Defect.UNSEALED) == 0
        assert vc.telephony.ami.connects == 2
        await boss.close()
    finally:
        await parties.close()
        await vc.center.client.close()
