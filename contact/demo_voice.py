"""Voice in `contact demo`: the local Asterisk of asterisk-config/ (provisioned as the tests do
it, when this machine can), the demo operators' browser softphones wired to its endpoints, and
synthetic 102 callers: sipp places the call, and the caller's speech (espeak-ng, Kazakh or
Russian, rendered to PCMU by sox) is played into it as RTP, so an operator can answer a real
call in the browser softphone and hear the citizen.

When Asterisk cannot run here (not provisioned and no root/debootstrap to do it, ports taken,
sipp missing…) the demo goes on without voice and `reason` says why in one line, shown on the
operator's page instead of a red badge. Everything started here is stopped by `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from contact.config import Settings
from contact.domain.model import Language
from contact.local_ports import free_udp_port, sipp_media_port
from contact.sipp_calls import CALLER_ENDPOINT, dial, scenario_xml, sdp, until_hung_up
from contact.telephony.runner import ROOTFS_STAMP, AsteriskError, AsteriskRunner

log = logging.getLogger(__name__)

# what the demo's operators answer on (WebRTC endpoints of asterisk-config/pjsip.conf)
ENDPOINTS = {"operator": "PJSIP/op1", "supervisor": "PJSIP/sup1"}
SPEECH: dict[Language, tuple[str, ...]] = {
    Language.RU: (
        "Алло, полиция? У соседей драка, кто-то кричит о помощи. Приезжайте быстрее.",
        "Здравствуйте, у нас во дворе вскрывают машину. Двое мужчин, один в чёрной куртке.",
    ),
    Language.KK: (
        "Сәлеметсіз бе, полиция ма? Көршілер төбелесіп жатыр, біреу көмек сұрап айқайлап жатыр.",
        "Аулада біреулер көлікті ашып жатыр. Екі адам, біреуі қара күртеше киген.",
    ),
}
MAX_CALLERS = 2  # at the same time: the demo stays light on a small machine
CALL_S = 180  # a caller waits and talks this long at most, then hangs up


@dataclass
class DemoVoice:
    settings: Settings
    runner: AsteriskRunner | None = None
    reason: str | None = None  # why there is no voice, in one line (None: voice is on)
    started_asterisk: bool = False
    interval_s: float = 45.0
    _work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="contact-demo-")))
    _procs: set[asyncio.subprocess.Process] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    calls_placed: int = 0

    @property
    def on(self) -> bool:
        return self.reason is None and self.runner is not None

    async def start_asterisk(self) -> None:
        """Provision (when possible) and start Asterisk; on any failure keep `reason`."""
        runner = AsteriskRunner(self.settings.asterisk)
        missing = [tool for tool in ("sipp", "espeak-ng", "sox") if shutil.which(tool) is None]
        if missing:
            self.reason = f"no voice: {', '.join(missing)} not installed"
            return
        provisioned = shutil.which("asterisk") or (runner.rootfs / ROOTFS_STAMP).is_file()
        if not provisioned and (os.geteuid() != 0 or shutil.which("debootstrap") is None):
            self.reason = "no voice: Asterisk is not provisioned (needs root and debootstrap)"
            return
        try:
            if not provisioned:
                print("provisioning Asterisk (first run: about a minute)…", flush=True)
                await runner.provision()
            was_running = runner.status().running
            await runner.up()
        except AsteriskError as exc:
            self.reason = f"no voice: {exc.message}"
            return
        self.runner, self.started_asterisk = runner, not was_running

    def start_callers(self) -> None:
        if self.on and self._task is None:
            self._task = asyncio.create_task(self._callers(), name="demo-callers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for proc in list(self._procs):
            await _end(proc)
        if self.runner is not None and self.started_asterisk:
            await self.runner.down()
        shutil.rmtree(self._work, ignore_errors=True)

    async def _callers(self) -> None:
        rng = random.Random()
        calls: set[asyncio.Task[None]] = set()
        await asyncio.sleep(3)  # the first caller soon after the start
        try:
            while True:
                if len(calls) < MAX_CALLERS:
                    task = asyncio.create_task(self._call(rng))
                    calls.add(task)
                    task.add_done_callback(calls.discard)
                await asyncio.sleep(rng.expovariate(1 / self.interval_s))
        finally:
            for task in calls:
                task.cancel()
            await asyncio.gather(*calls, return_exceptions=True)

    async def _call(self, rng: random.Random) -> None:
        assert self.runner is not None
        language = rng.choice(list(Language))
        phrase = rng.randrange(len(SPEECH[language]))
        try:
            audio = await asyncio.to_thread(self._speech, language, phrase)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("demo caller: no speech (%s)", exc)
            return
        loop = asyncio.get_running_loop()
        transport, rtp = await loop.create_datagram_endpoint(
            lambda: _Speaker(audio), local_addr=("127.0.0.1", 0)
        )
        number = f"+7701{rng.randrange(1_000_000, 9_999_999)}"
        scenario = self._work / f"call-{time.monotonic_ns()}.xml"
        scenario.write_text(
            caller_scenario(
                caller=number,
                password=self.runner.sip_password(f"{CALLER_ENDPOINT}-auth"),
                rtp_port=transport.get_extra_info("sockname")[1],
                hangup_after_ms=CALL_S * 1000,
            )
        )
        argv = ["sipp", f"127.0.0.1:{self.settings.asterisk.sip_port}", "-sf", str(scenario)]
        argv += ["-m", "1", "-l", "1", "-i", "127.0.0.1", "-p", str(free_udp_port())]
        argv += ["-mp", str(self._media_port()), "-nostdin", "-timeout", str(CALL_S + 30)]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._procs.add(proc)
        self.calls_placed += 1
        log.info("demo caller %d rings 102 (%s)", self.calls_placed, language.value)
        try:
            await proc.wait()
        finally:
            await _end(proc)
            self._procs.discard(proc)
            rtp.close()
            transport.close()
            scenario.unlink(missing_ok=True)

    def _speech(self, language: Language, phrase: int) -> bytes:
        """The phrase as 8 kHz PCMU (cached per phrase in the work directory)."""
        out = self._work / f"{language.value}-{phrase}.ul"
        if not out.exists():
            wav = out.with_suffix(".wav")
            voice = "kk" if language is Language.KK else "ru"
            text = SPEECH[language][phrase]
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text], check=True
            )
            subprocess.run(
                ["sox", str(wav), "-t", "ul", "-r", "8000", "-c", "1", str(out)], check=True
            )
        return out.read_bytes()

    def _media_port(self) -> int:
        """sipp's own media ports (P and P+2): away from Asterisk's RTP range."""
        a = self.settings.asterisk
        try:
            return sipp_media_port((a.rtp_start, a.rtp_end))
        except OSError as exc:
            raise AsteriskError("no free UDP ports for sipp's media") from exc


class _Speaker(asyncio.DatagramProtocol):
    """The caller's voice: the phrase, then 2 s of silence, over and over, in 20 ms PCMU
    frames to wherever Asterisk's RTP for this call comes from."""

    def __init__(self, audio: bytes) -> None:
        self.audio = audio + b"\xff" * 16000
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's
        self._task = asyncio.create_task(self._play())

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.remote = addr

    async def _play(self) -> None:
        seq, ts, pos = 0, 0, 0
        ssrc = random.getrandbits(32)
        started = time.monotonic()
        frame = 0
        while True:
            frame += 1
            if self.remote is not None and self.transport is not None:
                chunk = self.audio[pos : pos + 160].ljust(160, b"\xff")
                pos = (pos + 160) % len(self.audio)
                header = bytes([0x80, 0]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big")
                self.transport.sendto(header + ssrc.to_bytes(4, "big") + chunk, self.remote)
                seq, ts = (seq + 1) & 0xFFFF, (ts + 160) & 0xFFFFFFFF
            await asyncio.sleep(max(0.0, started + frame * 0.02 - time.monotonic()))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 3)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


_SDP = sdp("m=audio {port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=sendrecv\n", owner="demo")


def caller_scenario(*, caller: str, password: str, rtp_port: int, hangup_after_ms: int) -> str:
    """A caller dialling 102 (digest auth), talking until Asterisk hangs up or, at the latest,
    hanging up itself after `hangup_after_ms`."""
    dialog = (
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
        "[last_From:]\n[last_To:]\nCall-ID: [call_id]\nMax-Forwards: 70"
    )
    steps = [
        *dial(number=caller, password=password, sdp=_SDP.format(port=rtp_port)),
        # Asterisk's BYE (the operator hung up) ends the call; else the caller gives up
        *until_hung_up(hangup_after_ms, dialog),
    ]
    return scenario_xml("demo-caller", steps)
