"""Two `contact serve` nodes on one PostgreSQL, one Redis and one real Asterisk, both with
telephony enabled: exactly one drives Asterisk (the telephony lease), the other stands by.

- A call is handled once: one contact, one call row, offered and accepted once, and the
  standby never opens an AMI session.
- The leader killed with SIGKILL mid-call: the standby leads within the lease (4 s), finds the
  connected call (and one that arrived while nobody drove) and steers it; the conversation never
  stops, no call is hung up by the takeover.
- The leader stopped cleanly: it releases the lease and the standby leads at once.
- An operator whose browser talks to the standby works voice as on the leader: her accept
  rings her phone (relayed to the leader), and hold, resume, hang-up, a callback and a
  transfer to 103 through the standby's API are carried out by the leader; so is a
  supervisor's listen.

The takeover times and the relay's extra latency are printed (docs: asterisk-config/README.md).
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from contact.domain.model import Role
from tests.integration.test_voice_harness import Parties, Pbx, dial_string
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx
from tests.ports import free_udp_port
from tests.support import METRICS_AUTH, PASSWORD, Browser, ServeProcess

pytestmark = [pytest.mark.timeout(180), pytest.mark.redis, pytest.mark.postgres]
REPO = Path(__file__).resolve().parents[2]
LEASE_S = 4.0


@pytest.fixture
def pg_database(postgres_database_url: str) -> str:
    """A PostgreSQL database of this test's own (plain URL, as an operator would set it)."""
    return postgres_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def node_env(pbx: Pbx, tmp: Path, database: str, redis_url: str, prefix: str) -> dict[str, str]:
    s = pbx.settings
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PYTHONPATH": str(REPO),
        "CONTACT_DATA_DIR": str(tmp),
        "CONTACT_DATABASE_URL": database,
        "CONTACT_REDIS_URL": redis_url,
        "CONTACT_REDIS_KEY_PREFIX": prefix,
        "CONTACT_ROUTING_WRAP_UP_S": "0",
        "CONTACT_ASTERISK_ENABLED": "true",
        "CONTACT_ASTERISK_AMI_PORT": str(s.ami_port),
        "CONTACT_ASTERISK_RUN_DIR": str(s.effective_run_dir),
        "CONTACT_ASTERISK_TRUNK": "sipp-trunk",
        "CONTACT_ASTERISK_LEASE_S": str(LEASE_S),
        "CONTACT_ASTERISK_LEASE_RENEW_S": "1",
    }


def serve(env: dict[str, str], log: Path) -> ServeProcess:
    node = ServeProcess(env, log)
    node.env["CONTACT_LOG_LEVEL"] = "INFO"  # leader changes are logged at INFO
    return node


async def telephony(node: ServeProcess) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{node.url}/healthz", headers=METRICS_AUTH) as r,
    ):
        body = await r.json()
    found: dict[str, Any] = body["components"]["telephony"]
    return found


async def until(
    check: Callable[[], Awaitable[Any]], within_s: float, what: str, every_s: float = 0.02
) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every_s)


async def leads(node: ServeProcess, within_s: float) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        health = await telephony(node)
        return health if health["role"] == "leader" and health["ami"] == "up" else None

    found: dict[str, Any] = await until(check, within_s, f"{node.url} to lead", 0.01)
    return found


async def browser(node: ServeProcess, username: str) -> Browser:
    b = await node.browser(username)
    await b.connect()
    return b


async def rows(database: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database, timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def live_calls(b: Browser) -> dict[str, dict[str, Any]]:
    return {c["contact_id"]: c for c in (await b.get("/api/v1/calls"))["calls"]}


async def two_nodes(
    pbx: Pbx, tmp_path: Path, database: str, redis_url: str, prefix: str
) -> tuple[ServeProcess, ServeProcess, dict[str, Any]]:
    a = serve(node_env(pbx, tmp_path / "a", database, redis_url, prefix), tmp_path / "a.log")
    b = serve(node_env(pbx, tmp_path / "b", database, redis_url, prefix), tmp_path / "b.log")
    a.cli("db", "upgrade")
    await a.start()
    first = await leads(a, 10)
    await b.start()
    standby = await telephony(b)
    assert standby["role"] == "standby" and standby["status"] == "standby"
    assert standby["holder"] == first["node"] and standby["ami"] == "down"
    return a, b, first


async def test_one_node_drives_and_the_other_takes_over_when_it_is_killed_mid_call(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    a, b, a_health = await two_nodes(pbx, tmp_path, pg_database, redis_url, redis_prefix)
    try:
        phone = await parties.phone(1000.0)
        a.cli(
            "operators", "add", "op", "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        a.add_operator("boss", Role.SUPERVISOR)
        op = await browser(a, "op")
        boss = await browser(b, "boss")  # on the standby: the room sees every node's events
        await op.ready()

        # --- one call, one driver
        talking = await parties.caller(600.0)
        offer = await op.next_offer(within_s=10)
        first = offer["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{first}/accept")
        await op.next_event("call.connected", within_s=10)
        contacts = await rows(pg_database, "SELECT id, channel FROM contacts")
        assert [(r["id"], r["channel"]) for r in contacts] == [(first, "voice")]
        calls = await rows(pg_database, "SELECT contact_id, state FROM calls")
        assert [(r["contact_id"], r["state"]) for r in calls] == [(first, "connected")]
        audit = await rows(
            pg_database,
            "SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq",
            first,
        )
        actions = [r["action"] for r in audit]
        assert actions.count("contact.offer") == 1 and actions.count("contact.accept") == 1
        b_status = await telephony(b)
        assert b_status["role"] == "standby" and b_status["live_calls"] == 0
        assert (await boss.get("/api/v1/telephony/status"))["connections"] == 0  # never AMI

        # --- the leader dies mid-call; a second caller arrives while nobody drives
        killed_at = time.monotonic()
        a.kill9()
        await op.close()
        waiting = await parties.caller(700.0, caller="+77012222222")
        took_over = await leads(b, LEASE_S + 3)
        takeover_s = time.monotonic() - killed_at
        assert took_over["holder"] == took_over["node"] != a_health["node"]
        assert took_over["epoch"] == a_health["epoch"] + 1
        found: dict[str, dict[str, Any]] = {}

        async def both_found() -> bool:
            nonlocal found
            found = await live_calls(boss)
            status = await boss.get("/api/v1/telephony/status")
            return len(found) == 2 and status["resyncs"] >= 1

        await until(both_found, 10, "both live calls rediscovered")
        rediscovered_s = time.monotonic() - killed_at
        print(
            f"\nkill -9 of the leader → standby leads after {takeover_s:.2f} s, "
            f"live calls rediscovered after {rediscovered_s:.2f} s (lease {LEASE_S:.0f} s)"
        )
        assert takeover_s <= LEASE_S + 1.5
        assert found[first]["state"] == "connected"
        (second,) = set(found) - {first}
        assert found[second]["state"] == "holding"
        changed = await boss.next_event("telephony.leader_changed", "supervisor", within_s=5)
        assert changed["data"]["leading"] is True and changed["data"]["reason"] == "acquired"
        assert changed["data"]["node"] == took_over["node"]

        # nothing was hung up by the takeover, and the conversation never stopped
        assert talking.sipp.proc.poll() is None and phone.sipp.proc.poll() is None
        assert waiting.sipp.proc.poll() is None
        t0 = time.monotonic()
        await asyncio.sleep(0.8)
        assert phone.rtp.hears(600.0, t0) > 0.5 and talking.rtp.hears(1000.0, t0) > 0.5
        assert (await boss.get(f"/api/v1/contacts/{first}"))["state"] == "connected"
        queue = [c["id"] for c in (await boss.get("/api/v1/queue"))["contacts"]]
        assert queue == [second]
        contacts = await rows(pg_database, "SELECT id FROM contacts WHERE channel = 'voice'")
        assert {r["id"] for r in contacts} == {first, second}

        # the new leader steers the call it found
        op = await browser(b, "op")
        await op.post(f"/api/v1/calls/{first}/hangup")
        await op.next_event("call.ended", within_s=10)
        assert (await op.get(f"/api/v1/contacts/{first}"))["state"] == "wrap_up"
        await op.close()
        await boss.close()
        logs = (tmp_path / "b.log").read_text()
        assert "leads now" in logs
        for secret in ("+77011234567", "+77012222222"):
            assert secret not in logs  # no citizen data in the INFO log
    finally:
        a.stop()
        b.stop()


async def test_a_leader_stopped_cleanly_hands_over_at_once(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    a, b, a_health = await two_nodes(pbx, tmp_path, pg_database, redis_url, redis_prefix)
    try:
        b.add_operator("boss", Role.SUPERVISOR)
        boss = await browser(b, "boss")
        waiting = await parties.caller(700.0)
        queued = await boss.next_event("contact.queued", "supervisor", within_s=10)
        contact_id = queued["data"]["contact"]["id"]

        stopped_at = time.monotonic()
        await asyncio.to_thread(a.stop)  # SIGTERM: stop driving, release the lease
        stop_s = time.monotonic() - stopped_at
        took_over = await leads(b, 3)
        handover_s = time.monotonic() - stopped_at
        print(
            f"\nclean stop of the leader ({stop_s:.2f} s) → standby leads after {handover_s:.2f} s"
        )
        assert handover_s <= stop_s + 1.0  # not a lease's expiry: told by the release
        assert took_over["epoch"] == a_health["epoch"] + 1

        async def found() -> bool:
            return (await live_calls(boss)).get(contact_id, {}).get("state") == "holding"

        await until(found, 10, "the waiting call rediscovered")
        assert waiting.sipp.proc.poll() is None
        queue = [c["id"] for c in (await boss.get("/api/v1/queue"))["contacts"]]
        assert queue == [contact_id]
        released = await boss.next_event("telephony.leader_changed", "supervisor", within_s=5)
        assert (released["data"]["reason"], released["data"]["leading"]) == ("released", False)
        await boss.close()
    finally:
        a.stop()
        b.stop()


async def test_a_frozen_leader_that_wakes_up_after_the_takeover_does_nothing_to_the_calls(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    """Fencing with real processes: the leader is frozen (SIGSTOP: a stalled VM, a long GC)
    with its AMI session still open, the standby takes over, then the old leader runs again
    with a backlog of AMI events and due timers: it acts on none of them and stands by."""
    a, b, a_health = await two_nodes(pbx, tmp_path, pg_database, redis_url, redis_prefix)
    frozen = False
    try:
        phone = await parties.phone(1000.0)
        a.cli(
            "operators", "add", "op", "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        op = await browser(a, "op")
        await op.ready()
        talking = await parties.caller(600.0)
        offer = await op.next_offer(within_s=10)
        contact_id = offer["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        await op.next_event("call.connected", within_s=10)
        await op.close()

        a.proc.send_signal(signal.SIGSTOP)
        frozen = True
        took_over = await leads(b, LEASE_S + 3)
        assert took_over["epoch"] == a_health["epoch"] + 1
        waiting = await parties.caller(700.0, caller="+77012222222")  # events A will not see
        await asyncio.sleep(1.0)
        a.proc.send_signal(signal.SIGCONT)
        frozen = False

        async def stands_by() -> bool:
            health = await telephony(a)
            return bool(
                health["role"] == "standby"
                and health["ami"] == "down"
                and health["holder"] == took_over["node"]
            )

        await until(stands_by, 5, "the old leader to stand by")
        assert (await telephony(b))["role"] == "leader"
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert talking.sipp.proc.poll() is None and phone.sipp.proc.poll() is None
        assert waiting.sipp.proc.poll() is None
        assert phone.rtp.hears(600.0, t0) > 0.5 and talking.rtp.hears(1000.0, t0) > 0.5
        op = await browser(b, "op")
        calls = await rows(pg_database, "SELECT contact_id, state FROM calls ORDER BY started_at")
        assert [r["state"] for r in calls] == ["connected", "holding"]
        await op.post(f"/api/v1/calls/{contact_id}/hangup")
        await op.next_event("call.ended", within_s=10)
        await op.close()
        a_log = (tmp_path / "a.log").read_text()
        assert "stopped driving (expired)" in a_log or "stopped driving (lost)" in a_log
        assert "hanging it up" not in a_log
    finally:
        if frozen:
            a.proc.send_signal(signal.SIGCONT)
        a.stop()
        b.stop()


async def event_of(b: Browser, type_: str, contact_id: str, within_s: float) -> dict[str, Any]:
    """The next pushed event of this type about this contact (older ones are dropped)."""
    deadline = time.monotonic() + within_s
    while True:
        found = await b.next_event(type_, within_s=max(0.01, deadline - time.monotonic()))
        if found["data"].get("contact_id", found["data"].get("contact", {}).get("id")) == (
            contact_id
        ):
            return found


async def offer_of(b: Browser, citizen: str, within_s: float) -> str:
    """The contact of the next offer to this operator of this caller's call."""
    deadline = time.monotonic() + within_s
    while True:
        offer = await b.next_offer(within_s=max(0.01, deadline - time.monotonic()))
        if offer["data"]["contact"]["citizen"] == citizen:
            return str(offer["data"]["contact"]["id"])


async def accept_to_ring(op: Browser, contact_id: str) -> float:
    """Seconds from the operator's click (POST accept) to her call.ringing."""
    t0 = time.monotonic()
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await event_of(op, "call.ringing", contact_id, 5)
    return time.monotonic() - t0


async def test_an_operator_on_the_standby_works_voice_through_the_leader(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    a, b, a_health = await two_nodes(pbx, tmp_path, pg_database, redis_url, redis_prefix)
    rounds = 3
    try:
        phone = await parties.phone(1000.0, calls=2 * rounds)
        a.cli(
            "operators", "add", "op", "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        op = await browser(b, "op")  # her session is on the standby
        await op.ready()

        # --- her accept rings her phone; bridged, audio both ways
        talking = await parties.caller(600.0)
        offer = await op.next_offer(within_s=10)
        contact_id = offer["data"]["contact"]["id"]
        relayed = [await accept_to_ring(op, contact_id)]
        await event_of(op, "call.connected", contact_id, 10)
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert phone.rtp.hears(600.0, t0 + 0.2) > 0.5 and talking.rtp.hears(1000.0, t0 + 0.2) > 0.5
        assert talking.rtp.hears(600.0, t0 + 0.2) < 0.05

        # --- hold, resume, hang up through the standby's API: carried out by the leader
        held = await op.post(f"/api/v1/calls/{contact_id}/hold")
        assert held["state"] == "held" and held["contact_id"] == contact_id
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert talking.rtp.hears(1000.0, t0 + 0.3) < 0.05  # hold music, not the operator
        assert len(talking.rtp.heard(t0 + 0.3)) > 4000  # but audio: the hold, not silence
        again = await op.post(f"/api/v1/calls/{contact_id}/hold", status=409)
        assert again["error"]["id"] == "call_not_connected"  # the leader's answer, as it was
        await op.post(f"/api/v1/calls/{contact_id}/resume")
        await event_of(op, "call.connected", contact_id, 10)
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert talking.rtp.hears(1000.0, t0 + 0.2) > 0.5 and phone.rtp.hears(600.0, t0 + 0.2) > 0.5
        assert await op.post(f"/api/v1/calls/{contact_id}/hangup") == {"hangup": True}
        ended = await event_of(op, "call.ended", contact_id, 10)
        assert ended["data"]["reason"] == "operator_hangup"
        assert await talking.sipp.done() == 0
        gone = await op.post(f"/api/v1/calls/{contact_id}/hold", status=404)
        assert gone["error"]["id"] == "no_live_call"
        assert (await op.get(f"/api/v1/contacts/{contact_id}"))["state"] == "wrap_up"
        audit = await rows(
            pg_database,
            "SELECT action FROM audit_log WHERE subject = $1 ORDER BY seq",
            contact_id,
        )
        actions = [r["action"] for r in audit]
        for action in ("call.hold", "call.resume", "call.hangup"):
            assert actions.count(action) == 1, actions  # once, by the node she talks to
        b_status = await telephony(b)
        assert b_status["role"] == "standby" and b_status["ami"] == "down"
        await op.post(f"/api/v1/contacts/{contact_id}/close", {"disposition": "advised"})

        # --- the relay's extra latency: the same accept on the standby and on the leader
        op_a = await browser(a, "op")  # a second session of hers, on the leader
        direct: list[float] = []
        for i in range(2 * rounds - 1):
            via, record = (op_a, direct) if i % 2 == 0 else (op, relayed)
            await via.ready()
            caller = await parties.caller(600.0, caller=f"+7701333333{i}")
            cid = await offer_of(via, f"+7701333333{i}", 10)
            record.append(await accept_to_ring(via, cid))
            await event_of(via, "call.connected", cid, 10)
            await via.post(f"/api/v1/calls/{cid}/hangup")
            await event_of(via, "call.ended", cid, 10)
            assert await caller.sipp.done() == 0
            await via.post(f"/api/v1/contacts/{cid}/close", {"disposition": "advised"})
        extra_ms = (statistics.median(relayed) - statistics.median(direct)) * 1000
        print(
            "\naccept → call.ringing: on the standby (relayed) "
            + ", ".join(f"{s * 1000:.0f}" for s in relayed)
            + " ms; on the leader "
            + ", ".join(f"{s * 1000:.0f}" for s in direct)
            + f" ms; the relay adds {extra_ms:.0f} ms (medians)"
        )
        assert statistics.median(relayed) < 1.0
        assert (await telephony(a))["node"] == a_health["node"]  # the leader never changed
        b_log = (tmp_path / "b.log").read_text()
        assert "no live call" not in b_log and "not relayed" not in b_log
        await op_a.close()
        await op.close()
    finally:
        a.stop()
        b.stop()


async def test_callback_spy_and_transfer_from_the_standby_are_carried_out_by_the_leader(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    trunk_port = free_udp_port()
    a_env = node_env(pbx, tmp_path / "a", pg_database, redis_url, redis_prefix)
    b_env = node_env(pbx, tmp_path / "b", pg_database, redis_url, redis_prefix)
    for env in (a_env, b_env):
        env["CONTACT_ASTERISK_TRUNK_HOST"] = f"127.0.0.1:{trunk_port}"
    a, b = serve(a_env, tmp_path / "a.log"), serve(b_env, tmp_path / "b.log")
    a.cli("db", "upgrade")
    try:
        await a.start()
        leader = await leads(a, 10)
        await b.start()
        trunk = await parties.trunk(trunk_port, 1300.0, calls=2)
        phone = await parties.phone(1000.0, calls=2)
        sup_phone = await parties.phone(1500.0)
        a.cli(
            "operators", "add", "op", "--endpoint", dial_string(phone), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        a.cli(
            "operators", "add", "boss", "--role", "supervisor",
            "--endpoint", dial_string(sup_phone, "sipp-sup"), "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        op, boss = await browser(b, "op"), await browser(b, "boss")  # both on the standby

        # --- a caller hangs up before anyone answers: she works the callback from the standby
        abandoning = await parties.caller(600.0, hold_ms=1500)
        assert await abandoning.sipp.done() == 0
        # the leader learns of the hangup over AMI a moment after sipp ends: a Ready before
        # that is offered the still-queued call, so wait for the task the supervisor is shown
        requested = await boss.next_event("callback.requested", "supervisor", within_s=15)
        await op.ready()
        task_id = await offer_of(op, "+77011234567", 15)
        assert task_id == requested["data"]["contact_id"]
        task = await op.get(f"/api/v1/contacts/{task_id}")
        assert task["channel"] == "callback"
        await op.post(f"/api/v1/contacts/{task_id}/accept")
        await event_of(op, "call.connected", task_id, 15)
        assert f"INVITE sip:+77011234567@127.0.0.1:{trunk_port}" in trunk.sipp.received("INVITE")[0]
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert trunk.rtp.hears(1000.0, t0 + 0.2) > 0.5 and phone.rtp.hears(1300.0, t0 + 0.2) > 0.5
        await op.post(f"/api/v1/calls/{task_id}/hangup")
        await event_of(op, "call.ended", task_id, 10)
        await op.post(f"/api/v1/contacts/{task_id}/close", {"disposition": "advised"})

        # --- a live call: the supervisor listens, then the operator transfers it
        await op.ready()
        caller = await parties.caller(600.0, hold_ms=30000)
        contact_id = await offer_of(op, "+77011234567", 10)
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        await event_of(op, "call.connected", contact_id, 10)

        # --- the supervisor listens: her phone hears both sides, nobody hears her
        spied = await boss.post(f"/api/v1/calls/{contact_id}/spy", {"mode": "listen"}, status=202)
        assert spied["mode"] == "listen" and spied["contact_id"] == contact_id and spied["leg"]
        start = time.monotonic()

        async def spy_audio() -> bool:
            return bool(sup_phone.rtp.heard(start).size > 4000)

        await until(spy_audio, 10, "audio at the supervisor's phone")
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert sup_phone.rtp.hears(600.0, t0) > 0.15 and sup_phone.rtp.hears(1000.0, t0) > 0.15
        assert caller.rtp.hears(1500.0, t0) < 0.02 and phone.rtp.hears(1500.0, t0) < 0.02
        await pbx.runner.cli(f"channel request hangup {spied['leg']}")

        # --- she transfers the caller to 103: the leader's INVITE carries the incident id
        await op.post(f"/api/v1/calls/{contact_id}/transfer", {"target": "103", "mode": "blind"})
        done = await event_of(op, "call.transferred", contact_id, 10)
        while done["data"]["outcome"] != "completed":
            done = await event_of(op, "call.transferred", contact_id, 10)
        to_103 = f"INVITE sip:103@127.0.0.1:{trunk_port}"
        invites = [m for m in trunk.sipp.received("INVITE") if to_103 in m]
        assert invites and f"X-Incident-Id: {contact_id}" in invites[0]
        t0 = time.monotonic()
        await asyncio.sleep(1.0)
        assert trunk.rtp.hears(600.0, t0 + 0.2) > 0.5 and caller.rtp.hears(1300.0, t0 + 0.2) > 0.5

        audit = await rows(
            pg_database, "SELECT action FROM audit_log WHERE subject = $1", contact_id
        )
        actions = [r["action"] for r in audit]
        assert actions.count("call.spy") == 1 and actions.count("call.transfer") == 1, actions
        standby = await telephony(b)
        assert standby["role"] == "standby" and standby["ami"] == "down"
        assert (await telephony(a))["node"] == leader["node"]
        await op.close()
        await boss.close()
    finally:
        a.stop()
        b.stop()
