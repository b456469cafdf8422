"""CPU per AMI event: contact's total reader (contact.telephony.ami.TotalProtocol) against
panoramisk 1.4's own protocol, on the same stream of real-looking events (a UserEvent
ContactCall with its channel snapshot, a Hangup, a Newstate), fed in 4 KiB chunks.

    .venv/bin/python bench/bench_ami_reader.py [events]
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import Any

from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]

from contact.telephony.ami import TotalProtocol

SNAPSHOT = (
    "Privilege: call,all\r\nTimestamp: 1796627304.233559\r\nChannel: PJSIP/sipp-00000000\r\n"
    "ChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: +77019000001\r\n"
    "CallerIDName: <unknown>\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n"
    "Language: ru\r\nAccountCode: \r\nContext: inbound\r\nExten: 102\r\nPriority: 6\r\n"
    "Uniqueid: 1796627304.0\r\nLinkedid: 1796627304.0\r\n"
)
EVENTS = [
    "Event: UserEvent\r\n" + SNAPSHOT + "UserEvent: ContactCall\r\nEndpoint: sipp\r\n"
    "CallerNum: +77019000001\r\nCallerStatus: valid\r\nXLocation: lat=43.238;lon=76.945;acc=12"
    "\r\nGeo: \r\nKind: voice\r\nArmed: \r\nToken: 0123456789abcdef0123456789abcdef\r\n\r\n",
    "Event: Newstate\r\n" + SNAPSHOT + "\r\n",
    "Event: Hangup\r\n" + SNAPSHOT + "Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n",
]


class _Factory:
    forgetable_actions = ("ping",)

    def __init__(self) -> None:
        self.n = 0
        self.awaiting_actions: deque[Any] = deque()

    def dispatch(self, _message: Any) -> None:
        self.n += 1

    def on_reject(self, *_: Any) -> None:
        raise AssertionError("a real-looking event was refused")


class _Transport:
    def write(self, _data: bytes) -> None: ...

    def close(self) -> None: ...


def run(protocol_class: type, stream: bytes) -> tuple[float, int]:
    protocol = protocol_class()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    started = time.process_time()
    for i in range(0, len(stream), 4096):
        protocol.data_received(stream[i : i + 4096])
    return time.process_time() - started, factory.n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    stream = "".join(EVENTS[i % len(EVENTS)] for i in range(n)).encode()
    print(f"{n} events, {len(stream) / n:.0f} bytes each on average, 4 KiB chunks")
    for name, cls in (("panoramisk 1.4", AMIProtocol), ("contact (total)", TotalProtocol)):
        best = min(run(cls, stream)[0] for _ in range(3))
        _, delivered = run(cls, stream)
        print(f"{name:16} {best / n * 1e6:6.1f} µs CPU per event, {delivered} delivered")


if __name__ == "__main__":
    main()
