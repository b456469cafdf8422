"""One tapped leg (the caller's or the operator's voice) on its way through a recognizer.

The AudioSocket reader hands audio to `feed` as it arrives (never waiting); `run` sends it to
the recognition pool a step at a time (`STEP_S` of audio, a recognizer used by one thread at a
time, in order), and reports partials, utterances and trouble to the `LegSink`. The leg wakes
once a step has gathered, not for every 20 ms frame: one pool hand-off per step.

The watchdog is the backlog: seconds of audio received and not yet recognised. Past
`drop_partials_lag_s` the leg stops asking for partials (the cheaper path), past `stop_lag_s`
it stops altogether: what was recognised so far is kept, the tap is closed, and the contact is
told. Nothing here ever reaches the call itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

from contact.config import TranscribeSettings
from contact.transcribe.engine import Recognizer, SpeechEngine, Utterance

log = logging.getLogger(__name__)

# a step: the audio that goes to the pool at once (10 frames; a partial or an utterance's end
# comes at most this much later than the frame that made it). Steps are whole multiples of it,
# counted from the leg's first frame, so where they fall never depends on how late one ran.
STEP_S = 0.2
# at most this many steps per recognizer call when the leg is behind (it catches up in bigger
# calls)
MAX_STEPS = 3
TAP_RATE = 16000  # what a tap asks telephony for (slin16)
FRAME_S = 0.02  # what Asterisk sends at a time


@dataclass(frozen=True, slots=True)
class Tap:
    tap_id: str  # the AudioSocket UUID
    contact_id: str
    speaker: str  # caller | operator
    language: str
    spied: str  # the uniqueid of the channel listened to


class LegSink(Protocol):
    async def partial(self, tap: Tap, text: str) -> None: ...

    async def utterance(self, tap: Tap, said: Utterance) -> None: ...

    async def degraded(self, tap: Tap, level: str, reason: str) -> None: ...


@dataclass
class LegStats:
    received_s: float = 0.0
    recognised_s: float = 0.0
    busy_s: float = 0.0  # wall time inside the recognizer
    steps: int = 0
    partials: int = 0
    utterances: int = 0
    first_audio_at: float | None = None
    first_partial_at: float | None = None
    first_voice_at: float | None = None  # first frame louder than silence
    levels: list[str] = field(default_factory=list)


class Leg:
    def __init__(
        self,
        tap: Tap,
        *,
        engine: SpeechEngine,
        pool: Executor,
        sink: LegSink,
        settings: TranscribeSettings,
        clock: Callable[[], float] = time.monotonic,
        tee: Callable[[Tap, bytes], None] | None = None,
    ) -> None:
        self.tap = tap
        self._tee = tee
        self._engine = engine
        self._pool = pool
        self._sink = sink
        self._s = settings
        self._clock = clock
        self._buffer = bytearray()
        self._rate = 0
        self._wake = asyncio.Event()
        self._ended = False
        self.stopped = False  # by the watchdog, or an error: no more audio is taken
        self._partials = True
        self._last_partial = ""
        self._last_partial_at = 0.0
        self.stats = LegStats()
        self.done = asyncio.Event()
        self._notices: list[tuple[str, str]] = []  # for the sink, in order

    # --- from the AudioSocket reader (the event loop; never waits) -----------------------------

    def feed(self, pcm: bytes, rate: int) -> bool:
        """Audio arrived. False: this leg takes no more (the connection may be closed)."""
        if self.stopped or self._ended:
            return False
        if self._rate == 0:
            self._rate = rate
        elif rate != self._rate:
            self._stop("rate_changed")
            return False
        now = self._clock()
        if self.stats.first_audio_at is None:
            self.stats.first_audio_at = now
        if self.stats.first_voice_at is None and _loud(pcm):
            self.stats.first_voice_at = now
        if self._tee is not None:
            self._tee(self.tap, pcm)
        self._buffer += pcm
        self.stats.received_s += len(pcm) / (2 * rate)
        if self.lag_s > self._s.stop_lag_s:
            self._stop("behind_real_time")
            return False
        if len(self._buffer) >= _step_bytes(rate):
            self._wake.set()
        return True

    def end(self) -> None:
        """The stream is over (hangup, closed): recognise what is left, then finish."""
        self._ended = True
        self._wake.set()

    @property
    def lag_s(self) -> float:
        return self.stats.received_s - self.stats.recognised_s

    def _stop(self, reason: str) -> None:
        if self.stopped:
            return
        self.stopped = True
        self._buffer.clear()
        self.stats.levels.append("stopped")
        log.warning(
            "transcription of a %s leg stopped: %s (%.1f s behind)",
            self.tap.speaker,
            reason,
            self.lag_s,
            extra={"contact_id": self.tap.contact_id},
        )
        self._notices.append(("stopped", reason))
        self._wake.set()

    # --- the recognition loop ------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        recognizer: Recognizer | None = None
        try:
            # made before the first audio (taps ask for slin16): the first words need not wait
            made_for = TAP_RATE
            recognizer = await loop.run_in_executor(
                self._pool, self._engine.recognizer, self.tap.language, made_for
            )
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self._notify()
                if self.stopped:
                    break
                while self._due() and not self.stopped:
                    if self._rate != made_for:  # Asterisk sent another rate than asked
                        made_for = self._rate
                        recognizer = await loop.run_in_executor(
                            self._pool, self._engine.recognizer, self.tap.language, made_for
                        )
                    await self._step(loop, recognizer)
                    await self._notify()
                if self._ended and not self._buffer:
                    break
            if recognizer is not None:
                said = await loop.run_in_executor(self._pool, recognizer.finish)
                if said is not None:
                    await self._said(said)
        except Exception as exc:  # a broken model or recognizer: this leg only
            log.exception(
                "transcription of a %s leg failed", self.tap.speaker,
                extra={"contact_id": self.tap.contact_id},
            )  # fmt: skip
            self.stopped = True
            with contextlib.suppress(Exception):
                await self._sink.degraded(self.tap, "failed", type(exc).__name__)
        finally:
            self.done.set()

    def _due(self) -> bool:
        """A whole step has gathered, or the stream ended with audio left."""
        if self._ended:
            return bool(self._buffer)
        return self._rate > 0 and len(self._buffer) >= _step_bytes(self._rate)

    async def _step(self, loop: asyncio.AbstractEventLoop, recognizer: Recognizer) -> None:
        step = _step_bytes(self._rate)
        size = min(len(self._buffer), step * MAX_STEPS)
        if not self._ended:
            size -= size % step  # whole steps while the stream goes on
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        now = self._clock()
        want_partial = self._partials and now - self._last_partial_at >= self._s.partial_interval_s
        started = time.perf_counter()
        said, partial = await loop.run_in_executor(
            self._pool, _recognise, recognizer, chunk, int(FRAME_S * self._rate) * 2, want_partial
        )
        self.stats.busy_s += time.perf_counter() - started
        self.stats.steps += 1
        self.stats.recognised_s += size / (2 * self._rate)
        self._watch()
        for one in said:
            self._last_partial = ""
            await self._said(one)
        if partial is not None:
            self._last_partial_at = self._clock()
            if partial and partial != self._last_partial:
                self._last_partial = partial
                self.stats.partials += 1
                if self.stats.first_partial_at is None:
                    self.stats.first_partial_at = self._clock()
                await self._sink.partial(self.tap, partial)

    def _watch(self) -> None:
        if self.stopped:
            return
        lag = self.lag_s
        if self._partials and lag > self._s.drop_partials_lag_s:
            self._partials = False
            self.stats.levels.append("partials_dropped")
            self._notices.append(("partials_dropped", "behind_real_time"))
        elif not self._partials and lag < self._s.drop_partials_lag_s / 2:
            self._partials = True
            self.stats.levels.append("recovered")
            self._notices.append(("recovered", "caught_up"))

    async def _notify(self) -> None:
        while self._notices:
            await self._sink.degraded(self.tap, *self._notices.pop(0))

    async def _said(self, said: Utterance) -> None:
        self.stats.utterances += 1
        await self._sink.utterance(self.tap, said)


def _step_bytes(rate: int) -> int:
    return int(STEP_S * rate) * 2


def _recognise(
    recognizer: Recognizer, pcm: bytes, frame: int, want_partial: bool
) -> tuple[list[Utterance], str | None]:
    """In a pool thread: a step of audio, fed frame by frame as the call delivered it (so that
    where an utterance ends never depends on how late the step is); then the partial, if
    wanted and nothing ended."""
    said = []
    for i in range(0, len(pcm), frame):
        one = recognizer.accept(pcm[i : i + frame])
        if one is not None:
            said.append(one)
    if said or not want_partial:
        return said, None
    return said, recognizer.partial()


def _loud(pcm: bytes, threshold: int = 500) -> bool:
    """Any sample louder than near-silence (first-partial latency is measured from it)."""
    view = memoryview(pcm).cast("h")
    return any(abs(view[i]) > threshold for i in range(0, len(view), 8))
