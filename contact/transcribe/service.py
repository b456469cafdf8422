"""Transcription, assembled: the recognition pool, the legs being recognised, and what
becomes of their text (live partials, stored segments, triage). The audio comes through
telephony's call-audio seam (contact/telephony/audio.py).

A tap is opened (`open_tap`) before telephony is asked for the leg's audio (`attach` then reads
that stream into the leg). At most `max_legs` legs run at once; another is refused and the
contact is told, so the running ones keep real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from contact.bus import MessageBus
from contact.config import Settings
from contact.domain import events as ev
from contact.domain.model import new_id
from contact.persistence.transcripts import Segment, SqlTranscriptStore
from contact.telephony.audio import CallAudio, LegAudio
from contact.transcribe.engine import SpeechEngine, Utterance
from contact.transcribe.leg import Leg, Tap
from contact.transcribe.models import LANGUAGES, find_model

log = logging.getLogger(__name__)

# a stream that ended for these reasons before its audio came ends quietly (the call is over)
QUIET_ENDS = frozenset({"call_ended", "stopped"})

# what a caller's final words lead to (contact/transcribe/alerts.py): (contact_id, text)
OnCallerWords = Callable[[str, str], Awaitable[None]]


class TranscribeMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.legs = Gauge(
            "contact_transcribe_legs", "Call legs being transcribed", registry=registry
        )
        self.degraded = Counter(
            "contact_transcribe_degraded_total",
            "Legs whose transcription degraded, by level",
            ["level"],
            registry=registry,
        )
        self.segments = Counter(
            "contact_transcribe_segments_total",
            "Utterances recognised and stored",
            registry=registry,
        )


class Transcription:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: SpeechEngine,
        store: SqlTranscriptStore,
        bus: MessageBus,
        registry: CollectorRegistry | None,
        on_caller_words: OnCallerWords | None = None,
        clock: Callable[[], float] = time.time,
        audio: CallAudio | None = None,
        audio_health: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._settings = settings
        self._s = settings.transcribe
        self.engine = engine
        self.store = store
        self._bus = bus
        self._clock = clock
        self.on_caller_words = on_caller_words
        self.metrics = TranscribeMetrics(registry)
        self.pool = ThreadPoolExecutor(self._s.workers, thread_name_prefix="speech")
        # the calls' audio (telephony's seam); None: nothing to transcribe from
        self.audio = audio
        self._audio_health = audio_health
        self._legs: dict[str, Leg] = {}  # tap id → leg (waiting for its connection, or running)
        self._claimed: set[str] = set()
        self._streams: dict[str, LegAudio] = {}  # tap id → its audio, while it is read
        self._by_contact: dict[str, dict[str, str]] = {}  # contact → speaker → tap id
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started: dict[str, datetime] = {}  # tap id → when its audio began
        self.loaded: list[str] = []
        self._stopping = False
        # a copy of every leg's audio as it arrives (tests and benchmarks compare it)
        self.tee: Callable[[Tap, bytes], None] | None = None
        self._loading: asyncio.Future[list[str]] | None = None

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.store.prepare()
        if not self.listening:  # calls go on, untranscribed; /healthz says why
            return
        load = getattr(self.engine, "load_all", None)
        if load is not None:  # in the pool, not awaited: a call never waits for a model
            self._loading = asyncio.get_running_loop().run_in_executor(self.pool, load)
            self._loading.add_done_callback(self._loaded)

    def _loaded(self, future: asyncio.Future[list[str]]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("speech models failed to load: %s", error)
        else:
            self.loaded = future.result()

    async def stop(self) -> None:
        self._stopping = True
        for leg in list(self._legs.values()):
            leg.end()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._legs.clear()
        self._by_contact.clear()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- taps -----------------------------------------------------------------------------------

    @property
    def listening(self) -> bool:
        return self.audio is not None and self.audio.listening

    def legs(self) -> int:
        return len(self._legs)

    def claimed(self, tap: Tap) -> bool:
        """Its connection came: Asterisk sends the leg's audio."""
        return tap.tap_id in self._claimed

    def running(self, tap: Tap) -> bool:
        return tap.tap_id in self._legs

    def end_contact_leg(self, tap: Tap) -> None:
        """One leg is over (its operator left): it finishes what it has."""
        leg = self._legs.get(tap.tap_id)
        if leg is None:
            return
        self._close_stream(tap)
        if tap.tap_id in self._claimed:
            leg.end()
            speakers = self._by_contact.get(tap.contact_id, {})
            if speakers.get(tap.speaker) == tap.tap_id:
                del speakers[tap.speaker]  # a new tap of this speaker may start meanwhile
        else:
            self._forget(tap)

    def tap_of(self, contact_id: str, speaker: str) -> Tap | None:
        tap_id = self._by_contact.get(contact_id, {}).get(speaker)
        leg = self._legs.get(tap_id) if tap_id else None
        return leg.tap if leg is not None else None

    def taps(self, contact_id: str) -> list[Tap]:
        return [
            self._legs[t].tap
            for t in self._by_contact.get(contact_id, {}).values()
            if t in self._legs
        ]

    async def open_tap(
        self, contact_id: str, speaker: str, language: str | None, spied: str
    ) -> Tap | None:
        """Make ready for a leg's audio; None (and the contact told why) when it cannot be
        transcribed: no model for its language, or no capacity left."""
        if self.tap_of(contact_id, speaker) is not None or not self.listening:
            return None  # already tapped; or no audio to be had (/healthz says so)
        lang = language or self._s.default_language
        if not self.engine.installed(lang):
            await self._degraded(contact_id, speaker, "no_model", lang)
            return None
        if len(self._legs) >= self._s.max_legs:
            await self._degraded(contact_id, speaker, "refused", "capacity")
            return None
        tap_uuid = uuid.uuid4()
        tap = Tap(
            tap_id=str(tap_uuid),
            contact_id=contact_id,
            speaker=speaker,
            language=lang,
            spied=spied,
        )
        leg = Leg(
            tap, engine=self.engine, pool=self.pool, sink=self, settings=self._s, tee=self.tee
        )
        self._legs[tap.tap_id] = leg
        self._by_contact.setdefault(contact_id, {})[speaker] = tap.tap_id
        self.metrics.legs.set(len(self._legs))
        return tap

    def attach(self, tap: Tap, stream: LegAudio) -> None:
        """The leg's audio, as telephony streams it: recognised until it ends."""
        self._streams[tap.tap_id] = stream
        self._spawn(self._pump(tap, stream), "transcribe-audio")

    async def _pump(self, tap: Tap, stream: LegAudio) -> None:
        leg = self._legs.get(tap.tap_id)
        try:
            if leg is None or not await stream.connected():
                failure = stream.failure or "no_audio"
                if failure in QUIET_ENDS:
                    self._forget(tap)
                else:
                    self.drop_tap(tap, failure)
                return
            if self._legs.get(tap.tap_id) is not leg or tap.tap_id in self._claimed:
                return  # ended meanwhile (the call, another operator)
            self._claimed.add(tap.tap_id)
            self._started[tap.tap_id] = datetime.fromtimestamp(self._clock(), UTC)
            self._spawn(self._run(leg), "transcribe-leg")
            async for frame in stream:
                if not leg.feed(frame.pcm, frame.rate):
                    break  # the watchdog stopped it: the tap ends
        finally:
            stream.close()
            if self._streams.get(tap.tap_id) is stream:
                del self._streams[tap.tap_id]
            if leg is not None:
                leg.end()

    def _close_stream(self, tap: Tap) -> None:
        """The leg takes no more audio: its tap ends (the call is not touched)."""
        stream = self._streams.pop(tap.tap_id, None)
        if stream is not None:
            stream.close()

    async def _run(self, leg: Leg) -> None:
        try:
            await leg.run()
        finally:
            self._forget(leg.tap)

    def drop_tap(self, tap: Tap, reason: str) -> None:
        """The tap failed before its audio came (refused, never connected): forget it, say so."""
        if self._stopping:
            return
        if tap.tap_id in self._legs and tap.tap_id not in self._claimed:
            self._forget(tap)
            self._spawn(
                self._degraded(tap.contact_id, tap.speaker, "tap_failed", reason),
                "transcribe-tap-failed",
            )

    def _forget(self, tap: Tap) -> None:
        self._legs.pop(tap.tap_id, None)
        self._claimed.discard(tap.tap_id)
        self._started.pop(tap.tap_id, None)
        speakers = self._by_contact.get(tap.contact_id)
        if speakers is not None and speakers.get(tap.speaker) == tap.tap_id:
            del speakers[tap.speaker]
            if not speakers:
                del self._by_contact[tap.contact_id]
        self.metrics.legs.set(len(self._legs))

    def end_contact(self, contact_id: str) -> list[Tap]:
        """The call ended: its legs finish what they have (their taps end with the call)."""
        taps = self.taps(contact_id)
        for tap in taps:
            leg = self._legs.get(tap.tap_id)
            if leg is None:
                continue
            self._close_stream(tap)
            if tap.tap_id in self._claimed:
                leg.end()
            else:
                self._forget(tap)
        return taps

    # --- LegSink --------------------------------------------------------------------------------

    async def partial(self, tap: Tap, text: str) -> None:
        await self._bus.publish(
            ev.TranscriptPartial(contact_id=tap.contact_id, speaker=tap.speaker, text=text)
        )

    async def utterance(self, tap: Tap, said: Utterance) -> None:
        now = datetime.fromtimestamp(self._clock(), UTC)
        started = self._started.get(tap.tap_id) or now - timedelta(seconds=said.end_s)
        segment = Segment(
            id=new_id(),
            contact_id=tap.contact_id,
            speaker=tap.speaker,
            language=tap.language,
            text=said.text,
            words=tuple((w.word, w.start_s, w.end_s, round(w.confidence, 3)) for w in said.words),
            start_s=round(said.start_s, 2),
            end_s=round(said.end_s, 2),
            confidence=round(said.confidence, 3),
            leg_started_at=started,
            created_at=now,
        )
        try:
            await self.store.add(segment)
        except Exception as error:  # the live view still gets it; the record is incomplete
            log.error(
                "a transcript segment was not stored: %s", type(error).__name__,
                extra={"contact_id": tap.contact_id},
            )  # fmt: skip
            await self._degraded(tap.contact_id, tap.speaker, "not_stored", type(error).__name__)
        else:
            self.metrics.segments.inc()
        await self._bus.publish(
            ev.TranscriptSegmentStored(
                contact_id=tap.contact_id,
                segment_id=segment.id,
                speaker=tap.speaker,
                language=tap.language,
                text=segment.text,
                start_s=segment.start_s,
                end_s=segment.end_s,
                confidence=segment.confidence,
            )
        )
        if tap.speaker == "caller" and self.on_caller_words is not None:
            with contextlib.suppress(Exception):
                await self.on_caller_words(tap.contact_id, said.text)

    async def degraded(self, tap: Tap, level: str, reason: str) -> None:
        await self._degraded(tap.contact_id, tap.speaker, level, reason)

    async def _degraded(self, contact_id: str, speaker: str, level: str, reason: str) -> None:
        self.metrics.degraded.labels(level).inc()
        await self._bus.publish(
            ev.TranscriptDegraded(
                contact_id=contact_id, speaker=speaker, level=level, reason=reason
            )
        )

    # --- /healthz -------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Up when the default language's model is installed; each missing model is named with
        the command that installs it. Calls go on either way, without their transcript."""
        models_dir = self._settings.models.dir
        models = {
            lang: "installed" if find_model(models_dir, lang) is not None else "missing"
            for lang in LANGUAGES
        }
        missing = [lang for lang, state in models.items() if state == "missing"]
        body: dict[str, Any] = {
            "status": "down"
            if models[self._s.default_language] == "missing" or not self.listening
            else "up",
            "models": models,
            "loaded": self.loaded,
            "legs": len(self._legs),
            "max_legs": self._s.max_legs,
            "audiosocket": (
                self._audio_health()
                if self._audio_health is not None
                else {
                    "listening": False,
                    "error": "no call audio",
                    "connections": 0,
                    "rejected": {},
                }
            ),
        }
        if missing:
            body["install"] = f"contact models install {' '.join(missing)}"
        return body
