"""The call-audio seam (contact/telephony/audio.py) as telephony serves it (taps.py): a real
AudioSocket server on loopback, a fake AMI. A stream gets its leg's frames in order and ends
with it; a tap that fails (refused, never connected) ends its stream with the reason; the end
of the call ends the streams and hangs up a stray tap; and nothing is ever sent to the call's
own channels."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from contact.bus import MessageBus
from contact.config import TranscribeSettings
from contact.domain import events as ev
from contact.errors import Unavailable
from contact.ports import Call, CallState
from contact.telephony import taps as taps_module
from contact.telephony.audio import AudioFrame, AudioLeg, CallAudio, Party
from contact.telephony.audiosocket import wire
from contact.telephony.taps import AudioStream, ChanSpyAudio

pytestmark = pytest.mark.timeout(30)

CALLER = "1795299225.0"
OPERATOR_LEG = "1795299226.1"
FRAME = b"\x01\x00" * 320  # 20 ms of slin16


@dataclass
class Pbx:
    """The AMI as the taps see it: Originate (recorded; `refuse` fails it), Hangup."""

    originated: list[Mapping[str, str]] = field(default_factory=list)
    hung_up: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)
    refuse: bool = False
    leading: bool = True
    call: Call | None = None

    async def action(self, fields: Mapping[str, str]) -> None:
        if self.refuse:
            raise Unavailable("AMI down")
        self.originated.append(dict(fields))

    async def hangup(self, channel: str) -> None:
        self.hung_up.append(channel)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[ChanSpyAudio, Pbx, MessageBus]]:
    pbx = Pbx(
        call=Call(
            "call1",
            "c1",
            CALLER,
            "PJSIP/sipp-1",
            "in",
            "voice",
            datetime.now(UTC),
            state=CallState.CONNECTED,
            citizen_leg=CALLER,
            operator_leg=OPERATOR_LEG,
        )
    )
    bus = MessageBus()
    audio = ChanSpyAudio(
        limits=TranscribeSettings(audiosocket_port=0),
        live_call=lambda contact_id: pbx.call if contact_id == "c1" else None,
        own_leg=pbx.own.append,
        action=pbx.action,
        hangup=pbx.hangup,
        leading=lambda: pbx.leading,
        registry=None,
    )
    audio.register(bus)
    await audio.start()
    yield audio, pbx, bus
    await audio.stop()


async def _connect(audio: ChanSpyAudio, stream: AudioStream) -> asyncio.StreamWriter:
    """What Asterisk's AudioSocket channel does: connect, say the tap's UUID."""
    _, writer = await asyncio.open_connection("127.0.0.1", audio.port)
    writer.write(wire.encode(wire.KIND_UUID, uuid.UUID(stream.tap_id).bytes))
    await writer.drain()
    return writer


async def _frames(stream: AudioStream) -> list[AudioFrame]:
    return [frame async for frame in stream]


def _serves(audio: ChanSpyAudio) -> CallAudio:
    return audio  # mypy checks that telephony's taps serve the port


async def test_the_parties_of_a_live_call_and_nobody_else(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus],
) -> None:
    audio, pbx, _ = rig
    assert audio.leg("c1", Party.CALLER) == AudioLeg("c1", Party.CALLER, CALLER, None)
    assert audio.leg("c1", Party.OPERATOR) == AudioLeg("c1", Party.OPERATOR, OPERATOR_LEG, None)
    assert audio.leg("other", Party.CALLER) is None
    assert pbx.call is not None
    pbx.call.operator_leg = None
    assert audio.leg("c1", Party.OPERATOR) is None  # nobody to hear yet
    pbx.leading = False
    assert audio.leg("c1", Party.CALLER) is None  # only the node that drives Asterisk taps


async def test_a_stream_gets_its_legs_audio_in_order_until_the_leg_ends(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus],
) -> None:
    audio, pbx, _ = rig
    leg = audio.leg("c1", Party.CALLER)
    assert leg is not None
    stream = await audio.listen(leg)
    (originate,) = pbx.originated
    assert originate["Application"] == "ChanSpy" and originate["Data"] == f"{CALLER},quoE"
    assert originate["Channel"].endswith(f":{audio.port}/{stream.tap_id}")
    assert originate["Codecs"] == "slin16"
    assert pbx.own == [originate["ChannelId"]]  # not an orphan for the voice service
    writer = await _connect(audio, stream)
    assert await stream.connected()
    frames = [FRAME, b"\x02\x00" * 320, b"\x03\x00" * 320]
    for pcm in frames:
        writer.write(wire.encode(0x12, pcm))  # slin16
    writer.write(wire.encode(wire.KIND_HANGUP))
    await writer.drain()
    got = await asyncio.wait_for(_frames(stream), 5)
    assert [f.pcm for f in got] == frames and {f.rate for f in got} == {16000}
    assert stream.failure is None
    writer.close()
    assert pbx.hung_up == []  # the call's channels were never touched


async def test_closing_a_stream_ends_its_tap_not_the_call(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus],
) -> None:
    audio, pbx, _ = rig
    leg = audio.leg("c1", Party.OPERATOR)
    assert leg is not None
    stream = await audio.listen(leg)
    writer = await _connect(audio, stream)
    assert await stream.connected()
    stream.close()
    writer.write(wire.encode(0x12, FRAME))
    await writer.drain()
    reader_closed = asyncio.get_running_loop().create_future()

    async def wait_closed() -> None:
        # the server closes the connection at the next frame: Asterisk's tap channel ends
        for _ in range(50):
            if audio.server.connections == 0:
                reader_closed.set_result(True)
                return
            writer.write(wire.encode(0x12, FRAME))
            await asyncio.sleep(0.05)

    await wait_closed()
    assert reader_closed.done()
    assert await asyncio.wait_for(_frames(stream), 1) == []
    assert CALLER not in pbx.hung_up and OPERATOR_LEG not in pbx.hung_up


async def test_a_refused_tap_ends_its_stream_and_the_call_goes_on(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus],
) -> None:
    audio, pbx, _ = rig
    pbx.refuse = True
    leg = audio.leg("c1", Party.CALLER)
    assert leg is not None
    stream = await audio.listen(leg)
    assert not await stream.connected()
    assert stream.failure == "originate_failed"
    assert await _frames(stream) == []
    assert pbx.hung_up == []


async def test_a_tap_never_connected_ends_with_no_audio(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    audio, _, _ = rig
    monkeypatch.setattr(taps_module, "CONNECT_WITHIN_S", 0.05)
    leg = audio.leg("c1", Party.CALLER)
    assert leg is not None
    stream = await audio.listen(leg)
    assert not await asyncio.wait_for(stream.connected(), 2)
    assert stream.failure == "no_audio"
    # Asterisk connecting late finds no tap to feed
    _, writer = await asyncio.open_connection("127.0.0.1", audio.port)
    writer.write(wire.encode(wire.KIND_UUID, uuid.UUID(stream.tap_id).bytes))
    await writer.drain()
    for _ in range(50):
        if audio.server.rejections.get("unknown_tap"):
            break
        await asyncio.sleep(0.02)
    assert audio.server.rejections.get("unknown_tap") == 1
    writer.close()


async def test_the_calls_end_ends_its_streams_and_hangs_up_a_stray_tap(
    rig: tuple[ChanSpyAudio, Pbx, MessageBus], monkeypatch: pytest.MonkeyPatch
) -> None:
    audio, pbx, bus = rig
    monkeypatch.setattr(taps_module, "HANGUP_STRAY_S", 0.05)
    caller, operator = audio.leg("c1", Party.CALLER), audio.leg("c1", Party.OPERATOR)
    assert caller is not None and operator is not None
    connected = await audio.listen(caller)
    waiting = await audio.listen(operator)
    writer = await _connect(audio, connected)
    assert await connected.connected()
    await bus.publish(ev.CallEnded(contact_id="c1", reason="caller_hangup", cause=16))
    assert not await waiting.connected() and waiting.failure == "call_ended"
    assert await asyncio.wait_for(_frames(connected), 2) == []  # ended: the stray is hung up
    for _ in range(50):
        if pbx.hung_up:
            break
        await asyncio.sleep(0.02)
    (tap_channel,) = [f["ChannelId"] for f in pbx.originated if f["Data"].startswith(CALLER)]
    assert pbx.hung_up == [tap_channel]  # the tap's own channel, never the call's
    writer.close()
