"""The 102 edge of `contact simulate`: every voice arrival is a real SIP call into the center's
Asterisk, placed by its own sipp process, and the bots answer on real phones.

A caller (one sipp UAC per call, `caller_scenario`): dials 102 with digest credentials (the
`sipp` test endpoint of asterisk-config/pjsip.conf), takes the language menu with the digit of
its language (RFC 4733 events, sipp's bundled captures: 1 Russian, 2 Kazakh), then talks: PCMU
audio from its own file (`rtp_stream`, looped) until the call ends. The call counts as accepted
by the edge once the dialplan answered it (the 200 OK). A caller that nobody talks to within its
patience (the model's, compressed by the speed) hangs up itself (its BYE): the center makes it
an abandoned contact and a callback task. When a bot's phone is connected to it, the edge tells
the caller so with a SIP INFO into its dialog (sipp cannot hear who speaks): from then on it
waits for the center's BYE, which comes when the bot hangs up.

The bots' phones (one sipp UAS per bot, `phone_scenario`): the operator's endpoint is
`PJSIP/sipp-op/sip:sipp-op@127.0.0.1:<its port>`, as the tests configure operators; a ring is
answered after `ANSWER_MS` and the phone plays its own audio until the center hangs up. A bot
offered a voice contact (or a callback task) accepts it, waits for `call.connected` on its
WebSocket, holds the call for the sampled handling time, hangs up (`POST
/api/v1/calls/{id}/hangup`), and closes the contact.

Screen pop: a watcher (its own login of the first bot's account, a WebSocket that only reads)
notes when each voice contact's `contact.queued` arrives; at the end it is matched with the
caller's authenticated INVITE as sipp logged it (wall clock, -trace_msg) through the contact's
number in the database: INVITE → `contact.queued` on a bot's WebSocket, per call.

Asterisk: the one given by the settings (CONTACT_ASTERISK_*: its SIP port, its run directory's
generated passwords), started through the project's runner when it is provisioned and not
running (`open_pbx`). When it cannot be had (not provisioned, sipp missing, the center's
telephony off), `open_pbx` says why in one line and the voice arrivals are carried by the app
edge. Numbers: `+999<run><index>`, in a country code that does not exist, so a callback the
center places can never reach a real phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from contact.config import AsteriskSettings, DatabaseSettings
from contact.errors import ContactError
from contact.local_ports import free_udp_port, sipp_media_port
from contact.persistence.database import SqlDatabase
from contact.simulate.drive import Credentials, OperatorBot
from contact.simulate.edges import Sent
from contact.simulate.edges.video import APP_ENDPOINT, video_caller_scenario, write_video
from contact.simulate.traffic import Arrival
from contact.sipp_calls import CALLER_ENDPOINT, dial, scenario_xml, sdp, until_hung_up

log = logging.getLogger(__name__)

SIPP_PCAPS = Path("/usr/share/sip-tester")  # Debian's sip-tester: dtmf_2833_<digit>.pcap
PHONE_ENDPOINT = "sipp-op"  # asterisk-config/pjsip.conf: test operators' phones
ANSWER_MS = 300  # a bot picks up its ringing phone after this
MENU_DIGIT = {"ru": "1", "kk": "2"}  # asterisk-config/extensions.conf [contact-language]
BEFORE_TALK_MS = 700  # from the answer: the digit, then the caller starts talking
ANSWERED_CHANNELS = frozenset({"voice", "callback"})  # contacts the bots answer on the phone
TERMINAL_OR_WAITING = frozenset({"queued", "abandoned", "closed"})  # a call's contact, at the end
RING_WAIT_S = 20.0  # a bot waits this long for its phone to be connected after accepting


class PbxRunner(Protocol):
    """What this edge needs of the project's Asterisk runner (contact.telephony.runner, given
    by the composition root: a shared library does not import a feature)."""

    settings: AsteriskSettings

    def unavailable(self) -> str | None: ...

    def running(self) -> bool: ...

    async def up(self) -> object: ...

    async def down(self, timeout_s: float = 10.0) -> None: ...

    def sip_password(self, auth_section: str) -> str: ...


PbxFactory = Callable[[AsteriskSettings], PbxRunner]


@dataclass(frozen=True)
class Pbx:
    """Where callers call: Asterisk's SIP address, the test callers' passwords (102, and the
    app's SOS video when its configuration has that endpoint), its RTP range."""

    sip_port: int
    caller_password: str
    rtp: tuple[int, int]
    host: str = "127.0.0.1"
    app_password: str | None = None

    @classmethod
    def of(cls, runner: PbxRunner) -> Pbx:
        s = runner.settings
        password = runner.sip_password(f"{CALLER_ENDPOINT}-auth")
        try:
            app = runner.sip_password(f"{APP_ENDPOINT}-auth")
        except ContactError:  # an Asterisk configured before the endpoint existed
            app = None
        return cls(s.sip_port, password, (s.rtp_start, s.rtp_end), app_password=app)


@dataclass
class Opened:
    """An Asterisk to call into, or why there is none (one line for the report)."""

    pbx: Pbx | None
    runner: PbxRunner | None = None
    started_here: bool = False  # this command started it: it stops it at the end
    reason: str | None = None

    async def close(self) -> None:
        if self.runner is not None and self.started_here:
            with contextlib.suppress(ContactError):
                await self.runner.down()


def missing_tools() -> str | None:
    if shutil.which("sipp") is None:
        return "sipp is not installed (Debian: sip-tester)"
    if not (SIPP_PCAPS / "dtmf_2833_1.pcap").is_file():
        return f"sipp's DTMF captures are missing ({SIPP_PCAPS})"
    return None


async def open_pbx(runner: PbxRunner | None, *, start: bool = True) -> Opened:
    """The Asterisk of `runner`'s settings: used when it runs, started when it is provisioned
    and `start`; else `reason`."""
    if runner is None:
        return Opened(None, reason="no Asterisk runner in this build")
    missing = missing_tools()
    if missing is not None:
        return Opened(None, reason=missing)
    started = False
    if not runner.running():
        why = runner.unavailable()
        if why is not None:
            return Opened(None, reason=f"Asterisk cannot run here: {why}")
        if not start:
            return Opened(None, reason="Asterisk is not running")
        try:
            await runner.up()
        except ContactError as exc:
            return Opened(None, reason=f"Asterisk did not start: {exc.message}")
        started = True
    try:
        pbx = Pbx.of(runner)
    except ContactError as exc:
        return Opened(None, runner, started, reason=exc.message)
    return Opened(pbx, runner, started)


async def telephony_up(bases: Sequence[str], within_s: float) -> str | None:
    """None once every node's /healthz says its telephony is up (or stands by), else why."""
    deadline = time.monotonic() + within_s
    why = "no node answered /healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
        while True:
            states: list[str] = []
            for base in bases:
                try:
                    async with session.get(f"{base}/healthz") as r:
                        body = await r.json(content_type=None)
                except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                    states.append("no answer")
                    continue
                part = (body.get("components") or {}).get("telephony")
                states.append("off" if part is None else str(part.get("status")))
            if "off" in states:
                return "the center's telephony is off (CONTACT_ASTERISK_ENABLED)"
            if states and all(s in ("up", "standby") for s in states) and "up" in states:
                return None
            why = f"the center's telephony is not up ({', '.join(states)})"
            if time.monotonic() > deadline:
                return why
            await asyncio.sleep(0.2)


# --- ports --------------------------------------------------------------------------------------


def media_port(avoid: tuple[int, int]) -> int:
    """A port P for sipp's -mp with P .. P + 3 free and outside Asterisk's RTP range."""
    return sipp_media_port(avoid)


def sip_port() -> int:
    return free_udp_port()


# --- sipp scenarios -----------------------------------------------------------------------------

_SDP = sdp(
    "m=audio [media_port] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=sendrecv\n"
)


def _response(status: str, *, to_tag: str = "", sdp: bool = False) -> str:
    """A response to the last request; `to_tag`: the tag a UAS adds to its dialog's To."""
    body = "Content-Type: application/sdp\nContent-Length: [len]\n\n" + _SDP if sdp else ""
    return (
        f"SIP/2.0 {status}\n[last_Via:]\n[last_From:]\n[last_To:]{to_tag}\n[last_Call-ID:]\n"
        "[last_CSeq:]\nContact: <sip:[local_ip]:[local_port];transport=[transport]>\n"
        + (body or "Content-Length: 0\n")
    )


_OK = _response("200 OK")


def caller_scenario(
    *, number: str, password: str, digit: str, patience_ms: int, talk_max_ms: int, audio: Path
) -> str:
    """One 102 caller. Answered by the dialplan, it presses `digit`, talks (`audio`, looped)
    and waits: for an INFO (a bot's phone is connected: it then waits for the center's BYE, at
    most `talk_max_ms`), for the center's BYE, or `patience_ms` before hanging up itself. The
    dialog's own From and To (the 200's To tag kept) are written out for its BYE: the INFO
    changes sipp's `last_` headers."""
    me = f"<sip:{number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"
    dialog = (
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        f"From: {me}\nTo: <sip:102@[remote_ip]:[remote_port]>;[$totag]\n"
        "Call-ID: [call_id]\nMax-Forwards: 70"
    )
    dtmf = SIPP_PCAPS / f"dtmf_2833_{digit}.pcap"
    wait_ms = max(100, patience_ms - BEFORE_TALK_MS)
    steps = [
        *dial(number=number, password=password, sdp=_SDP, to_tag_into="totag"),
        # pauses that an INFO or the center's BYE may cut short: a message sipp does not
        # expect aborts the call with a BYE the center does not know (the call would stay)
        *_waiting(300, then="digit", info="early"),
        '<label id="digit"/>',
        f'<nop><action><exec play_pcap_audio="{dtmf}"/></action></nop>',
        *_waiting(BEFORE_TALK_MS - 300, then="talk", info="early"),
        '<label id="talk"/>',
        f'<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>',
        # waiting: the center hangs up, a bot's phone is connected (INFO), or patience ends
        *_waiting(wait_ms, then="giveup", info="talking"),
        '<label id="early"/>',  # connected before it even pressed its digit
        f'<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>',
        # talking, until the bot hangs up (at the latest talk_max_ms)
        '<label id="talking"/>',
        *until_hung_up(talk_max_ms, dialog),
    ]
    return scenario_xml("sim-caller", steps)


def _waiting(ms: int, *, then: str, info: str) -> list[str]:
    """Wait `ms` (then go to `then`), unless the center hangs up (to `hungup`) or the edge
    says a bot's phone is connected (an INFO: to `info`)."""
    return [
        f'<recv request="BYE" optional="true" next="hungup" timeout="{ms}" ontimeout="{then}"/>',
        f'<recv request="INFO" next="{info}" timeout="{ms}" ontimeout="{then}"/>',
    ]


def phone_scenario(*, audio: Path, answer_ms: int = ANSWER_MS) -> str:
    """A bot's phone: rings, answers after `answer_ms`, plays its audio, waits for the BYE;
    one call after another."""
    tag = ";tag=[pid]P[call_number]"
    ringing = _response("180 Ringing", to_tag=tag)
    answer = _response("200 OK", to_tag=tag, sdp=True)
    steps = [
        '<recv request="INVITE" crlf="true" rrs="true"/>',
        f"<send><![CDATA[\n{ringing}\n]]></send>",
        f'<pause milliseconds="{answer_ms}"/>',
        f'<send retrans="500"><![CDATA[\n{answer}\n]]></send>',
        '<recv request="ACK" crlf="true"/>',
        f'<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>',
        '<recv request="BYE"/>',
        f"<send><![CDATA[\n{_OK}\n]]></send>",
    ]
    return scenario_xml("sim-phone", steps)


def write_audio(path: Path, hz: float, seconds: float = 1.0) -> Path:
    """A soft tone as raw PCMU, what sipp's rtp_stream plays (payload type 0)."""
    out = bytearray()
    for n in range(int(8000 * seconds)):
        x = int(3000 * math.sin(2 * math.pi * hz * n / 8000))
        sign = 0x80 if x < 0 else 0
        mag = min(abs(x), 32635) + 0x84
        exponent = max(0, min(7, mag.bit_length() - 8))
        mantissa = (mag >> (exponent + 3)) & 0x0F
        out.append(~(sign | (exponent << 4) | mantissa) & 0xFF)
    path.write_bytes(bytes(out))
    return path


# --- what sipp logged ---------------------------------------------------------------------------

_BLOCK = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n", re.M)


def _messages(log_path: Path) -> list[tuple[float, str, str]]:
    """(wall clock, 'sent' | 'received', first line) of each message of a -trace_msg log."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    parts = _BLOCK.split(text)
    out: list[tuple[float, str, str]] = []
    for i in range(1, len(parts) - 1, 2):
        at = datetime.fromisoformat(parts[i]).timestamp()
        lines = [ln for ln in parts[i + 1].splitlines() if ln.strip()]
        if len(lines) < 2:
            continue
        way = "sent" if "message sent" in lines[0] else "received"
        auth = any(ln.startswith("Authorization:") for ln in lines)
        out.append((at, way, lines[1] + (" +auth" if auth else "")))
    return out


@dataclass
class CallLog:
    """What one caller's sipp saw."""

    invite_at: float | None = None  # wall clock of the authenticated INVITE
    answered: bool = False  # the dialplan's 200 OK to it
    hung_up_first: bool = False  # the caller's own BYE (patience ran out)
    ended_by_center: bool = False  # the center's BYE


def video_answered(log_path: Path) -> bool:
    """Whether the answer (a 200 with SDP) the caller received took its video stream (a
    `m=video` line with a port: not declined)."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    parts = _BLOCK.split(text)
    return any(
        "received" in block.split("\n", 1)[0]
        and "SIP/2.0 200" in block
        and re.search(r"^m=video [1-9]", block, re.M) is not None
        for block in parts[2::2]
    )


def read_log(log_path: Path) -> CallLog:
    out = CallLog()
    for at, way, first in _messages(log_path):
        if way == "sent" and first.startswith("INVITE ") and first.endswith("+auth"):
            out.invite_at = out.invite_at or at
        elif way == "received" and first.startswith("SIP/2.0 200") and out.invite_at:
            out.answered = True
        elif way == "sent" and first.startswith("BYE "):
            out.hung_up_first = not out.ended_by_center
        elif way == "received" and first.startswith("BYE "):
            out.ended_by_center = not out.hung_up_first
    return out


# --- the edge -----------------------------------------------------------------------------------


@dataclass
class Caller:
    number: str
    sent: Sent
    port: int = 0
    spawned_at: float = math.nan  # monotonic
    done: bool = False
    connected: bool = False  # a bot's phone talks to it (INFO sent)
    log: CallLog = field(default_factory=CallLog)


@dataclass
class VideoCall:
    """The app's video call of one SOS."""

    number: str
    contact_id: str  # the SOS it joins (X-Contact-Id)
    done: bool = False
    video: bool = False  # Asterisk's answer took its video stream
    log: CallLog = field(default_factory=CallLog)


@dataclass
class Phone:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"PJSIP/{PHONE_ENDPOINT}/sip:{PHONE_ENDPOINT}@127.0.0.1:{self.port}"


class VoiceEdge:
    """102 callers as sipp processes, the bots' phones, the screen pop watcher."""

    name = "voice"
    answers = ANSWERED_CHANNELS

    def __init__(self, pbx: Pbx, work: Path, speed: float, tag: str) -> None:
        """`tag`: digits unique to this run (its callers' numbers begin +999<tag>)."""
        self.pbx, self.work, self.speed = pbx, work, speed
        self.prefix = f"+999{tag}"
        self.callers: dict[str, Caller] = {}  # number → its caller
        self.phones: list[Phone] = []
        self.queued_seen: dict[str, float] = {}  # contact id → wall clock of contact.queued
        self.numbers: dict[str, str] = {}  # voice contact id → number, as offered or stored
        self.callbacks: set[str] = set()  # callback tasks the bots took
        self.talks = 0  # calls a bot's phone was connected to
        self.videos: dict[str, VideoCall] = {}  # SOS contact id → the app's video call
        self._video_tasks: set[asyncio.Task[None]] = set()
        self._video: Path | None = None  # the video callers' capture, written once
        self._signal: asyncio.DatagramTransport | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._count = itertools.count()
        self._stop_at: float | None = None
        work.mkdir(parents=True, exist_ok=True)
        self._caller_audio = write_audio(work / "caller.ul", 440.0)
        self._phone_audio = write_audio(work / "phone.ul", 880.0)

    # ----------------------------------------------------------------- life cycle
    async def start(self, bases: Sequence[str], watcher: Credentials, bots: int) -> list[str]:
        """The INFO socket, the watcher, a phone per bot; the phones' dial strings."""
        loop = asyncio.get_running_loop()
        self._signal, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        self._watcher = asyncio.create_task(self._watch(bases, watcher), name="sim-pop-watch")
        for _ in range(bots):
            self.phones.append(self._phone())
        return [p.endpoint for p in self.phones]

    def _phone(self) -> Phone:
        port = sip_port()
        scenario = self.work / f"phone-{port}.xml"
        scenario.write_text(phone_scenario(audio=self._phone_audio))
        argv = ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port)]
        argv += ["-mp", str(media_port(self.pbx.rtp)), "-nostdin"]
        with (self.work / f"phone-{port}.out").open("wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        return Phone(port, proc)

    async def close(self) -> None:
        for task in list(self._video_tasks):
            task.cancel()
        await asyncio.gather(*self._video_tasks, return_exceptions=True)
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        for phone in self.phones:
            if phone.proc.poll() is None:
                phone.proc.terminate()
            try:
                await asyncio.to_thread(phone.proc.wait, 5)
            except subprocess.TimeoutExpired:
                phone.proc.kill()
                await asyncio.to_thread(phone.proc.wait)
        if self._signal is not None:
            self._signal.close()

    # ----------------------------------------------------------------- callers
    def number(self) -> str:
        return f"{self.prefix}{next(self._count):06d}"

    async def call(self, item: Sent, stop_at: float) -> None:
        """Place `item` as a 102 call and follow it to its end: accepted once the dialplan
        answered (`item.accepted`); its contact id is learned from the center later."""
        a = item.arrival
        number = self.number()
        item.device_id = item.key = number
        caller = self.callers[number] = Caller(number, item)
        patience_ms = int(min(a.patience_s / self.speed, 3600.0) * 1000)
        talk_max_ms = int((3 * a.handle_s / self.speed + 60) * 1000)
        scenario = self.work / f"{number}.xml"
        scenario.write_text(
            caller_scenario(
                number=number,
                password=self.pbx.caller_password,
                digit=MENU_DIGIT.get(a.language, "1"),
                patience_ms=max(patience_ms, 200),
                talk_max_ms=talk_max_ms,
                audio=self._caller_audio,
            )
        )
        # sipp's own deadline: past it a call would end without its BYE (stop_at: the run's)
        limit_s = int(max(stop_at - time.monotonic(), (patience_ms + talk_max_ms) / 1000)) + 30
        item.sent_at = time.monotonic()

        def tried(port: int) -> None:
            caller.port, caller.spawned_at = port, time.monotonic()
            item.tries += 1

        code = await self._sipp(scenario, number, limit_s, on_try=tried)
        caller.done = True
        caller.log = read_log(self.work / f"{number}.log")
        item.accepted = caller.log.answered
        if not caller.log.answered:
            item.refused = f"sipp exit {code}: not answered by the dialplan"
        else:
            self._forget(number)

    async def _sipp(
        self,
        scenario: Path,
        number: str,
        limit_s: int,
        *,
        flags: Sequence[str] = (),
        on_try: Callable[[int], None] | None = None,
    ) -> int:
        """One caller's sipp, to its end: its exit code. It logs the messages into
        `<number>.log` and its screen into `<number>.out` (kept when the call failed); a
        media port taken meanwhile makes it exit 254 at once: tried again on others."""
        log_path = self.work / f"{number}.log"
        code = 254
        for _ in range(3):
            port = sip_port()
            argv = [
                *("sipp", f"{self.pbx.host}:{self.pbx.sip_port}", "-sf", str(scenario)),
                *("-m", "1", "-l", "1", "-i", "127.0.0.1", "-p", str(port)),
                *("-mp", str(media_port(self.pbx.rtp)), "-cid_str", f"{number}-%u@%s"),
                *flags,
                *("-nostdin", "-timeout", str(limit_s), "-timeout_error"),
                *("-trace_msg", "-message_file", str(log_path)),
            ]
            if on_try is not None:
                on_try(port)
            with (self.work / f"{number}.out").open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out
                )
            try:
                code = await proc.wait()
            except asyncio.CancelledError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                raise
            if code != 254:
                break
        return code

    def _forget(self, number: str) -> None:
        """A call that went well leaves no files behind."""
        for suffix in (".log", ".out", ".xml"):
            (self.work / f"{number}{suffix}").unlink(missing_ok=True)

    # ----------------------------------------------------------------- the app's SOS video
    def place_video(self, contact_id: str, arrival: Arrival) -> bool:
        """The app's video call for the SOS `contact_id` (accepted by the center), placed
        beside the run; False when this Asterisk has no endpoint for it."""
        if self.pbx.app_password is None:
            return False
        number = f"{self.prefix}9{len(self.videos):05d}"  # beside the 102 callers' numbers
        video = self.videos[contact_id] = VideoCall(number, contact_id)
        task = asyncio.create_task(self._video_call(video, arrival))
        self._video_tasks.add(task)
        task.add_done_callback(self._video_tasks.discard)
        return True

    async def _video_call(self, video: VideoCall, arrival: Arrival) -> None:
        assert self.pbx.app_password is not None
        if self._video is None:
            self._video = write_video(self.work / "video.pcap")
        talk_max_ms = int((3 * arrival.handle_s / self.speed + 60) * 1000)
        scenario = self.work / f"{video.number}.xml"
        scenario.write_text(
            video_caller_scenario(
                number=video.number,
                password=self.pbx.app_password,
                contact_id=video.contact_id,
                language=arrival.language,
                talk_max_ms=talk_max_ms,
                audio=self._caller_audio,
                video=self._video,
            )
        )
        try:
            await self._sipp(scenario, video.number, int(talk_max_ms / 1000) + 30, flags=["-aa"])
        finally:
            log_path = self.work / f"{video.number}.log"
            video.done = True
            video.log, video.video = read_log(log_path), video_answered(log_path)
        if video.log.answered:
            self._forget(video.number)

    async def videos_done(self, within_s: float) -> None:
        """Wait (at most `within_s`) for the video calls to end: their SOS were closed, so
        the center hangs them up."""
        if self._video_tasks:
            await asyncio.wait(set(self._video_tasks), timeout=within_s)

    async def read_back_videos(self, database_url: str) -> dict[str, Any]:
        """Every video call the dialplan answered, as the database has it: one call, joined
        to the SOS it was placed for (`sos_video`), never a contact of its own."""
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        answered = {v.number: v for v in self.videos.values() if v.log.answered}
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT number, contact_id, kind FROM calls WHERE number LIKE :p"),
                        {"p": f"{self.prefix}9%"},
                    )
                ).all()
        finally:
            await engine.dispose()
        calls: dict[str, list[tuple[str, str]]] = {}
        for number, contact_id, kind in rows:
            calls.setdefault(str(number), []).append((str(contact_id), str(kind)))
        joined = [n for n, v in answered.items() if calls.get(n) == [(v.contact_id, "sos_video")]]
        return {
            "calls": len(self.videos),
            "answered_by_dialplan": len(answered),
            "video_taken": sum(1 for v in answered.values() if v.video),
            "joined_their_sos": len(joined),
            "not_joined": sorted(set(answered) - set(joined)),
            "hung_up_by_center": sum(1 for v in answered.values() if v.log.ended_by_center),
        }

    def until(self, stop_at: float) -> VoiceEdge:
        """The run's deadline (monotonic) for `send`; this edge."""
        self._stop_at = stop_at
        return self

    async def send(self, arrival: Arrival) -> Sent:
        """The edge protocol of the other edges (`send(arrival) -> Sent`): one arrival, played
        to its end (a call lasts: its Sent comes when it is over)."""
        item = Sent(arrival, key="", device_id="", edge="voice")
        await self.call(item, self._stop_at or time.monotonic() + 3600)
        return item

    def settled(self, item: Sent) -> bool:
        """Nothing more will happen to this call: its caller has hung up or been hung up."""
        caller = self.callers.get(item.device_id)
        return caller is None or caller.done

    def _connected(self, number: str) -> None:
        """A bot's phone talks to this caller: tell it (an INFO in its dialog) to stop
        counting its patience. Not before the dialplan can have answered it (a message sipp
        does not expect would abort the call)."""
        caller = self.callers.get(number)
        if caller is None or caller.done or caller.connected or self._signal is None:
            return
        caller.connected = True
        self.talks += 1
        early = caller.spawned_at + 0.5 - time.monotonic()

        def send() -> None:
            if caller.done or self._signal is None:
                return
            info = (
                f"INFO sip:{CALLER_ENDPOINT}@127.0.0.1:{caller.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-sim-{caller.number}\r\n"
                "From: <sip:simulate@127.0.0.1>;tag=sim\r\n"
                f"To: <sip:{caller.number}@127.0.0.1>\r\n"
                f"Call-ID: {caller.number}-1@127.0.0.1\r\nCSeq: 1 INFO\r\n"
                "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            self._signal.sendto(info.encode(), ("127.0.0.1", caller.port))

        if early > 0:
            asyncio.get_running_loop().call_later(early, send)
        else:
            send()

    # ----------------------------------------------------------------- bots
    def arrival_of(self, number: str) -> Arrival | None:
        caller = self.callers.get(number)
        return caller.sent.arrival if caller is not None else None

    async def answer(
        self, bot: OperatorBot, ws: aiohttp.ClientWebSocketResponse, contact: Mapping[str, Any]
    ) -> tuple[bool, float]:
        """A bot's voice offer (a 102 call or a callback task): accept, wait until its phone
        is connected; (connected, handling time in wall seconds). Other messages read
        meanwhile are dropped: the bot only waits for its own call."""
        contact_id = str(contact["id"])
        number = str(contact.get("citizen") or "")
        if contact.get("channel") == "voice" and number.startswith(self.prefix):
            self.numbers.setdefault(contact_id, number)
        elif contact.get("channel") == "callback":
            self.callbacks.add(contact_id)
        if await bot.post(f"/api/v1/contacts/{contact_id}/accept") != 200:
            return False, 0.0
        caller = self.callers.get(number)
        if contact.get("channel") == "voice" and caller is not None:
            # answered when accepted, as an app report's answer and the center's own figure:
            # the phone's ring and the bridge are real time, which no speed compresses
            caller.sent.answered_at = time.monotonic()
        arrival = self.arrival_of(number)
        handle_s = (arrival.handle_s if arrival is not None else 60.0) / self.speed
        deadline = time.monotonic() + RING_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await asyncio.wait_for(ws.receive_json(), left)
            except TimeoutError:
                break
            data = msg.get("data") or {}
            if data.get("contact_id") != contact_id:
                continue
            if data.get("type") == "call.connected":
                if contact.get("channel") == "voice":
                    self._connected(number)
                return True, handle_s
            if data.get("type") == "call.ended":
                break
        return False, 0.0

    async def talk(
        self,
        bot: OperatorBot,
        ws: aiohttp.ClientWebSocketResponse,
        contact_id: str,
        hold_s: float,
        stop: asyncio.Event,
    ) -> None:
        """Hold the call for `hold_s` (or until the caller goes, or the run ends), then hang
        up."""
        deadline = time.monotonic() + hold_s
        while (left := deadline - time.monotonic()) > 0 and not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive_json(), min(left, 0.5))
            except TimeoutError:
                continue  # a quiet half second: she talks on until her time is up
            data = msg.get("data") or {}
            if data.get("contact_id") == contact_id and data.get("type") == "call.ended":
                return
        await self.hang_up(bot, contact_id)

    async def hang_up(self, bot: OperatorBot, contact_id: str) -> None:
        if contact_id in self.numbers or contact_id in self.callbacks or contact_id in self.videos:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await bot.post(f"/api/v1/calls/{contact_id}/hangup")

    # ----------------------------------------------------------------- screen pop
    async def _watch(self, bases: Sequence[str], who: Credentials) -> None:
        """A WebSocket that only reads: when each voice contact's contact.queued arrives."""
        at = 0
        while True:
            watcher = OperatorBot(bases, who, lambda _id, _citizen: None, self.speed, at)
            try:
                await watcher.login()
                session = watcher.session
                assert session is not None
                async with session.ws_connect("/ws", heartbeat=5) as ws:
                    async for msg in ws:
                        seen = time.time()
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            continue
                        self._seen(msg.json(), seen)
            except asyncio.CancelledError:
                await watcher.close()
                raise
            except Exception as exc:  # a node went: the next one
                log.debug("voice watcher: %s", exc)
            await watcher.close()
            at += 1
            await asyncio.sleep(0.5)

    def _seen(self, msg: Mapping[str, Any], at: float) -> None:
        data = msg.get("data") or {}
        contact = data.get("contact") or {}
        if data.get("type") == "contact.queued" and contact.get("channel") == "voice":
            self.queued_seen.setdefault(str(contact["id"]), at)

    # ----------------------------------------------------------------- the end
    async def read_back(self, database_url: str, items: Sequence[Sent]) -> CallBooks:
        """Every call of this run as the database has it: each answered call's contact (its
        id set on the item, its state as final_status), and the callback tasks."""
        books = await account_calls(database_url, self.prefix, self.answered_numbers())
        for item in items:
            found = books.by_number.get(item.device_id)
            if found:
                item.contact_id, item.final_status = found[0]
        self.numbers.update({cid: n for n, v in books.by_number.items() for cid, _ in v})
        return books

    def answered_numbers(self) -> list[str]:
        return [c.number for c in self.callers.values() if c.log.answered]

    def figures(self) -> dict[str, Any]:
        """The edge's own figures for the report (screen pop per call: INVITE → contact.queued
        on a bot's WebSocket)."""
        by_number = {n: cid for cid, n in self.numbers.items()}
        pops: list[float] = []
        for caller in self.callers.values():
            contact_id = by_number.get(caller.number)
            seen = self.queued_seen.get(contact_id) if contact_id else None
            if seen is not None and caller.log.invite_at is not None:
                pops.append((seen - caller.log.invite_at) * 1000)
        answered = [c for c in self.callers.values() if c.log.answered]
        return {
            "driven": True,
            "calls": len(self.callers),
            "answered_by_dialplan": len(answered),
            "talked_to": sum(1 for c in answered if c.connected),
            "caller_hung_up_waiting": sum(
                1 for c in answered if c.log.hung_up_first and not c.connected
            ),
            "screen_pop_ms": {
                "n": len(pops),
                "p50": _pct(pops, 0.50),
                "p95": _pct(pops, 0.95),
                "max": round(max(pops), 1) if pops else None,
            },
            "phones": len(self.phones),
        }


async def give_phones(
    database_url: str, operators: Sequence[Credentials], endpoints: Sequence[str | None]
) -> dict[str, str | None]:
    """Each bot's account gets its phone, as an administrator sets an operator's endpoint;
    the endpoints they had (give them back at the end: `--operator` may name real accounts)."""
    before: dict[str, str | None] = {}
    db = await SqlDatabase.open(DatabaseSettings(url=database_url))
    try:
        for who, endpoint in zip(operators, endpoints, strict=True):
            found = await db.operators.by_username(who.username)
            if found is None:
                raise ContactError(f"no operator {who.username!r} in the database")
            before[who.username] = found.operator.endpoint
            await db.operators.set_endpoint(found.operator.id, endpoint)
    finally:
        await db.close()
    return before


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


# --- the accounting -----------------------------------------------------------------------------


@dataclass
class CallBooks:
    """Every call the dialplan answered, looked up in the database itself."""

    answered: int
    found_once: int
    missing: list[str]  # numbers whose call has no voice contact
    duplicated: list[str]  # numbers with more than one
    orphaned: list[str]  # contacts still in an operator's hands
    not_settled: list[str]  # contacts in a state that is neither waiting nor terminal
    states: dict[str, int]
    abandoned: int
    callback_tasks: int
    abandoned_without_callback: list[str]
    by_number: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)

    def public(self) -> dict[str, Any]:
        out = dict(vars(self))
        out.pop("by_number")
        return out


async def account_calls(database_url: str, prefix: str, answered: Sequence[str]) -> CallBooks:
    """The run's voice contacts and callback tasks (numbers `prefix…`), checked against the
    calls the dialplan answered."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, citizen, state, channel, external_id FROM contacts "
                        "WHERE citizen LIKE :prefix"
                    ),
                    {"prefix": f"{prefix}%"},
                )
            ).all()
    finally:
        await engine.dispose()
    calls: dict[str, list[tuple[str, str]]] = {}
    callbacks: set[str] = set()  # the contacts a callback task is for
    for contact_id, citizen, state, channel, external_id in rows:
        if channel == "voice":
            calls.setdefault(str(citizen), []).append((str(contact_id), str(state)))
        elif channel == "callback" and str(external_id or "").startswith("callback:"):
            callbacks.add(str(external_id).removeprefix("callback:"))
    states: dict[str, int] = {}
    for _, state in (x for v in calls.values() for x in v):
        states[state] = states.get(state, 0) + 1
    missing = [n for n in answered if n not in calls]
    duplicated = [n for n, v in calls.items() if len(v) > 1]
    every = [x for v in calls.values() for x in v]
    abandoned = [cid for cid, s in every if s == "abandoned"]
    return CallBooks(
        answered=len(answered),
        found_once=sum(1 for n in answered if len(calls.get(n, [])) == 1),
        missing=missing,
        duplicated=duplicated,
        orphaned=[cid for cid, s in every if s == "connected"],
        not_settled=[f"{cid}: {s}" for cid, s in every if s not in TERMINAL_OR_WAITING],
        states=states,
        abandoned=len(abandoned),
        callback_tasks=len(callbacks),
        abandoned_without_callback=[cid for cid in abandoned if cid not in callbacks],
        by_number=calls,
    )
