"""`contact simulate SCENARIO --chaos`: the same traffic while the stack is hurt.

The command starts the stack it hurts, so it can hurt it: `contact serve` nodes (one on the
embedded defaults, or several over PostgreSQL and Redis), a Redis of its own (restarted empty),
a TCP relay in front of the database (cut for a while, as a network would cut it), and an MQTT
broker of its own feeding the units' positions (dropped). During the run it kills a node with
SIGKILL and restarts it, as a service manager would. Every fault is timed until every live node
reports itself healthy again (/healthz "up"): that is its recovery time.

With Asterisk at hand (provisioned for the project's runner, sipp installed) the command also
starts an Asterisk of its own for the nodes (its own run directory and ports), 102 calls go
through it (`edges/voice.py`), and one fault is its restart (stopped as a service manager stops
it, started again): recovered when every node's telephony is up again. Without it, the calls
are carried by the app edge and the report says why instead of pretending. The nodes are
pointed at the messengers' stand-ins and given an analytics key of the run's own
(`citizen_channels`), so Telegram, WhatsApp, kiosks, school alarms and camera alerts travel
their own edges through the faults too; and the scenario's patrols (`edges/units.py`): the
bots send them, they report on scene and free again over HTTP, and half of them publish their
positions on this stack's MQTT broker, the feed its nodes subscribe to, so dropping the broker
cuts a feed that is really in use (`unit_books.py` counts what the units were answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from pydantic import SecretStr

from contact.config import (
    AsteriskSettings,
    CameraSettings,
    DispatchSettings,
    Settings,
    TelegramSettings,
    WhatsAppSettings,
)
from contact.errors import ContactError
from contact.simulate.drive import DriveResult
from contact.simulate.edges.voice import Opened, PbxFactory, open_pbx, sip_port
from contact.simulate.standins.whatsapp import PHONE_NUMBER_ID

log = logging.getLogger(__name__)

READY_WAIT_S = 60.0
RECOVERY_WAIT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FaultRecord:
    """One fault: when it began (seconds into the run), how long until every live node said
    it was healthy again, and what was done."""

    name: str
    at_s: float
    recovered_s: float | None = None
    note: str = ""


def citizen_channels() -> dict[str, str]:
    """The nodes' settings for the citizens' own edges: Telegram and WhatsApp with secrets of
    this run, calling the messengers' APIs on ports free now, where the run's stand-ins will
    listen (`edges/chat.py`); a video analytics key of this run for camera alerts."""
    return {
        "CONTACT_TELEGRAM_TOKEN": f"{secrets.randbelow(9 * 10**8) + 10**8}:"
        f"{secrets.token_urlsafe(27)}",
        "CONTACT_TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "CONTACT_TELEGRAM_API_BASE": f"http://127.0.0.1:{free_port()}",
        "CONTACT_WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(16),
        "CONTACT_WHATSAPP_APP_SECRET": secrets.token_urlsafe(24),
        "CONTACT_WHATSAPP_ACCESS_TOKEN": secrets.token_urlsafe(32),
        "CONTACT_WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "CONTACT_WHATSAPP_API_BASE": f"http://127.0.0.1:{free_port()}",
        "CONTACT_CAMERA_API_KEYS": secrets.token_urlsafe(24),
    }


def edge_settings(env: Mapping[str, str]) -> Settings:
    """What the simulator's edges need to know of the nodes `citizen_channels` configured, and
    of the MQTT broker the nodes take the units' positions from (when the stack has one)."""
    mqtt = env.get("CONTACT_DISPATCH_MQTT_URL")
    return Settings(
        telegram=TelegramSettings(
            token=SecretStr(env["CONTACT_TELEGRAM_TOKEN"]),
            webhook_secret=SecretStr(env["CONTACT_TELEGRAM_WEBHOOK_SECRET"]),
            api_base=env["CONTACT_TELEGRAM_API_BASE"],
        ),
        whatsapp=WhatsAppSettings(
            verify_token=SecretStr(env["CONTACT_WHATSAPP_VERIFY_TOKEN"]),
            app_secret=SecretStr(env["CONTACT_WHATSAPP_APP_SECRET"]),
            access_token=SecretStr(env["CONTACT_WHATSAPP_ACCESS_TOKEN"]),
            phone_number_id=env["CONTACT_WHATSAPP_PHONE_NUMBER_ID"],
            api_base=env["CONTACT_WHATSAPP_API_BASE"],
        ),
        camera=CameraSettings(api_keys=SecretStr(env["CONTACT_CAMERA_API_KEYS"])),
        dispatch=DispatchSettings(mqtt_url=SecretStr(mqtt) if mqtt else None),
    )


def _spawn(
    argv: list[str], env: Mapping[str, str] | None, log_path: Path
) -> subprocess.Popen[bytes]:
    """A child process writing to its log; started at once (Popen does not wait for it)."""
    with log_path.open("ab") as out:
        return subprocess.Popen(
            argv, env=None if env is None else dict(env), stdout=out, stderr=subprocess.STDOUT
        )


class Relay:
    """A TCP relay in front of a server; `cut` drops every connection through it and refuses
    new ones for a while, as a broken network link would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._open = True
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()
            if task is not None:
                self._handlers.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.transport.abort()

    def cut(self) -> None:
        self._open = False
        for w in list(self._writers):
            w.transport.abort()

    def mend(self) -> None:
        self._open = True

    async def stop(self) -> None:
        self.cut()  # every pipe ends with its connection: its handler returns by itself
        if self._handlers:
            # a handler cancelled instead makes asyncio's stream callback log its
            # CancelledError as an error (Python 3.11): cancelled only if it hangs
            _, hanging = await asyncio.wait(set(self._handlers), timeout=5.0)
            for task in hanging:
                task.cancel()
            await asyncio.gather(*hanging, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class Daemon:
    """A helper server this command owns (redis-server, mosquitto): started, killed, started
    again on the same port."""

    def __init__(self, name: str, argv: Callable[[int], list[str]], log_path: Path) -> None:
        exe = shutil.which(argv(0)[0])
        if exe is None:
            raise ChaosError(f"{argv(0)[0]} is not installed; --chaos needs it")
        self.name, self._argv, self._log_path = name, argv, log_path
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self._proc = _spawn(self._argv(self.port), None, self._log_path)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            await asyncio.sleep(0.05)
        raise ChaosError(f"{self.name} did not start on port {self.port}")

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)


def redis_daemon(work: Path) -> Daemon:
    return Daemon(
        "redis",
        lambda port: [
            "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),  # a restart comes back empty
        ],
        work / "redis.log",
    )


def mqtt_daemon(work: Path) -> Daemon:
    conf = work / "mosquitto.conf"

    def argv(port: int) -> list[str]:
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        return ["mosquitto", "-c", str(conf)]

    return Daemon("mqtt", argv, work / "mosquitto.log")


class ChaosError(Exception):
    """The chaos run cannot be set up (a missing program, a node that never starts)."""


class Node:
    """One `contact serve`, as a service manager runs it: its own process, configured by
    environment; SIGKILL and a restart on the same port."""

    def __init__(self, name: str, env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "CONTACT_HTTP_PORT": str(self.port)}
        self._log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def start(self) -> None:
        exe = str(Path(sys.executable).with_name("contact"))
        self.proc = _spawn([exe, "serve"], self.env, self._log_path)
        deadline = time.monotonic() + READY_WAIT_S
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    tail = self._log_path.read_text(errors="replace")[-2000:]
                    raise ChaosError(f"node {self.name} exited: {tail}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with session.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise ChaosError(f"node {self.name} did not answer within {READY_WAIT_S:g} s")

    def kill9(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _through(url: str, port: int) -> str:
    """The database URL with its host and port replaced by the relay's."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def driving(settings: AsteriskSettings) -> dict[str, str]:
    """The environment of a `contact serve` that drives this Asterisk (transcription off: no
    speech model here, and its "down" would keep the node from being healthy)."""
    return {
        "CONTACT_ASTERISK_ENABLED": "true",
        "CONTACT_ASTERISK_RUN_DIR": str(settings.effective_run_dir),
        "CONTACT_ASTERISK_AMI_PORT": str(settings.ami_port),
        "CONTACT_ASTERISK_SIP_PORT": str(settings.sip_port),
        "CONTACT_ASTERISK_HTTP_PORT": str(settings.http_port),
        "CONTACT_ASTERISK_RTP_START": str(settings.rtp_start),
        "CONTACT_ASTERISK_RTP_END": str(settings.rtp_end),
        "CONTACT_TRANSCRIBE_ENABLED": "false",
    }


@dataclass
class Stack:
    """The nodes and the helper servers of one chaos run."""

    work: Path
    database_url: str  # the real one (for migrations and the final accounting)
    nodes: list[Node] = field(default_factory=list)
    redis: Daemon | None = None
    mqtt: Daemon | None = None
    relay: Relay | None = None
    app_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    asterisk: Opened | None = None  # the nodes' own Asterisk, when it could be had
    env: dict[str, str] = field(default_factory=dict)  # the nodes' CONTACT_* (but the port)

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def live_urls(self) -> list[str]:
        return [n.url for n in self.nodes if n.alive]

    @property
    def voice_reason(self) -> str | None:
        """Why 102 calls are not driven in this run (None: they are)."""
        if self.asterisk is None:
            return "no Asterisk runner"
        return self.asterisk.reason

    async def start(
        self, node_count: int, extra_env: Mapping[str, str], pbx: PbxFactory | None = None
    ) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "CONTACT_DATABASE_URL": self.database_url,
            "CONTACT_APP_API_KEYS": self.app_key,
            # one address, one key: the whole city comes from this machine
            "CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS": "1000000",
            "CONTACT_APP_REPORTS_PER_MINUTE_PER_API_KEY": "1000000",
            "CONTACT_APP_REGISTRATIONS_PER_MINUTE_PER_ADDRESS": "1000000",  # a phone per SOS
            "CONTACT_DISPATCH_RELOAD_CHECK_S": "1",  # learn the units the simulator imports
            "CONTACT_LOG_LEVEL": "WARNING",
            **extra_env,
        }
        _migrate(env)
        if self.postgres:
            parts = urlsplit(self.database_url)
            self.relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
            await self.relay.start()
            env["CONTACT_DATABASE_URL"] = _through(self.database_url, self.relay.port)
            self.redis = redis_daemon(self.work)
            await self.redis.start()
            env["CONTACT_REDIS_URL"] = f"redis://127.0.0.1:{self.redis.port}/0"
            env.setdefault("CONTACT_REDIS_SOCKET_TIMEOUT_S", "1")
        elif node_count > 1:
            raise ChaosError(
                "several nodes need PostgreSQL (--database-url postgresql+asyncpg://…)"
            )
        if pbx is not None:
            env.update(await self._start_asterisk(pbx))
        with contextlib.suppress(ChaosError):  # no mosquitto: that fault is skipped, said so
            self.mqtt = mqtt_daemon(self.work)
        if self.mqtt is not None:
            await self.mqtt.start()
            env["CONTACT_DISPATCH_MQTT_URL"] = f"mqtt://127.0.0.1:{self.mqtt.port}"
        self.env = env
        self.nodes = [
            Node(chr(ord("a") + i), env, self.work / f"node-{chr(ord('a') + i)}.log")
            for i in range(node_count)
        ]
        await asyncio.gather(*(n.start() for n in self.nodes))

    async def _start_asterisk(self, pbx: PbxFactory) -> dict[str, str]:
        """An Asterisk of this run's own (run directory, ports), and the nodes' settings for
        it; nothing when it cannot be had (`voice_reason` says why)."""
        settings = AsteriskSettings(
            run_dir=self.work / "asterisk",
            ami_port=free_port(),
            http_port=free_port(),
            sip_port=sip_port(),
            rtp_start=30000,  # above sipp's media ports (edges/voice.py), below the kernel's
            rtp_end=30999,
        )
        self.asterisk = await open_pbx(pbx(settings))
        if self.asterisk.pbx is None:
            return {}
        return driving(settings)

    async def stop(self) -> None:
        if self.asterisk is not None:
            await self.asterisk.close()
        for n in self.nodes:
            n.stop()
        for d in (self.redis, self.mqtt):
            if d is not None:
                d.kill()
        if self.relay is not None:
            await self.relay.stop()

    async def healthy(self, session: aiohttp.ClientSession) -> bool:
        """Every node that runs says "up" on /healthz."""
        for url in self.live_urls():
            try:
                async with session.get(f"{url}/healthz") as r:
                    if r.status != 200 or (await r.json()).get("status") != "up":
                        return False
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                return False
        return bool(self.live_urls())


def _migrate(env: Mapping[str, str]) -> None:
    exe = str(Path(sys.executable).with_name("contact"))
    done = subprocess.run(
        [exe, "db", "upgrade"], env=dict(env), capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise ChaosError(f"contact db upgrade failed: {done.stderr[-1000:]}")


# --- the faults --------------------------------------------------------------------------------

Fault = Callable[[Stack], Awaitable[str]]


async def kill_a_node(stack: Stack) -> str:
    node = stack.nodes[-1]
    node.kill9()
    await asyncio.sleep(2.0)  # a service manager's restart delay
    await node.start()
    return f"SIGKILL to node {node.name}, restarted after 2 s"


async def restart_redis_empty(stack: Stack) -> str:
    assert stack.redis is not None
    stack.redis.kill()
    await asyncio.sleep(1.0)
    await stack.redis.start()
    return "Redis killed and started again with nothing in it"


async def cut_the_database(stack: Stack, seconds: float = 10.0) -> str:
    assert stack.relay is not None
    stack.relay.cut()
    await asyncio.sleep(seconds)
    stack.relay.mend()
    return f"every PostgreSQL connection cut and refused for {seconds:g} s"


async def drop_the_units_feed(stack: Stack, seconds: float = 10.0) -> str:
    assert stack.mqtt is not None
    stack.mqtt.kill()
    await asyncio.sleep(seconds)
    await stack.mqtt.start()
    return f"MQTT broker down for {seconds:g} s"


async def restart_asterisk(stack: Stack) -> str:
    assert stack.asterisk is not None and stack.asterisk.runner is not None
    runner = stack.asterisk.runner
    try:
        await runner.down()  # SIGTERM: Asterisk hangs every call up and stops
        await asyncio.sleep(1.0)  # a service manager's restart delay
        await runner.up()
    except ContactError as exc:
        raise ChaosError(f"Asterisk did not restart: {exc.message}") from exc
    return "Asterisk stopped (every call hung up) and started again after 1 s"


FAULT_KEYS = {  # --faults: a fault's short name → its name in the report
    "node": "kill -9 a node",
    "redis": "restart Redis empty",
    "database": "cut PostgreSQL 10 s",
    "mqtt": "drop the units' MQTT feed",
    "asterisk": "restart Asterisk",
}


def faults_for(stack: Stack, only: Sequence[str] = ()) -> list[tuple[str, Fault]]:
    """What can be done to this stack, in the order it is done (`only`: these FAULT_KEYS)."""
    faults: list[tuple[str, Fault]] = [("kill -9 a node", kill_a_node)]
    if stack.redis is not None:
        faults.append(("restart Redis empty", restart_redis_empty))
    if stack.relay is not None:
        faults.append(("cut PostgreSQL 10 s", cut_the_database))
    if stack.mqtt is not None:
        faults.append(("drop the units' MQTT feed", drop_the_units_feed))
    if stack.voice_reason is None:
        faults.append(("restart Asterisk", restart_asterisk))
    wanted = {FAULT_KEYS[k] for k in only}
    return [f for f in faults if not wanted or f[0] in wanted]


def not_done(stack: Stack) -> list[FaultRecord]:
    """The faults this stack cannot have, named in the report."""
    skipped = []
    if stack.voice_reason is not None:
        note = f"not driven: 102 calls are carried by the app edge ({stack.voice_reason})"
        skipped.append(FaultRecord("restart Asterisk", 0.0, None, note))
    if stack.redis is None:
        skipped.append(FaultRecord("restart Redis empty", 0.0, None, "embedded: no Redis"))
    if stack.relay is None:
        skipped.append(FaultRecord("cut PostgreSQL 10 s", 0.0, None, "embedded: SQLite"))
    if stack.mqtt is None:
        skipped.append(FaultRecord("drop the units' MQTT feed", 0.0, None, "no mosquitto"))
    return skipped


async def inject(
    stack: Stack, faults: Sequence[tuple[str, Fault]], at: Sequence[float], start: float
) -> list[FaultRecord]:
    """Each fault at its wall time (monotonic), then wait until every live node is healthy."""
    records: list[FaultRecord] = []
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for (name, fault), when in zip(faults, at, strict=True):
            delay = when - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            began = time.monotonic()
            record = FaultRecord(name, round(began - start, 1))
            records.append(record)
            log.warning("chaos: %s", name)
            try:
                record.note = await fault(stack)
            except ChaosError as exc:
                record.note = f"failed: {exc}"
                continue
            deadline = time.monotonic() + RECOVERY_WAIT_S
            while time.monotonic() < deadline:
                if await stack.healthy(session):
                    record.recovered_s = round(time.monotonic() - began, 1)
                    break
                await asyncio.sleep(0.2)
    return records


# --- the accounting --------------------------------------------------------------------------


@dataclass
class Accounting:
    """Every contact the edges acknowledged, looked up in the database itself."""

    acknowledged: int
    found_once: int
    missing: list[str]
    duplicated: list[str]  # devices with more than one contact
    orphaned: list[str]  # in an operator's hands with nobody working
    states: dict[str, int]
    stored_unacknowledged: int  # stored, but the edge's answer never reached the citizen
    found: dict[str, tuple[str, str]] = field(default_factory=dict)  # citizen → (id, state)

    def figures(self) -> dict[str, Any]:
        """What a report shows (not every citizen's contact)."""
        return {k: v for k, v in vars(self).items() if k != "found"}


async def account(
    database_url: str,
    prefixes: str | Sequence[str],
    acknowledged: Mapping[str, str | None],
    within_s: float = 0.0,
) -> Accounting:
    """`prefixes`: how this run's citizens begin (the app's device ids, the chats', the
    kiosks', schools' and cameras'); `acknowledged`: citizen → the contact id the edge
    answered with, or None when the edge names none (a chat's webhook): then the citizen's one
    contact is it. Each citizen of a run is one contact. A chat's message is acknowledged once
    it is in the center's durable inbox and becomes its contact after: what is missing is
    looked for again for up to `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        books = await _account(database_url, prefixes, acknowledged)
        if not books.missing or time.monotonic() >= deadline:
            return books
        await asyncio.sleep(1.0)


async def _account(
    database_url: str,
    prefixes: str | Sequence[str],
    acknowledged: Mapping[str, str | None],
) -> Accounting:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    prefixes = [prefixes] if isinstance(prefixes, str) else list(prefixes)
    engine = create_async_engine(database_url)
    rows: list[Any] = []
    try:
        async with engine.connect() as conn:
            for prefix in prefixes:
                rows.extend(
                    (
                        await conn.execute(
                            text("SELECT id, citizen, state FROM contacts WHERE citizen LIKE :p"),
                            {"p": f"{prefix}%"},
                        )
                    ).all()
                )
    finally:
        await engine.dispose()
    by_device: dict[str, list[tuple[str, str]]] = {}
    for contact_id, citizen, state in {tuple(r) for r in rows}:
        by_device.setdefault(str(citizen), []).append((str(contact_id), str(state)))
    states: dict[str, int] = {}
    for _, state in (x for v in by_device.values() for x in v):
        states[state] = states.get(state, 0) + 1

    def found(device: str, cid: str | None) -> bool:
        ids = {c for c, _ in by_device.get(device, [])}
        return cid in ids if cid is not None else bool(ids)

    missing = [d for d, cid in acknowledged.items() if not found(d, cid)]
    duplicated = [d for d, v in by_device.items() if len(v) > 1]
    # in an operator's hands at the end, after every bot closed what she held (an offer still
    # pending is not: it lapses back into the queue by itself)
    orphaned = [c for v in by_device.values() for c, s in v if s == "connected"]
    return Accounting(
        acknowledged=len(acknowledged),
        found_once=sum(1 for d in acknowledged if d not in missing and d not in duplicated),
        missing=missing,
        duplicated=duplicated,
        orphaned=orphaned,
        states=states,
        stored_unacknowledged=sum(1 for d in by_device if d not in acknowledged),
        found={d: v[0] for d, v in by_device.items() if len(v) == 1},
    )


WAITING_OR_TERMINAL = frozenset({"queued", "offered", "closed", "abandoned"})  # in the table


def settle(result: DriveResult, books: Accounting) -> None:
    """The database's word on every contact an edge accepted: the id of a chat's contact
    (its webhook names none), the state of those the app cannot read back, and an error for
    one neither waiting nor over."""
    for s in result.accepted:
        found = books.found.get(s.device_id)
        if found is None:
            continue  # books.missing has it
        if s.contact_id is None:
            s.contact_id = found[0]
        if s.edge != "app" or s.final_status is None:  # not read back by the app
            s.final_status = found[1]
            if found[1] not in WAITING_OR_TERMINAL:
                result.errors.append(f"{s.contact_id} ({s.edge}): {found[1]}")
