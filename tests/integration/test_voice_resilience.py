"""Calls survive what goes wrong around them: Asterisk killed mid-call and restarted (the link
comes back within seconds, dropped calls are marked and offered for callback), `contact
serve` killed mid-call and restarted (live calls rediscovered, nothing lost), and hostile input
(caller ids and X- headers with separators, escapes, 8 KB values, unknown endpoints: no
extra channel, nothing crashes, the call is still handled)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import ChannelKind, ContactState, Role
from tests.integration.test_asterisk_boot import HOSTILE
from tests.integration.test_voice_harness import (
    CALLER,
    Parties,
    Pbx,
    VoiceCenter,
    dial_string,
    start_pbx,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.ports import free_udp_port
from tests.support import PASSWORD, Browser, ServeProcess

pytestmark = pytest.mark.timeout(150)
REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- Asterisk dies


@pytest.fixture
async def own_pbx(tmp_path: Path) -> AsyncIterator[Pbx]:
    booted = await asyncio.to_thread(start_pbx, tmp_path / "own-run")
    yield booted
    await booted.runner.down()


async def test_asterisk_killed_mid_call_is_back_in_seconds_and_dropped_calls_get_callbacks(
    own_pbx: Pbx, tmp_path: Path
) -> None:
    parties = Parties(own_pbx, tmp_path)
    vc = await start_voice_center(voice_settings(tmp_path, own_pbx))
    try:
        phone = await parties.phone(1000.0)
        op = await vc.operator("night-shift", phone)
        boss = await vc.operator("boss", None, role=Role.SUPERVISOR)
        await op.ready()
        talking = await parties.caller(600.0)
        offer = await op.next_offer(within_s=10)
        connected_id = offer["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{connected_id}/accept")
        await op.next_event("call.connected", within_s=10)
        await parties.caller(700.0, caller="+77019876543")  # waits: the operator is busy
        waiting = await boss.next_event("contact.queued", "supervisor", within_s=10)
        while waiting["data"]["contact"]["id"] == connected_id:
            waiting = await boss.next_event("contact.queued", "supervisor", within_s=10)
        waiting_id = waiting["data"]["contact"]["id"]
        assert talking.sipp.proc.poll() is None

        pid = own_pbx.runner.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        down = await boss.next_event("telephony.link_changed", "supervisor", within_s=10)
        assert down["data"]["up"] is False
        await own_pbx.runner.up()  # same ports, same run directory
        back_at = time.monotonic()
        up = await boss.next_event("telephony.link_changed", "supervisor", within_s=10)
        reconnected_s = time.monotonic() - back_at
        print(f"\nAMI reconnected and resynced {reconnected_s:.2f} s after Asterisk was back")
        assert up["data"]["up"] is True
        assert reconnected_s <= 5.0
        assert up["data"]["dropped"] == 2

        contacts = vc.center.container.db.contacts
        assert (await contacts.get(connected_id)).state is ContactState.WRAP_UP
        assert (await contacts.get(waiting_id)).state is ContactState.ABANDONED
        calls = vc.telephony.calls
        for contact_id in (connected_id, waiting_id):
            (call,) = await calls.for_contact(contact_id)
            assert call.dropped and call.end_reason == "link_lost"
        tasks = [c for c in await contacts.recent(20) if c.channel is ChannelKind.CALLBACK]
        assert sorted(t.citizen or "" for t in tasks) == sorted([CALLER, "+77019876543"])
        assert all(t.state is ContactState.QUEUED for t in tasks)
        status = await boss.get("/api/v1/telephony/status")
        assert status["status"] == "up" and status["connections"] == 2
        await op.close()
        await boss.close()
    finally:
        await parties.close()
        await vc.center.client.close()


# ---------------------------------------------------------------------------- contact dies


def _serve_env(pbx: Pbx, tmp_path: Path) -> dict[str, str]:
    s = pbx.settings
    return {
        "PYTHONPATH": str(REPO),  # this checkout, whatever the venv was installed from
        "CONTACT_DATA_DIR": str(tmp_path),
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/serve.db",
        "CONTACT_ROUTING_WRAP_UP_S": "0",
        "CONTACT_ASTERISK_ENABLED": "true",
        "CONTACT_ASTERISK_AMI_PORT": str(s.ami_port),
        "CONTACT_ASTERISK_RUN_DIR": str(s.effective_run_dir),
        "CONTACT_ASTERISK_TRUNK": "sipp-trunk",
    }


async def _browser(serve: ServeProcess, username: str) -> Browser:
    browser = await serve.browser(username)
    await browser.connect()
    return browser


async def test_contact_serve_restarted_mid_call_rediscovers_every_live_call(
    pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    env = _serve_env(pbx, tmp_path)
    serve = ServeProcess(env, tmp_path / "serve.log")
    restarted: ServeProcess | None = None
    try:
        await serve.start()
        phone = await parties.phone(1000.0)
        serve.cli(
            "operators", "add", "op", "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        serve.add_operator("boss", Role.SUPERVISOR)
        op = await _browser(serve, "op")
        await op.ready()
        talking = await parties.caller(600.0)
        offer = await op.next_offer(within_s=10)
        a = offer["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{a}/accept")
        await op.next_event("call.connected", within_s=10)
        await parties.caller(700.0, caller="+77012222222")  # B waits in the queue
        queued = await op.next_event("contact.queued", "queue", within_s=10)
        while queued["data"]["contact"]["id"] == a:
            queued = await op.next_event("contact.queued", "queue", within_s=10)
        b = queued["data"]["contact"]["id"]
        await op.close()

        serve.kill9()
        await parties.caller(800.0, caller="+77013333333")  # C calls while nobody listens
        await asyncio.sleep(1.0)
        restarted = ServeProcess(env, tmp_path / "serve-2.log")
        await restarted.start()
        boss = await _browser(restarted, "boss")
        live: dict[str, Any] = {}

        async def three_live() -> bool:
            nonlocal live
            calls = (await boss.get("/api/v1/calls"))["calls"]
            live = {c["contact_id"]: c for c in calls}
            return len(live) == 3

        deadline = time.monotonic() + 10
        while not await three_live():
            assert time.monotonic() < deadline, live
            await asyncio.sleep(0.1)
        assert live[a]["state"] == "connected"
        assert live[b]["state"] == "holding"
        (c,) = set(live) - {a, b}
        assert live[c]["state"] == "holding"
        waiting = [x["id"] for x in (await boss.get("/api/v1/queue"))["contacts"]]
        assert waiting == [b, c]
        contact_c = await boss.get(f"/api/v1/contacts/{c}")
        assert contact_c["citizen"] == "+77013333333" and contact_c["channel"] == "voice"

        # the conversation never stopped, and the new node steers it
        t0 = time.monotonic()
        await asyncio.sleep(0.8)
        assert phone.rtp.hears(600.0, t0) > 0.5 and talking.rtp.hears(1000.0, t0) > 0.5
        op = await _browser(restarted, "op")
        await op.post(f"/api/v1/calls/{a}/hangup")
        await op.next_event("call.ended", within_s=10)
        assert (await op.get(f"/api/v1/contacts/{a}"))["state"] == "wrap_up"
        await op.close()
        await boss.close()
    finally:
        serve.stop()
        if restarted is not None:
            restarted.stop()


# ---------------------------------------------------------------------------- hostile input


@pytest.fixture
async def vc(pbx: Pbx, tmp_path: Path) -> AsyncIterator[VoiceCenter]:
    center = await start_voice_center(voice_settings(tmp_path, pbx))
    yield center
    await center.center.client.close()


CITIZEN = re.compile(r"^\+?[0-9]{0,32}$")


async def test_hostile_caller_ids_and_headers_are_handled_without_harm(
    vc: VoiceCenter, parties: Parties, pbx: Pbx
) -> None:
    boss = await vc.operator("hostile-watch", None, role=Role.SUPERVISOR)
    seen: list[str] = []
    for case, (caller, header) in HOSTILE.items():
        await parties.caller(caller=caller, headers=[header], hold_ms=9000)
        queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
        contact_id = queued["data"]["contact"]["id"]
        seen.append(contact_id)
        contact = await vc.center.container.db.contacts.get(contact_id)
        assert contact.channel is ChannelKind.VOICE, case
        assert CITIZEN.match(contact.citizen or ""), (case, contact.citizen)
        assert contact.location is None, case  # nothing parseable was sent
    # one channel per call, nothing else (no Local, no dial out of a header's content)
    channels = await vc.telephony.control.channels()
    assert len(channels) == len(HOSTILE), channels
    assert all(c["Channel"].startswith("PJSIP/sipp-") for c in channels)

    # an unknown endpoint never becomes a channel
    assert await _unknown_endpoint(parties, pbx) != 0
    # an operator whose phone is not a safe dial string: the call goes back, nothing dials
    bad = await vc.operator("bad-endpoint", None)
    await _set_endpoint(vc, bad.operator_id, "PJSIP/x&Dial(PJSIP/evil)")
    await bad.ready()
    offer = await bad.next_offer(within_s=10)
    target = offer["data"]["contact"]["id"]
    await bad.post(f"/api/v1/contacts/{target}/accept")
    await vc.until(lambda: _state_is(vc, target, ContactState.QUEUED), what="back in the queue")
    assert len(await vc.telephony.control.channels()) <= len(HOSTILE)
    health = await boss.get("/healthz")
    assert health["status"] in ("up", "degraded")
    assert (await vc.telephony.ami.action({"Action": "Ping"}))["Response"] == "Success"
    await boss.close()
    await bad.close()


async def _state_is(vc: VoiceCenter, contact_id: str, state: ContactState) -> bool:
    return (await vc.center.container.db.contacts.get(contact_id)).state is state


async def _set_endpoint(vc: VoiceCenter, operator_id: str, endpoint: str) -> None:
    from sqlalchemy import update

    from contact.persistence.tables import OperatorRow

    store = vc.center.container.db._store
    async with store.write() as session:
        await session.exec(
            update(OperatorRow).where(OperatorRow.id == operator_id).values(endpoint=endpoint)  # type: ignore[arg-type]
        )


async def _unknown_endpoint(parties: Parties, pbx: Pbx) -> int:
    """A caller with credentials of no endpoint: challenged, refused, no channel."""
    from tests.integration.test_voice_harness import caller_scenario

    scenario = caller_scenario(
        caller="77", user="nobody", password="guess", rtp_port=free_udp_port(), headers=[],
        hold_ms=100,
    )  # fmt: skip
    target = f"127.0.0.1:{pbx.settings.sip_port}"
    sipp = parties._run("intruder", scenario, [target, "-m", "1"], free_udp_port())
    try:
        return await sipp.done(within_s=4)
    except TimeoutError:  # still retrying its challenged INVITE: refused all along
        sipp.kill()
        return -1
