"""102 calls as contacts, end to end on a real Asterisk with real sipp phones: screen pop on the
operator's WebSocket, accept → the operator's phone rings and is bridged, audio both ways,
hangup → wrap-up, recording stored and playable; no answer → back in the queue; an operator's
phone failing → the caller back on hold and in the queue; abandoned → callback task → callback
through the trunk; transfers to 103 with the incident id; a location update during the call;
a kiosk's SOS call."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from contact.domain.commands import Close
from contact.domain.model import ChannelKind, ContactState, Role
from contact.ports import CallState
from tests.integration.test_voice_harness import (
    CALLER,
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
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def trunk_port() -> int:
    return free_udp_port()


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path, trunk_port: int) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(
        voice_settings(tmp_path, pbx, trunk_port, offer_timeout_s=4.0)
    )
    yield center
    await center.center.client.close()


async def _contact_state(vc: VoiceCenter, contact_id: str) -> ContactState:
    return (await vc.center.container.db.contacts.get(contact_id)).state


async def test_a_call_pops_up_is_answered_talks_both_ways_and_is_recorded(
    vc: VoiceCenter, parties: Parties
) -> None:
    phone = await parties.phone(1000.0)
    op = await vc.operator("aigerim", phone)
    await op.ready()
    caller = await parties.caller(
        600.0, headers=["X-Location: lat=43.238;lon=76.945;acc=12"], hold_ms=7000
    )
    queued = await op.next_event("contact.queued", "queue", within_s=10)
    contact_id = queued["data"]["contact"]["id"]
    assert queued["data"]["contact"]["channel"] == "voice"
    offer = await op.next_offer()
    assert offer["data"]["contact"]["citizen"] == CALLER
    assert offer["data"]["contact"]["location"]["lat"] == 43.238
    assert offer["data"]["contact"]["location"]["source"] == "sip_header"

    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.ringing", within_s=5)
    await op.next_event("call.connected", within_s=10)
    t0 = time.monotonic()
    await asyncio.sleep(1.5)
    # audio flows both ways: each side hears the other's tone, not its own
    assert phone.rtp.hears(600.0, t0 + 0.3) > 0.5
    assert caller.rtp.hears(1000.0, t0 + 0.3) > 0.5
    assert caller.rtp.hears(600.0, t0 + 0.3) < 0.05

    ended = await op.next_event("call.ended", within_s=10)
    assert ended["data"]["reason"] == "caller_hangup"
    assert await _contact_state(vc, contact_id) is ContactState.WRAP_UP
    assert await caller.sipp.done() == 0
    assert await phone.sipp.done() == 0

    t = vc.telephony
    recordings = await vc.until(
        lambda: _stored(t, contact_id), within_s=10, what="the recording stored"
    )
    assert recordings[0].size_bytes > 16000  # more than a second of audio
    body = await _get_bytes(op, f"/api/v1/recordings/{recordings[0].id}")
    assert body[:4] == b"RIFF"
    actions = [e.action for e in await vc.center.container.db.audit.entries(subject=contact_id)]
    assert "recording.play" in actions and "call.connected" in actions
    await op.post(f"/api/v1/contacts/{contact_id}/close", {"disposition": "advised"})
    await op.close()


async def _stored(t: object, contact_id: str) -> Sequence[object] | None:
    from contact.telephony.service import Telephony

    assert isinstance(t, Telephony)
    found = await t.calls.recordings(contact_id)
    return found if found and found[0].size_bytes else None


async def _get_bytes(browser: object, path: str) -> bytes:
    from tests.support import Browser

    assert isinstance(browser, Browser)
    async with browser.session.get(path) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"] == "audio/wav"
        return await r.read()


@pytest.mark.parametrize("hers", ["wrap_up", "closed"])
async def test_a_close_racing_the_callers_hangup_leaves_the_operators_close_standing(
    vc: VoiceCenter, parties: Parties, caplog: pytest.LogCaptureFixture, hers: str
) -> None:
    """The operator closes the contact (to wrap-up, or for good) just as the caller's BYE
    arrives: the hang-up read the contact as connected, then found it moved on. Her close
    stands, and the call's end is still stored and pushed (it failed with "a closed contact
    cannot be closed" and was handled as a failure; a wrap-up was closed for good)."""
    phone = await parties.phone(1000.0)
    op = await vc.operator("dana", phone)
    await op.ready()
    await parties.caller(hold_ms=4000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)

    bus = vc.center.container.bus
    execute = bus.execute

    async def operator_first(command: Any) -> Any:
        # her close commits between the hang-up's read of the contact and its own close
        if isinstance(command, Close) and command.disposition == "caller_hangup":
            await execute(replace(command, disposition="advised", wrap_up=hers == "wrap_up"))
        return await execute(command)

    with caplog.at_level(logging.INFO, logger="contact"):
        bus.execute = operator_first  # type: ignore[method-assign]
        try:
            ended = await op.next_event("call.ended", within_s=15)
        finally:
            del bus.execute  # the class's method again
    assert ended["data"]["reason"] == "caller_hangup"
    contact = await vc.center.container.db.contacts.get(contact_id)
    assert contact.state.value == hers and contact.disposition == "advised"
    (call,) = await vc.telephony.calls.for_contact(contact_id)
    assert call.state == CallState.ENDED and call.end_reason == "caller_hangup"
    failed = [r for r in caplog.records if "failed" in r.getMessage()]
    assert not failed, failed[0].getMessage()
    if hers == "wrap_up":
        await op.post(f"/api/v1/contacts/{contact_id}/close", {"disposition": "advised"})
    await op.close()


async def test_an_unanswered_operator_phone_returns_the_call_to_its_place(
    vc: VoiceCenter, parties: Parties
) -> None:
    phone = await parties.phone(answer_after_ms=None)  # rings until cancelled
    op = await vc.operator("sleepy", phone)
    await op.ready()
    caller = await parties.caller(hold_ms=20000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    before = await vc.center.container.db.contacts.get(contact_id)
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.ringing", within_s=5)
    # the offer timeout (4 s) passes: back in the queue at its place, the operator away
    await vc.until(lambda: _is(vc, contact_id, ContactState.QUEUED), within_s=12, what="requeued")
    after = await vc.center.container.db.contacts.get(contact_id)
    assert after.queued_at == before.queued_at
    store = vc.center.container.store

    async def waiting() -> bool:
        return [e.contact_id for e in await store.waiting()] == [contact_id]

    await vc.until(waiting, what="in the queue store")
    call = vc.telephony.voice.live_call(contact_id)
    assert call is not None and call.state == CallState.HOLDING
    assert await phone.sipp.done() == 0  # it saw the CANCEL
    assert caller.sipp.proc.poll() is None  # the caller still holds
    presences = await vc.center.container.db.operators.presences()
    assert presences[op.operator_id].value == "away"
    await op.close()


async def _is(vc: VoiceCenter, contact_id: str, state: ContactState) -> bool:
    return await _contact_state(vc, contact_id) is state


async def test_an_abandoned_call_becomes_a_callback_that_reaches_the_citizen(
    vc: VoiceCenter, parties: Parties, trunk_port: int
) -> None:
    caller = await parties.caller(hold_ms=1500)
    await caller.sipp.done()
    contacts = vc.center.container.db.contacts
    abandoned = await vc.until(lambda: _abandoned(vc), within_s=10, what="the abandoned contact")
    assert abandoned.citizen == CALLER
    task = await vc.until(lambda: _callback_task(vc), within_s=10, what="the callback task")
    assert task.citizen == CALLER and task.state is ContactState.QUEUED

    # an operator takes the task: one click, their phone rings, then the citizen's
    trunk = await parties.trunk(trunk_port, 700.0)
    phone = await parties.phone(1000.0)
    op = await vc.operator("callback-op", phone)
    await op.ready()
    offer = await op.next_offer(within_s=10)
    assert offer["data"]["contact"]["id"] == task.id
    await op.post(f"/api/v1/contacts/{task.id}/accept")
    connected = await op.next_event("call.connected", within_s=15)
    assert connected["data"]["contact_id"] == task.id
    invites = trunk.sipp.received("INVITE")
    assert invites and f"INVITE sip:{CALLER}@127.0.0.1:{trunk_port}" in invites[0]
    t0 = time.monotonic()
    await asyncio.sleep(1.2)
    assert trunk.rtp.hears(1000.0, t0 + 0.2) > 0.5
    assert phone.rtp.hears(700.0, t0 + 0.2) > 0.5
    await op.post(f"/api/v1/calls/{task.id}/hangup")
    await op.next_event("call.ended", within_s=10)
    assert await contacts.get(task.id) is not None
    assert (await contacts.get(task.id)).state is ContactState.WRAP_UP
    await op.close()


async def _abandoned(vc: VoiceCenter) -> object:
    for c in await vc.center.container.db.contacts.recent(20):
        if c.channel is ChannelKind.VOICE and c.state is ContactState.ABANDONED:
            return c
    return None


async def _callback_task(vc: VoiceCenter) -> object:
    for c in await vc.center.container.db.contacts.recent(20):
        if c.channel is ChannelKind.CALLBACK:
            return c
    return None


async def test_blind_transfer_to_103_carries_the_incident_id(
    vc: VoiceCenter, parties: Parties, trunk_port: int
) -> None:
    trunk = await parties.trunk(trunk_port, 1300.0)
    phone = await parties.phone(1000.0)
    op = await vc.operator("transfer-op", phone)
    await op.ready()
    caller = await parties.caller(600.0, hold_ms=8000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    await op.post(f"/api/v1/calls/{contact_id}/transfer", {"target": "103", "mode": "blind"})
    done = await op.next_event("call.transferred", within_s=5)
    while done["data"]["outcome"] != "completed":
        done = await op.next_event("call.transferred", within_s=10)
    invite = trunk.sipp.received("INVITE")[0]
    assert f"INVITE sip:103@127.0.0.1:{trunk_port}" in invite
    assert f"X-Incident-Id: {contact_id}" in invite  # no incident yet: the contact's id
    t0 = time.monotonic()
    await asyncio.sleep(1.0)
    assert trunk.rtp.hears(600.0, t0 + 0.2) > 0.5
    assert caller.rtp.hears(1300.0, t0 + 0.2) > 0.5
    assert await _contact_state(vc, contact_id) is ContactState.WRAP_UP
    await op.close()


async def test_attended_transfer_consults_first_then_completes(
    vc: VoiceCenter, parties: Parties, trunk_port: int
) -> None:
    trunk = await parties.trunk(trunk_port, 1300.0)
    phone = await parties.phone(1000.0)
    op = await vc.operator("consult-op", phone)
    await op.ready()
    caller = await parties.caller(600.0, hold_ms=10000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    await op.post(f"/api/v1/calls/{contact_id}/transfer", {"target": "103", "mode": "attended"})
    consulting = await op.next_event("call.transferred", within_s=5)
    while consulting["data"]["outcome"] != "consulting":
        consulting = await op.next_event("call.transferred", within_s=10)
    t0 = time.monotonic()
    await asyncio.sleep(1.0)
    # the operator talks to 103; the caller hears neither (hold music)
    assert phone.rtp.hears(1300.0, t0 + 0.2) > 0.5
    assert trunk.rtp.hears(1000.0, t0 + 0.2) > 0.5
    assert caller.rtp.hears(1300.0, t0 + 0.2) < 0.05
    await op.post(f"/api/v1/calls/{contact_id}/transfer/complete")
    done = await op.next_event("call.transferred", within_s=5)
    assert done["data"]["outcome"] == "completed"
    assert "X-Incident-Id: " in trunk.sipp.received("INVITE")[0]
    t1 = time.monotonic()
    await asyncio.sleep(1.0)
    assert trunk.rtp.hears(600.0, t1 + 0.2) > 0.5
    assert caller.rtp.hears(1300.0, t1 + 0.2) > 0.5
    assert await phone.sipp.done() == 0  # the operator's phone was released
    await op.close()


async def test_a_failing_operator_phone_puts_the_caller_back_on_hold_and_in_the_queue(
    vc: VoiceCenter, parties: Parties
) -> None:
    phone = await parties.phone(1000.0)
    op = await vc.operator("flaky", phone)
    await op.ready()
    caller = await parties.caller(600.0, hold_ms=15000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    call = vc.telephony.voice.live_call(contact_id)
    assert call is not None and call.operator_leg is not None
    # the phone's network fails (not the operator's own BYE: cause 38)
    await vc.telephony.ami.action({"Action": "Hangup", "Channel": call.operator_leg, "Cause": "38"})
    held = await op.next_event("call.held", within_s=5)
    assert held["data"]["reason"] == "fail_safe"
    await vc.until(lambda: _is(vc, contact_id, ContactState.QUEUED), what="requeued")
    t0 = time.monotonic()
    await asyncio.sleep(1.0)
    assert caller.sipp.proc.poll() is None  # never dropped
    assert caller.rtp.hears(1000.0, t0) < 0.05  # hold music now, not the operator
    assert len(caller.rtp.heard(t0)) > 4000  # but audio: the hold, not silence
    await op.close()


async def test_a_location_update_during_the_call_moves_the_contact(
    vc: VoiceCenter, parties: Parties, pbx: Pbx
) -> None:
    boss = await vc.operator("watcher", None, role=Role.SUPERVISOR)
    caller = await parties.caller(hold_ms=8000)
    queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
    contact_id = queued["data"]["contact"]["id"]
    async with boss.session.ws_connect("/ws") as ws:
        await ws.send_json({"op": "subscribe", "topic": f"contact:{contact_id}"})
        await _send_location(parties, pbx, "lat=43.25;lon=76.95;acc=8")
        async with asyncio.timeout(10):
            while True:
                msg = await ws.receive_json()
                if msg.get("data", {}).get("type") == "contact.located":
                    break
    located = msg["data"]["location"]
    assert (located["lat"], located["lon"], located["accuracy_m"]) == (43.25, 76.95, 8.0)
    contact = await vc.center.container.db.contacts.get(contact_id)
    assert contact.location is not None and contact.location.lat == 43.25
    assert caller.sipp.proc.poll() is None
    await boss.close()


async def _send_location(parties: Parties, pbx: Pbx, location: str) -> None:
    """The citizen app's SIP MESSAGE with its position, authenticated as its endpoint."""
    password = pbx.runner.sip_password("sipp-auth")
    message = (
        "MESSAGE sip:102@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "From: <sip:sipp@[local_ip]:[local_port]>;tag=[pid]m[call_number]\n"
        "To: <sip:102@[remote_ip]:[remote_port]>\nCall-ID: [call_id]\nCSeq: {cseq} MESSAGE\n"
        "Max-Forwards: 70\n{auth}X-Location: {location}\nContent-Type: text/plain\n"
        "Content-Length: [len]\n\nposition\n"
    )
    scenario = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="location">\n'
        f'<send retrans="500"><![CDATA[\n{message.format(cseq=1, auth="", location=location)}'
        ']]></send>\n<recv response="401" auth="true"/>\n'
        '<send retrans="500"><![CDATA[\n'
        + message.format(
            cseq=2,
            auth=f"[authentication username=sipp password={password}]\n",
            location=location,
        )
        + ']]></send>\n<recv response="202"/>\n</scenario>\n'
    )
    target = f"127.0.0.1:{pbx.settings.sip_port}"
    sipp = parties._run("message", scenario, [target, "-m", "1", "-timeout", "10"], free_udp_port())
    assert await sipp.done() == 0, sipp.out.read_text()


async def test_a_kiosk_calling_102_is_an_sos_contact_at_the_kiosks_place(
    vc: VoiceCenter, parties: Parties
) -> None:
    boss = await vc.operator("kiosk-watcher", None, role=Role.SUPERVISOR)
    await parties.caller(
        user="kiosk-park1", caller="kiosk-park1", headers=["X-Location: lat=1;lon=2"], hold_ms=3000
    )
    queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
    contact = await vc.center.container.db.contacts.get(queued["data"]["contact"]["id"])
    assert contact.channel is ChannelKind.KIOSK
    assert contact.priority.name == "SOS"
    assert contact.location is not None
    assert (contact.location.lat, contact.location.lon) == (43.238, 76.945)
    assert contact.location.source.value == "fixed"
    assert contact.citizen == "kiosk-park1"
    await boss.close()


async def test_recordings_past_retention_are_purged_by_the_cli_and_audited(
    vc: VoiceCenter, parties: Parties, pbx: Pbx, tmp_path: Path
) -> None:
    boss = await vc.operator("retention-boss", None, role=Role.SUPERVISOR)
    # waiting callers are recorded too with this switch of the dialplan (off by default)
    record_waiting = {"Action": "Setvar", "Variable": "CONTACT_RECORD_WAITING"}
    await vc.telephony.ami.action({**record_waiting, "Value": "yes"})
    try:
        caller = await parties.caller(hold_ms=1500)
    finally:
        await asyncio.sleep(0.5)
        await vc.telephony.ami.action({**record_waiting, "Value": "no"})
    queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
    contact_id = queued["data"]["contact"]["id"]
    await caller.sipp.done()
    t = vc.telephony
    (recording,) = await vc.until(lambda: _stored(t, contact_id), what="the recording")
    path = t.recordings.file(recording)
    assert path.is_file() and path.is_relative_to(pbx.settings.effective_recording_dir)
    body = await _get_bytes(boss, f"/api/v1/recordings/{recording.id}")
    assert len(body) == recording.size_bytes
    # two days old, with a retention of one day
    recording.started_at -= timedelta(days=2)
    await t.calls.save_recording(recording)
    env = {
        **os.environ,
        "CONTACT_DATABASE_URL": vc.center.container.settings.database.url,
        "CONTACT_ASTERISK_RUN_DIR": str(pbx.settings.effective_run_dir),
        "CONTACT_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "contact", "retention", "purge", "--days", "1"]
    done = await asyncio.to_thread(
        subprocess.run, argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "purged 1 recording(s) older than 1 days" in done.stdout
    assert not path.exists()
    purged = await t.calls.recording(recording.id)
    assert purged is not None and purged.purged_at is not None
    async with boss.session.get(f"/api/v1/recordings/{recording.id}") as r:
        assert r.status == 410
    entries = await vc.center.container.db.audit.entries(subject=contact_id)
    assert [e.actor for e in entries if e.action == "recording.purge"] == ["system:retention"]
    assert not await vc.center.container.db.audit.verify()
    await boss.close()


async def test_every_telephony_route_is_in_the_openapi_document(vc: VoiceCenter) -> None:
    async with vc.center.client.get("/api/v1/openapi.json") as r:
        served = await r.json()
    validate(served)
    app = vc.center.client.app
    assert app is not None
    telephony = [
        res
        for res in app.router.resources()
        if "/calls" in res.canonical
        or "recording" in (res.canonical)
        or "telephony" in res.canonical
    ]
    assert len(telephony) >= 12
    for resource in telephony:
        assert resource.canonical in served["paths"], resource.canonical
        for route in resource:
            if route.method not in ("HEAD", "*"):
                assert route.method.lower() in served["paths"][resource.canonical]


async def test_the_automatic_first_callback_reaches_the_citizen_and_queues_them(
    pbx: Pbx, parties: Parties, tmp_path: Path, trunk_port: int
) -> None:
    center = await start_voice_center(
        voice_settings(tmp_path, pbx, trunk_port, callback_auto=True, callback_auto_delay_s=0.5)
    )
    try:
        boss = await center.operator("auto-boss", None, role=Role.SUPERVISOR)
        trunk = await parties.trunk(trunk_port, 1300.0)
        caller = await parties.caller(hold_ms=1000)
        first = await boss.next_event("contact.queued", "supervisor", within_s=10)
        await caller.sipp.done()
        # 0.5 s after the hang-up the citizen's phone rings (through the trunk); answered, the
        # citizen is a caller again, waiting in the queue like any 102 call
        again = await boss.next_event("contact.queued", "supervisor", within_s=15)
        assert again["data"]["contact"]["id"] != first["data"]["contact"]["id"]
        assert again["data"]["contact"]["channel"] == "voice"
        invite = trunk.sipp.received("INVITE")[0]
        assert f"INVITE sip:{CALLER}@127.0.0.1:{trunk_port}" in invite
        contacts = center.center.container.db.contacts
        callback = await contacts.get(again["data"]["contact"]["id"])
        assert callback.citizen == CALLER and callback.state is ContactState.QUEUED
        assert "перезвон" in callback.summary.lower()
        # no callback task: the first attempt reached them
        assert not [c for c in await contacts.recent(10) if c.channel is ChannelKind.CALLBACK]
        dialed = await boss.next_event("callback.dialed", "supervisor", within_s=5)
        assert dialed["data"]["outcome"] == "answered" and dialed["data"]["automatic"] is True
        await boss.close()
    finally:
        await center.center.client.close()
