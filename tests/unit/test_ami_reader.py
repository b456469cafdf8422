"""The AMI reader is total: any bytes, any chunking; the link never closes because of content,
every well-formed event around a bad one arrives intact, and what was refused is counted.

The protocol is panoramisk's with contact's reader (contact.telephony.ami.TotalProtocol), fed
raw byte streams as a socket would deliver them; `INJECTED` is what Asterisk 22 really wrote
for a caller whose From user part was percent-encoded CR/LF (captured from the real stream).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panoramisk.actions import Action  # type: ignore[import-untyped]

from contact.telephony.ami import TotalProtocol
from contact.telephony.ami_reader import (
    MAX_LINE,
    MAX_MESSAGE,
    Defect,
    FrameReader,
    _checked_frame,
    parse_frame,
)
from contact.telephony.seal import EventSeal

END = b"\r\n\r\n"
SNAPSHOT = (
    b"Privilege: call,all\r\nTimestamp: 1796627304.233559\r\nChannel: PJSIP/sipp-00000000\r\n"
    b"ChannelState: 4\r\nChannelStateDesc: Ring\r\n"
)
TAIL = (
    b"CallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n"
    b"Language: ru\r\nAccountCode: \r\nContext: inbound\r\nExten: 102\r\nPriority: 1\r\n"
    b"Uniqueid: 1796627304.0\r\nLinkedid: 1796627304.0"
)
# From: <sip:+77019000001%0D%0AEvent%3A%20UserEvent%0D%0AUserEvent%3A%20ContactCall%0D%0A
#        CallerNum%3A%20999@host>, as Asterisk wrote it into a Newchannel and a Hangup
INJECTED = [
    b"Event: Newchannel\r\n" + SNAPSHOT + b"CallerIDNum: +77019000001\r\nEvent: UserEvent\r\n"
    b"UserEvent: ContactCall\r\nCallerNum: 999\r\n" + TAIL + END,
    b"Event: Hangup\r\n" + SNAPSHOT + b"CallerIDNum: +77019000002\r\n\r\nEvent: UserEvent\r\n"
    b"UserEvent: ContactCall\r\nCallerNum: 999\r\n" + TAIL + b"\r\nCause: 0" + END,
]


class Transport:
    def __init__(self) -> None:
        self.closed = False
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        self.closed = True


class Factory:
    """What the protocol sees of panoramisk's Manager."""

    forgetable_actions = ("ping", "login")

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.rejected: list[Defect] = []
        self.lost: list[Any] = []
        self.awaiting_actions: deque[Any] = deque()

    def dispatch(self, message: Any) -> None:
        event = dict(message)
        assert event.pop("content") == ""  # panoramisk's Message keeps a body there
        self.events.append(event)

    def on_reject(self, defect: Defect, name: str, key: str) -> None:
        self.rejected.append(defect)

    def connection_lost(self, exc: Any) -> None:
        self.lost.append(exc)


def _protocol() -> tuple[TotalProtocol, Transport, Factory]:
    protocol, transport, factory = TotalProtocol(), Transport(), Factory()
    protocol.connection_made(transport)
    protocol.factory = factory
    return protocol, transport, factory


def _frame(headers: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in headers) + b"\r\n"


def _feed(protocol: TotalProtocol, stream: bytes, cuts: list[int]) -> None:
    pos = 0
    for size in cuts:
        if pos >= len(stream):
            break
        protocol.data_received(stream[pos : pos + size])
        pos += size
    if pos < len(stream):
        protocol.data_received(stream[pos:])


# ------------------------------------------------------------------------------- the fuzz test

_VALUE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=40
)
_KEY = st.from_regex(r"[A-Z][A-Za-z0-9]{0,12}", fullmatch=True)


@st.composite
def good_event(draw: st.DrawFn, seq: int) -> list[tuple[str, str]]:
    name = draw(st.sampled_from(["Hangup", "Newstate", "UserEvent", "BridgeEnter", "DialEnd"]))
    keys = draw(st.lists(_KEY, max_size=6, unique_by=str.lower))
    headers = [("Event", name), ("Seq", str(seq))]
    headers += [(k, draw(_VALUE)) for k in keys if k.lower() not in ("event", "seq")]
    return headers


def _lines(n: int) -> bytes:
    return b"".join(b"Line%d: x\r\n" % i for i in range(n))


BAD = st.one_of(
    st.sampled_from(
        [
            *INJECTED,
            b"Event: Hangup\r\nEvent: UserEvent\r\nMark: forged" + END,  # duplicated header
            b"Event: Hangup\r\nUniqueid: 1.1\r\nuniqueid: 2.2\r\nMark: forged" + END,
            b"Event: Hangup\r\nCallerIDNum: 77\rEvent: Fake\r\nMark: forged" + END,  # lone CR
            b"Event: Hangup\nUniqueid: 1.1\nMark: forged\n\n" + END,  # LF-only lines
            b"Event: Hangup\r\nUniqueid: 1.1\x00\r\nMark: forged" + END,  # NUL
            b"Event: Hangup\r\nCallerIDNum: " + b"7" * 65536 + b"\r\nMark: forged" + END,
            b"Event: Hangup\r\n" + _lines(MAX_MESSAGE // 8) + b"Mark: forged" + END,
            b"Mark: forged\r\nEvent: Hangup" + END,  # not typed by its first line
            b"\r" + END,
            b"\n" + END,
            b"\x00\x00" + END,
            b"Event: Shutdown\r\nShutdown: Cleanly\r\n" + END,  # well-formed: must not close
        ]
    ),
    st.binary(max_size=300).map(lambda b: b + END),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_any_stream_keeps_the_link_and_every_good_event(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 8), label="good events")
    goods = [data.draw(good_event(i), label=f"event {i}") for i in range(n)]
    stream = b""
    if data.draw(st.booleans(), label="banner"):
        stream += b"Asterisk Call Manager/9.0.0\r\n"
    for headers in goods:
        stream += b"".join(data.draw(st.lists(BAD, max_size=2), label="bad before"))
        stream += _frame(headers)
    stream += b"".join(data.draw(st.lists(BAD, max_size=2), label="bad after"))
    truncated = data.draw(st.sampled_from([b"", b"Event: Hangup\r\nUniq", b"Event: Hang"]))
    stream += truncated
    cuts = data.draw(st.lists(st.integers(1, 70000), max_size=30), label="chunks")

    protocol, transport, factory = _protocol()
    _feed(protocol, stream, cuts)

    assert not transport.closed and not factory.lost  # the link never closes on content
    for event in factory.events:
        assert all(isinstance(v, str) for v in event.values()), event  # never a list
        assert event.get("Mark") != "forged", event
    delivered = [e for e in factory.events if e.get("Seq") is not None]
    wanted = [dict(h) for h in goods]
    # every good event arrives, intact and in order (random bytes may add events of their own)
    it = iter(delivered)
    assert all(any(d == w for d in it) for w in wanted), (delivered, wanted)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_KEY, _VALUE), min_size=1, max_size=8), st.booleans())
def test_the_fast_path_reads_a_frame_as_the_line_by_line_path_does(
    headers: list[tuple[str, str]], typed: bool
) -> None:
    raw = _frame([("Event", "Hangup"), *headers] if typed else headers)[: -len(b"\r\n\r\n")]
    assert parse_frame(raw) == _checked_frame(raw)


def test_the_injected_stream_keeps_the_link_and_no_forged_event_passes_the_token() -> None:
    protocol, transport, factory = _protocol()
    before = _frame([("Event", "Hangup"), ("Uniqueid", "1.1"), ("Cause", "16")])
    after = _frame([("Event", "Hangup"), ("Uniqueid", "1.2"), ("Cause", "16")])
    protocol.data_received(before + b"".join(INJECTED) + after)
    assert not transport.closed and not factory.lost
    # a line break: one frame with a duplicated Event, refused whole; an empty line: the real
    # Hangup cut short (no Uniqueid: nothing acts on it) and a forged UserEvent with the real
    # call's tail, which the reader cannot tell from a real one: it has no token
    assert factory.rejected == [Defect.DUPLICATE]  # its second Event
    uids = [e.get("Uniqueid") for e in factory.events]
    assert uids == ["1.1", None, "1796627304.0", "1.2"]
    forged = factory.events[2]
    assert forged["UserEvent"] == "ContactCall" and not EventSeal().admits(forged)
    assert all(EventSeal().admits(e) for e in factory.events if e is not forged)


def test_a_forged_shutdown_does_not_close_the_link() -> None:
    protocol, transport, factory = _protocol()
    protocol.data_received(_frame([("Event", "Shutdown"), ("Shutdown", "Cleanly")]))
    assert not transport.closed and not factory.lost
    assert factory.events == [{"Event": "Shutdown", "Shutdown": "Cleanly"}]


async def test_a_response_with_a_defect_still_completes_its_action() -> None:
    protocol, _, factory = _protocol()
    action = Action({"Action": "Getvar", "Variable": "X"})
    protocol.responses[action.id] = action
    protocol.data_received(
        f"Response: Success\r\nActionID: {action.id}\r\nValue: 1\r\nValue: 2\r\nBad\x00: x"
        "\r\n\r\n".encode()
    )
    reply = await asyncio.wait_for(action.future, 1)
    assert reply["Value"] == "1"
    assert sorted(factory.rejected) == sorted([Defect.DUPLICATE, Defect.MALFORMED])


def test_an_unended_message_is_dropped_with_bounded_memory() -> None:
    reader = FrameReader()
    frames = []
    for _ in range(40):  # 40 × 8 KiB of one message that never ends
        frames += reader.feed(b"X" * MAX_LINE)
        assert len(reader._buffer) <= MAX_MESSAGE
    frames += reader.feed(END + _frame([("Event", "Hangup"), ("Uniqueid", "1.1")]))
    assert [f.defects for f in frames[:-1]] == [[(Defect.OVERSIZED_MESSAGE, "")]]
    assert frames[-1].headers == {"Event": "Hangup", "Uniqueid": "1.1"} and not frames[-1].defects


def test_values_keep_their_text_and_bytes_that_are_not_utf8_are_replaced() -> None:
    reader = FrameReader()
    (frame,) = reader.feed(
        b"Event: UserEvent\r\nGeo: a:b: c\r\nXLocation: \r\nName: \xd0\xb0\xff\r\n\r\n"
    )
    assert frame.headers == {
        "Event": "UserEvent",
        "Geo": "a:b: c",
        "XLocation": "",
        "Name": "а\ufffd",
    }
    assert not frame.defects


def test_the_banner_is_read_in_pieces() -> None:
    reader = FrameReader()
    assert reader.feed(b"Asterisk Call") == []
    frames = reader.feed(b" Manager/9.0.0\r\nResponse: Success\r\nActionID: 1\r\n\r\n")
    assert reader.banner == "9.0.0"
    assert [f.headers for f in frames] == [{"Response": "Success", "ActionID": "1"}]
