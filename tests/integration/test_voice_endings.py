"""Every state of a 102 call × every way it can end, on a real Asterisk with real sipp phones
(issue 9, section 2): the contact's final state, the call's end reason, whether the citizen gets
a callback task, and where the operator is left.

One case per way of ending: every state that ending applies to is set up at once (one caller,
and one operator with her own phone, per state), then the ending happens to all of them, then
the table is checked. Parties hang up for real: a caller's or an operator's phone sends its BYE
when the test pokes it with an in-dialog MESSAGE (AMI SendText), so it ends in whatever state
it is in, without timing guesses. Asterisk is stopped (SIGTERM: its Shutdown, then the
hang-ups) or killed and started again; `contact serve` is killed (-9) and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from panoramisk import Manager  # type: ignore[import-untyped]

from tests.integration import test_voice_harness as harness
from tests.integration.test_voice_harness import (
    Parties,
    Party,
    Pbx,
    VoiceCenter,
    dial_string,
    rtp_peer,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.ports import free_udp_port
from tests.support import METRICS_AUTH, PASSWORD, Browser, ServeProcess

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------- the table

STATES = (
    "waiting",  # in the queue, nobody has accepted it
    "ringing",  # accepted: the operator's phone rings (accept, then ring: the default)
    "connected",  # talking with the operator
    "held",  # put on hold by the operator
    "transferring",  # blind transfer to 103: the service's phone rings
    "requeued_ring",  # back in the queue: the operator's ringing phone failed
    "requeued_talk",  # back in the queue: the operator's phone failed mid-conversation
    "requeued_transfer",  # back in the queue: the blind transfer failed
)
ENDINGS = (
    "caller",  # the caller hangs up (BYE)
    "operator",  # the operator hangs up (her phone's BYE, or rejecting the ring, or the page)
    "phone",  # the operator's phone fails (network: cause 38)
    "transfer",  # the transfer fails (the service's line: cause 38)
    "asterisk_stop",  # `contact asterisk down`: SIGTERM, Asterisk's own clean stop
    "asterisk_kill",  # kill -9 of Asterisk
    "contact_kill",  # kill -9 of `contact serve`, started again, then the caller hangs up
)


@dataclass(frozen=True)
class End:
    contact: str  # the contact's state ("queued": waiting again, offered or not)
    reason: str | None  # the call's end reason; None: the call goes on
    callback: bool  # a callback task for the citizen
    operator: str | None  # her presence; None: no operator on this call


NO_OPERATOR = "impossible: no operator is on the call"
NO_TRANSFER = "impossible: no transfer is going on (one starts from connected or held)"
LEFT = "meaningless: the operator's phone left the call when she transferred it blind"

TABLE: dict[str, dict[str, End | str]] = {
    "waiting": {
        "caller": End("abandoned", "caller_hangup", True, None),
        "operator": NO_OPERATOR,
        "phone": NO_OPERATOR,
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("abandoned", "asterisk_shutdown", True, None),
        "asterisk_kill": End("abandoned", "link_lost", True, None),
        "contact_kill": End("abandoned", "caller_hangup", True, None),
    },
    "ringing": {
        # nobody answered: abandoned, called back; the operator is ready at once (no wrap-up)
        "caller": End("abandoned", "caller_hangup", True, "ready"),
        # rejecting the ring is not answering it: back to the queue, she is away
        "operator": End("queued", None, False, "away"),
        "phone": End("queued", None, False, "away"),
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("abandoned", "asterisk_shutdown", True, "ready"),
        "asterisk_kill": End("abandoned", "link_lost", True, "ready"),
        # the restarted node lets her phone ring on: nobody answered, called back, she is ready
        "contact_kill": End("abandoned", "caller_hangup", True, "ready"),
    },
    "connected": {
        "caller": End("wrap_up", "caller_hangup", False, "busy"),
        "operator": End("wrap_up", "operator_hangup", False, "busy"),
        # the caller back on hold, at the head of the queue
        "phone": End("queued", None, False, "away"),
        "transfer": NO_TRANSFER,
        # cut off by the system mid-conversation: wrap-up, and the citizen is called back
        "asterisk_stop": End("wrap_up", "asterisk_shutdown", True, "busy"),
        "asterisk_kill": End("wrap_up", "link_lost", True, "busy"),
        "contact_kill": End("wrap_up", "caller_hangup", False, "busy"),
    },
    "held": {
        "caller": End("wrap_up", "caller_hangup", False, "busy"),
        # from her page (her phone's BYE while the caller is held only puts her phone down)
        "operator": End("wrap_up", "operator_hangup", False, "busy"),
        # still held and hers: resuming rings her phone again
        "phone": End("connected", None, False, "busy"),
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("wrap_up", "asterisk_shutdown", True, "busy"),
        "asterisk_kill": End("wrap_up", "link_lost", True, "busy"),
        "contact_kill": End("wrap_up", "caller_hangup", False, "busy"),
    },
    "transferring": {
        "caller": End("wrap_up", "caller_hangup", False, "busy"),
        "operator": LEFT,
        "phone": LEFT,
        # back in the queue at its place; she is ready (her phone did nothing wrong)
        "transfer": End("queued", None, False, "ready"),
        "asterisk_stop": End("wrap_up", "asterisk_shutdown", True, "busy"),
        "asterisk_kill": End("wrap_up", "link_lost", True, "busy"),
        "contact_kill": End("wrap_up", "caller_hangup", False, "busy"),
    },
    "requeued_ring": {
        "caller": End("abandoned", "caller_hangup", True, "away"),
        "operator": NO_OPERATOR,
        "phone": NO_OPERATOR,
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("abandoned", "asterisk_shutdown", True, "away"),
        "asterisk_kill": End("abandoned", "link_lost", True, "away"),
        "contact_kill": End("abandoned", "caller_hangup", True, "away"),
    },
    "requeued_talk": {
        # it talked once, but was waiting again when it ended: abandoned, called back
        "caller": End("abandoned", "caller_hangup", True, "away"),
        "operator": NO_OPERATOR,
        "phone": NO_OPERATOR,
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("abandoned", "asterisk_shutdown", True, "away"),
        "asterisk_kill": End("abandoned", "link_lost", True, "away"),
        "contact_kill": End("abandoned", "caller_hangup", True, "away"),
    },
    "requeued_transfer": {
        "caller": End("abandoned", "caller_hangup", True, "ready"),
        "operator": NO_OPERATOR,
        "phone": NO_OPERATOR,
        "transfer": NO_TRANSFER,
        "asterisk_stop": End("abandoned", "asterisk_shutdown", True, "ready"),
        "asterisk_kill": End("abandoned", "link_lost", True, "ready"),
        "contact_kill": End("abandoned", "caller_hangup", True, "ready"),
    },
}

# after `contact serve` was killed and started again, before the caller hangs up: the call
# outlived contact, and the new node found it in this state
REDISCOVERED = {
    "waiting": "holding",
    "ringing": "ringing",
    "connected": "connected",
    "held": "held",
    "transferring": "transferring",
    "requeued_ring": "holding",
    "requeued_talk": "holding",
    "requeued_transfer": "holding",
}


def test_the_table_names_every_state_and_every_ending() -> None:
    assert set(TABLE) == set(STATES)
    for state, row in TABLE.items():
        assert set(row) == set(ENDINGS), state


# ---------------------------------------------------------------------------- the parties


def _hang_up_on_message(xml: str) -> str:
    """The scenario's end: Asterisk's BYE is answered, or an in-dialog MESSAGE (AMI SendText)
    makes this party send its own BYE."""
    cut = xml.index('<recv request="BYE"/>')
    ok = "[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0\n"
    capture = (
        '<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>'
        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="me"/></action>'
    )
    bye = (
        "BYE [next_url] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];"
        "branch=[branch]\nFrom:[$me]\nTo:[$peer]\nCall-ID: [call_id]\nCSeq: 30 BYE\n"
        "Max-Forwards: 70\nContent-Length: 0\n"
    )
    return xml[:cut] + "\n".join(
        [
            f'<recv request="MESSAGE" optional="true" next="hangup">{capture}</recv>',
            '<recv request="BYE"/>',
            f"<send><![CDATA[\nSIP/2.0 200 OK\n{ok}\n]]></send>",
            '<nop next="end"/>',
            '<label id="hangup"/>',
            f"<send><![CDATA[\nSIP/2.0 200 OK\n{ok}\n]]></send>",
            f'<send retrans="500"><![CDATA[\n{bye}\n]]></send>',
            '<recv response="200" crlf="true"/>',
            '<label id="end"/>',
            "</scenario>\n",
        ]
    )


async def _caller(parties: Parties, number: str) -> Party:
    rtp = await rtp_peer(600.0)
    xml = harness.caller_scenario(
        caller=number,
        user="sipp",
        password=parties.pbx.runner.sip_password("sipp-auth"),
        rtp_port=rtp.port,
        headers=[],
        hold_ms=None,
    )
    target = f"127.0.0.1:{parties.pbx.settings.sip_port}"
    argv = [target, "-m", "1", "-l", "1", "-timeout", "200", "-timeout_error"]
    sipp = parties._run("caller", _hang_up_on_message(xml), argv, free_udp_port())
    return parties.add(Party(sipp, rtp))


async def _phone(parties: Parties, *, answers: bool, answer_after_ms: int = 200) -> Party:
    rtp = await rtp_peer(1000.0)
    xml = harness.phone_scenario(
        rtp_port=rtp.port,
        answer_after_ms=answer_after_ms if answers else None,
        hangup_after_ms=None,
    )
    if answers:
        xml = _hang_up_on_message(xml)
    sipp = parties._run("phone", xml, ["-m", "1", "-timeout", "200"], free_udp_port())
    return parties.add(Party(sipp, rtp))


async def _trunk(parties: Parties, port: int, calls: int) -> Party:
    """The services' side (103): rings until the transfer is cancelled or fails."""
    rtp = await rtp_peer(1300.0)
    xml = harness.phone_scenario(rtp_port=rtp.port, answer_after_ms=None, hangup_after_ms=None)
    sipp = parties._run("trunk", xml, ["-m", str(calls), "-timeout", "200"], port)
    return parties.add(Party(sipp, rtp))


# ---------------------------------------------------------------------------- the centre


@dataclass
class Centre:
    """contact (in this process, or `contact serve`), seen through its database and AMI."""

    db: Path
    operator: Callable[[str, Party], Awaitable[Browser]]
    ami: Manager
    browsers: list[Browser] = field(default_factory=list)

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        for _ in range(100):
            try:
                uri = f"file:{self.db}?mode=ro"
                with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=2)) as conn:
                    return conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError:
                time.sleep(0.05)
        raise AssertionError("the database stayed locked")

    def contact_of(self, number: str) -> str | None:
        found = self.rows("SELECT id FROM contacts WHERE citizen = ? AND channel = 'voice'", number)
        return found[0][0] if found else None

    def call(self, contact_id: str) -> dict[str, Any]:
        names = ("uniqueid", "channel", "state", "operator_leg", "consult_leg", "end_reason")
        (row,) = self.rows(f"SELECT {', '.join(names)} FROM calls WHERE contact_id = ?", contact_id)
        return dict(zip(names, row, strict=True))

    def outcome(self, leg: Leg) -> End:
        (state,) = self.rows("SELECT state FROM contacts WHERE id = ?", leg.contact_id)[0]
        call = self.call(leg.contact_id)
        callback = self.rows(
            "SELECT count(*) FROM callbacks WHERE source_contact_id = ?", leg.contact_id
        )[0][0]
        presence = None
        if leg.operator_id is not None:
            presence = self.rows("SELECT presence FROM operators WHERE id = ?", leg.operator_id)[0][
                0
            ]
        return End(
            "queued" if state == "offered" else state,
            call["end_reason"] if call["state"] == "ended" else None,
            callback > 0,
            # free: ready, or already offered the next contact (a callback task, say)
            "ready" if presence == "offered" else presence,
        )

    async def act(self, action: dict[str, str]) -> None:
        response = dict(await self.ami.send_action(action))
        assert response.get("Response") == "Success", (action, response)


@dataclass
class Leg:
    """One row of the table being played: a call brought into `state`."""

    state: str
    number: str
    caller: Party
    contact_id: str
    operator: Browser | None = None
    operator_id: str | None = None


async def until(check: Callable[[], Any], within_s: float, what: str) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _place(centre: Centre, parties: Parties, state: str, index: int) -> Leg:
    """A new call brought into `state` (the requeued ones stop one step before: see
    _requeue)."""
    number = f"+7701555{index:04d}"
    if state == "waiting":
        caller = await _caller(parties, number)
        contact_id = await until(lambda: centre.contact_of(number), 15, f"{state} registered")
        await until(lambda: centre.call(contact_id)["state"] == "holding", 10, "holding")
        return Leg(state, number, caller, contact_id)
    phone = await _phone(parties, answers=state not in ("ringing", "requeued_ring"))
    op = await centre.operator(f"op-{state}", phone)
    centre.browsers.append(op)
    await op.ready()
    caller = await _caller(parties, number)
    offer = await op.next_offer(within_s=15)
    contact_id = offer["data"]["contact"]["id"]
    assert offer["data"]["contact"]["citizen"] == number
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    leg = Leg(state, number, caller, contact_id, op, op.operator_id)
    if state in ("ringing", "requeued_ring"):
        await op.next_event("call.ringing", within_s=10)
        return leg
    await op.next_event("call.connected", within_s=15)
    if state == "held":
        await op.post(f"/api/v1/calls/{contact_id}/hold")
        await until(lambda: centre.call(contact_id)["state"] == "held", 10, "held")
    elif state in ("transferring", "requeued_transfer"):
        await op.post(f"/api/v1/calls/{contact_id}/transfer", {"target": "103", "mode": "blind"})
        await until(lambda: centre.call(contact_id)["consult_leg"], 10, "the service rings")
    return leg


async def _requeue(centre: Centre, leg: Leg) -> None:
    call = centre.call(leg.contact_id)
    if leg.state == "requeued_transfer":
        await centre.act({"Action": "Hangup", "Channel": call["consult_leg"], "Cause": "38"})
    else:  # the operator's phone fails, ringing or talking
        await centre.act({"Action": "Hangup", "Channel": call["operator_leg"], "Cause": "38"})
    await until(lambda: centre.call(leg.contact_id)["state"] == "holding", 10, "requeued")


async def _set_up(centre: Centre, parties: Parties, states: list[str]) -> list[Leg]:
    """Operators first (each is offered her own new caller), then the requeues, then the
    waiting caller, when nobody is free to take it."""
    order = [s for s in STATES if s in states and s != "waiting"]
    legs = [await _place(centre, parties, state, i) for i, state in enumerate(order)]
    for leg in legs:
        if leg.state.startswith("requeued_"):
            await _requeue(centre, leg)
    if "waiting" in states:
        legs.append(await _place(centre, parties, "waiting", len(order)))
    return legs


async def _resynced(serve: ServeProcess, within_s: float = 30.0) -> None:
    """Wait for the node's first resync with Asterisk's channels (its /metrics)."""
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession(headers=METRICS_AUTH) as session:
        while True:
            async with session.get(f"{serve.url}/metrics") as r:
                text = await r.text()
            done = [
                float(line.split()[-1])
                for line in text.splitlines()
                if line.startswith("contact_telephony_resyncs ")
            ]
            if done and done[0] >= 1:
                return
            assert time.monotonic() < deadline, "the restarted node never resynced"
            await asyncio.sleep(0.2)


async def _caller_hangs_up(centre: Centre, leg: Leg) -> None:
    channel = centre.call(leg.contact_id)["uniqueid"]
    await centre.act({"Action": "SendText", "Channel": channel, "Message": "bye"})


async def _operator_hangs_up(centre: Centre, leg: Leg) -> None:
    assert leg.operator is not None
    call = centre.call(leg.contact_id)
    if leg.state == "ringing":  # she rejects the ring (call rejected)
        await centre.act({"Action": "Hangup", "Channel": call["operator_leg"], "Cause": "21"})
    elif leg.state == "connected":  # her phone's BYE
        await centre.act({"Action": "SendText", "Channel": call["operator_leg"], "Message": "x"})
    else:  # held: from her page
        await leg.operator.post(f"/api/v1/calls/{leg.contact_id}/hangup")


async def _phone_fails(centre: Centre, leg: Leg) -> None:
    leg_id = centre.call(leg.contact_id)["operator_leg"]
    await centre.act({"Action": "Hangup", "Channel": leg_id, "Cause": "38"})


async def _transfer_fails(centre: Centre, leg: Leg) -> None:
    leg_id = centre.call(leg.contact_id)["consult_leg"]
    await centre.act({"Action": "Hangup", "Channel": leg_id, "Cause": "38"})


async def _check(centre: Centre, legs: list[Leg], ending: str) -> None:
    """Every leg reaches its row's outcome and stays there."""
    expected = {leg.state: TABLE[leg.state][ending] for leg in legs}

    def wrong() -> dict[str, tuple[object, End]]:
        return {
            leg.state: (expected[leg.state], got)
            for leg in legs
            if (got := centre.outcome(leg)) != expected[leg.state]
        }

    with contextlib.suppress(AssertionError):
        await until(lambda: not wrong(), 20, "the outcomes")
    await asyncio.sleep(1.0)  # settled, not passing through
    assert not wrong(), f"{ending}: state → (expected, got): {wrong()}"


@contextlib.asynccontextmanager
async def _ami(pbx: Pbx) -> AsyncIterator[Manager]:
    s = pbx.settings
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=s.ami_host,
        port=s.ami_port,
        username=s.ami_username,
        secret=pbx.runner.ami_secret,
        ping_delay=10,
    )
    await manager.connect()
    try:
        yield manager
    finally:
        manager.close()


# ---------------------------------------------------------------------------- the cases


ACTIONS: dict[str, Callable[[Centre, Leg], Awaitable[None]]] = {
    "caller": _caller_hangs_up,
    "operator": _operator_hangs_up,
    "phone": _phone_fails,
    "transfer": _transfer_fails,
}


@pytest.mark.parametrize("ending", [e for e in ENDINGS if e != "contact_kill"])
async def test_every_state_ends_as_the_table_says(
    ending: str, pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    states = [s for s in STATES if isinstance(TABLE[s][ending], End)]
    trunk_port = free_udp_port()
    vc: VoiceCenter = await start_voice_center(
        voice_settings(tmp_path, pbx, trunk_port, offer_timeout_s=120.0, operator_ring_s=60.0)
    )
    db = Path(vc.center.container.settings.database.url.split("///", 1)[1])

    async def operator(name: str, phone: Party) -> Browser:
        return await vc.operator(name, phone)

    try:
        async with _ami(pbx) as ami:
            centre = Centre(db, operator, ami)
            transfers = sum(s in ("transferring", "requeued_transfer") for s in states)
            if transfers:
                await _trunk(parties, trunk_port, transfers)
            legs = await _set_up(centre, parties, states)
            if ending in ACTIONS:
                for leg in legs:
                    await ACTIONS[ending](centre, leg)
            elif ending == "asterisk_stop":
                await pbx.runner.down()  # SIGTERM: Shutdown, then Asterisk hangs up
                await pbx.runner.up()
            else:
                pid = pbx.runner.status().pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                await vc.until(lambda: not vc.telephony.voice.link_up, what="the link down")
                await pbx.runner.up()
            await _check(centre, legs, ending)
            for browser in centre.browsers:
                await browser.close()
    finally:
        await vc.center.client.close()


async def test_every_call_outlives_contact_killed_and_ends_as_the_table_says(
    pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    ending = "contact_kill"
    states = [s for s in STATES if isinstance(TABLE[s][ending], End)]
    trunk_port = free_udp_port()
    s = pbx.settings
    db = tmp_path / "serve.db"
    env = {
        "PYTHONPATH": str(REPO),
        "CONTACT_DATA_DIR": str(tmp_path),
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "CONTACT_ROUTING_WRAP_UP_S": "0",
        "CONTACT_ROUTING_OFFER_TIMEOUT_S": "120",
        "CONTACT_ASTERISK_ENABLED": "true",
        "CONTACT_ASTERISK_AMI_PORT": str(s.ami_port),
        "CONTACT_ASTERISK_RUN_DIR": str(s.effective_run_dir),
        "CONTACT_ASTERISK_TRUNK": "sipp-trunk",
        "CONTACT_ASTERISK_TRUNK_HOST": f"127.0.0.1:{trunk_port}",
        "CONTACT_ASTERISK_OPERATOR_RING_S": "60",
    }
    serve = ServeProcess(env, tmp_path / "serve.log")
    restarted: ServeProcess | None = None

    async def operator(name: str, phone: Party) -> Browser:
        serve.cli(
            "operators", "add", name, "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        browser = await serve.browser(name)
        await browser.connect()
        return browser

    try:
        await serve.start()
        async with _ami(pbx) as ami:
            centre = Centre(db, operator, ami)
            await _trunk(parties, trunk_port, sum(st.endswith("transfer") for st in states) + 1)
            legs = await _set_up(centre, parties, states)
            for browser in centre.browsers:
                await browser.close()
            serve.kill9()
            await asyncio.sleep(0.5)
            restarted = ServeProcess(env, tmp_path / "serve-2.log")
            await restarted.start()

            def rediscovered() -> bool:
                return all(
                    centre.call(leg.contact_id)["state"] == REDISCOVERED[leg.state] for leg in legs
                )

            await until(rediscovered, 20, "every call rediscovered in its state")
            # the states above are the database's; the resync is what judges them live
            await _resynced(restarted)
            assert rediscovered(), "the restarted node's resync changed a call's state"
            # the ringing call's caller last, once the others have ended: her phone rang on, so
            # his leaving makes her ready, and the routing would offer her a waiting caller in
            # the very moment he hangs up (an offer racing the abandon: not this table's case)
            others = [leg for leg in legs if leg.state != "ringing"]
            for leg in others:
                await _caller_hangs_up(centre, leg)
            await _check(centre, others, ending)
            for leg in legs:
                if leg.state == "ringing":
                    await _caller_hangs_up(centre, leg)
            await _check(centre, legs, ending)
    finally:
        serve.stop()
        if restarted is not None:
            restarted.stop()


async def test_a_ring_outlives_the_leaders_lease_lapsing_and_is_answered(
    pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    """The driving node's lease lapses for a moment (its store slower than the lease's
    budget, as on a loaded machine) and it takes its lease back: it drives again from a fresh
    picture while the operator's phone rings. Her phone rings on (it used to be hung up and
    the call put back in the queue), and her answer connects her to the caller."""
    vc: VoiceCenter = await start_voice_center(
        voice_settings(tmp_path, pbx, free_udp_port(), offer_timeout_s=120.0, operator_ring_s=60.0)
    )
    db = Path(vc.center.container.settings.database.url.split("///", 1)[1])
    try:
        async with _ami(pbx) as ami:
            centre = Centre(db, vc.operator, ami)
            phone = await _phone(parties, answers=True, answer_after_ms=8000)
            op = await centre.operator("op-lapse", phone)
            centre.browsers.append(op)
            await op.ready()
            await _caller(parties, "+77015550999")
            offer = await op.next_offer(within_s=15)
            contact_id = offer["data"]["contact"]["id"]
            await op.post(f"/api/v1/contacts/{contact_id}/accept")
            await op.next_event("call.ringing", within_s=10)
            ringing_leg = centre.call(contact_id)["operator_leg"]
            assert ringing_leg
            lead = vc.telephony.leadership
            term = vc.telephony.voice
            async with lead._round:  # what a round does when its renewal came too late
                await lead._demote("expired", lead.state)
            assert not lead.valid()
            await lead.step()  # its own lease, taken back at the next round
            assert lead.valid()
            new = vc.telephony
            await vc.until(lambda: new.voice is not term and new.voice.resyncs, what="the resync")
            # still hers: ringing on (or answered already, on a slow machine), never requeued
            assert centre.call(contact_id)["state"] in ("ringing", "connected")
            await op.next_event("call.connected", within_s=20)
            call = centre.call(contact_id)
            assert (call["state"], call["operator_leg"]) == ("connected", ringing_leg)
            for browser in centre.browsers:
                await browser.close()
    finally:
        await vc.center.client.close()
