"""The AudioSocket wire format, pure: frames of `kind:uint8, length:uint16 big-endian, payload`.

What Asterisk sends on a tap (verified, see ../shared/notes/asterisk.md): first `0x01` with the
16-byte UUID of the tap, then audio every 20 ms (`0x12` = slin 16 kHz, 640 bytes, when the tap
asks for `Codecs: slin16`), `0x03` DTMF, `0x00` hangup, `0xff` error. Anything else, or a frame
whose length does not fit its kind, is a protocol error: the connection is closed, nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

HEADER = 3
KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_ERROR = 0xFF
# signed 16-bit little-endian PCM at each rate Asterisk labels (0x10: 8 kHz, and any codec it
# could not translate to slin: a tap always asks for slin16)
SLIN_RATES = {
    0x10: 8000,
    0x11: 12000,
    0x12: 16000,
    0x13: 24000,
    0x14: 32000,
    0x15: 44100,
    0x16: 48000,
    0x17: 96000,
    0x18: 192000,
}
# one frame carries at most 100 ms of audio at its rate (Asterisk sends 20 ms)
MAX_AUDIO_S = 0.1


class ProtocolError(Exception):
    """The peer broke the wire format: `reason` is a short label (a metrics label too)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Frame:
    kind: int
    payload: bytes


def header(raw: bytes) -> tuple[int, int]:
    """(kind, length) of a 3-byte header; ProtocolError for a kind or length that cannot be."""
    if len(raw) != HEADER:
        raise ProtocolError("truncated")
    kind, length = raw[0], int.from_bytes(raw[1:3], "big")
    if kind == KIND_UUID:
        if length != 16:
            raise ProtocolError("bad_length")
    elif kind in SLIN_RATES:
        if length == 0 or length % 2 or length > SLIN_RATES[kind] * 2 * MAX_AUDIO_S:
            raise ProtocolError("bad_length")
    elif kind == KIND_DTMF:
        if length != 1:
            raise ProtocolError("bad_length")
    elif kind in (KIND_HANGUP, KIND_ERROR):
        if length > 64:
            raise ProtocolError("bad_length")
    else:
        raise ProtocolError("unknown_kind")
    return kind, length


def tap_id(payload: bytes) -> str:
    """The tap's UUID in its canonical text form."""
    return str(uuid.UUID(bytes=payload))


def encode(kind: int, payload: bytes = b"") -> bytes:
    """A frame as Asterisk writes it (tests, benchmarks)."""
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload
