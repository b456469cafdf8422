"""Assignment decision time of both queue stores at the national scale of one centre.

2,000 operators with varied skills, 1,000 waiting contacts, steady state: every decision is
an assign(); the offer is accepted, the operator becomes READY again and a new contact
arrives, so the queue and the ready pool keep their size. Prints p50 / p99 / max of the
assign() call (for Redis: the client round trip, script included) against its target.

    python bench/bench_assignment.py [--redis-url redis://127.0.0.1:6379/0] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio

from contact.domain.model import Capability, Language, Presence, Priority, Skills
from contact.ports import AssignmentPolicy, QueueEntry, QueueStore
from contact.redis_keys import RedisKeys
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.redis_store import RedisQueueStore

T = TypeVar("T")

LANGS = [
    frozenset({Language.KK, Language.RU}),
    frozenset({Language.RU}),
    frozenset({Language.KK}),
]
CAPS = [
    frozenset(Capability),
    frozenset({Capability.VOICE}),
    frozenset({Capability.VOICE, Capability.CHAT}),
    frozenset({Capability.CHAT}),
    frozenset({Capability.VOICE, Capability.VIDEO}),
]
CHANNEL_MIX = [(Capability.VOICE, 0.6), (Capability.CHAT, 0.3), (Capability.VIDEO, 0.1)]
LANG_MIX = [(Language.RU, 0.5), (Language.KK, 0.4), (None, 0.1)]


@dataclass
class Result:
    name: str
    target_ms: float
    times_ms: list[float]
    empty: int
    wall_s: float

    def line(self) -> str:
        t = sorted(self.times_ms)
        p50 = statistics.median(t)
        p99 = t[min(len(t) - 1, int(len(t) * 0.99))]
        verdict = "PASS" if p99 <= self.target_ms else "MISS"
        return (
            f"{self.name:<14} assign  p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  max {t[-1]:7.3f} ms  "
            f"target p99 <= {self.target_ms:g} ms  {verdict}  "
            f"({len(t)} decisions, {self.empty} without a pair, "
            f"{len(t) / self.wall_s:,.0f} full cycles/s)"
        )

    @property
    def passed(self) -> bool:
        t = sorted(self.times_ms)
        return t[min(len(t) - 1, int(len(t) * 0.99))] <= self.target_ms


def _pick(rng: random.Random, mix: list[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in mix], [w for _, w in mix])[0]


def _contact(rng: random.Random, n: int, now: float) -> QueueEntry:
    cap = _pick(rng, CHANNEL_MIX)
    priority = rng.choice(
        [Priority.VOICE] * 6 + [Priority.CHAT] * 3 + [Priority.VIDEO, Priority.SOS, Priority.ALARM]
    )
    queued_at = now - rng.uniform(0, 30)  # some past the language fallback
    return QueueEntry(
        f"c{n}", priority, cap, _pick(rng, LANG_MIX), queued_at + 10 * priority, queued_at
    )


async def run(
    name: str, store: QueueStore, target_ms: float, operators: int, waiting: int, decisions: int
) -> Result:
    rng = random.Random(102)
    now = time.time()
    skills: dict[str, Skills] = {}
    for i in range(operators):
        op = f"op{i:04}"
        skills[op] = Skills(rng.choice(LANGS), rng.choice(CAPS))
        await store.set_presence(op, skills[op], Presence.READY, now - rng.uniform(0, 600))
    for n in range(waiting):
        await store.enqueue(_contact(rng, n, now))
    times: list[float] = []
    empty = 0
    next_id = waiting
    warmup = 200
    started = time.perf_counter()
    for i in range(decisions + warmup):
        now = time.time()
        t0 = time.perf_counter()
        offer = await store.assign(now)
        dt = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            times.append(dt)
        if offer is None:
            empty += 1
        else:
            await store.accept(offer.contact_id, offer.operator_id, now)
            await store.set_presence(
                offer.operator_id, skills[offer.operator_id], Presence.READY, now
            )
        await store.enqueue(_contact(rng, next_id, now))
        next_id += 1
        if i == warmup - 1:
            started = time.perf_counter()
    return Result(name, target_ms, times, empty, time.perf_counter() - started)


async def run_no_pair(name: str, store: QueueStore, target_ms: float, decisions: int) -> Result:
    """The worst scan: 1,000 waiting voice/video contacts, only chat operators ready, so each
    assign() looks at scan_depth contacts and finds nobody."""
    rng = random.Random(103)
    now = time.time()
    chat = Skills(capabilities=frozenset({Capability.CHAT}))
    for i in range(200):
        await store.set_presence(f"op{i:04}", chat, Presence.READY, now - i)
    for n in range(1000):
        cap = rng.choice([Capability.VOICE, Capability.VIDEO])
        lang = rng.choice([Language.KK, Language.RU, None])
        await store.enqueue(QueueEntry(f"c{n}", Priority.VOICE, cap, lang, now + n, now))
    times: list[float] = []
    started = time.perf_counter()
    for _ in range(decisions):
        t0 = time.perf_counter()
        offer = await store.assign(time.time())
        times.append((time.perf_counter() - t0) * 1000)
        assert offer is None
    return Result(name, target_ms, times, decisions, time.perf_counter() - started)


async def _script_stats(client: redis.asyncio.Redis) -> tuple[int, int]:
    """EVALSHA calls and microseconds spent in them so far (the whole server's)."""
    stats = (await client.info("commandstats")).get("cmdstat_evalsha", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CONTACT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    parser.add_argument("--operators", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--no-redis", action="store_true", help="the in-process store only")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a MISS")
    args = parser.parse_args()
    policy = AssignmentPolicy()
    print(
        f"assignment: {args.operators} operators, {args.waiting} waiting, "
        f"{args.decisions} decisions, scan_depth {policy.scan_depth}"
    )
    sizes = (args.operators, args.waiting, args.decisions)
    results = [await run("memory", MemoryQueueStore(policy), 1.0, *sizes)]
    print(results[-1].line(), flush=True)
    results.append(await run_no_pair("memory/no-pair", MemoryQueueStore(policy), 1.0, 2000))
    print(results[-1].line(), flush=True)
    if not args.no_redis:
        client = redis.asyncio.Redis.from_url(args.redis_url)
        keys = RedisKeys(f"contact-bench:{uuid.uuid4().hex[:8]}:")
        store = RedisQueueStore(client, keys, policy)
        try:
            pings = []
            for _ in range(2000):
                t0 = time.perf_counter()
                await client.ping()
                pings.append((time.perf_counter() - t0) * 1000)
            pings.sort()
            print(
                f"(redis PING round trip for comparison: p50 {statistics.median(pings):.3f} ms, "
                f"p99 {pings[int(len(pings) * 0.99)]:.3f} ms)"
            )
            before = await _script_stats(client)
            results.append(await run("redis", store, 2.0, *sizes))
            print(results[-1].line(), flush=True)
            calls, usec = (a - b for a, b in zip(await _script_stats(client), before, strict=True))
            print(
                f"(server side: {usec / max(calls, 1):.0f} µs per queue script call on average, "
                f"assign/accept/set_presence/enqueue together, over {calls} calls)",
                flush=True,
            )
            await store.clear()
            results.append(await run_no_pair("redis/no-pair", store, 2.0, 2000))
            print(results[-1].line())
        finally:
            await store.clear()
            await client.aclose()
    return 0 if not args.strict or all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
