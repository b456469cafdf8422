"""The 102 edge's parts that need no Asterisk: the sipp scenarios it writes, what it reads back
from sipp's message log, how it decides whether calls can go through Asterisk, and its media
ports. (The calls themselves: tests/integration/test_simulate_voice.py.)"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from contact.config import AsteriskSettings
from contact.errors import ContactError
from contact.local_ports import SIPP_MEDIA_RANGE
from contact.simulate.edges.voice import (
    BEFORE_TALK_MS,
    Pbx,
    VoiceEdge,
    caller_scenario,
    media_port,
    open_pbx,
    phone_scenario,
    read_log,
)


def _caller(patience_ms: int = 5000) -> str:
    return caller_scenario(
        number="+99912345000007",
        password="secret",
        digit="2",
        patience_ms=patience_ms,
        talk_max_ms=90000,
        audio=Path("/tmp/caller.ul"),
    )


def test_the_caller_presses_its_digit_talks_and_waits_its_patience() -> None:
    xml = _caller()
    root = ET.fromstring(xml)  # well-formed
    labels = {e.get("id") for e in root.iter("label")}
    jumps = {e.get(a) for e in root for a in ("next", "ontimeout") if e.get(a)}
    assert jumps <= labels  # every jump lands
    assert "dtmf_2833_2.pcap" in xml and 'rtp_stream="/tmp/caller.ul,-1,0"' in xml
    assert "[authentication username=sipp password=secret]" in xml
    assert "From: <sip:+99912345000007@" in xml
    waits = [e for e in root.iter("recv") if e.get("ontimeout") == "giveup"]
    patience = {int(e.get("timeout") or 0) for e in waits if e.get("request") != "BYE"}
    assert patience == {5000 - BEFORE_TALK_MS}  # counted from the answer, digit included
    # the caller's own BYE carries its dialog's tags, not the INFO's
    assert ">;[$totag]\n" in xml and 'assign_to="totag"' in xml


def test_an_impatient_caller_still_waits_a_moment() -> None:
    root = ET.fromstring(_caller(patience_ms=200))
    waits = [int(e.get("timeout") or 0) for e in root.iter("recv") if e.get("request") == "INFO"]
    assert min(waits) >= 100


def test_the_phone_answers_plays_and_waits_for_the_bye() -> None:
    xml = phone_scenario(audio=Path("/tmp/phone.ul"), answer_ms=250)
    root = ET.fromstring(xml)
    steps = [(e.tag, e.get("request") or e.get("milliseconds") or "") for e in root]
    assert steps[0] == ("recv", "INVITE") and ("pause", "250") in steps
    assert steps[-2] == ("recv", "BYE")
    assert "SIP/2.0 180 Ringing" in xml and "m=audio [media_port] RTP/AVP 0 101" in xml


_LOG = """\
----------------------------------------------- 2026-12-07 13:42:46.036429
UDP message sent (527 bytes):

INVITE sip:102@127.0.0.1:25060 SIP/2.0
CSeq: 1 INVITE

----------------------------------------------- 2026-12-07 13:42:46.036512
UDP message received [446] bytes :

SIP/2.0 401 Unauthorized

----------------------------------------------- 2026-12-07 13:42:46.040000
UDP message sent (784 bytes):

INVITE sip:102@127.0.0.1:25060 SIP/2.0
Authorization: Digest username="sipp"

----------------------------------------------- 2026-12-07 13:42:46.050000
UDP message received [727] bytes :

SIP/2.0 200 OK

----------------------------------------------- 2026-12-07 13:42:49.000000
UDP message sent (296 bytes):

BYE sip:127.0.0.1:25060 SIP/2.0

"""


def test_the_log_says_when_the_invite_went_and_who_hung_up(tmp_path: Path) -> None:
    log = tmp_path / "call.log"
    log.write_text(_LOG)
    seen = read_log(log)
    assert seen.answered and seen.hung_up_first and not seen.ended_by_center
    assert seen.invite_at is not None
    assert abs(seen.invite_at % 60 - 46.04) < 1e-3  # the authenticated INVITE, not the first
    assert not read_log(tmp_path / "absent.log").answered


class FakeRunner:
    def __init__(self, *, running: bool, why: str | None, fails: bool = False) -> None:
        self.settings = AsteriskSettings(sip_port=5999, rtp_start=30000, rtp_end=30999)
        self._running, self._why, self._fails = running, why, fails
        self.started = self.stopped = 0

    def unavailable(self) -> str | None:
        return self._why

    def running(self) -> bool:
        return self._running

    async def up(self) -> object:
        if self._fails:
            raise ContactError("ports taken")
        self.started += 1
        self._running = True
        return None

    async def down(self, timeout_s: float = 10.0) -> None:
        self.stopped += 1

    def sip_password(self, auth_section: str) -> str:
        assert auth_section in ("sipp-auth", "sipp-app-auth")  # 102, the app's SOS video
        return "pw"


async def test_a_running_asterisk_is_used_and_left_running() -> None:
    runner = FakeRunner(running=True, why=None)
    opened = await open_pbx(runner)
    assert opened.pbx == Pbx(5999, "pw", (30000, 30999), app_password="pw")
    assert opened.reason is None
    await opened.close()
    assert runner.started == 0 and runner.stopped == 0


async def test_a_provisioned_asterisk_is_started_and_stopped_again() -> None:
    runner = FakeRunner(running=False, why=None)
    opened = await open_pbx(runner)
    assert opened.pbx is not None and opened.started_here
    await opened.close()
    assert runner.started == 1 and runner.stopped == 1


async def test_without_asterisk_the_reason_is_one_line() -> None:
    opened = await open_pbx(FakeRunner(running=False, why="no Asterisk: not provisioned"))
    assert opened.pbx is None
    assert opened.reason == "Asterisk cannot run here: no Asterisk: not provisioned"
    failed = await open_pbx(FakeRunner(running=False, why=None, fails=True))
    assert failed.pbx is None and failed.reason == "Asterisk did not start: ports taken"
    assert (await open_pbx(None)).reason == "no Asterisk runner in this build"


def test_media_ports_stay_out_of_asterisks_rtp_range() -> None:
    for _ in range(50):
        port = media_port((24000, 26999))
        assert SIPP_MEDIA_RANGE[0] <= port < SIPP_MEDIA_RANGE[1] and port % 4 == 0
        assert port + 3 < 24000 or port > 26999


class _QuietSocket:
    """An operator's WebSocket on which nothing happens."""

    async def receive_json(self) -> Any:
        await asyncio.sleep(3600)


class _Edge:
    def __init__(self) -> None:
        self.hung_up_at: float | None = None

    async def hang_up(self, _bot: object, _contact_id: str) -> None:
        self.hung_up_at = time.monotonic()


async def test_the_operator_talks_her_whole_handling_time_through_quiet_seconds() -> None:
    """A quiet WebSocket is no reason to hang up: she holds the call for its sampled time
    (it used to end at the first half second without a message)."""
    edge = _Edge()
    began = time.monotonic()
    await VoiceEdge.talk(edge, None, _QuietSocket(), "c-1", 1.5, asyncio.Event())  # type: ignore[arg-type]
    assert edge.hung_up_at is not None and edge.hung_up_at - began >= 1.4
