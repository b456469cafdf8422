"""102 calls on a real Asterisk: screen pop, contact's queue against app_queue, capacity.

Everything runs on this machine the way it runs in production: Asterisk 22 from
asterisk-config/ (a copy in a temporary directory, with app_queue added for the comparison and
maxcalls raised for the capacity run), `contact serve` as its own process (SQLite, in-process
queue, telephony on), sipp as the callers (RTP both ways: each caller plays a tone from a
pcap, Asterisk plays hold music) and as the operator's phone.

1. Screen pop: INVITE (the authenticated one, as sipp sent it) → `contact.queued` on a
   logged-in operator's /ws, at --rate calls/s with --held calls holding (hold = held/rate s).
   p50/p95/p99 over every call, and over the steady state (once --held calls hold), and lost
   (an INVITE answered by Asterisk whose contact never reached the WebSocket). Target: p95
   <= 100 ms, nothing lost.
2. INVITE → the operator's phone ringing (its INVITE, as that sipp received it), one call at a
   time: through app_queue (one queue, one member, ringall), through contact with ring on
   offer (CONTACT_ASTERISK_RING_ON_OFFER: the phone rings as the offer), and through contact
   with a bot operator clicking accept on the offer (the default flow: WebSocket offer → POST
   accept → Originate). Target: contact <= 1.5x app_queue.
(A warm-up of 60 calls, not measured, comes first: a fresh process compiles its SQL.)
3. Capacity: the screen pop again with more held calls (--ramp), until INVITE → event p95
   exceeds 250 ms (or calls fail): the most held calls this machine carries under that bound.

    python bench/bench_voice_screen_pop.py [--rate 20] [--held 200] [--measure 15]
                                           [--queue-calls 12] [--ramp 300,400,500,600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
from _figures import pct  # bench/ is on sys.path when run as a script
from _processes import cpu_seconds, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from contact.config import AsteriskSettings  # noqa: E402
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskRunner  # noqa: E402
from tests.ports import sipp_media_port  # noqa: E402

TARGET_POP_P95_MS = 100.0
TARGET_RATIO = 1.5
CAPACITY_P95_MS = 250.0
USERNAME, PASSWORD = "benchop", "bench password 0123456789"


# --- helpers ---------------------------------------------------------------------------------


def ulaw_tone(hz: float, samples: int, start: int) -> bytes:
    out = bytearray()
    for n in range(start, start + samples):
        x = int(8000 * math.sin(2 * math.pi * hz * n / 8000))
        sign = 0x80 if x < 0 else 0
        mag = min(abs(x), 32635) + 0x84
        exponent = max(0, min(7, mag.bit_length() - 8))
        mantissa = (mag >> (exponent + 3)) & 0x0F
        out.append(~(sign | (exponent << 4) | mantissa) & 0xFF)
    return bytes(out)


def write_pcap(path: Path, seconds: float, hz: float = 600.0) -> None:
    """A PCMU RTP stream (20 ms packets) in a pcap, as sipp's play_pcap_audio reads it."""
    frame = ulaw_tone(hz, 160, 0)  # 160 samples at 600 Hz: a whole number of periods
    packets = int(seconds * 50)
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(packets):
            rtp = struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, i * 160, 0x1234) + frame
            udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
            ip = struct.pack(
                "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                b"\x7f\0\0\x01", b"\x7f\0\0\x01",
            )  # fmt: skip
            eth = b"\0" * 12 + b"\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", i // 50, (i % 50) * 20000, len(eth), len(eth)) + eth)


SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""


def caller_scenario(
    exten: str, password: str, hold_ms: int, pcap: Path | None, prefix: str = "7700"
) -> str:
    head = (
        f"INVITE sip:{exten}@[remote_ip]:[remote_port] SIP/2.0\n"
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"From: <sip:+{prefix}[call_number]@[local_ip]:[local_port]>"
        ";tag=[pid]SIPpTag00[call_number]\n"
        f"To: <sip:{exten}@[remote_ip]:[remote_port]>\nCall-ID: [call_id]\n"
        "Contact: <sip:sipp@[local_ip]:[local_port]>\nMax-Forwards: 70\n"
    )
    body = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + SDP
    dialog = (
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n[last_From:]\n"
        "[last_To:]\nCall-ID: [call_id]\nMax-Forwards: 70\n"
    )
    media = (
        f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>' if pcap is not None else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="bench caller">
<send retrans="500"><![CDATA[
{head}CSeq: 1 INVITE
{body}
]]></send>
<recv response="100" optional="true"/>
<recv response="401" auth="true"/>
<send><![CDATA[
ACK sip:{exten}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
<send retrans="500"><![CDATA[
{head}CSeq: 2 INVITE
[authentication username=sipp password={password}]
{body}
]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="183" optional="true"/>
<recv response="200" rrs="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0
{dialog}CSeq: 2 ACK
Content-Length: 0

]]></send>
{media}
<pause milliseconds="{hold_ms}"/>
<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
{dialog}CSeq: 3 BYE
Content-Length: 0

]]></send>
<recv response="200" crlf="true"/>
</scenario>
"""


REGISTER = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="bench phone registers">
<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp-op@[remote_ip]>;tag=[pid]r[call_number]
To: <sip:sipp-op@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:sipp-op@[local_ip]:[local_port]>
Expires: 3600
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="401" auth="true"/>
<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp-op@[remote_ip]>;tag=[pid]r[call_number]
To: <sip:sipp-op@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:sipp-op@[local_ip]:[local_port]>
[authentication username=sipp-op password=PASSWORD]
Expires: 3600
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
</scenario>
"""

PHONE = (
    """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="bench phone">
<recv request="INVITE" crlf="true"/>
<send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
<pause milliseconds="100"/>
<send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

"""
    + SDP
    + """
]]></send>
<recv request="ACK" crlf="true"/>
<recv request="BYE"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""
)

_BLOCK = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n", re.M)


def sipp_messages(log: Path) -> list[tuple[float, str, str]]:
    """(wall clock, 'sent'|'received', text) of every message in a sipp -trace_msg log."""
    text = log.read_text(errors="replace") if log.exists() else ""
    parts = _BLOCK.split(text)
    out = []
    for i in range(1, len(parts) - 1, 2):
        at = datetime.fromisoformat(parts[i]).timestamp()
        body = parts[i + 1]
        out.append((at, "sent" if "message sent" in body[:60] else "received", body))
    return out


def invites_by_number(log: Path, *, direction: str, authenticated: bool) -> dict[str, float]:
    found: dict[str, float] = {}
    for at, way, body in sipp_messages(log):
        if way != direction or not re.search(r"^INVITE sip:", body, re.M):
            continue
        if authenticated and "Authorization:" not in body:
            continue
        number = re.search(r"^From:[^\n]*?(\+?\d{4,})", body, re.M)
        if number:
            found.setdefault(number.group(1).lstrip("+"), at)
    return found


# --- the processes -----------------------------------------------------------------------------


@dataclass
class Rig:
    tmp: Path
    pbx: AsteriskRunner
    settings: AsteriskSettings
    phone_port: int
    serve: subprocess.Popen[bytes] | None = None
    port: int = 0
    db: str = "bench.db"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        s = self.settings
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "CONTACT_HTTP_PORT": str(self.port),
            "CONTACT_DATA_DIR": str(self.tmp),
            "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{self.tmp}/{self.db}",
            "CONTACT_ROUTING_WRAP_UP_S": "0",
            "CONTACT_LOG_LEVEL": "WARNING",
            "CONTACT_ASTERISK_ENABLED": "true",
            "CONTACT_ASTERISK_AMI_PORT": str(s.ami_port),
            "CONTACT_ASTERISK_RUN_DIR": str(s.effective_run_dir),
            **extra,
        }

    def contact(self, *args: str, stdin: str | None = None, **env: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "contact", *args],
            env=self.env(**env), cwd=REPO, input=stdin, text=True, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip

    async def start_serve(self, **env: str) -> None:
        self.port = free_port()
        log = (self.tmp / f"serve-{self.port}.log").open("wb")
        profile = os.environ.get("BENCH_PROFILE")  # a cProfile of contact serve, for tuning
        prefix = ["-m", "cProfile", "-o", f"{profile}.{self.port}"] if profile else []
        self.serve = subprocess.Popen(
            [sys.executable, *prefix, "-m", "contact", "serve"], env=self.env(**env), cwd=REPO,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # AMI login and the first resync

    def stop_serve(self) -> None:
        if self.serve is not None and self.serve.poll() is None:
            self.serve.terminate()
            try:
                self.serve.wait(15)
            except subprocess.TimeoutExpired:
                self.serve.kill()
                self.serve.wait()
        self.serve = None

    def sipp(self, name: str, argv: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.tmp / f"{name}.msg"
        out = (self.tmp / f"{name}.out").open("wb")
        proc = subprocess.Popen(
            ["sipp", *argv, "-i", "127.0.0.1", "-nostdin", "-trace_msg", "-message_file",
             str(log)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        return proc, log

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.stop_serve()


def render_config(tmp: Path, phone_port: int, *, record_waiting: bool = False) -> Path:
    """asterisk-config/ plus app_queue (one queue, the bench phone as its one member, reached
    by calling q102) and maxcalls high enough for the capacity run."""
    config = tmp / "asterisk-config"
    shutil.copytree(DEFAULT_CONFIG_DIR, config)
    asterisk = (config / "asterisk.conf").read_text()
    (config / "asterisk.conf").write_text(re.sub(r"maxcalls = \d+", "maxcalls = 2000", asterisk))
    modules = (config / "modules.conf").read_text()
    (config / "modules.conf").write_text(modules + "\nload => app_queue.so\n")
    (config / "queues.conf").write_text(
        "[general]\n\n[bench]\nstrategy = ringall\ntimeout = 15\nringinuse = yes\n"
        "member => PJSIP/sipp-op\n"
    )
    dialplan = (config / "extensions.conf").read_text()
    dialplan = dialplan.replace(
        "[inbound]\n", "[inbound]\nexten => q102,1,Queue(bench,,,,30)\n same => n,Hangup()\n", 1
    )
    if record_waiting:  # to measure what recording the held calls costs
        dialplan = dialplan.replace("CONTACT_RECORD_WAITING = no", "CONTACT_RECORD_WAITING = yes")
    (config / "extensions.conf").write_text(dialplan)
    return config


async def login(session: aiohttp.ClientSession) -> str:
    async with session.get("/login") as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
    assert token
    async with session.post(
        "/login",
        data={"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, await r.text()
    async with session.get("/api/v1/me") as r:
        me = await r.json()
    return str(me["csrf_token"])


# --- 1 and 3: screen pop ---------------------------------------------------------------------


@dataclass
class Pop:
    held: int
    rate: float
    latencies: list[float]
    steady: list[float]
    sent: int
    answered: int
    lost: int
    failed_calls: int
    serve_cpu: float
    pbx_cpu: float
    wall: float


async def screen_pop(rig: Rig, *, rate: float, held: int, measure_s: float, tag: str) -> Pop:
    hold_s = held / rate
    total = int(rate * (hold_s + measure_s))
    pcap = rig.tmp / f"hold-{tag}.pcap"
    write_pcap(pcap, hold_s + 1)
    scenario = rig.tmp / f"caller-{tag}.xml"
    password = rig.pbx.sip_password("sipp-auth")
    scenario.write_text(caller_scenario("102", password, int(hold_s * 1000), pcap))
    arrived: dict[str, float] = {}
    async with aiohttp.ClientSession(
        base_url=rig.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as session:
        await login(session)
        ws = await session.ws_connect("/ws", max_msg_size=0)

        async def read() -> None:
            async for msg in ws:
                now = time.time()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data).get("data") or {}
                    if data.get("type") == "contact.queued":
                        arrived.setdefault(str(data["contact"]["id"]), now)

        reader = asyncio.create_task(read())
        serve_pid = rig.serve.pid if rig.serve else 0
        pbx_pid = rig.pbx.status().pid or 0
        cpu0 = cpu_seconds(serve_pid), cpu_seconds(pbx_pid)
        started = time.time()
        proc, log = rig.sipp(
            f"load-{tag}",
            [f"127.0.0.1:{rig.settings.sip_port}", "-sf", str(scenario), "-r", str(rate),
             "-m", str(total), "-l", str(held + 100),
             "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(sipp_media_port()),
             "-timeout", str(int(hold_s + measure_s + 60)), "-timeout_error"],
        )  # fmt: skip
        await asyncio.to_thread(proc.wait)
        await asyncio.sleep(2.0)  # the last events
        wall = time.time() - started
        cpu1 = cpu_seconds(serve_pid), cpu_seconds(pbx_pid)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    invites = invites_by_number(log, direction="sent", authenticated=True)
    answered = {
        n for at, way, body in sipp_messages(log)
        if way == "received" and body.split("\n", 3)[2:3] == ["SIP/2.0 200 OK"]
        for n in re.findall(r"^From:[^\n]*?\+(\d{4,})", body, re.M)
    }  # fmt: skip
    db = sqlite3.connect(rig.tmp / rig.db)
    citizens = dict(
        db.execute("SELECT id, citizen FROM contacts WHERE channel = 'voice'").fetchall()
    )
    db.close()
    by_number = {str(c).lstrip("+"): cid for cid, c in citizens.items() if c}
    latencies, steady, lost = [], [], 0
    steady_from = started + hold_s
    for number, at in invites.items():
        contact_id = by_number.get(number)
        seen = arrived.get(contact_id) if contact_id else None
        if seen is None:
            lost += 1 if number in answered else 0
            continue
        latencies.append((seen - at) * 1000)
        if at >= steady_from:
            steady.append((seen - at) * 1000)
    failed_calls = _failed_calls(rig.tmp / f"load-{tag}.out")
    return Pop(
        held, rate, latencies, steady, len(invites), len(answered), lost, failed_calls,
        cpu1[0] - cpu0[0], cpu1[1] - cpu0[1], wall,
    )  # fmt: skip


def _failed_calls(out: Path) -> int:
    for line in reversed(out.read_text(errors="replace").splitlines()):
        if line.strip().startswith("Failed call"):
            return int(line.split("|")[2].strip())
    return -1


def show_pop(pop: Pop, title: str) -> None:
    print(f"\n{title}: {pop.rate:g} calls/s, {pop.held} held (hold {pop.held / pop.rate:g} s)")
    print(f"  calls: {pop.sent} INVITEs, {pop.answered} answered, {pop.failed_calls} failed "
          f"(sipp), lost on the WebSocket: {pop.lost}")  # fmt: skip
    for name, values in (("all calls", pop.latencies), ("steady state", pop.steady)):
        print(f"  INVITE → contact.queued, {name:12} n={len(values):4}  p50 {pct(values, 50):6.1f}"
              f"  p95 {pct(values, 95):6.1f}  p99 {pct(values, 99):6.1f}"
              f"  max {max(values, default=math.nan):6.1f} ms")  # fmt: skip
    print(f"  CPU: contact serve {pop.serve_cpu / pop.wall:.2f} core, Asterisk "
          f"{pop.pbx_cpu / pop.wall:.2f} core over {pop.wall:.0f} s")  # fmt: skip


# --- 2: INVITE → the operator's phone ringing -----------------------------------------------


async def to_ringing(rig: Rig, exten: str, n: int, tag: str, bot: bool, prefix: str) -> list[float]:
    """One call every 2 s; the phone answers after 100 ms, the caller hangs up 700 ms later."""
    scenario = rig.tmp / f"ring-{tag}.xml"
    password = rig.pbx.sip_password("sipp-auth")
    scenario.write_text(caller_scenario(exten, password, 700, None, prefix))
    phone, phone_log = rig.sipp(
        f"phone-{tag}", ["-sf", str(rig.tmp / "phone.xml"), "-p", str(rig.phone_port),
                         "-mp", str(sipp_media_port()), "-m", str(n)],
    )  # fmt: skip
    await asyncio.sleep(0.3)
    bot_task = None
    session = None
    if exten == "102":
        session = aiohttp.ClientSession(base_url=rig.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        csrf = await login(session)
        ws = await session.ws_connect("/ws")
        headers = {"X-CSRF-Token": csrf}
        async with session.post("/api/v1/me/presence", json={"presence": "ready"},
                                headers=headers) as r:  # fmt: skip
            assert r.status == 200, await r.text()

        async def operate() -> None:
            async for msg in ws:
                data = json.loads(msg.data).get("data") or {}
                kind = data.get("type")
                if kind == "contact.offered" and bot and "citizen" in data.get("contact", {}):
                    cid = data["contact"]["id"]
                    async with session.post(f"/api/v1/contacts/{cid}/accept", headers=headers):
                        pass
                elif kind == "call.ended":
                    async with session.post(
                        f"/api/v1/contacts/{data['contact_id']}/close", json={},
                        headers=headers,
                    ):  # fmt: skip
                        pass

        bot_task = asyncio.create_task(operate())
    proc, log = rig.sipp(
        f"ring-{tag}",
        [f"127.0.0.1:{rig.settings.sip_port}", "-sf", str(scenario), "-r", "1", "-rp", "2000",
         "-m", str(n), "-l", "1",
         "-p", str(free_port(socket.SOCK_DGRAM)), "-mp", str(sipp_media_port()),
         "-timeout", str(2 * n + 30), "-timeout_error"],
    )  # fmt: skip
    await asyncio.to_thread(proc.wait)
    await asyncio.sleep(0.5)
    if bot_task is not None and session is not None:
        bot_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bot_task
        async with session.post("/api/v1/me/presence", json={"presence": "away"},
                                headers={"X-CSRF-Token": csrf}):  # fmt: skip
            pass
        await session.close()
    if phone.poll() is None:
        phone.kill()
        phone.wait()
    sent = invites_by_number(log, direction="sent", authenticated=True)
    rang = invites_by_number(phone_log, direction="received", authenticated=False)
    return [(rang[n] - at) * 1000 for n, at in sent.items() if n in rang]


# --- main ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="contact-bench-voice-"))
    phone_port = free_port(socket.SOCK_DGRAM)
    (tmp / "phone.xml").write_text(PHONE)
    settings = AsteriskSettings(
        run_dir=tmp / "run",
        ami_port=free_port(),
        http_port=free_port(),
        sip_port=free_port(socket.SOCK_DGRAM),
        rtp_start=33000,
        rtp_end=36999,
    )
    pbx = AsteriskRunner(
        settings, render_config(tmp, phone_port, record_waiting=args.record_waiting)
    )
    await pbx.provision()
    await pbx.up()
    rig = Rig(tmp, pbx, settings, phone_port)
    code = 0
    try:
        # the operator's phone registers (app_queue rings members by their device state)
        (tmp / "register.xml").write_text(
            REGISTER.replace("PASSWORD", pbx.sip_password("sipp-op-auth"))
        )
        register, _ = rig.sipp(
            "register",
            [f"127.0.0.1:{settings.sip_port}", "-sf", str(tmp / "register.xml"), "-m", "1",
             "-p", str(phone_port), "-timeout", "10", "-timeout_error"],
        )  # fmt: skip
        if await asyncio.to_thread(register.wait) != 0:
            raise SystemExit("the bench phone could not register")
        for db in ("bench.db", "ring.db"):
            rig.db = db
            rig.contact("operators", "add", USERNAME, "--endpoint", "PJSIP/sipp-op",
                        "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        rig.db = "bench.db"
        await rig.start_serve()
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; Asterisk "
              f"{settings.sip_port}/udp, contact serve {rig.url}; work dir {tmp}")  # fmt: skip

        # warm-up, not measured: the first calls of a fresh process compile SQL, fill caches
        await screen_pop(rig, rate=args.rate, held=20, measure_s=2.0, tag="warmup")
        await asyncio.sleep(2)
        pop = await screen_pop(rig, rate=args.rate, held=args.held, measure_s=args.measure,
                               tag="pop")  # fmt: skip
        show_pop(pop, "1. screen pop")
        ok_pop = pct(pop.latencies, 95) <= TARGET_POP_P95_MS and pop.lost == 0
        print(f"  target p95 <= {TARGET_POP_P95_MS:g} ms, nothing lost: "
              f"{'PASS' if ok_pop else 'FAIL'}")  # fmt: skip
        await asyncio.sleep(3)

        n = args.queue_calls
        ok_ring = True
        if n > 0:
            rig.stop_serve()
            rig.db = "ring.db"  # an empty queue: only these calls
            await rig.start_serve()
            queue = await to_ringing(rig, "q102", n, "app_queue", bot=False, prefix="7711")
            clicked = await to_ringing(rig, "102", n, "click", bot=True, prefix="7722")
            rig.stop_serve()
            await rig.start_serve(CONTACT_ASTERISK_RING_ON_OFFER="true")
            offered = await to_ringing(rig, "102", n, "offer", bot=False, prefix="7733")
            print("\n2. INVITE → the operator's phone ringing (one call at a time)")
            base = pct(queue, 50)
            for name, values in (
                ("app_queue (one queue, one member)", queue),
                ("contact, ring on offer", offered),
                ("contact, operator clicks accept (bot)", clicked),
            ):
                ratio = pct(values, 50) / base
                print(f"  {name:40} n={len(values):3}  p50 {pct(values, 50):6.1f}  p95 "
                      f"{pct(values, 95):6.1f} ms  ({ratio:.2f}x app_queue p50)")  # fmt: skip
            ok_ring = pct(offered, 50) <= TARGET_RATIO * base
            print(f"  target: contact <= {TARGET_RATIO:g}x app_queue (ring on offer): "
                  f"{'PASS' if ok_ring else 'FAIL'}")  # fmt: skip

        if args.ramp:
            rig.stop_serve()
            rig.db = "bench.db"
            await rig.start_serve()
            await screen_pop(rig, rate=args.rate, held=20, measure_s=2.0, tag="warmup2")
            print("\n3. capacity: held calls until INVITE → event p95 > "
                  f"{CAPACITY_P95_MS:g} ms (steady state)")  # fmt: skip
            carried = 0
            for held in args.ramp:
                step = await screen_pop(rig, rate=args.rate, held=held, measure_s=args.measure,
                                        tag=f"ramp{held}")  # fmt: skip
                p95 = pct(step.steady or step.latencies, 95)
                print(f"  {held:4} held: p50 {pct(step.steady, 50):6.1f}  p95 {p95:7.1f} ms, "
                      f"lost {step.lost}, sipp failed {step.failed_calls}, CPU contact "
                      f"{step.serve_cpu / step.wall:.2f} / Asterisk "
                      f"{step.pbx_cpu / step.wall:.2f} core")  # fmt: skip
                if p95 > CAPACITY_P95_MS or step.lost or step.failed_calls > 0:
                    break
                carried = held
                await asyncio.sleep(3)
            print(f"  most held calls with p95 <= {CAPACITY_P95_MS:g} ms: {carried or 'below'} "
                  f"{'' if carried else args.ramp[0]}")  # fmt: skip
        code = 0 if ok_pop and ok_ring else 1
    finally:
        rig.stop()
        await pbx.down()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return code if args.strict else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second")
    parser.add_argument("--held", type=int, default=200, help="calls holding at once")
    parser.add_argument("--measure", type=float, default=15.0, help="s after the ramp-up")
    parser.add_argument("--queue-calls", type=int, default=12, help="calls per ringing path")
    parser.add_argument(
        "--ramp",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[200, 250, 300, 350, 400],
    )
    parser.add_argument("--no-ramp", dest="ramp", action="store_const", const=[])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument(
        "--record-waiting",
        action="store_true",
        help="record held callers too (CONTACT_RECORD_WAITING = yes), to see what it costs",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
