"""Transcription as a consumer of telephony's call-audio seam, against a fake CallAudio: which
leg is heard and when (the caller after the menu, the operator once bridged, a new tap for a
new operator), what becomes of the audio (segments stored and announced), and a stream that
fails: the contact is told, nothing else happens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contact.bus import MessageBus
from contact.config import DatabaseSettings, Settings, TranscribeSettings
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Contact, Language, Priority
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from contact.persistence.transcripts import SqlTranscriptStore
from contact.telephony.audio import AudioFrame, AudioLeg, CallAudio, LegAudio, Party
from contact.transcribe.service import Transcription
from contact.transcribe.taps import CallTaps
from tests.standins.speech import ScriptedEngine

pytestmark = pytest.mark.timeout(30)

FRAME = b"\x10\x00" * 320  # 20 ms of slin16, not silence
NOW = datetime.now(UTC)


@dataclass
class FakeStream:
    leg: AudioLeg
    frames: int = 0  # how many frames of audio the leg says, then it ends
    failure: str | None = None
    closed: bool = False

    async def connected(self) -> bool:
        return self.failure is None

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[AudioFrame]:
        for _ in range(self.frames):
            if self.closed:
                return
            yield AudioFrame(FRAME)
            await asyncio.sleep(0.02)  # in real time, as a call speaks

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeCallAudio:
    """The seam with one call (contact c1): its caller, and its operator's leg if any."""

    operator_leg: str | None = None
    frames: int = 100  # 2 s of audio per stream
    failure: str | None = None
    streams: list[FakeStream] = field(default_factory=list)

    @property
    def listening(self) -> bool:
        return True

    def leg(self, contact_id: str, party: Party) -> AudioLeg | None:
        if contact_id != "c1":
            return None
        if party is Party.CALLER:
            return AudioLeg("c1", party, "1795299225.0", "ru")
        if self.operator_leg is None:
            return None
        return AudioLeg("c1", party, self.operator_leg, "ru")

    async def listen(self, leg: AudioLeg) -> LegAudio:
        stream = FakeStream(leg, self.frames, self.failure)
        self.streams.append(stream)
        return stream


def _seam(audio: FakeCallAudio) -> CallAudio:
    return audio  # the fake serves the port (mypy)


@dataclass
class Rig:
    audio: FakeCallAudio
    transcription: Transcription
    taps: CallTaps
    bus: MessageBus
    events: list[ev.Event]

    async def settle(self) -> None:
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not self.transcription.legs():
                return


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    url = f"sqlite+aiosqlite:///{tmp_path}/contact.db"
    await upgrade(url)
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    await db.contacts.add(
        Contact(id="c1", channel=ChannelKind.VOICE, priority=Priority.VOICE, created_at=NOW)
    )
    bus = MessageBus()
    audio = FakeCallAudio()
    transcription = Transcription(
        settings=Settings(transcribe=TranscribeSettings(enabled=True)),
        engine=ScriptedEngine(scripts=[("алло", "полиция"), ("слушаю",)], after_s=0.5),
        store=SqlTranscriptStore(db.store),
        bus=bus,
        registry=None,
        audio=_seam(audio),
    )
    await transcription.store.prepare()
    taps = CallTaps(transcription, _seam(audio))
    taps.register(bus)
    events: list[ev.Event] = []

    async def record(e: ev.Event) -> None:
        events.append(e)

    bus.subscribe_all(record)
    yield Rig(audio, transcription, taps, bus, events)
    await taps.stop()
    await transcription.stop()
    await db.close()


async def _until(what: object) -> None:
    for _ in range(300):
        if callable(what) and what():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached")


async def test_the_caller_is_heard_after_the_menu_and_the_operator_once_bridged(
    rig: Rig,
) -> None:
    rig.audio.frames = 150  # 3 s: the caller still speaks when the operator comes
    await rig.bus.publish(ev.CallLanguageChosen(contact_id="c1", language=Language.RU))
    await _until(lambda: rig.audio.streams)
    (caller,) = rig.audio.streams
    assert caller.leg.party is Party.CALLER
    rig.audio.operator_leg = "1795299226.1"
    await rig.bus.publish(ev.CallConnected(contact_id="c1", operator_id="op"))
    await _until(lambda: len(rig.audio.streams) == 2)
    assert [s.leg.party for s in rig.audio.streams] == [Party.CALLER, Party.OPERATOR]
    await _until(
        lambda: len([e for e in rig.events if isinstance(e, ev.TranscriptSegmentStored)]) == 2
    )
    await rig.bus.publish(ev.CallEnded(contact_id="c1", reason="caller_hangup"))
    await rig.settle()
    assert all(s.closed for s in rig.audio.streams)  # read to their end
    said = await rig.transcription.store.for_contact("c1")
    assert [(s.speaker, s.text) for s in said] == [
        ("caller", "алло полиция"),
        ("operator", "слушаю"),
    ]
    stored = [e for e in rig.events if isinstance(e, ev.TranscriptSegmentStored)]
    assert [e.speaker for e in stored] == ["caller", "operator"]


async def test_another_operator_gets_a_tap_of_her_own(rig: Rig) -> None:
    rig.audio.frames = 10_000  # the legs go on
    rig.audio.operator_leg = "1795299226.1"
    await rig.bus.publish(ev.CallConnected(contact_id="c1", operator_id="op"))
    for _ in range(100):
        if len(rig.audio.streams) == 2:
            break
        await asyncio.sleep(0.01)
    first = rig.audio.streams[1]
    await rig.bus.publish(ev.CallConnected(contact_id="c1", operator_id="op"))  # same leg
    await asyncio.sleep(0.05)
    assert len(rig.audio.streams) == 2
    rig.audio.operator_leg = "1795299227.2"
    await rig.bus.publish(ev.CallConnected(contact_id="c1", operator_id="op2"))
    for _ in range(100):
        if len(rig.audio.streams) == 3 and first.closed:
            break
        await asyncio.sleep(0.01)
    assert rig.audio.streams[2].leg.channel == "1795299227.2"
    assert first.closed  # the old operator's tap ended
    await rig.bus.publish(ev.CallEnded(contact_id="c1", reason="caller_hangup"))
    await rig.settle()
    assert all(s.closed for s in rig.audio.streams)
    assert rig.transcription.taps("c1") == []


async def test_a_failed_stream_only_degrades_the_transcript(rig: Rig) -> None:
    rig.audio.failure = "originate_failed"
    await rig.bus.publish(ev.CallLanguageChosen(contact_id="c1", language=Language.RU))
    await rig.settle()
    degraded = [e for e in rig.events if isinstance(e, ev.TranscriptDegraded)]
    assert [(e.speaker, e.level, e.reason) for e in degraded] == [
        ("caller", "tap_failed", "originate_failed")
    ]
    assert rig.transcription.taps("c1") == []
    assert await rig.transcription.store.for_contact("c1") == []


async def test_a_call_that_ends_before_its_tap_connects_is_forgotten_quietly(rig: Rig) -> None:
    rig.audio.failure = "call_ended"
    await rig.bus.publish(ev.CallLanguageChosen(contact_id="c1", language=Language.RU))
    await rig.settle()
    assert not [e for e in rig.events if isinstance(e, ev.TranscriptDegraded)]
    assert rig.transcription.taps("c1") == []


async def test_nothing_is_heard_of_a_call_telephony_does_not_have(rig: Rig) -> None:
    await rig.bus.publish(ev.CallLanguageChosen(contact_id="other", language=Language.RU))
    await rig.bus.publish(ev.CallConnected(contact_id="other", operator_id="op"))
    await rig.settle()
    assert rig.audio.streams == []
