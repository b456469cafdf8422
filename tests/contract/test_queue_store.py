"""The QueueStore contract: MemoryQueueStore and RedisQueueStore behave the same.

Every test runs on both stores (the Redis one on the real Redis, with a key prefix of its own).
The random walk at the end drives each store and a naive reference model with the same
seeded operations and compares every answer and the whole state after each step.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contact.domain.model import Capability, Language, Presence, Priority, Skills
from contact.errors import BadRequest, Conflict, ContactError, Unavailable
from contact.ports import AssignmentPolicy, Offer, OperatorStatus, QueueEntry
from contact.redis_keys import RedisKeys
from contact.routing.memory_store import MemoryQueueStore
from contact.routing.redis_store import RedisQueueStore

V, C, VID = Capability.VOICE, Capability.CHAT, Capability.VIDEO
KK, RU = Language.KK, Language.RU
T0 = 1_000_000.0


class Store(Protocol):
    """QueueStore plus the test helper both stores have."""

    async def enqueue(self, entry: QueueEntry) -> bool: ...
    async def remove(self, contact_id: str) -> QueueEntry | None: ...
    async def waiting(self, limit: int | None = None) -> list[QueueEntry]: ...
    async def reprioritise(self, entry: QueueEntry) -> bool: ...
    async def offers(self) -> list[Offer]: ...
    async def set_presence(
        self, operator_id: str, skills: Skills, presence: Presence, now: float
    ) -> None: ...
    async def forget_operator(self, operator_id: str) -> None: ...
    async def operators(self) -> list[OperatorStatus]: ...
    async def assign(self, now: float) -> Offer | None: ...
    async def accept(self, contact_id: str, operator_id: str, now: float) -> Offer | None: ...
    async def decline(self, contact_id: str, operator_id: str, now: float) -> Offer | None: ...
    async def expire_offers(self, now: float) -> list[Offer]: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...
    async def check_invariants(self) -> list[str]: ...


class Clock:
    """The time `remove` reads (it has no `now` argument)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


MakeStore = Callable[..., Awaitable[Store]]


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[MakeStore]:
    clients: list[redis.asyncio.Redis] = []
    stores: list[Store] = []

    async def make(policy: AssignmentPolicy | None = None, clock: Clock | None = None) -> Store:
        policy = policy or AssignmentPolicy()
        clock = clock or Clock()
        store: Store
        if request.param == "memory":
            store = MemoryQueueStore(policy, clock=clock)
        else:
            url = request.getfixturevalue("redis_url")
            prefix = request.getfixturevalue("redis_prefix") + f"{len(stores)}:"
            client = redis.asyncio.Redis.from_url(url)
            clients.append(client)
            store = RedisQueueStore(client, RedisKeys(prefix), policy, clock=clock)
        stores.append(store)
        return store

    yield make
    for store in stores:
        assert await store.check_invariants() == []
        await store.close()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()


def entry(
    cid: str,
    score: float = T0,
    *,
    cap: Capability = V,
    lang: Language | None = None,
    queued_at: float | None = None,
    priority: Priority = Priority.VOICE,
) -> QueueEntry:
    return QueueEntry(cid, priority, cap, lang, score, score if queued_at is None else queued_at)


def skills(langs: str = "kk,ru", caps: str = "voice,video,chat") -> Skills:
    return Skills(
        frozenset(Language(x) for x in langs.split(",") if x),
        frozenset(Capability(x) for x in caps.split(",") if x),
    )


async def ids(store: Store) -> list[str]:
    return [e.contact_id for e in await store.waiting()]


async def operator(store: Store, operator_id: str) -> OperatorStatus:
    return {o.operator_id: o for o in await store.operators()}[operator_id]


# --- the queue ------------------------------------------------------------------------------


async def test_waiting_in_order_of_score_then_queued_at_then_id(store: Store) -> None:
    await store.enqueue(entry("late", T0 + 5))
    await store.enqueue(entry("b", T0, queued_at=T0 - 1))
    await store.enqueue(entry("a", T0, queued_at=T0 - 1))
    await store.enqueue(entry("older", T0, queued_at=T0 - 2))
    await store.enqueue(entry("first", T0 - 10))
    assert await ids(store) == ["first", "older", "a", "b", "late"]
    assert [e.contact_id for e in await store.waiting(2)] == ["first", "older"]
    assert await store.waiting(0) == []


async def test_entries_come_back_unchanged(store: Store) -> None:
    e = QueueEntry("c1", Priority.ALARM, Capability.CHAT, Language.KK, 1.0 / 3.0, T0 + 0.123456)
    await store.enqueue(e)
    await store.enqueue(entry("c2"))
    assert (await store.waiting())[0] == e
    assert await store.remove("c1") == e


async def test_enqueue_is_idempotent(store: Store) -> None:
    assert await store.enqueue(entry("c1", T0))
    assert not await store.enqueue(entry("c1", T0 - 100))  # no change either
    assert await store.waiting() == [entry("c1", T0)]
    await store.set_presence("op", skills(), Presence.READY, T0)
    assert await store.assign(T0) is not None
    assert not await store.enqueue(entry("c1", T0))  # offered counts too
    assert await store.waiting() == []


async def test_negative_and_zero_times_sort_right(store: Store) -> None:
    await store.enqueue(entry("z", 0.0, queued_at=0.0))
    await store.enqueue(entry("m", 0.0, queued_at=-1.5))
    await store.enqueue(entry("n", 0.0, queued_at=-0.5))
    await store.enqueue(entry("p", 0.0, queued_at=2.0))
    assert await ids(store) == ["m", "n", "z", "p"]


# --- assignment -----------------------------------------------------------------------------


async def test_nothing_to_assign(store: Store) -> None:
    assert await store.assign(T0) is None
    await store.enqueue(entry("c1"))
    assert await store.assign(T0) is None  # nobody ready
    await store.set_presence("op", skills(), Presence.AWAY, T0)
    assert await store.assign(T0) is None
    assert await ids(store) == ["c1"]


async def test_first_contact_goes_to_longest_idle_operator(store: Store) -> None:
    policy_timeout = AssignmentPolicy().offer_timeout_s
    await store.set_presence("op-b", skills(), Presence.READY, T0 + 1)
    await store.set_presence("op-c", skills(), Presence.READY, T0 + 2)
    await store.set_presence("op-a", skills(), Presence.READY, T0 + 1)  # tie: by id
    await store.enqueue(entry("second", T0 + 1))
    await store.enqueue(entry("first", T0))
    offer = await store.assign(T0 + 10)
    assert offer == Offer(entry("first", T0), "op-a", T0 + 10 + policy_timeout)
    assert await ids(store) == ["second"]
    assert await store.offers() == [offer]
    assert await operator(store, "op-a") == OperatorStatus(
        "op-a", Presence.OFFERED, T0 + 10, skills(), "first"
    )
    second = await store.assign(T0 + 11)
    assert second is not None and second.operator_id == "op-b"
    assert await store.assign(T0 + 12) is None  # op-c ready, queue empty


async def test_ready_again_keeps_idle_since(store: Store) -> None:
    await store.set_presence("op-a", skills(), Presence.READY, T0)
    await store.set_presence("op-b", skills(), Presence.READY, T0 + 1)
    await store.set_presence("op-a", skills("kk"), Presence.READY, T0 + 5)  # skills may change
    assert await operator(store, "op-a") == OperatorStatus(
        "op-a", Presence.READY, T0, skills("kk"), None
    )
    await store.enqueue(entry("c1"))
    offer = await store.assign(T0 + 6)
    assert offer is not None and offer.operator_id == "op-a"


async def test_capability_filter(store: Store) -> None:
    await store.set_presence("voice-only", skills(caps="voice"), Presence.READY, T0)
    await store.set_presence("chat-only", skills(caps="chat"), Presence.READY, T0 + 1)
    await store.enqueue(entry("chat", T0, cap=C))
    await store.enqueue(entry("video", T0 + 1, cap=VID))
    offer = await store.assign(T0 + 2)
    assert offer is not None and (offer.contact_id, offer.operator_id) == ("chat", "chat-only")
    assert await store.assign(T0 + 2) is None  # nobody takes video
    assert await ids(store) == ["video"]


async def test_language_filter_then_fallback(make_store: MakeStore) -> None:
    store = await make_store(AssignmentPolicy(language_fallback_s=20.0))
    await store.set_presence("ru-only", skills("ru"), Presence.READY, T0)
    await store.enqueue(entry("kk-caller", T0, lang=KK))
    assert await store.assign(T0 + 19.9) is None
    offer = await store.assign(T0 + 20.0)  # waited language_fallback_s: anyone
    assert offer is not None and offer.operator_id == "ru-only"


async def test_language_speaker_preferred_over_longer_idle(store: Store) -> None:
    await store.set_presence("ru-only", skills("ru"), Presence.READY, T0)
    await store.set_presence("kk-only", skills("kk"), Presence.READY, T0 + 5)
    await store.set_presence("no-lang", skills(""), Presence.READY, T0 - 5)
    await store.enqueue(entry("kk-caller", T0 + 6, lang=KK))
    await store.enqueue(entry("any-caller", T0 + 7))
    first = await store.assign(T0 + 8)
    second = await store.assign(T0 + 8)
    assert first is not None and (first.contact_id, first.operator_id) == ("kk-caller", "kk-only")
    # a contact without a language goes to anyone, also an operator with no language
    assert second is not None and second.operator_id == "no-lang"


async def test_scan_past_a_head_nobody_can_take(make_store: MakeStore) -> None:
    store = await make_store(AssignmentPolicy(scan_depth=3))
    await store.set_presence("chat-op", skills(caps="chat"), Presence.READY, T0)
    await store.enqueue(entry("video-1", T0, cap=VID))
    await store.enqueue(entry("video-2", T0 + 1, cap=VID))
    await store.enqueue(entry("chat-1", T0 + 2, cap=C))
    await store.enqueue(entry("chat-2", T0 + 3, cap=C))
    offer = await store.assign(T0 + 4)
    assert offer is not None and offer.contact_id == "chat-1"
    await store.set_presence("chat-op-2", skills(caps="chat"), Presence.READY, T0)
    await store.enqueue(entry("video-0", T0 - 1, cap=VID))
    assert await store.assign(T0 + 4) is None  # chat-2 is beyond the scan depth now
    assert await ids(store) == ["video-0", "video-1", "video-2", "chat-2"]


async def test_scan_depth_counts_across_a_long_queue(make_store: MakeStore) -> None:
    store = await make_store(AssignmentPolicy(scan_depth=20))
    await store.set_presence("chat-op", skills(caps="chat"), Presence.READY, T0)
    for i in range(19):
        await store.enqueue(entry(f"video-{i:02}", T0 + i, cap=VID))
    await store.enqueue(entry("chat-20th", T0 + 19, cap=C))
    await store.enqueue(entry("chat-21st", T0 + 20, cap=C))
    offer = await store.assign(T0 + 30)
    assert offer is not None and offer.contact_id == "chat-20th"
    await store.set_presence("chat-op-2", skills(caps="chat"), Presence.READY, T0)
    await store.enqueue(entry("video-first", T0 - 1, cap=VID))
    assert await store.assign(T0 + 30) is None  # chat-21st is 21st now
    assert len(await store.waiting()) == 21


# --- offers end -----------------------------------------------------------------------------


async def _offered(store: Store, *, now: float = T0) -> Offer:
    await store.set_presence("op", skills(), Presence.READY, now - 10)
    await store.enqueue(entry("c1", now - 5))
    await store.enqueue(entry("c2", now - 4))
    offer = await store.assign(now)
    assert offer is not None and offer.contact_id == "c1"
    return offer


async def test_accept(store: Store) -> None:
    offer = await _offered(store)
    assert await store.accept("c1", "someone-else", T0 + 1) is None
    assert await store.accept("c2", "op", T0 + 1) is None  # not offered
    assert await store.accept("c1", "op", T0 + 1) == offer
    assert await store.accept("c1", "op", T0 + 2) is None
    assert await store.offers() == []
    assert await ids(store) == ["c2"]
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.BUSY, T0 + 1, skills(), "c1"
    )
    assert await store.assign(T0 + 2) is None  # busy operators get nothing
    assert await store.remove("c1") is None  # accepted: no longer the queue's
    assert await store.enqueue(entry("c1"))  # may come back (transfer)


async def test_accept_late_but_before_expiry_ran(store: Store) -> None:
    offer = await _offered(store)
    assert await store.accept("c1", "op", offer.expires_at + 1) == offer


async def test_decline_puts_contact_back_in_its_place(store: Store) -> None:
    offer = await _offered(store)
    await store.enqueue(entry("c0", T0 - 4.5))  # between c1 and c2
    assert await store.decline("c1", "nobody", T0 + 1) is None
    assert await store.decline("c1", "op", T0 + 1) == offer
    assert await store.decline("c1", "op", T0 + 1) is None
    assert await ids(store) == ["c1", "c0", "c2"]
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.READY, T0 + 1, skills(), None
    )
    again = await store.assign(T0 + 2)
    assert again is not None and again.contact_id == "c1"


async def test_reprioritise_moves_a_waiting_contact_to_its_new_place(store: Store) -> None:
    for cid, score in (("a", T0), ("b", T0 + 1), ("c", T0 + 2)):
        await store.enqueue(entry(cid, score, priority=Priority.CHAT))
    moved = entry("c", T0 - 100, priority=Priority.SOS, queued_at=T0 + 2)
    assert await store.reprioritise(moved)
    assert await ids(store) == ["c", "a", "b"]
    assert (await store.waiting())[0] == moved
    assert not await store.reprioritise(entry("nobody", T0 - 500))
    assert await ids(store) == ["c", "a", "b"]


async def test_reprioritise_an_offered_contact_keeps_the_offer(store: Store) -> None:
    offer = await _offered(store)
    await store.enqueue(entry("c0", T0 - 4.5))
    up = QueueEntry("c2", Priority.SOS, V, None, T0 - 50, T0)
    assert await store.reprioritise(replace(offer.entry, priority=Priority.SOS, score=T0 - 60))
    assert await store.reprioritise(up)
    assert await ids(store) == ["c2", "c0"]  # c1 is still offered
    assert [o.operator_id for o in await store.offers()] == ["op"]
    await store.decline("c1", "op", T0 + 1)
    assert await ids(store) == ["c1", "c2", "c0"]  # back with its new score
    assert (await store.waiting())[0].priority is Priority.SOS


@pytest.mark.parametrize("away", [True, False])
async def test_expire_offers(make_store: MakeStore, away: bool) -> None:
    store = await make_store(AssignmentPolicy(offer_timeout_s=15, away_on_missed_offer=away))
    offer = await _offered(store)
    await store.set_presence("op-2", skills(), Presence.READY, T0)
    later = await store.assign(T0 + 1)
    assert later is not None and later.contact_id == "c2"
    assert await store.expire_offers(T0 + 14.9) == []
    assert await store.expire_offers(T0 + 15) == [offer]  # expires_at <= now
    assert await store.offers() == [later]
    assert await ids(store) == ["c1"]
    presence = Presence.AWAY if away else Presence.READY
    assert await operator(store, "op") == OperatorStatus("op", presence, T0 + 15, skills(), None)
    assert await store.accept("c1", "op", T0 + 16) is None
    assert await store.expire_offers(T0 + 100) == [later]
    assert await ids(store) == ["c1", "c2"]


async def test_remove(make_store: MakeStore) -> None:
    clock = Clock()
    store = await make_store(clock=clock)
    await _offered(store)
    assert await store.remove("nope") is None
    assert await store.remove("c2") == entry("c2", T0 - 4)
    clock.now = T0 + 3
    assert await store.remove("c1") == entry("c1", T0 - 5)  # offered: the operator is free
    assert await store.offers() == [] and await store.waiting() == []
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.READY, T0 + 3, skills(), None
    )
    assert await store.remove("c1") is None


async def test_forget_operator(store: Store) -> None:
    await _offered(store)
    await store.set_presence("other", skills(), Presence.AWAY, T0)
    await store.forget_operator("op")
    await store.forget_operator("never-seen")
    assert [o.operator_id for o in await store.operators()] == ["other"]
    assert await store.offers() == []
    assert await ids(store) == ["c1", "c2"]
    await store.set_presence("other", skills(), Presence.READY, T0 + 1)
    await store.forget_operator("other")
    assert await store.assign(T0 + 2) is None  # out of the ready pool too


# --- presence -------------------------------------------------------------------------------


async def test_presence_cannot_drop_an_offer(store: Store) -> None:
    await _offered(store)
    for presence in (Presence.READY, Presence.AWAY, Presence.BUSY):
        with pytest.raises(Conflict):
            await store.set_presence("op", skills(), presence, T0 + 1)
    with pytest.raises(BadRequest):
        await store.set_presence("op-2", skills(), Presence.OFFERED, T0 + 1)
    assert [o.contact_id for o in await store.offers()] == ["c1"]
    assert await operator(store, "op") == OperatorStatus("op", Presence.OFFERED, T0, skills(), "c1")
    assert [o.operator_id for o in await store.operators()] == ["op"]


async def test_presence_since_and_contact(store: Store) -> None:
    offer = await _offered(store)
    await store.accept(offer.contact_id, "op", T0 + 1)
    await store.set_presence("op", skills(), Presence.BUSY, T0 + 2)  # unchanged: same since
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.BUSY, T0 + 1, skills(), "c1"
    )
    await store.set_presence("op", skills(), Presence.WRAP_UP, T0 + 3)  # still c1's work
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.WRAP_UP, T0 + 3, skills(), "c1"
    )
    await store.set_presence("op", skills(), Presence.AWAY, T0 + 4)
    assert await operator(store, "op") == OperatorStatus(
        "op", Presence.AWAY, T0 + 4, skills(), None
    )
    await store.set_presence("op", skills("kk", "chat"), Presence.READY, T0 + 5)
    assert await store.operators() == [
        OperatorStatus("op", Presence.READY, T0 + 5, skills("kk", "chat"), None)
    ]


# --- the same under a long random sequence, against a naive model ---------------------------


@dataclass
class Model:
    """The contract written as plainly as possible (linear scans everywhere)."""

    policy: AssignmentPolicy
    clock: Clock
    waiting: dict[str, QueueEntry] = field(default_factory=dict)
    offered: dict[str, Offer] = field(default_factory=dict)
    ops: dict[str, OperatorStatus] = field(default_factory=dict)

    def queue(self) -> list[QueueEntry]:
        return sorted(self.waiting.values(), key=lambda e: (e.score, e.queued_at, e.contact_id))

    def offers(self) -> list[Offer]:
        return sorted(self.offered.values(), key=lambda o: (o.expires_at, o.contact_id))

    def operators(self) -> list[OperatorStatus]:
        return [self.ops[k] for k in sorted(self.ops)]

    def enqueue(self, e: QueueEntry) -> bool:
        if e.contact_id in self.waiting or e.contact_id in self.offered:
            return False
        self.waiting[e.contact_id] = e
        return True

    def _ready(self, op_id: str, since: float) -> None:
        self.ops[op_id] = OperatorStatus(op_id, Presence.READY, since, self.ops[op_id].skills)

    def remove(self, cid: str) -> QueueEntry | None:
        if cid in self.waiting:
            return self.waiting.pop(cid)
        offer = self.offered.pop(cid, None)
        if offer is None:
            return None
        self._ready(offer.operator_id, self.clock())
        return offer.entry

    def set_presence(self, op_id: str, sk: Skills, presence: Presence, now: float) -> None:
        cur = self.ops.get(op_id)
        if presence is Presence.OFFERED:
            raise BadRequest("offered")
        if cur is not None and cur.presence is Presence.OFFERED:
            raise Conflict("holds an offer")
        since = cur.since if cur is not None and cur.presence is presence else now
        working = (Presence.BUSY, Presence.WRAP_UP)
        keep = cur is not None and cur.presence in working and presence in working
        self.ops[op_id] = OperatorStatus(
            op_id, presence, since, sk, cur.contact_id if keep and cur else None
        )

    def forget_operator(self, op_id: str) -> None:
        cur = self.ops.pop(op_id, None)
        if cur is not None and cur.presence is Presence.OFFERED and cur.contact_id:
            self.waiting[cur.contact_id] = self.offered.pop(cur.contact_id).entry

    def assign(self, now: float) -> Offer | None:
        for e in self.queue()[: self.policy.scan_depth]:
            lang = e.language if now - e.queued_at < self.policy.language_fallback_s else None
            able = [
                o
                for o in self.ops.values()
                if o.presence is Presence.READY and o.skills.can_take(lang, e.capability)
            ]
            if able:
                op = min(able, key=lambda o: (o.since, o.operator_id))
                offer = Offer(e, op.operator_id, now + self.policy.offer_timeout_s)
                del self.waiting[e.contact_id]
                self.offered[e.contact_id] = offer
                self.ops[op.operator_id] = OperatorStatus(
                    op.operator_id, Presence.OFFERED, now, op.skills, e.contact_id
                )
                return offer
        return None

    def _held(self, cid: str, op_id: str) -> Offer | None:
        offer = self.offered.get(cid)
        return offer if offer is not None and offer.operator_id == op_id else None

    def accept(self, cid: str, op_id: str, now: float) -> Offer | None:
        offer = self._held(cid, op_id)
        if offer is not None:
            del self.offered[cid]
            sk = self.ops[op_id].skills
            self.ops[op_id] = OperatorStatus(op_id, Presence.BUSY, now, sk, cid)
        return offer

    def decline(self, cid: str, op_id: str, now: float) -> Offer | None:
        offer = self._held(cid, op_id)
        if offer is not None:
            self.waiting[cid] = self.offered.pop(cid).entry
            self._ready(op_id, now)
        return offer

    def expire_offers(self, now: float) -> list[Offer]:
        due = [o for o in self.offers() if o.expires_at <= now]
        for offer in due:
            self.waiting[offer.contact_id] = self.offered.pop(offer.contact_id).entry
            if self.policy.away_on_missed_offer:
                sk = self.ops[offer.operator_id].skills
                self.ops[offer.operator_id] = OperatorStatus(
                    offer.operator_id, Presence.AWAY, now, sk
                )
            else:
                self._ready(offer.operator_id, now)
        return due


async def _both(store: Store, model: Model, name: str, *args: Any) -> None:
    """Run one operation on both; same answer, or the same ContactError type."""
    want: Any
    try:
        want = getattr(model, name)(*args)
    except ContactError as exc:
        want = type(exc)
    try:
        got = await getattr(store, name)(*args)
    except ContactError as exc:
        got = type(exc)
    assert got == want, (name, args)


@pytest.mark.parametrize(
    ("seed", "away", "depth", "contacts"), [(1, True, 3, 24), (2, False, 12, 40)]
)
async def test_random_walk_matches_model(
    make_store: MakeStore, seed: int, away: bool, depth: int, contacts: int
) -> None:
    rng = random.Random(seed)
    clock = Clock()
    policy = AssignmentPolicy(
        offer_timeout_s=5.0, language_fallback_s=8.0, scan_depth=depth, away_on_missed_offer=away
    )
    store = await make_store(policy, clock)
    model = Model(policy, clock)
    op_ids = [f"op{i}" for i in range(6)]
    cids = [f"c{i:02}" for i in range(contacts)]
    langs = [None, KK, RU]

    def random_skills() -> Skills:
        return Skills(
            frozenset(x for x in (KK, RU) if rng.random() < 0.5),
            frozenset(x for x in Capability if rng.random() < 0.6),
        )

    def pair() -> tuple[str, str]:
        if model.offered and rng.random() < 0.75:
            offer = rng.choice(list(model.offered.values()))
            return offer.contact_id, offer.operator_id
        return rng.choice(cids), rng.choice(op_ids)

    steps = {
        "enqueue": 24,
        "assign": 24,
        "accept": 8,
        "decline": 8,
        "expire_offers": 7,
        "remove": 6,
        "set_presence": 20,
        "forget_operator": 3,
    }
    names, weights = list(steps), list(steps.values())
    for _ in range(2000):
        clock.now += rng.choice([0.0, 0.0, 0.5, 1.0, 2.0, 4.0])
        now = clock.now
        name = rng.choices(names, weights)[0]
        args: tuple[Any, ...]
        if name == "enqueue":
            queued_at = rng.choice([now, now - 3.0, T0])
            score = queued_at + rng.choice([0.0, 0.0, 30.0, -30.0])
            cap = rng.choice(list(Capability))
            pri = rng.choice(list(Priority))
            e = QueueEntry(rng.choice(cids), pri, cap, rng.choice(langs), score, queued_at)
            args = (e,)
        elif name in ("accept", "decline"):
            args = (*pair(), now)
        elif name == "remove":
            args = (rng.choice(cids),)
        elif name == "set_presence":
            presences = [Presence.READY] * 4 + [Presence.AWAY, Presence.BUSY, Presence.WRAP_UP]
            presence = Presence.OFFERED if rng.random() < 0.02 else rng.choice(presences)
            args = (rng.choice(op_ids), random_skills(), presence, now)
        elif name == "forget_operator":
            args = (rng.choice(op_ids),)
        else:
            args = (now,)
        await _both(store, model, name, *args)
        assert await store.waiting() == model.queue()
        assert await store.offers() == model.offers()
        assert await store.operators() == model.operators()
        assert await store.check_invariants() == []
    # the walk reached the interesting states
    assert model.offered or model.waiting


# --- Redis specifics ------------------------------------------------------------------------


async def test_redis_store_with_decoded_responses(redis_url: str, redis_prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
    store = RedisQueueStore(client, RedisKeys(redis_prefix), close_client=True)
    await store.set_presence("op", skills(), Presence.READY, T0)
    await store.enqueue(entry("c1", lang=KK))
    offer = await store.assign(T0)
    assert offer is not None and offer.entry == entry("c1", lang=KK)
    assert await store.offers() == [offer]
    assert await store.operators() == [OperatorStatus("op", Presence.OFFERED, T0, skills(), "c1")]
    assert await store.accept("c1", "op", T0 + 1) == offer
    assert await store.check_invariants() == []
    await store.close()


async def test_two_stores_on_one_prefix_share_the_queue(redis_url: str, redis_prefix: str) -> None:
    a_client = redis.asyncio.Redis.from_url(redis_url)
    b_client = redis.asyncio.Redis.from_url(redis_url)
    a = RedisQueueStore(a_client, RedisKeys(redis_prefix), close_client=True)
    b = RedisQueueStore(b_client, RedisKeys(redis_prefix), close_client=True)
    await a.set_presence("op", skills(), Presence.READY, T0)
    await b.enqueue(entry("c1"))
    assert not await a.enqueue(entry("c1"))
    offer = await a.assign(T0)
    assert offer is not None
    assert await b.assign(T0) is None
    assert await b.accept("c1", "op", T0 + 1) == offer
    await a.close()
    await b.close()


class CountingRedis(redis.asyncio.Redis):
    """A client that counts the assign scripts it sends to Redis."""

    assigns = 0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        if args[0] == "EVALSHA" and "assign" in args:
            self.assigns += 1
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # untyped in redis-py


async def test_no_assign_round_trip_while_no_operator_of_any_node_is_ready(
    redis_url: str, redis_prefix: str
) -> None:
    """A node whose last look found nobody ready answers assign itself; an operator made
    ready on another node gets the waiting contact from that node's assign, at once."""
    a_client = cast(CountingRedis, CountingRedis.from_url(redis_url))
    b_client = cast(CountingRedis, CountingRedis.from_url(redis_url))
    a = RedisQueueStore(a_client, RedisKeys(redis_prefix), close_client=True)
    b = RedisQueueStore(b_client, RedisKeys(redis_prefix), close_client=True)
    await b.enqueue(entry("c1"))  # its reply: nobody is ready
    assert await b.assign(T0) is None and b_client.assigns == 0
    await b.set_presence("op1", skills(), Presence.AWAY, T0)  # a change here: ask again
    assert await b.assign(T0) is None and b_client.assigns == 1
    assert await b.assign(T0) is None and b_client.assigns == 1  # that reply said nobody
    await a.set_presence("op1", skills(), Presence.READY, T0)
    offer = await a.assign(T0)
    assert offer is not None and (offer.contact_id, offer.operator_id) == ("c1", "op1")
    await a.set_presence("op2", skills(), Presence.READY, T0 + 1)
    await b.enqueue(entry("c2", T0 + 1))  # its reply: someone is ready
    offer = await b.assign(T0 + 1)
    assert offer is not None and (offer.contact_id, offer.operator_id) == ("c2", "op2")
    assert a_client.assigns == 1 and b_client.assigns == 2
    assert await a.check_invariants() == []
    await a.close()
    await b.close()


async def test_a_nobody_ready_is_rechecked_after_a_while(redis_url: str, redis_prefix: str) -> None:
    """An operator made ready by a node that stopped before its own assign: the other nodes
    find them within ready_recheck_s."""
    a = RedisQueueStore(
        redis.asyncio.Redis.from_url(redis_url), RedisKeys(redis_prefix), close_client=True
    )
    b = RedisQueueStore(
        redis.asyncio.Redis.from_url(redis_url),
        RedisKeys(redis_prefix),
        close_client=True,
        ready_recheck_s=0.05,
    )
    await b.enqueue(entry("c1"))
    assert await b.assign(T0) is None
    await a.set_presence("op1", skills(), Presence.READY, T0)  # and a says no more
    for _ in range(500):
        offer = await b.assign(T0)
        if offer is not None:
            break
        await asyncio.sleep(0.01)
    assert offer is not None and (offer.contact_id, offer.operator_id) == ("c1", "op1")
    await a.close()
    await b.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_dead_redis_is_unavailable() -> None:
    client = redis.asyncio.Redis(host="127.0.0.1", port=_closed_port(), retry=Retry(NoBackoff(), 0))
    store = RedisQueueStore(client, RedisKeys("contact-test:dead:"), close_client=True)
    calls: list[Callable[[], Awaitable[object]]] = [
        store.ping,
        lambda: store.enqueue(entry("c1")),
        lambda: store.assign(T0),
        lambda: store.set_presence("op", skills(), Presence.READY, T0),
        store.operators,
        store.waiting,
        lambda: store.expire_offers(T0),
    ]
    for call in calls:
        with pytest.raises(Unavailable):
            await call()
    await store.close()
