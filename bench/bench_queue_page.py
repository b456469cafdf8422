"""GET /api/v1/queue with 10 / 1,000 / 10,000 contacts waiting: latency, body size and the
server's CPU per call (in-process aiohttp test server, embedded SQLite, an operator's session).

Run it for another checkout with PYTHONPATH=<checkout> (it uses only HTTP and
`db.contacts.add`, which both have): the old code answered the whole queue, the new one a page.

    python bench/bench_queue_page.py [--sizes 10,1000,10000] [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # after PYTHONPATH: the checkout measured wins

from _figures import ms, pct  # noqa: E402

from contact.domain.model import ChannelKind, Contact, ContactState, Priority, new_id  # noqa: E402
from tests.support import make_settings, start_center  # noqa: E402


async def one(size: int, calls: int) -> tuple[float, float, float, int]:
    with tempfile.TemporaryDirectory(prefix="contact-queue-") as tmp:
        center = await start_center(make_settings(Path(tmp)))
        try:
            await center.add_operator("bench")
            op = await center.browser("bench")
            t0 = datetime(2026, 12, 7, 8, tzinfo=UTC)
            for i in range(size):
                await center.container.db.contacts.add(
                    Contact(
                        id=new_id(),
                        channel=ChannelKind.APP,
                        priority=list(Priority)[i % 6],
                        created_at=t0,
                        state=ContactState.QUEUED,
                        queued_at=t0 + timedelta(seconds=i),
                    )
                )
            latencies, cpu, body = [], [], b""
            for _ in range(calls + 3):
                c0, w0 = time.process_time(), time.perf_counter()
                async with op.session.get("/api/v1/queue") as r:
                    body = await r.read()
                    assert r.status == 200, body[:200]
                latencies.append((time.perf_counter() - w0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            await op.close()
        finally:
            await center.client.close()
    latencies, cpu = latencies[3:], cpu[3:]
    return pct(latencies, 50), pct(latencies, 99), sum(cpu) / len(cpu), len(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    import contact

    print(f"GET /api/v1/queue, {args.calls} calls each, code from {Path(contact.__file__).parent}")
    print(f"{'waiting':>8} {'p50':>6} {'p99':>6} {'cpu/call':>8} {'bytes':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        p50, p99, cpu, size_b = asyncio.run(one(size, args.calls))
        print(f"{size:>8,} {ms(p50)} {ms(p99)} {ms(cpu):>8} {size_b:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
