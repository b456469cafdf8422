"""The call-audio seam's mechanics (CallAudio, contact/telephony/audio.py): ChanSpy into
AudioSocket.

Each stream is a channel Asterisk makes for us: `AudioSocket/<host>:<port>/<uuid>` running
`ChanSpy(<leg>,quoE)` with slin16: `q` no beep, `u` the leg by uniqueid, `o` only that leg's own
voice, `E` ends with it. Asterisk connects to our AudioSocket server (loopback), which hands the
audio to the stream of that UUID. A tap only listens: when it fails, the call is never touched
(nothing is sent to the call's channels).

Only the node that drives Asterisk taps (its AMI link; Asterisk connects to the AudioSocket
server on the same machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.ports import Call
from contact.telephony import parse
from contact.telephony.audio import AudioFrame, AudioLeg, Party
from contact.telephony.audiosocket.server import AudioSocketMetrics, AudioSocketServer, Limits

log = logging.getLogger(__name__)

# a tap Asterisk has not connected this long after it was asked for is given up
CONNECT_WITHIN_S = 10.0
# after the call's end, a tap still up this long is hung up (ChanSpy's `E` normally ends it)
HANGUP_STRAY_S = 2.0

_END = AudioFrame(b"", 0)


def spy_data(spied: str) -> str:
    if parse.uniqueid(spied) is None:
        raise ValueError("not a channel to tap")
    return f"{spied},quoE"


class AudioStream:
    """One tap's audio, from the AudioSocket reader (feed/end, never waiting) to its consumer
    (an async iterator). Implements LegAudio."""

    def __init__(self, leg: AudioLeg) -> None:
        self._leg = leg
        self.tap_id = str(uuid.uuid4())
        self.channel_id = uuid.UUID(self.tap_id).hex  # the tap's own channel (AMI ChannelId)
        self._frames: asyncio.Queue[AudioFrame] = asyncio.Queue()
        self._state: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._failure: str | None = None
        self._closed = False  # by the consumer: nothing more is taken
        self._ended = False  # no more frames will come
        self.was_connected = False

    @property
    def leg(self) -> AudioLeg:
        return self._leg

    @property
    def failure(self) -> str | None:
        return self._failure

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def open(self) -> bool:
        """Its connection is up (audio may still come)."""
        return self.was_connected and not self._ended

    async def connected(self) -> bool:
        return await asyncio.shield(self._state)

    def __aiter__(self) -> AsyncIterator[AudioFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioFrame]:
        if not await self.connected():
            return
        while True:
            frame = await self._frames.get()
            if frame is _END or self._closed:
                return
            yield frame

    def close(self) -> None:
        self._closed = True
        self._finish()

    # --- the server's side (Sink) ----------------------------------------------------------------

    def claimed(self) -> None:
        self.was_connected = True
        if not self._state.done():
            self._state.set_result(True)

    def feed(self, pcm: bytes, rate: int) -> bool:
        if self._closed or self._ended:
            return False
        self._frames.put_nowait(AudioFrame(pcm, rate))
        return True

    def end(self) -> None:
        self._finish()

    # --- telephony's side -----------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        """The tap will never connect."""
        if not self.was_connected and self._failure is None:
            self._failure = reason
        self._finish()

    def _finish(self) -> None:
        if not self._state.done():
            self._state.set_result(False)
        if not self._ended:
            self._ended = True
            self._frames.put_nowait(_END)


class ChanSpyAudio:
    """CallAudio on Asterisk: a ChanSpy tap per stream, audio over AudioSocket."""

    def __init__(
        self,
        *,
        limits: Limits,
        live_call: Callable[[str], Call | None],
        own_leg: Callable[[str], None],
        action: Callable[[Mapping[str, str]], Awaitable[Any]],
        hangup: Callable[[str], Awaitable[None]],
        leading: Callable[[], bool],
        registry: CollectorRegistry | None,
    ) -> None:
        self._limits = limits
        self._live_call = live_call
        self._own_leg = own_leg
        self._action = action
        self._hangup = hangup
        self._leading = leading
        self.server = AudioSocketServer(limits, self._claim, metrics=AudioSocketMetrics(registry))
        self.server_error: str | None = None
        self._streams: dict[str, AudioStream] = {}  # tap id → stream, until it ends
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.CallEnded, self._call_ended)

    async def start(self) -> None:
        try:
            await self.server.start()
        except OSError as error:  # calls go on, unheard; /healthz says why
            self.server_error = str(error)
            log.error("AudioSocket server not started: %s", error)

    async def stop(self) -> None:
        await self.server.stop()
        for stream in list(self._streams.values()):
            stream.fail("stopped")
        self._streams.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def listening(self) -> bool:
        return self.server.listening

    @property
    def port(self) -> int:
        return self.server.port

    def health(self) -> dict[str, Any]:
        return {
            "listening": self.listening,
            "error": self.server_error,
            "connections": self.server.connections,
            "rejected": dict(self.server.rejections),
        }

    # --- the port -------------------------------------------------------------------------------

    def leg(self, contact_id: str, party: Party) -> AudioLeg | None:
        if not self._leading():
            return None
        call = self._live_call(contact_id)
        if call is None:
            return None
        language = call.language.value if call.language is not None else None
        if party is Party.CALLER:
            return AudioLeg(contact_id, party, call.citizen_leg or call.uniqueid, language)
        if call.operator_leg is None:
            return None
        return AudioLeg(contact_id, party, call.operator_leg, language)

    async def listen(self, leg: AudioLeg) -> AudioStream:
        stream = AudioStream(leg)
        self._streams[stream.tap_id] = stream
        host = self._limits.audiosocket_host
        target = f"[{host}]" if ":" in host else host
        try:
            fields = {
                "Action": "Originate",
                "Channel": f"AudioSocket/{target}:{self.server.port}/{stream.tap_id}",
                "Application": "ChanSpy",
                "Data": spy_data(leg.channel),
                "Codecs": "slin16",
                "Async": "true",
                "ChannelId": stream.channel_id,
                "CallerID": "transcribe <0>",
            }
            # the voice service hangs up answered legs it does not know: this one is ours
            self._own_leg(stream.channel_id)
            await self._action(fields)
        except Exception as error:  # the call goes on unheard
            log.warning(
                "tap of a %s leg refused: %s", leg.party, error,
                extra={"contact_id": leg.contact_id},
            )  # fmt: skip
            self._ended(stream, "originate_failed")
            return stream
        loop = asyncio.get_running_loop()
        loop.call_later(CONNECT_WITHIN_S, self._unclaimed, stream)
        return stream

    # --- the server's claims, the call's end ----------------------------------------------------

    def _claim(self, tap_id: str) -> _Claimed | None:
        stream = self._streams.get(tap_id)
        if stream is None or stream.was_connected or stream.ended:
            return None
        stream.claimed()
        return _Claimed(stream, self)

    def _unclaimed(self, stream: AudioStream) -> None:
        if not stream.was_connected:
            self._ended(stream, "no_audio")

    def _ended(self, stream: AudioStream, failure: str | None = None) -> None:
        if failure is not None:
            stream.fail(failure)
        else:
            stream.end()
        if self._streams.get(stream.tap_id) is stream:
            del self._streams[stream.tap_id]

    async def _call_ended(self, event: ev.CallEnded) -> None:
        streams = [s for s in self._streams.values() if s.leg.contact_id == event.contact_id]
        if not streams:
            return
        for stream in streams:
            if not stream.was_connected:
                self._ended(stream, "call_ended")
        if self._leading():
            task = asyncio.create_task(self._hang_up_strays(streams), name="tap-strays")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _hang_up_strays(self, streams: list[AudioStream]) -> None:
        await asyncio.sleep(HANGUP_STRAY_S)
        for stream in streams:
            if stream.open:
                stream.end()
                with contextlib.suppress(Exception):
                    await self._hangup(stream.channel_id)


class _Claimed:
    """The server's sink for a stream: its end also forgets the stream."""

    def __init__(self, stream: AudioStream, owner: ChanSpyAudio) -> None:
        self._stream = stream
        self._owner = owner

    def feed(self, pcm: bytes, rate: int) -> bool:
        return self._stream.feed(pcm, rate)

    def end(self) -> None:
        self._owner._ended(self._stream)
