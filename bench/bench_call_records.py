"""CPU to read Asterisk's call records at a takeover (contact.telephony.voice.records): one
ContactCall line per call and one ContactLanguage line for most, as cel_custom writes them,
parsed from one read (at most MAX_READ_BYTES, 1 MiB, a resync), per line and per read.

    .venv/bin/python bench/bench_call_records.py [calls]
"""

from __future__ import annotations

import os
import sys
import time

from contact.telephony.voice.records import MAX_READ_BYTES, parse_chunk


def _lines(calls: int) -> bytes:
    out = []
    for i in range(calls):
        uid = f"17966{i:05d}.{i}"
        out.append(
            f'"ContactCall","17966{i:05d}.557955","{uid}","{uid}",'
            f'"{{""extra"":""voice +770155{i % 100000:05d}""}}"\n'
        )
        if i % 4:
            out.append(
                f'"ContactLanguage","17966{i:05d}.9","{uid}","{uid}","{{""extra"":""kk""}}"\n'
            )
    return "".join(out).encode()


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    data = _lines(calls)[:MAX_READ_BYTES]
    rounds = []
    for _ in range(5):
        started = time.process_time()
        records, malformed, _used = parse_chunk(data)
        rounds.append(time.process_time() - started)
    best = min(rounds)
    print(
        f"call records: {len(records)} calls ({len(data) / 1024:.0f} KiB, {malformed} malformed) "
        f"parsed in {best * 1000:.1f} ms CPU: {best / len(records) * 1e6:.1f} µs a call; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
