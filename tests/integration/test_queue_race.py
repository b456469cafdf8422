"""Two OS processes share one Redis queue and race on it; no double offer may ever happen.

Each process (this file run as a script) drives its own RedisQueueStore on the same prefix
with several concurrent tasks: enqueue (own and contested contact ids), assign, accept,
decline, expire, presence changes, remove, forget. It logs every offer it obtained and every
offer it ended, with the wall-clock time before and after each call. Meanwhile the test
process checks the invariants inside Redis (one atomic script) again and again.

Afterwards, from both logs:
- an offer is known to exist at least from its assign's return to the start of the call that
  ended it; two such intervals of one contact (or one operator) overlapping would be a
  double offer (or an operator holding two offers) for certain;
- every ended offer was obtained by someone, and ended once;
- every contact is accounted for: successful enqueues = accepts + removes + (1 if still in
  the queue at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio

from contact.domain.model import Capability, Language, Presence, Priority, Skills
from contact.errors import Conflict
from contact.ports import AssignmentPolicy, Offer, QueueEntry
from contact.redis_keys import RedisKeys
from contact.routing.redis_store import RedisQueueStore

pytestmark = [pytest.mark.redis, pytest.mark.slow]

OPERATORS = [f"op{i:02}" for i in range(50)]
SHARED_CONTACTS = [f"shared-{i}" for i in range(300)]  # both processes try to enqueue these
POLICY = AssignmentPolicy(
    offer_timeout_s=0.05, language_fallback_s=0.3, scan_depth=16, away_on_missed_offer=True
)
RUN_S = 4.0
TASKS_PER_PROCESS = 4


def operator_skills(i: int) -> Skills:
    langs = [{Language.KK}, {Language.RU}, {Language.KK, Language.RU}][i % 3]
    caps = [
        set(Capability),
        {Capability.VOICE},
        {Capability.CHAT},
        {Capability.VOICE, Capability.VIDEO},
    ][i % 4]
    return Skills(frozenset(langs), frozenset(caps))


SKILLS = {op: operator_skills(i) for i, op in enumerate(OPERATORS)}


def _offer_record(kind: str, offer: Offer, t0: float, t1: float) -> dict[str, Any]:
    return {
        "k": kind,
        "cid": offer.contact_id,
        "op": offer.operator_id,
        "x": offer.expires_at,
        "t0": t0,
        "t1": t1,
    }


async def _work(
    store: RedisQueueStore, name: str, task_no: int, until: float, log: list[dict[str, Any]]
) -> None:
    rng = random.Random(f"{name}-{task_no}")
    mine: list[Offer] = []
    counter = 0
    actions = {
        "enqueue": 20,
        "assign": 30,
        "accept": 12,
        "decline": 6,
        "expire": 8,
        "ready": 15,
        "away": 2,
        "remove": 4,
        "forget": 1,
        "check": 2,
    }
    names, weights = list(actions), list(actions.values())
    while time.time() < until:
        action = rng.choices(names, weights)[0]
        t0 = time.time()
        if action == "enqueue":
            if rng.random() < 0.3:
                cid = rng.choice(SHARED_CONTACTS)
            else:
                counter += 1
                cid = f"{name}-{task_no}-{counter}"
            lang = rng.choice([None, Language.KK, Language.RU])
            cap = rng.choice(list(Capability))
            priority = rng.choice(list(Priority))
            entry = QueueEntry(cid, priority, cap, lang, t0 + 10 * int(priority), t0)
            ok = await store.enqueue(entry)
            log.append({"k": "enqueue", "cid": cid, "ok": ok, "t0": t0, "t1": time.time()})
        elif action == "assign":
            offer = await store.assign(t0)
            if offer is not None:
                mine.append(offer)
                log.append(_offer_record("offer", offer, t0, time.time()))
        elif action in ("accept", "decline"):
            if mine and rng.random() < 0.8:
                target = mine.pop(rng.randrange(len(mine)))
            else:  # someone else's offer: this operator's page is on the other node
                current = await store.offers()
                if not current:
                    continue
                target = rng.choice(current)
            t0 = time.time()
            method = store.accept if action == "accept" else store.decline
            ended = await method(target.contact_id, target.operator_id, t0)
            if ended is not None:
                log.append(_offer_record(action, ended, t0, time.time()))
        elif action == "expire":
            t1_offers = await store.expire_offers(t0)
            t1 = time.time()
            log.extend(_offer_record("expire", o, t0, t1) for o in t1_offers)
        elif action in ("ready", "away"):
            op = rng.choice(OPERATORS)
            presence = Presence.READY if action == "ready" else Presence.AWAY
            try:
                await store.set_presence(op, SKILLS[op], presence, t0)
            except Conflict:
                log.append({"k": "conflict", "op": op, "t0": t0})
        elif action == "remove":
            cid = rng.choice(SHARED_CONTACTS) if rng.random() < 0.5 else f"{name}-{task_no}-"
            if not cid.startswith("shared"):
                cid += str(rng.randint(1, max(counter, 1)))
            removed = await store.remove(cid)
            if removed is not None:
                log.append({"k": "remove", "cid": cid, "t0": t0, "t1": time.time()})
        elif action == "forget":
            op = rng.choice(OPERATORS)
            await store.forget_operator(op)
            log.append({"k": "forget", "op": op, "t0": t0, "t1": time.time()})
        else:
            problems = await store.check_invariants()
            if problems:
                log.append({"k": "problems", "problems": problems, "t0": t0})


async def worker(url: str, prefix: str, name: str, start_at: float) -> list[dict[str, Any]]:
    client = redis.asyncio.Redis.from_url(url)
    store = RedisQueueStore(client, RedisKeys(prefix), POLICY, close_client=True)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    for op in OPERATORS:
        with contextlib.suppress(Conflict):  # the other process already got it an offer
            await store.set_presence(op, SKILLS[op], Presence.READY, time.time())
    log: list[dict[str, Any]] = []
    until = start_at + RUN_S
    await asyncio.gather(*(_work(store, name, i, until, log) for i in range(TASKS_PER_PROCESS)))
    await store.close()
    return log


# --- the test -------------------------------------------------------------------------------


def _overlaps(intervals: list[tuple[float, float, str]]) -> list[tuple[str, str]]:
    """Pairs of labelled intervals that certainly overlap (empty intervals ignored)."""
    found = []
    live = sorted((lo, hi, label) for lo, hi, label in intervals if hi > lo)
    reach_hi, reach_label = float("-inf"), ""
    for lo, hi, label in live:
        if lo < reach_hi:
            found.append((reach_label, label))
        if hi > reach_hi:
            reach_hi, reach_label = hi, label
    return found


async def test_two_processes_never_double_offer(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    start_at = time.time() + 2.0  # both processes have imported by then
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, __file__, redis_url, redis_prefix, name, repr(start_at), str(out)
        )
        for name, out in zip(("a", "b"), outs, strict=True)
    ]
    exits = [asyncio.create_task(p.wait()) for p in procs]
    client = redis.asyncio.Redis.from_url(redis_url)
    store = RedisQueueStore(client, RedisKeys(redis_prefix), POLICY, close_client=True)
    checks, problems = 0, []
    try:
        while not all(t.done() for t in exits):
            problems += await store.check_invariants()
            checks += 1
            await asyncio.sleep(0.01)
        assert [t.result() for t in exits] == [0, 0]
        assert problems == [], problems[:5]
        assert checks > 20  # the monitor really ran alongside
        final_waiting = await store.waiting()
        final_offers = await store.offers()
        assert await store.check_invariants() == []
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
        await asyncio.gather(*exits)
        await store.close()
    check_logs(_load(outs), final_waiting, final_offers, time.time())


def _load(outs: list[Path]) -> list[dict[str, Any]]:
    return [
        e | {"node": node}
        for node, out in zip("ab", outs, strict=True)
        for e in json.loads(out.read_text())
    ]


def check_logs(
    events: list[dict[str, Any]],
    final_waiting: list[QueueEntry],
    final_offers: list[Offer],
    end: float,
) -> None:
    assert [e for e in events if e["k"] == "problems"] == []
    kinds = Counter(e["k"] for e in events)
    by_node = Counter(e["node"] for e in events if e["k"] == "offer")
    # the run reached every path, on both nodes
    assert kinds["offer"] > 200 and kinds["accept"] > 20 and kinds["decline"] > 10, kinds
    assert kinds["expire"] > 10 and kinds["conflict"] > 0 and kinds["remove"] > 5, kinds
    assert min(by_node["a"], by_node["b"]) > 50, by_node

    def key(e: dict[str, Any]) -> tuple[str, str, float]:
        return (e["cid"], e["op"], e["x"])

    offered = {key(e): e for e in events if e["k"] == "offer"}
    assert len(offered) == kinds["offer"], "one offer obtained twice"
    ends: dict[tuple[str, str, float], dict[str, Any]] = {}
    for e in events:
        if e["k"] in ("accept", "decline", "expire"):
            assert key(e) in offered, f"ended an offer nobody obtained: {e}"
            assert key(e) not in ends, f"offer ended twice: {e} and {ends[key(e)]}"
            ends[key(e)] = e
    still_open = {(o.contact_id, o.operator_id, o.expires_at) for o in final_offers}
    assert still_open <= offered.keys()
    assert not still_open & ends.keys()

    # certain lifetimes: assign returned .. the ending call started (or the end of the run);
    # an offer ended by remove or forget (which do not say) gets the empty lifetime
    per_contact: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    per_operator: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for k, e in offered.items():
        lo = e["t1"]
        hi = ends[k]["t0"] if k in ends else end if k in still_open else lo
        label = f"{e['node']}:{k}"
        per_contact[k[0]].append((lo, hi, label))
        per_operator[k[1]].append((lo, hi, label))
    for cid, intervals in per_contact.items():
        assert _overlaps(intervals) == [], f"contact {cid} offered twice at once"
    for op, intervals in per_operator.items():
        assert _overlaps(intervals) == [], f"operator {op} held two offers at once"

    # every enqueued contact is accounted for
    in_queue = Counter([e.contact_id for e in final_waiting] + [o.contact_id for o in final_offers])
    assert max(in_queue.values(), default=0) <= 1
    enqueued: Counter[str] = Counter()
    gone: Counter[str] = Counter()
    for e in events:
        if e["k"] == "enqueue" and e["ok"]:
            enqueued[e["cid"]] += 1
        elif e["k"] in ("accept", "remove"):
            gone[e["cid"]] += 1
    assert enqueued == gone + in_queue
    assert any(n > 1 for n in enqueued.values())  # contested ids came back after they left


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one racing node of test_queue_race")
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("name")
    parser.add_argument("start_at", type=float)
    parser.add_argument("out", type=Path)
    a = parser.parse_args()
    a.out.write_text(json.dumps(asyncio.run(worker(a.url, a.prefix, a.name, a.start_at))))
