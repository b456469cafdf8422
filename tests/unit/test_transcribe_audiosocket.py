"""The AudioSocket server alone, on loopback, against hostile streams: unknown kinds, wrong
lengths, truncated frames, silence, a flood of connections, a UUID of no tap, the same tap
twice. Each ends its own connection only, is counted by reason, and a real tap streaming all
the while gets every frame it sent recognised."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from contact.config import TranscribeSettings
from contact.telephony.audiosocket import wire
from contact.telephony.audiosocket.server import AudioSocketMetrics, AudioSocketServer
from contact.transcribe.engine import Utterance
from contact.transcribe.leg import Leg, Tap
from tests.standins.speech import ScriptedEngine

pytestmark = pytest.mark.timeout(60)
FRAME = b"\x01\x00" * 320  # 20 ms of slin16


class Sink:
    def __init__(self) -> None:
        self.partials: list[str] = []
        self.said: list[Utterance] = []
        self.levels: list[tuple[str, str]] = []

    async def partial(self, tap: Tap, text: str) -> None:
        self.partials.append(text)

    async def utterance(self, tap: Tap, said: Utterance) -> None:
        self.said.append(said)

    async def degraded(self, tap: Tap, level: str, reason: str) -> None:
        self.levels.append((level, reason))


class Rig:
    def __init__(self, settings: TranscribeSettings, engine: ScriptedEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.pool = ThreadPoolExecutor(2)
        self.sink = Sink()
        self.legs: dict[str, Leg] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.registry = CollectorRegistry()
        self.server = AudioSocketServer(
            settings, self.claim, metrics=AudioSocketMetrics(self.registry)
        )

    def tap(self) -> Leg:
        tap_id = str(uuid.uuid4())
        tap = Tap(tap_id, "c1", "caller", "ru", "1.1")
        leg = Leg(tap, engine=self.engine, pool=self.pool, sink=self.sink, settings=self.settings)
        self.legs[tap_id] = leg
        return leg

    def claim(self, tap_id: str) -> Leg | None:
        leg = self.legs.pop(tap_id, None)
        if leg is not None:
            self.tasks.append(asyncio.create_task(leg.run()))
        return leg

    def rejected(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "contact_audiosocket_rejected_total", {"reason": reason}
        )
        return value or 0.0

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.server.port)


async def closed_by_server(reader: asyncio.StreamReader, within_s: float = 5.0) -> bool:
    """The server closed this connection (EOF or reset)."""
    try:
        return await asyncio.wait_for(reader.read(1), within_s) == b""
    except (ConnectionError, OSError):
        return True


@pytest.fixture
async def rig() -> object:
    settings = TranscribeSettings(
        audiosocket_port=0, max_connections=6, hello_timeout_s=1.0, idle_timeout_s=1.5
    )
    r = Rig(settings, ScriptedEngine(words=("ok",), after_s=1.0))
    await r.server.start()
    yield r
    await r.server.stop()
    for t in r.tasks:
        t.cancel()
    await asyncio.gather(*r.tasks, return_exceptions=True)
    r.pool.shutdown()


async def _stream(rig: Rig, leg: Leg, frames: int) -> None:
    """A well-behaved tap: its UUID, then 20 ms frames in real time, then a hangup."""
    _, writer = await rig.connect()
    writer.write(wire.encode(wire.KIND_UUID, uuid.UUID(leg.tap.tap_id).bytes))
    for _ in range(frames):
        writer.write(wire.encode(0x12, FRAME))
        await writer.drain()
        await asyncio.sleep(0.02)
    writer.write(wire.encode(wire.KIND_HANGUP))
    await writer.drain()
    writer.close()


async def test_hostile_streams_end_only_themselves(rig: Rig) -> None:
    good = rig.tap()
    streaming = asyncio.create_task(_stream(rig, good, frames=100))  # 2 s of audio
    await asyncio.sleep(0.1)

    cases = {
        "unknown_kind": wire.encode(0x42, b"xx"),
        "bad_length": wire.encode(wire.KIND_UUID, b"short"),
        "no_uuid": wire.encode(0x12, FRAME),
        "unknown_tap": wire.encode(wire.KIND_UUID, uuid.uuid4().bytes),
    }
    for reason, data in cases.items():
        reader, writer = await rig.connect()
        writer.write(data)
        await writer.drain()
        assert await closed_by_server(reader), reason
        writer.close()
        assert rig.rejected(reason) == 1, reason

    # a tap's UUID, then an odd-length audio frame; another's, then half a frame and EOF
    for reason, tail in (
        ("bad_length", bytes([0x12, 0x00, 0x03]) + b"abc"),
        ("truncated", bytes([0x12, 0x02, 0x80]) + b"\x00" * 100),
    ):
        leg = rig.tap()
        reader, writer = await rig.connect()
        writer.write(wire.encode(wire.KIND_UUID, uuid.UUID(leg.tap.tap_id).bytes) + tail)
        await writer.drain()
        if reason == "truncated":
            writer.write_eof()
        assert await closed_by_server(reader), reason
        writer.close()
    assert rig.rejected("bad_length") == 2 and rig.rejected("truncated") == 1

    # silence: a connection that never says which tap it is
    reader, writer = await rig.connect()
    assert await closed_by_server(reader, within_s=4.0)
    writer.close()
    assert rig.rejected("timeout") == 1

    # a flood: beyond max_connections (6, one of them the good tap) closed at once
    flood = [await rig.connect() for _ in range(30)]
    refused = 0
    for reader, _ in flood:
        with contextlib.suppress(TimeoutError):
            if await asyncio.wait_for(closed_by_server(reader), 0.5):
                refused += 1
    assert refused >= 25
    assert rig.rejected("overload") >= 25
    for _, writer in flood:
        writer.close()

    await streaming
    await asyncio.wait_for(good.done.wait(), 10)
    # every frame of the good tap arrived and was recognised, in spite of all of the above
    assert good.stats.received_s == pytest.approx(2.0)
    assert good.stats.recognised_s == pytest.approx(2.0)
    assert [u.text for u in rig.sink.said] == ["ok"]
    assert rig.server.connections == 0 or rig.rejected("timeout") >= 1


async def test_the_same_tap_twice_is_refused_the_second_time(rig: Rig) -> None:
    leg = rig.tap()
    hello = wire.encode(wire.KIND_UUID, uuid.UUID(leg.tap.tap_id).bytes)
    _, first = await rig.connect()
    first.write(hello + wire.encode(0x12, FRAME))
    await first.drain()
    await asyncio.sleep(0.1)
    second_reader, second = await rig.connect()
    second.write(hello)
    await second.drain()
    assert await closed_by_server(second_reader)
    assert rig.rejected("unknown_tap") == 1
    first.write(wire.encode(0x12, FRAME))
    await first.drain()
    await asyncio.sleep(0.1)
    assert leg.stats.received_s == pytest.approx(0.04)
    first.close()
    second.close()


async def test_a_leg_behind_real_time_drops_partials_then_stops() -> None:
    settings = TranscribeSettings(drop_partials_lag_s=0.3, stop_lag_s=0.8, partial_interval_s=0)
    # 3 s of work per second of audio: hopelessly behind
    engine = ScriptedEngine(words=("a", "b"), after_s=100.0, cost=3.0)
    pool = ThreadPoolExecutor(1)
    sink = Sink()
    tap = Tap(str(uuid.uuid4()), "c1", "caller", "ru", "1.1")
    leg = Leg(tap, engine=engine, pool=pool, sink=sink, settings=settings)
    run = asyncio.create_task(leg.run())
    accepted = 0
    for _ in range(100):  # 2 s of audio in real time
        if not leg.feed(FRAME, 16000):
            break
        accepted += 1
        await asyncio.sleep(0.02)
    await asyncio.wait_for(run, 10)
    pool.shutdown()
    assert accepted < 100  # the leg refused audio once stopped: the tap is closed
    levels = [level for level, _ in sink.levels]
    assert levels[:2] == ["partials_dropped", "stopped"]
    assert leg.stopped


async def test_a_leg_goes_to_the_pool_in_whole_steps_and_the_rest_at_its_end() -> None:
    engine = ScriptedEngine(words=("ok",), after_s=100.0)
    pool = ThreadPoolExecutor(1)
    tap = Tap(str(uuid.uuid4()), "c1", "caller", "ru", "1.1")
    leg = Leg(tap, engine=engine, pool=pool, sink=Sink(), settings=TranscribeSettings())
    run = asyncio.create_task(leg.run())
    for _ in range(25):  # 0.5 s at once: two whole steps of 0.2 s and 0.1 s left
        assert leg.feed(FRAME, 16000)
    for _ in range(500):
        if leg.stats.recognised_s >= 0.4:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    (recognizer,) = engine.made
    assert recognizer.heard_s == pytest.approx(0.4)  # what is short of a step waits
    assert leg.stats.steps == 1  # one hand-off to the pool, not one per frame
    assert leg.lag_s == pytest.approx(0.1)
    leg.end()
    await asyncio.wait_for(run, 10)
    pool.shutdown()
    assert recognizer.heard_s == pytest.approx(0.5)  # the rest, once the stream ended
    assert leg.lag_s == pytest.approx(0.0)


@given(st.binary(min_size=0, max_size=6))
def test_any_header_is_a_frame_or_a_protocol_error(raw: bytes) -> None:
    try:
        kind, length = wire.header(raw[:3])
    except wire.ProtocolError as error:
        assert error.reason in {"truncated", "bad_length", "unknown_kind"}
    else:
        assert kind in {*wire.SLIN_RATES, wire.KIND_UUID, wire.KIND_DTMF, 0x00, 0xFF}
        assert length <= 0xFFFF


def test_the_watchdog_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="STOP_LAG_S must exceed"):
        TranscribeSettings(drop_partials_lag_s=5, stop_lag_s=4)
