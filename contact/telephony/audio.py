"""The call-audio seam: what a feature asks telephony for to hear a live call.

    leg = audio.leg(contact_id, Party.CALLER)      # who can be heard now (None: nobody)
    stream = await audio.listen(leg)               # the audio of that leg, as it is spoken
    if await stream.connected():                   # the PBX sends it (False: it failed)
        async for frame in stream:                 # slin16 frames, about 20 ms each
            ...
    stream.close()                                 # enough: the tap ends, the call goes on

A stream starts when asked for and stops with its leg: the call's end, the leg's end, or
`close`. Listening never touches the call: a tap that fails (refused by the PBX, never
connected, its connection lost) ends its stream with `failure` set, and the call goes on as if
nobody had listened. The first consumer is live transcription (contact/transcribe/taps.py);
the mechanics (ChanSpy into AudioSocket) are telephony's (contact/telephony/taps.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

TAP_RATE = 16000  # what a tap asks Asterisk for (slin16)


class Party(StrEnum):
    CALLER = "caller"  # the citizen's leg
    OPERATOR = "operator"  # the operator's phone on the call


@dataclass(frozen=True, slots=True)
class AudioLeg:
    """One party of a live call that can be listened to."""

    contact_id: str
    party: Party
    channel: str  # the uniqueid of the leg (a new one when another operator takes the call)
    language: str | None  # the caller's language, as the call knows it


@dataclass(frozen=True, slots=True)
class AudioFrame:
    pcm: bytes  # signed linear 16-bit little-endian, mono
    rate: int = TAP_RATE


class LegAudio(Protocol):
    """The audio of one leg, as it is spoken (an async iterator of frames)."""

    @property
    def leg(self) -> AudioLeg: ...

    @property
    def failure(self) -> str | None:
        """Why the stream ended without its leg ending (originate_failed, no_audio, …)."""
        ...

    async def connected(self) -> bool:
        """Wait until the audio flows (True) or the tap failed (False)."""
        ...

    def __aiter__(self) -> AsyncIterator[AudioFrame]: ...

    def close(self) -> None:
        """Stop listening (the tap ends; the call is not touched)."""
        ...


class CallAudio(Protocol):
    """The port: "give me the caller's and the operator's audio of this call as a stream"."""

    @property
    def listening(self) -> bool:
        """Audio can be served (its server is up)."""
        ...

    def leg(self, contact_id: str, party: Party) -> AudioLeg | None:
        """That party of the contact's live call, if it can be heard now."""
        ...

    async def listen(self, leg: AudioLeg) -> LegAudio:
        """Start listening to `leg`; the stream ends with it."""
        ...
