"""Faults on real processes: kill -9 of the server with contacts waiting (embedded and Redis),
Redis dying under load and coming back empty, and two server nodes racing on one queue."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.ports import free_tcp_port
from tests.support import Browser, ServeProcess

pytestmark = pytest.mark.slow

WAITING = 50


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_ROUTING_WRAP_UP_S": "0",
    }


@pytest.fixture
def nodes() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for node in started:
        node.stop()


async def post_reports(node: ServeProcess, n: int, prefix: str = "report") -> list[str]:
    async with aiohttp.ClientSession() as session:
        return [
            await node.report(session, f"{prefix} {i}: шум во дворе", f"device-{prefix}-{i}")
            for i in range(n)
        ]


async def work_queue(op: Browser, n: int) -> list[str]:
    """Be ready, take n offers one after the other (accept, close): the order offered."""
    offered: list[str] = []
    await op.ready()
    for _ in range(n):
        offer = await op.next_offer(within_s=10)
        contact_id = offer["data"]["contact"]["id"]
        offered.append(contact_id)
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        await op.post(f"/api/v1/contacts/{contact_id}/close", {})
    return offered


async def restart_keeps_the_queue(node: ServeProcess) -> None:
    node.add_operator("op")
    await node.start()
    posted = await post_reports(node, WAITING)
    node.kill9()
    await node.start()
    op = await node.browser("op")
    await op.connect()
    try:
        assert await work_queue(op, WAITING) == posted
    finally:
        await op.close()


async def test_kill_9_embedded_keeps_every_waiting_contact_in_order(
    tmp_path: Path, nodes: list[ServeProcess]
) -> None:
    node = ServeProcess(sqlite_env(tmp_path), tmp_path / "serve.log")
    nodes.append(node)
    await restart_keeps_the_queue(node)


async def test_kill_9_on_redis_keeps_every_waiting_contact_in_order(
    tmp_path: Path, nodes: list[ServeProcess], redis_url: str, redis_prefix: str
) -> None:
    env = {
        **sqlite_env(tmp_path),
        "CONTACT_REDIS_URL": redis_url,
        "CONTACT_REDIS_KEY_PREFIX": redis_prefix,
    }
    node = ServeProcess(env, tmp_path / "serve.log")
    nodes.append(node)
    await restart_keeps_the_queue(node)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A Redis of this test's own, so it can be killed without harming anything else."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is required (make test installs it)"
    port = free_tcp_port()
    procs: list[subprocess.Popen[bytes]] = []
    yield port, procs
    for proc in procs:
        proc.kill()
        proc.wait()


async def start_redis(port: int, procs: list[subprocess.Popen[bytes]]) -> None:
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    procs.append(proc)
    for _ in range(100):
        done = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
        )
        if done.stdout.strip() == "PONG":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("private redis did not start")


async def health(node: ServeProcess) -> dict[str, object]:
    async with aiohttp.ClientSession() as session, session.get(f"{node.url}/healthz") as r:
        return dict(await r.json())


async def test_redis_down_intake_still_durable_and_queue_recovers(
    tmp_path: Path,
    nodes: list[ServeProcess],
    private_redis: tuple[int, list[subprocess.Popen[bytes]]],
) -> None:
    port, procs = private_redis
    await start_redis(port, procs)
    env = {
        **sqlite_env(tmp_path),
        "CONTACT_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "CONTACT_REDIS_SOCKET_TIMEOUT_S": "0.5",
    }
    node = ServeProcess(env, tmp_path / "serve.log")
    nodes.append(node)
    node.add_operator("op")
    await node.start()
    before = await post_reports(node, 2, "before")
    procs[0].kill()
    procs[0].wait()
    during = await post_reports(node, 3, "during")  # 202 each: stored before acknowledged
    state = await health(node)
    assert state["status"] == "degraded"
    assert state["components"]["redis"]["status"] == "down"  # type: ignore[index]
    await start_redis(port, procs)  # back, and empty: it kept nothing on disk
    for _ in range(100):
        if (await health(node))["status"] == "up":
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("healthz never saw Redis again")
    op = await node.browser("op")
    await op.connect()
    try:
        assert await work_queue(op, 5) == before + during
    finally:
        await op.close()


OPERATORS = 10
CONTACTS = 120


async def test_two_nodes_on_one_redis_never_double_assign(
    tmp_path: Path,
    nodes: list[ServeProcess],
    redis_url: str,
    redis_prefix: str,
    postgres_url: str,
) -> None:
    env = {
        "CONTACT_DATABASE_URL": postgres_url,
        "CONTACT_REDIS_URL": redis_url,
        "CONTACT_REDIS_KEY_PREFIX": redis_prefix,
        "CONTACT_ROUTING_WRAP_UP_S": "0",
    }
    a = ServeProcess(env, tmp_path / "a.log")
    b = ServeProcess(env, tmp_path / "b.log")
    nodes.extend([a, b])
    a.cli("db", "upgrade")
    for i in range(OPERATORS):
        a.add_operator(f"op{i}")
    await a.start()
    await b.start()
    ops = [await (a if i % 2 else b).browser(f"op{i}") for i in range(OPERATORS)]
    for op in ops:
        await op.connect()
        await op.ready()
    offers: Counter[str] = Counter()
    accepted: list[str] = []
    conflicts: list[str] = []
    done = asyncio.Event()

    async def operate(op: Browser) -> None:
        while not done.is_set():
            try:
                offer = await op.next_event(
                    "contact.offered", f"operator:{op.operator_id}", within_s=0.5
                )
            except TimeoutError:
                continue
            contact_id = offer["data"]["contact"]["id"]
            offers[contact_id] += 1
            async with op.session.post(
                f"/api/v1/contacts/{contact_id}/accept", headers={"X-CSRF-Token": op.csrf}
            ) as r:
                if r.status != 200:
                    conflicts.append(f"{op.username} {contact_id} {r.status}")
                    continue
            accepted.append(contact_id)
            await op.post(f"/api/v1/contacts/{contact_id}/close", {})
            if len(accepted) == CONTACTS:
                done.set()

    workers = [asyncio.create_task(operate(op)) for op in ops]
    async with aiohttp.ClientSession() as session:
        posted = await asyncio.gather(
            *(
                (a if i % 2 else b).report(session, f"сообщение {i}", f"device-race-{i}")
                for i in range(CONTACTS)
            )
        )
    await asyncio.wait_for(done.wait(), 60)
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for op in ops:
        await op.close()
    assert not conflicts
    assert sorted(accepted) == sorted(posted)  # each contact accepted exactly once
    assert set(offers.values()) == {1}  # and offered exactly once, across both nodes
    assert "audit log intact" in a.cli("audit", "verify")
