"""What the voice tests run on: a real Asterisk (asterisk-config/, own run dir, free ports), real
sipp processes for every phone (callers, operators' and supervisors' phones, the PSTN side),
and RTP handled in Python so that tests hear what each party hears: every party plays its
own tone (PCMU) and records what it receives, and a tone is present or absent by its share of
the received power.

No tests here: fixtures and helpers for tests/integration/test_voice_*.py. Asterisk or sipp
missing makes those tests FAIL, never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from panoramisk import Manager  # type: ignore[import-untyped]

from contact.config import AsteriskSettings, Settings
from contact.domain.model import Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.telephony import TELEPHONY_PART
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner
from contact.telephony.service import Telephony
from tests.ports import free_tcp_port, free_udp_port, sipp_media_port
from tests.support import PASSWORD, Browser, Center, make_settings, start_center

RTP_RANGE = (32000, 32399)  # away from the boot test's range and sipp's media ports
CALLER = "+77011234567"


# ---------------------------------------------------------------------------- Asterisk


@dataclass
class Pbx:
    runner: AsteriskRunner
    settings: AsteriskSettings


def start_pbx(run_dir: Path) -> Pbx:
    settings = AsteriskSettings(
        run_dir=run_dir,
        ami_port=free_tcp_port(),
        http_port=free_tcp_port(),
        sip_port=free_udp_port(),
        rtp_start=RTP_RANGE[0],
        rtp_end=RTP_RANGE[1],
    )
    runner = AsteriskRunner(settings, DEFAULT_CONFIG_DIR)
    try:
        asyncio.run(runner.provision())
        if shutil.which("sipp") is None:
            raise AsteriskError("sipp is not installed")
        asyncio.run(runner.up())
    except AsteriskError as exc:
        pytest.fail(f"Asterisk is required and could not run: {exc} {exc.details}", pytrace=False)
    return Pbx(runner, settings)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    booted = start_pbx(tmp_path_factory.mktemp("pbx") / "run")
    yield booted
    asyncio.run(booted.runner.down())


# ---------------------------------------------------------------------------- AMI


@dataclass
class Ami:
    """Every AMI event panoramisk hands over, kept with its arrival (`_at`, monotonic)."""

    manager: Manager
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, _manager: Manager, message: Any) -> None:
        self.events.append({**dict(message), "_at": time.monotonic()})
        self.changed.set()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            for event in self.events:
                if match(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching AMI event in {within} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)

    async def action(self, action: dict[str, str]) -> dict[str, Any]:
        response = await self.manager.send_action(action)
        return dict(response)


# ---------------------------------------------------------------------------- RTP and tones


def _ulaw_encode(pcm: np.ndarray) -> bytes:
    bias, clip = 0x84, 32635
    x = np.clip(pcm.astype(np.int32), -clip, clip)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.abs(x) + bias
    exponent = np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    encoded: bytes = ((~(sign | (exponent << 4) | mantissa)) & 0xFF).astype(np.uint8).tobytes()
    return encoded


def ulaw_decode(data: bytes) -> np.ndarray:
    u = (~np.frombuffer(data, dtype=np.uint8)) & 0xFF
    sign = np.where(u & 0x80, -1.0, 1.0)
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = ((mantissa.astype(np.int32) << 3) + 0x84) << exponent
    decoded: np.ndarray = sign * (magnitude - 0x84)
    return decoded


def tone_share(samples: np.ndarray, hz: float, rate: int = 8000) -> float:
    """The share of the power within ±25 Hz of `hz`."""
    if len(samples) < 400:
        return 0.0
    windowed = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(windowed)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    total = spectrum[(freqs > 100) & (freqs < 3800)].sum()
    if total <= 0:
        return 0.0
    band = spectrum[(freqs > hz - 25) & (freqs < hz + 25)].sum()
    return float(band / total)


class RtpPeer(asyncio.DatagramProtocol):
    """One party's media: plays a tone (PCMU, 20 ms frames) to wherever Asterisk sends from,
    and keeps what it receives, with arrival times."""

    def __init__(self, tone_hz: float) -> None:
        self.tone_hz = tone_hz
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.received: list[tuple[float, bytes]] = []
        self.sent = 0
        self._task: asyncio.Task[None] | None = None
        self._ssrc = int(time.monotonic_ns() & 0xFFFFFFFF)

    @property
    def port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        self.remote = addr
        if data[1] & 0x7F != 0:
            return  # PCMU only (not DTMF, comfort noise)
        offset = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= offset + 4:
            offset += 4 + 4 * struct.unpack("!H", data[offset + 2 : offset + 4])[0]
        self.received.append((time.monotonic(), data[offset:]))

    async def _play(self) -> None:
        seq, ts, phase = 0, 0, 0.0
        step = 2 * math.pi * self.tone_hz / 8000
        started = time.monotonic()
        frame = 0
        while True:
            frame += 1
            if self.remote is not None and self.transport is not None:
                t = phase + step * np.arange(160)
                phase = float((phase + step * 160) % (2 * math.pi))
                payload = _ulaw_encode(8000 * np.sin(t))
                header = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, self._ssrc)
                self.transport.sendto(header + payload, self.remote)
                seq += 1
                ts += 160
                self.sent += 1
            await asyncio.sleep(max(0.0, started + frame * 0.02 - time.monotonic()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._play())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.transport is not None:
            self.transport.close()

    def heard(self, since: float, until: float | None = None) -> np.ndarray:
        end = until if until is not None else time.monotonic()
        chunks = [p for at, p in self.received if since <= at <= end]
        return ulaw_decode(b"".join(chunks)) if chunks else np.zeros(0)

    def hears(self, hz: float, since: float, until: float | None = None) -> float:
        return tone_share(self.heard(since, until), hz)

    async def wait_for_media(self, within_s: float = 5.0) -> None:
        deadline = time.monotonic() + within_s
        while not self.received:
            if time.monotonic() > deadline:
                raise AssertionError("no RTP arrived")
            await asyncio.sleep(0.02)


async def rtp_peer(tone_hz: float) -> RtpPeer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(
        lambda: RtpPeer(tone_hz), local_addr=("127.0.0.1", 0)
    )
    peer.start()
    return peer


# ---------------------------------------------------------------------------- sipp scenarios

_SDP = """\
v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
"""

_UAC_HEADERS = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{exten}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
Contact: <sip:{user}@[local_ip]:[local_port]>
Max-Forwards: 70"""

_IN_DIALOG = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
Max-Forwards: 70"""

_RESPONSE = """\
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>"""


def _xml(name: str, steps: list[str]) -> str:
    body = "\n".join(steps)
    return (
        f'<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="{name}">\n{body}\n</scenario>\n'
    )


def caller_scenario(
    *,
    caller: str,
    user: str,
    password: str,
    rtp_port: int,
    headers: list[str],
    hold_ms: int | None,
    exten: str = "102",
) -> str:
    """A UAC calling 102: INVITE, digest challenge, INVITE with credentials; then either hangs
    up after `hold_ms` or waits for Asterisk's BYE."""
    base = _UAC_HEADERS.format(caller=caller, user=user, exten=exten)
    extra = "".join(h + "\n" for h in headers)
    sdp = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + _SDP.format(port=rtp_port)
    invite = f"INVITE sip:{exten}@[remote_ip]:[remote_port] SIP/2.0\n" + base
    auth = f"[authentication username={user} password={password}]"
    steps = [
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 1 INVITE\n{extra}{sdp}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="401" auth="true"/>',
        f"<send><![CDATA[\nACK sip:{exten}@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 1 ACK\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n]]></send>",
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 2 INVITE\n{auth}\n{extra}{sdp}\n'
        "]]></send>",
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rrs="true"/>',
        f"<send><![CDATA[\nACK [next_url] SIP/2.0\n{_IN_DIALOG}\nCSeq: 2 ACK\n"
        "Content-Length: 0\n\n]]></send>",
    ]
    if hold_ms is not None:
        steps += [
            f'<pause milliseconds="{hold_ms}"/>',
            f'<send retrans="500"><![CDATA[\nBYE [next_url] SIP/2.0\n{_IN_DIALOG}\n'
            "CSeq: 3 BYE\nContent-Length: 0\n\n]]></send>",
            '<recv response="200" crlf="true"/>',
        ]
    else:
        steps += [
            '<recv request="BYE"/>',
            f"<send><![CDATA[\nSIP/2.0 200 OK\n{_RESPONSE}\nContent-Length: 0\n\n]]></send>",
        ]
    return _xml("caller", steps)


def phone_scenario(
    *, rtp_port: int, answer_after_ms: int | None, hangup_after_ms: int | None
) -> str:
    """A UAS phone: rings, answers after `answer_after_ms` (None: never, until CANCEL), then
    waits for BYE, or hangs up itself after `hangup_after_ms`."""
    ringing = f"<send><![CDATA[\nSIP/2.0 180 Ringing\n{_RESPONSE}\nContent-Length: 0\n\n]]></send>"
    capture = (
        '<action><ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>'
        "</action>"
        if hangup_after_ms is not None
        else ""
    )
    steps = [f'<recv request="INVITE" crlf="true" rrs="true">{capture}</recv>', ringing]
    if answer_after_ms is None:
        return _xml(
            "phone",
            [
                *steps,
                '<recv request="CANCEL"/>',
                f"<send><![CDATA[\nSIP/2.0 200 OK\n{_RESPONSE}\nContent-Length: 0\n\n]]></send>",
                "<send><![CDATA[\nSIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n"
                "[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n"
                "CSeq: [cseq] INVITE\nContent-Length: 0\n\n]]></send>",
                '<recv request="ACK"/>',
            ],
        )
    sdp = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + _SDP.format(port=rtp_port)
    steps += [
        f'<pause milliseconds="{answer_after_ms}"/>',
        f'<send retrans="500"><![CDATA[\nSIP/2.0 200 OK\n{_RESPONSE}\n{sdp}\n]]></send>',
        '<recv request="ACK" crlf="true"/>',
    ]
    if hangup_after_ms is None:
        steps += [
            '<recv request="BYE"/>',
            f"<send><![CDATA[\nSIP/2.0 200 OK\n{_RESPONSE}\nContent-Length: 0\n\n]]></send>",
        ]
    else:
        steps += [
            f'<pause milliseconds="{hangup_after_ms}"/>',
            '<send retrans="500"><![CDATA[\nBYE [next_url] SIP/2.0\nVia: SIP/2.0/[transport] '
            "[local_ip]:[local_port];branch=[branch]\nFrom: <sip:op@[local_ip]:[local_port]>;"
            "tag=[pid]SIPpTag01[call_number]\nTo:[$remote_from]\nCall-ID: [call_id]\n"
            "CSeq: 9 BYE\nMax-Forwards: 70\nContent-Length: 0\n\n]]></send>",
            '<recv response="200"/>',
        ]
    return _xml("phone", steps)


# ---------------------------------------------------------------------------- parties


@dataclass
class Sipp:
    proc: subprocess.Popen[bytes]
    log: Path
    out: Path
    port: int

    async def done(self, within_s: float = 30.0) -> int:
        return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), within_s)

    def messages(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self, method: str) -> list[str]:
        """The messages of this method sipp received (raw text)."""
        blocks = re.split(r"\n-{5,}[^\n]*\n", self.messages())
        return [b for b in blocks if "received" in b and f"\n{method} " in "\n" + b.lstrip()]

    def remote_media_port(self) -> int | None:
        """Asterisk's RTP port, from the SDP of a message sipp received."""
        for block in re.split(r"\n-{5,}[^\n]*\n", self.messages()):
            if "message received" in block:
                found = re.search(r"^m=audio (\d+) ", block, re.M)
                if found:
                    return int(found.group(1))
        return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@dataclass
class Party:
    """A phone (sipp) with its media (an RtpPeer playing its tone)."""

    sipp: Sipp
    rtp: RtpPeer

    @property
    def port(self) -> int:
        return self.sipp.port


async def _learn_remote(party: Party) -> None:
    """Media starts at once: Asterisk's RTP address comes from its SDP (a party that waits for
    the first packet would wait forever when nobody speaks first)."""
    while party.rtp.remote is None and party.sipp.proc.poll() is None:
        port = party.sipp.remote_media_port()
        if port is not None and party.rtp.remote is None:
            party.rtp.remote = ("127.0.0.1", port)
            return
        await asyncio.sleep(0.02)


@dataclass
class Parties:
    pbx: Pbx
    tmp: Path
    started: list[Party] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def add(self, party: Party) -> Party:
        self.started.append(party)
        self.tasks.append(asyncio.create_task(_learn_remote(party)))
        return party

    def _run(self, name: str, scenario: str, argv: list[str], port: int) -> Sipp:
        stem = f"{name}-{time.monotonic_ns()}"
        path = self.tmp / f"{stem}.xml"
        path.write_text(scenario)
        log, out = self.tmp / f"{stem}.log", self.tmp / f"{stem}.out"
        full = ["sipp", *argv, "-sf", str(path), "-i", "127.0.0.1", "-p", str(port)]
        full += ["-mp", str(sipp_media_port()), "-nostdin", "-trace_msg", "-message_file", str(log)]
        with out.open("wb") as sink:
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        return Sipp(proc, log, out, port)

    async def caller(
        self,
        tone_hz: float = 600.0,
        *,
        caller: str = CALLER,
        user: str = "sipp",
        headers: list[str] | None = None,
        hold_ms: int | None = None,
        calls: int = 1,
    ) -> Party:
        rtp = await rtp_peer(tone_hz)
        scenario = caller_scenario(
            caller=caller,
            user=user,
            password=self.pbx.runner.sip_password(f"{user}-auth"),
            rtp_port=rtp.port,
            headers=headers or [],
            hold_ms=hold_ms,
        )
        target = f"127.0.0.1:{self.pbx.settings.sip_port}"
        argv = [target, "-m", str(calls), "-l", "1", "-timeout", "120", "-timeout_error"]
        return self.add(Party(self._run("caller", scenario, argv, free_udp_port()), rtp))

    async def phone(
        self,
        tone_hz: float = 1000.0,
        *,
        answer_after_ms: int | None = 200,
        hangup_after_ms: int | None = None,
        calls: int = 1,
    ) -> Party:
        rtp = await rtp_peer(tone_hz)
        scenario = phone_scenario(
            rtp_port=rtp.port, answer_after_ms=answer_after_ms, hangup_after_ms=hangup_after_ms
        )
        argv = ["-m", str(calls), "-timeout", "120", "-timeout_error"]
        return self.add(Party(self._run("phone", scenario, argv, free_udp_port()), rtp))

    async def trunk(self, port: int, tone_hz: float, calls: int = 1) -> Party:
        """A UAS on the trunk's address (transfers and callbacks arrive there)."""
        rtp = await rtp_peer(tone_hz)
        scenario = phone_scenario(rtp_port=rtp.port, answer_after_ms=300, hangup_after_ms=None)
        sipp = self._run("trunk", scenario, ["-m", str(calls), "-timeout", "60"], port)
        return self.add(Party(sipp, rtp))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for party in self.started:
            if party.sipp.proc.poll() not in (None, 0):
                # shown with a failing test: a phone that never ran explains a missing call
                out = party.sipp.out.read_text(errors="replace")
                print(f"sipp exited {party.sipp.proc.returncode}: {out[-600:]}")
            party.sipp.kill()
            await party.rtp.close()
        # the next test starts from an empty PBX: killed phones leave their channels up, and a
        # leg the dialplan was still dialling when the first request came is asked again
        deadline = time.monotonic() + 15
        asked = 0.0
        while "0 active channels" not in await self.pbx.runner.cli("core show channels count"):
            if time.monotonic() > deadline:
                left = await self.pbx.runner.cli("core show channels concise")
                raise AssertionError(f"channels left on the PBX after the test: {left[-600:]}")
            if time.monotonic() - asked > 1.0:
                await self.pbx.runner.cli("channel request hangup all")
                asked = time.monotonic()
            await asyncio.sleep(0.05)


@pytest.fixture
async def parties(pbx: Pbx, tmp_path: Path) -> AsyncIterator[Parties]:
    p = Parties(pbx, tmp_path)
    yield p
    await p.close()


def dial_string(phone: Party, endpoint: str = "sipp-op") -> str:
    return f"PJSIP/{endpoint}/sip:{endpoint}@127.0.0.1:{phone.port}"


# ---------------------------------------------------------------------------- the center


def voice_settings(
    tmp_path: Path, pbx: Pbx, trunk_port: int | None = None, **overrides: Any
) -> Settings:
    routing = {k: overrides.pop(k) for k in list(overrides) if k in _ROUTING}
    base = make_settings(tmp_path, **routing)
    asterisk = pbx.settings.model_copy(
        update={
            "enabled": True,
            "trunk": "sipp-trunk",
            "trunk_host": f"127.0.0.1:{trunk_port}" if trunk_port else None,
            **overrides,
        }
    )
    return base.model_copy(update={"asterisk": asterisk})


_ROUTING = {"offer_timeout_s", "sla_answer_s", "wrap_up_s", "away_on_missed_offer"}


@dataclass
class VoiceCenter:
    center: Center

    @property
    def telephony(self) -> Telephony:
        t = self.center.container.get(TELEPHONY_PART)
        assert isinstance(t, Telephony)
        return t

    async def operator(
        self, username: str, phone: Party | None, role: Role = Role.OPERATOR
    ) -> Browser:
        operator = Operator(
            id=new_id(),
            username=username,
            display_name=username.title(),
            role=role,
            skills=Skills(),
            endpoint=dial_string(phone, "sipp-sup" if role is Role.SUPERVISOR else "sipp-op")
            if phone
            else None,
        )
        await self.center.container.db.operators.add(operator, hash_password(PASSWORD))
        browser = await self.center.browser(username)
        await browser.connect()
        return browser

    async def until(
        self, check: Callable[[], Any], within_s: float = 10.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + within_s
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)


async def start_voice_center(settings: Settings) -> VoiceCenter:
    center = await start_center(settings)
    vc = VoiceCenter(center)
    assert await vc.telephony.ami.wait_connected(10), "AMI did not connect"
    await vc.until(lambda: vc.telephony.voice.resyncs > 0, what="the first resync")
    return vc
