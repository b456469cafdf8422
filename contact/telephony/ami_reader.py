"""AMI's wire format, read totally: any bytes in, frames out, never an exception.

Asterisk ends every line with CRLF and every message with an empty line, and writes some
caller-controlled values (the caller's number, see asterisk-config/README.md) unescaped, so a
line break inside a value reaches us as a header of its own, or as the end of a message and the
start of a forged one. This reader trusts the framing and nothing inside it:

- a message ends only at CRLF CRLF; a line only at CRLF. A lone CR, a lone LF or a NUL inside a
  line makes that line malformed (Asterisk never sends one); so does a line that is not
  `Key: value` with a plain key;
- a key seen twice keeps its first value: a value is always one string, never a list;
- a line longer than MAX_LINE is oversized; a message still unended after MAX_MESSAGE bytes is
  dropped up to its end, with no more than MAX_MESSAGE bytes ever buffered;
- bytes that are not UTF-8 are replaced, not fatal.

Each defect is reported with the frame (its reason and the key, never the value); the caller
decides what a defective frame is worth (contact.telephony.ami drops defective events).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

EOL = b"\r\n"
END = b"\r\n\r\n"
BANNER = b"Asterisk Call Manager/"
# one header: the largest contact reads is Geo (1368 characters, asterisk-config/README.md)
MAX_LINE = 8 * 1024
# one message: a snapshot event with every contact field is under 4 KB
MAX_MESSAGE = 128 * 1024
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.()/-]{0,63}\Z")
_KEY_SHOWN = re.compile(rb"([A-Za-z][A-Za-z0-9_.()/-]{0,63}):")


class Defect(StrEnum):
    """Why a part of the stream was refused (the metric's `reason` label)."""

    DUPLICATE = "duplicate_header"
    MALFORMED = "malformed_header"
    OVERSIZED = "oversized_header"
    OVERSIZED_MESSAGE = "oversized_message"
    UNTYPED = "untyped_message"
    UNSEALED = "unsealed_event"  # a dialplan event without this boot's token (ami.py)
    FAILED = "handler_failed"  # our own code raised on a frame (ami.py)


@dataclass(slots=True)
class Frame:
    """One message: its headers (first value of each key, in order), the lines of a response
    body, and what was wrong with it."""

    headers: dict[str, str] = field(default_factory=dict)
    content: str = ""
    defects: list[tuple[Defect, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        lowered = key.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def kind(self) -> str | None:
        """`event` or `response`, from the first line (where Asterisk puts it); None when the
        frame is neither."""
        first = next(iter(self.headers), "")
        return first.lower() if first in ("Event", "Response") else None


def _key_of(line: bytes) -> str:
    """The key a defective line seems to have (plain characters before a colon), for the log;
    nothing of a line without one, which may be a caller's text."""
    found = _KEY_SHOWN.match(line)
    return found.group(1).decode() if found else ""


# a whole frame of sound `Key: value` lines (the common case, checked in one pass)
_SOUND = re.compile(r"(?:[A-Za-z][A-Za-z0-9_.()/-]{0,63}:[^\r\n\0]*(?:\r\n|\Z))+")


def parse_frame(raw: bytes) -> Frame:
    """One message without its terminator → a Frame. Total."""
    if len(raw) <= MAX_LINE:
        text = raw.decode("utf-8", "replace")
        if _SOUND.fullmatch(text) and not text.endswith("\r\n"):
            return _sound_frame(text)
    return _checked_frame(raw)


def _sound_frame(text: str) -> Frame:
    frame = Frame()
    seen: set[str] = set()
    for line in text.split("\r\n"):
        key, _, value = line.partition(":")
        lowered = key.lower()
        if lowered in seen:
            frame.defects.append((Defect.DUPLICATE, key))
            continue
        seen.add(lowered)
        frame.headers[key] = value[1:] if value[:1] == " " else value
    if frame.kind is None:
        frame.defects.append((Defect.UNTYPED, next(iter(frame.headers))))
    return frame


def _checked_frame(raw: bytes) -> Frame:
    """A frame with something unusual in it (a body, a defect, a long line), line by line."""
    frame = Frame()
    seen: set[str] = set()
    body: list[str] = []
    is_response = raw.startswith(b"Response:")
    for line in raw.split(EOL):
        if len(line) > MAX_LINE:
            frame.defects.append((Defect.OVERSIZED, _key_of(line)))
            continue
        if b"\r" in line or b"\n" in line or b"\0" in line:
            frame.defects.append((Defect.MALFORMED, _key_of(line)))
            continue
        text = line.decode("utf-8", "replace")
        key, sep, value = text.partition(":")
        if not sep or not _KEY.match(key):
            if is_response and frame.headers:
                body.append(text)  # a command's output (contact sends none)
            else:
                frame.defects.append((Defect.MALFORMED, _key_of(line)))
            continue
        lowered = key.lower()
        if lowered in seen:
            frame.defects.append((Defect.DUPLICATE, key))
            continue
        seen.add(lowered)
        frame.headers[key] = value[1:] if value.startswith(" ") else value
    frame.content = "\n".join(body)
    if frame.headers and frame.kind is None:
        frame.defects.append((Defect.UNTYPED, next(iter(frame.headers))))
    return frame


class FrameReader:
    """Bytes as they arrive (any chunking) → whole frames. Keeps at most MAX_MESSAGE bytes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._at_start = True
        self._skipping = False  # inside an oversized message, dropping up to its end
        self.banner: str | None = None

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        if self._at_start and not self._banner():
            return frames
        while True:
            end = self._buffer.find(END)
            if end < 0:
                break
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + len(END)]
            if self._skipping:
                self._skipping = False
                continue
            while raw.startswith(EOL):
                raw = raw[len(EOL) :]  # an empty line between messages
            if not raw:
                continue
            if len(raw) > MAX_MESSAGE:
                frames.append(Frame(defects=[(Defect.OVERSIZED_MESSAGE, "")]))
                continue
            frames.append(parse_frame(raw))
        if len(self._buffer) > MAX_MESSAGE:
            # no end in sight: drop it, keep what could be the start of the terminator
            if not self._skipping:
                frames.append(Frame(defects=[(Defect.OVERSIZED_MESSAGE, "")]))
            self._skipping = True
            del self._buffer[: -(len(END) - 1)]
        return frames

    def _banner(self) -> bool:
        """The greeting line (`Asterisk Call Manager/<version>` CRLF) opens the stream; True
        once it is consumed or the stream starts otherwise."""
        head = bytes(self._buffer[: len(BANNER)])
        if not BANNER.startswith(head):
            self._at_start = False
            return True
        if len(head) < len(BANNER):
            return False
        eol = self._buffer.find(EOL)
        if eol < 0:
            if len(self._buffer) > MAX_LINE:
                self._at_start = False  # not a banner after all: parsed as a frame
                return True
            return False
        self.banner = bytes(self._buffer[len(BANNER) : eol]).decode("utf-8", "replace").strip()
        del self._buffer[: eol + len(EOL)]
        self._at_start = False
        return True
