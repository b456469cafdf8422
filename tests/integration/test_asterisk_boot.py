"""The real Asterisk of asterisk-config/, started by AsteriskRunner, called by a real sipp.

Needs Asterisk (provisioned on first use by scripts/asterisk-rootfs.sh, which needs root and
Debian's packages) and sipp: a test FAILS when it cannot run them, it never skips.
One Asterisk per module, on free ports and its own run directory, so a developer's
`contact asterisk up` on the default ports is left alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager  # type: ignore[import-untyped]

from contact.config import AsteriskSettings
from contact.telephony import parse
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner
from tests.integration.test_voice_harness import Ami
from tests.ports import free_tcp_port, free_udp_port, sipp_media_port

# provisioning a fresh machine (debootstrap) takes about a minute on first use
pytestmark = pytest.mark.timeout(300)

RTP_RANGE = (31000, 31199)  # away from the default 20000-20999 and from sipp's media port
SIPP_PCAPS = Path("/usr/share/sip-tester")  # Debian's sip-tester: RFC 2833 digit captures


def _settings(run_dir: Path) -> AsteriskSettings:
    return AsteriskSettings(
        run_dir=run_dir,
        ami_port=free_tcp_port(),
        http_port=free_tcp_port(),
        sip_port=free_udp_port(),
        rtp_start=RTP_RANGE[0],
        rtp_end=RTP_RANGE[1],
    )


@dataclass
class Booted:
    runner: AsteriskRunner
    settings: AsteriskSettings
    boot_s: float


def _start(run_dir: Path) -> Booted:
    runner = AsteriskRunner(_settings(run_dir), DEFAULT_CONFIG_DIR)
    try:
        asyncio.run(runner.provision())
        if shutil.which("sipp") is None:
            raise AsteriskError("sipp is not installed")
        started = time.monotonic()
        asyncio.run(runner.up())
    except AsteriskError as exc:
        pytest.fail(f"Asterisk is required and could not run: {exc} {exc.details}", pytrace=False)
    return Booted(runner, runner.settings, time.monotonic() - started)


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    booted = _start(tmp_path_factory.mktemp("asterisk") / "run")
    yield booted
    asyncio.run(booted.runner.down())


# ---------------------------------------------------------------------- AMI
@pytest.fixture
async def ami(asterisk: Booted) -> AsyncIterator[Ami]:
    s = asterisk.settings
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=s.ami_host,
        port=s.ami_port,
        username=s.ami_username,
        secret=asterisk.runner.ami_secret,
        ping_delay=10,
    )
    client = Ami(manager)
    manager.register_event("*", client.on_event)
    await manager.connect()
    yield client
    manager.close()


# ---------------------------------------------------------------------- sipp
@dataclass
class Call:
    returncode: int
    output: str


_HEADERS = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:102@[remote_ip]:[remote_port]>
Call-ID: [call_id]
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70"""

_SDP = """\
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
"""

_IN_DIALOG = """\
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
Max-Forwards: 70"""


_PIDF_LO = """\
<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
 xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0"
 xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="pres:caller@example.kz">
<dm:device id="phone">
<gp:geopriv>
<gp:location-info>
<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">
<gml:pos>{pos}</gml:pos>
<gs:radius uom="urn:ogc:def:uom:EPSG::9001">{radius}</gs:radius>
</gs:Circle>
</gp:location-info>
<gp:usage-rules/>
<gp:method>GPS</gp:method>
</gp:geopriv>
</dm:device>
</presence>
"""


def _with_pidf_lo(pidf: str) -> tuple[list[str], str]:
    """RFC 6442: a Geolocation header pointing at a PIDF-LO part next to the SDP."""
    headers = ["Geolocation: <cid:loc@caller.example.kz>", "Geolocation-Routing: no"]
    sdp = _SDP.split("\n\n", 1)[1]
    body = (
        "Content-Type: multipart/mixed;boundary=b1\nContent-Length: [len]\n\n"
        f"--b1\nContent-Type: application/sdp\n\n{sdp}"
        "--b1\nContent-Type: application/pidf+xml\nContent-ID: <loc@caller.example.kz>\n\n"
        f"{pidf}--b1--\n"
    )
    return headers, body


def _scenario(
    caller: str,
    headers: list[str],
    user: str,
    password: str,
    hold_ms: int,
    digit: str | None,
    pidf: str | None = None,
) -> str:
    """A UAC calling 102: INVITE, digest challenge, INVITE with credentials, hold, BYE."""
    base = _HEADERS.format(caller=caller)
    body = _SDP
    if pidf is not None:
        geo_headers, body = _with_pidf_lo(pidf)
        headers = [*headers, *geo_headers]
    extra = "".join(h + "\n" for h in headers)
    invite = "INVITE sip:102@[remote_ip]:[remote_port] SIP/2.0\n" + base
    auth = f"[authentication username={user} password={password}]"
    steps = [
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 1 INVITE\n{extra}{body}\n]]></send>',
        '<recv response="100" optional="true"/>',
        '<recv response="401" auth="true"/>',
        "<send><![CDATA[\nACK sip:102@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nCSeq: 1 ACK\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n]]></send>",
        f'<send retrans="500"><![CDATA[\n{invite}\nCSeq: 2 INVITE\n{auth}\n{extra}{body}\n'
        "]]></send>",
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rrs="true"/>',
        f"<send><![CDATA[\nACK [next_url] SIP/2.0\n{_IN_DIALOG}\nCSeq: 2 ACK\n"
        "Content-Length: 0\n\n]]></send>",
    ]
    if digit is not None:
        # RFC 4733 events, as a phone on the PSTN sends them (sipp's bundled captures)
        pcap = SIPP_PCAPS / f"dtmf_2833_{digit}.pcap"
        steps += [
            '<pause milliseconds="200"/>',
            f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>',
        ]
    steps += [
        f'<pause milliseconds="{hold_ms}"/>',
        f'<send retrans="500"><![CDATA[\nBYE [next_url] SIP/2.0\n{_IN_DIALOG}\n'
        "CSeq: 3 BYE\nContent-Length: 0\n\n]]></send>",
        '<recv response="200" crlf="true"/>',
    ]
    body = "\n".join(steps)
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<scenario name="102">\n{body}\n</scenario>\n'


class Sipp:
    """Runs sipp calls to 102 against the module's Asterisk; kills what is left at teardown."""

    def __init__(self, booted: Booted, tmp_path: Path) -> None:
        self.booted = booted
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.tasks: list[asyncio.Task[Call]] = []

    def start(self, **kwargs: Any) -> asyncio.Task[Call]:
        task = asyncio.create_task(self.call(**kwargs))
        self.tasks.append(task)
        return task

    async def call(
        self,
        *,
        caller: str = "+77011234567",
        headers: list[str] | None = None,
        hold_ms: int = 1000,
        digit: str | None = None,
        timeout_s: int = 30,
        target_port: int | None = None,
        user: str = "sipp",
        pidf: str | None = None,
    ) -> Call:
        name = f"call-{time.monotonic_ns()}"
        scenario = self.tmp_path / f"{name}.xml"
        password = self.booted.runner.sip_password(f"{user}-auth")
        scenario.write_text(_scenario(caller, headers or [], user, password, hold_ms, digit, pidf))
        port = target_port or self.booted.settings.sip_port
        argv = ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-m", "1", "-l", "1"]
        argv += ["-i", "127.0.0.1", "-p", str(free_udp_port())]
        argv += ["-mp", str(sipp_media_port()), "-nostdin"]
        argv += ["-timeout", str(timeout_s), "-timeout_error"]
        argv += ["-trace_msg", "-message_file", str(self.tmp_path / f"{name}.messages.log")]
        output = self.tmp_path / f"{name}.out"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.procs.append(proc)
        returncode = await asyncio.to_thread(proc.wait)
        return Call(returncode, output.read_text(errors="replace"))

    async def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


@pytest.fixture
async def sipp(asterisk: Booted, tmp_path: Path) -> AsyncIterator[Sipp]:
    runner = Sipp(asterisk, tmp_path)
    yield runner
    await runner.close()


class WireTap(asyncio.DatagramProtocol):
    """A UDP relay in front of Asterisk's SIP port: notes when the INVITE carrying credentials
    (the one Asterisk routes to 102) goes on the wire to Asterisk."""

    def __init__(self) -> None:
        self.invite_at: float | None = None
        self.client: tuple[str, int] | None = None
        self.front: asyncio.DatagramTransport | None = None
        self.back: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.front is not None and self.back is not None
        if addr == self.back.get_extra_info("peername"):  # Asterisk → sipp
            if self.client is not None:
                self.front.sendto(data, self.client)
            return
        self.client = addr
        if data.startswith(b"INVITE ") and b"\nAuthorization:" in data:
            self.invite_at = time.monotonic()
        self.back.sendto(data)


@pytest.fixture
async def wiretap(asterisk: Booted) -> AsyncIterator[tuple[WireTap, int]]:
    loop = asyncio.get_running_loop()
    tap = WireTap()
    front, _ = await loop.create_datagram_endpoint(lambda: tap, local_addr=("127.0.0.1", 0))
    back, _ = await loop.create_datagram_endpoint(
        lambda: tap, remote_addr=("127.0.0.1", asterisk.settings.sip_port)
    )
    tap.front, tap.back = front, back
    yield tap, front.get_extra_info("sockname")[1]
    front.close()
    back.close()


def _is_user_event(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("Event") == "UserEvent" and e.get("UserEvent") == name


# ---------------------------------------------------------------------- tests
def test_boots_from_asterisk_config_in_a_few_seconds(asterisk: Booted) -> None:
    status = asterisk.runner.status()
    print(f"\nasterisk boot (start → FullyBooted): {asterisk.boot_s:.2f} s via {status.launcher}")
    assert status.running and status.pid is not None
    assert asterisk.boot_s < 5.0
    conf = (asterisk.runner.run_dir / "asterisk.conf").read_text()
    assert f"astetcdir => {asterisk.runner.run_dir}/etc" in conf
    modules = asterisk.runner.run_dir / "etc" / "modules.conf"
    assert modules.resolve() == DEFAULT_CONFIG_DIR / "modules.conf"


async def test_ami_login_with_the_generated_secret_receives_events(
    asterisk: Booted, ami: Ami
) -> None:
    assert asterisk.settings.ami_secret is None
    secrets_file = asterisk.runner.run_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    secret = asterisk.runner.ami_secret
    assert json.loads(secrets_file.read_text())["ami"] == secret
    for conf in DEFAULT_CONFIG_DIR.rglob("*"):
        assert not conf.is_file() or secret not in conf.read_text(errors="replace")
    booted = await ami.wait_for(lambda e: e.get("Event") == "FullyBooted")
    assert booted["Status"] == "Fully Booted"
    pong = await ami.action({"Action": "Ping"})
    assert pong["Response"] == "Success"


async def test_a_wrong_secret_is_refused(asterisk: Booted) -> None:
    s = asterisk.settings
    reader, writer = await asyncio.open_connection(s.ami_host, s.ami_port)
    await reader.readline()
    writer.write(f"Action: Login\r\nUsername: {s.ami_username}\r\nSecret: not-it\r\n\r\n".encode())
    reply = (await reader.readuntil(b"\r\n\r\n")).decode()
    writer.close()
    assert "Response: Error" in reply and "Authentication failed" in reply


async def test_the_manager_user_cannot_run_forbidden_actions(asterisk: Booted, ami: Ami) -> None:
    marker = asterisk.runner.run_dir / "pwned"
    forbidden = [
        {"Action": "Command", "Command": "core stop now"},
        {"Action": "Reload"},
        {"Action": "ModuleLoad", "Module": "chan_pjsip.so", "LoadType": "unload"},
        {"Action": "GetConfig", "Filename": "manager.conf"},
        {"Action": "DBPut", "Family": "x", "Key": "y", "Val": "z"},
        {
            "Action": "Originate",
            "Channel": "Local/s@contact-operator-wait",
            "Application": "System",
            "Data": f"touch {marker}",
        },
    ]
    for action in forbidden:
        reply = await ami.action(action)
        assert reply["Response"] == "Error", (action, reply)
        assert re.search("ermission denied|Forbidden", reply.get("Message", "")), (action, reply)
    await asyncio.sleep(0.2)
    assert not marker.exists()
    assert (await ami.action({"Action": "Ping"}))["Response"] == "Success"
    assert asterisk.runner.status().running


async def test_102_announces_caller_and_location_within_a_second(
    ami: Ami, sipp: Sipp, wiretap: tuple[WireTap, int]
) -> None:
    tap, port = wiretap
    call = sipp.start(headers=["X-Location: lat=43.238;lon=76.945;acc=12"], target_port=port)
    event = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    result = await call
    assert result.returncode == 0, result.output
    assert event["CallerNum"] == "+77011234567"
    assert event["XLocation"] == "lat=43.238;lon=76.945;acc=12"
    assert event["Endpoint"] == "sipp"
    assert tap.invite_at is not None
    latency = event["_at"] - tap.invite_at
    print(f"\nINVITE on the wire → UserEvent in Python: {latency * 1000:.1f} ms")
    assert 0 <= latency < 1.0


async def test_language_menu_digit_2_chooses_kazakh_then_the_caller_holds(
    ami: Ami, sipp: Sipp
) -> None:
    call = sipp.start(digit="2", hold_ms=1500)
    arrived = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    uniqueid = arrived["Uniqueid"]
    chosen = await ami.wait_for(
        lambda e: _is_user_event("ContactLanguage")(e) and e["Uniqueid"] == uniqueid,
        within=10,
    )
    assert chosen["Language"] == "kk"
    # then it waits in the holding context, where contact will Redirect or Bridge it
    channel = chosen["Channel"]
    for _ in range(20):
        status = await ami.manager.send_action({"Action": "Status", "Channel": channel})
        contexts = [dict(m).get("Context") for m in status if dict(m).get("Event") == "Status"]
        if contexts == ["contact-hold"]:
            break
        await asyncio.sleep(0.05)
    assert contexts == ["contact-hold"]
    result = await call
    assert result.returncode == 0, result.output


async def test_a_kiosk_call_carries_the_kiosks_fixed_location(ami: Ami, sipp: Sipp) -> None:
    # its own request claims another place: the kiosk's configured profile wins
    call = sipp.start(
        user="kiosk-park1", caller="kiosk-park1", headers=["X-Location: lat=1;lon=2;acc=3"]
    )
    event = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    assert event["Endpoint"] == "kiosk-park1"
    # base64 of GEOLOC_PROFILE's text (asterisk-config/extensions.conf [contact-caller])
    assert parse.decode_geo(event["Geo"]) == {
        "format": "GML",
        "shape": "Circle",
        "crs": "2d",
        "pos": "43.2380 76.9450",
        "radius": "10",
    }
    assert (await call).returncode == 0


async def test_a_pidf_lo_location_is_read_when_the_geolocation_header_says_so(
    ami: Ami, sipp: Sipp
) -> None:
    call = sipp.start(pidf=_PIDF_LO.format(pos="43.238 76.945", radius="15"))
    event = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    assert parse.decode_geo(event["Geo"]) == {
        "format": "GML",
        "shape": "Circle",
        "crs": "2d",
        "pos": "43.238 76.945",
        "radius": "15",
    }
    assert (await call).returncode == 0


async def test_a_hostile_pidf_lo_is_filtered(ami: Ami, sipp: Sipp) -> None:
    call = sipp.start(pidf=_PIDF_LO.format(pos="43.2,1&amp;$x;\nEvent: Fake 76.9", radius="1,2"))
    event = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    assert (await call).returncode == 0
    assert re.match(r"^[A-Za-z0-9+/=]{0,1368}$", event.get("Geo", "")), event.get("Geo")
    assert "Fake" not in event
    values = parse.decode_geo(event["Geo"])
    assert values["format"] == "GML" and values["radius"] == "1,2"  # text, not a separator
    assert "\n" not in values["pos"] and parse.parse_geo(event["Geo"]).location is None


# caller (From user part), X-Location header: syntactically valid SIP, hostile content
HOSTILE = {
    "separators": ("1&2,3;4$5", "X-Location: lat=1&x=2,y;$(reboot);acc=3,Event: Fake"),
    "escaped-newlines": (
        "77%0d%0aEvent:%20Fake%0d%0a",
        "X-Location: lat=1%0d%0aEvent: Fake\\r\\n;lon=2",
    ),
    # the real form (issue 9): CR/LF and colons percent-encoded, so the payload stays in the
    # user part (an unescaped `:` would make it a URI password)
    "injected-line": (
        "+77019000001%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20ContactCall%0D%0A"
        "CallerNum%3A%20999",
        "X-Location: lat=1",
    ),
    "injected-event": (
        "+77019000002%0D%0A%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20ContactCall%0D%0A"
        "CallerNum%3A%20999",
        "X-Location: lat=1",
    ),
    "expansions": ("%24%7BSHELL%28id%29%7D", "X-Location: ${SHELL(id)};lat=${EXTEN}"),
    "8kb": ("7" * 8192, "X-Location: lat=" + "9" * 8192),
}
CALLER_NUM = re.compile(r"^[0-9+]{0,32}$")
XLOCATION = re.compile(r"^[0-9a-z.=;-]{0,100}$")
OUR_FIELDS = {
    "UserEvent", "Endpoint", "CallerNum", "CallerStatus", "XLocation", "Geo", "Kind", "Armed",
    "Token",
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_caller_id_and_location_are_filtered(
    asterisk: Booted, ami: Ami, sipp: Sipp, case: str
) -> None:
    caller, header = HOSTILE[case]
    call = sipp.start(caller=caller, headers=[header], hold_ms=300)
    event = await ami.wait_for(_is_user_event("ContactCall"), within=10)
    result = await call
    assert result.returncode == 0, result.output
    print(f"\n{case}: CallerNum={event['CallerNum']!r} XLocation={event.get('XLocation')!r}")
    assert CALLER_NUM.match(event["CallerNum"]), event["CallerNum"]
    assert XLOCATION.match(event.get("XLocation", "")), event.get("XLocation")
    # no header smuggled into the event: only the snapshot's and ours
    snapshot = {k for e in ami.events if e.get("Event") == "Newstate" for k in e}
    if case.startswith("injected"):
        # cleaned before the first event this AMI user gets ([contact-caller-id]): no line of
        # the payload anywhere, the number marked invalid, no second ContactCall
        assert (event["CallerNum"], event["CallerStatus"]) == ("", "invalid")
        assert not [e for e in ami.events if e.get("CallerNum") == "999"]
        assert not [e for e in ami.events if "+7701900000" in str(e.get("CallerIDNum"))]
        assert len([e for e in ami.events if e.get("UserEvent") == "ContactCall"]) == 1
    assert set(event) - snapshot - {"Priority"} <= OUR_FIELDS | {"_at"}
    await _only_this_channel_then_none(ami, event["Uniqueid"])
    await _still_healthy(asterisk, ami)


# not even SIP: pjsip drops the request at its parser, before any channel exists
MALFORMED = {
    "raw-newline-in-header": ("+7701", "X-Location: lat=43.2;\nEvent: Fake;\nlon=76.9"),
    "raw-expansion-in-from": ("${SHELL(id)}", "X-Location: lat=1"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_malformed_requests_are_dropped_without_a_channel(
    asterisk: Booted, ami: Ami, sipp: Sipp, case: str
) -> None:
    caller, header = MALFORMED[case]
    result = await sipp.call(caller=caller, headers=[header], hold_ms=0, timeout_s=3)
    assert result.returncode != 0
    assert not [e for e in ami.events if e.get("Event") in ("Newstate", "Hangup", "UserEvent")]
    await _still_healthy(asterisk, ami)


async def _only_this_channel_then_none(ami: Ami, uniqueid: str) -> None:
    await ami.wait_for(lambda e: e.get("Event") == "Hangup" and e.get("Uniqueid") == uniqueid)
    channels = [e["Uniqueid"] for e in ami.events if e.get("Event") == "Hangup"]
    assert channels == [uniqueid]
    assert not [e for e in ami.events if e.get("Event") in ("DialBegin", "OriginateResponse")]
    listing = await ami.manager.send_action({"Action": "CoreShowChannels"})
    left = [dict(m) for m in listing if dict(m).get("Event") == "CoreShowChannel"]
    assert [c for c in left if c.get("Linkedid") == uniqueid] == []


async def _still_healthy(asterisk: Booted, ami: Ami) -> None:
    assert (await ami.action({"Action": "Ping"}))["Response"] == "Success"
    assert asterisk.runner.status().running


async def test_down_stops_asterisk_and_leaves_no_process_and_up_again_works(
    tmp_path: Path,
) -> None:
    booted = await asyncio.to_thread(_start, tmp_path / "run")
    runner = booted.runner
    for attempt in range(2):
        pid = runner.status().pid
        assert pid is not None
        # a client connected when Asterisk stops leaves the AMI port in TIME_WAIT
        reader, writer = await asyncio.open_connection("127.0.0.1", booted.settings.ami_port)
        await reader.readline()
        started = time.monotonic()
        await runner.down()
        print(f"\nasterisk down: {time.monotonic() - started:.2f} s")
        writer.close()
        assert not runner.status().running
        assert _no_process_left(pid, runner)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            assert s.connect_ex(("127.0.0.1", booted.settings.ami_port)) != 0
        if attempt == 0:
            await runner.up()  # same ports, same run directory, same secrets


def _no_process_left(pid: int, runner: AsteriskRunner) -> bool:
    left = [p for p in _processes() if str(runner.run_dir) in p[1]]
    return not Path(f"/proc/{pid}").exists() and not runner.pid_file.exists() and left == []


def _processes() -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            found.append((int(entry), cmdline.decode(errors="replace")))
    return found


async def test_every_application_and_function_the_dialplan_uses_is_loaded(
    asterisk: Booted,
) -> None:
    dialplan = (DEFAULT_CONFIG_DIR / "extensions.conf").read_text()
    steps = re.findall(r"^\s*(?:exten\s*=>\s*[^,]+,|same\s*=>\s*)[^,]+,(\w+)\(", dialplan, re.M)
    functions = set(re.findall(r"\$\{([A-Z_]+)\(", dialplan)) - {"LOCAL"}
    assert {"UserEvent", "Read", "Answer", "Gosub"} <= set(steps)
    apps = await asterisk.runner.cli("core show applications")
    funcs = await asterisk.runner.cli("core show functions")
    missing_apps = {a for a in steps if not re.search(rf"^\s*{a}:", apps, re.M | re.I)}
    missing_funcs = {f for f in functions if not re.search(rf"^\s*{f}\s", funcs, re.M)}
    assert not missing_apps and not missing_funcs, (missing_apps, missing_funcs)
