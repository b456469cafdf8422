"""MemoryQueueStore: the unified queue in this process (one node, the embedded default).

No method awaits anything, so each call runs to completion on the event loop and is atomic
with respect to every other call, which is what the QueueStore contract asks for.
Waiting contacts sit in a SortedList by (score, queued_at, contact_id); READY operators sit in
one SortedList by (idle_since, operator_id) per pool (language or "any", capability), so an
assignment looks at the head of at most `scan_depth` pools.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sortedcontainers import SortedList

from contact.domain.model import Capability, Presence, Skills
from contact.errors import BadRequest, Conflict
from contact.ports import AssignmentPolicy, Offer, OperatorStatus, QueueEntry

ANY = "any"
PoolKey = tuple[str, Capability]  # (language value or "any", capability)
_WORKING = (Presence.BUSY, Presence.WRAP_UP)


def pool_keys(skills: Skills) -> tuple[PoolKey, ...]:
    """The pools a READY operator with these skills sits in."""
    keys: list[PoolKey] = []
    for cap in sorted(skills.capabilities):
        keys.append((ANY, cap))
        keys.extend((lang.value, cap) for lang in sorted(skills.languages))
    return tuple(keys)


def entry_pool(entry: QueueEntry, now: float, policy: AssignmentPolicy) -> PoolKey:
    """The pool a contact is served from: its language until it has waited
    `language_fallback_s`, then anyone with the capability."""
    if entry.language is not None and now - entry.queued_at < policy.language_fallback_s:
        return (entry.language.value, entry.capability)
    return (ANY, entry.capability)


def next_presence(
    current: OperatorStatus | None, operator_id: str, skills: Skills, presence: Presence, now: float
) -> OperatorStatus:
    """What set_presence records (shared rule of both stores, mirrored in queue.lua).

    OFFERED is only ever set by assign; an operator holding an offer must accept or decline
    first (Conflict), so an offer is never dropped silently. `since` changes only when the
    presence does (a repeated READY keeps the idle-since and so the place in line); the
    contact being worked is kept between BUSY and WRAP_UP and cleared otherwise.
    """
    if presence is Presence.OFFERED:
        raise BadRequest(
            "an operator becomes offered through assignment only",
            details={"operator_id": operator_id},
        )
    if current is not None and current.presence is Presence.OFFERED:
        raise Conflict(
            "the operator holds an offer: accept or decline it first",
            details={"operator_id": operator_id, "contact_id": current.contact_id},
        )
    same = current is not None and current.presence is presence
    since = current.since if current is not None and same else now
    contact_id = None
    if current is not None and current.presence in _WORKING and presence in _WORKING:
        contact_id = current.contact_id
    return OperatorStatus(operator_id, presence, since, skills, contact_id)


@dataclass(slots=True)
class _Operator:
    presence: Presence
    since: float
    skills: Skills
    contact_id: str | None = None
    pools: tuple[PoolKey, ...] = field(default=())  # where (since, id) sits while READY


class MemoryQueueStore:
    """The QueueStore for one process. `clock` gives the time for `remove`, the one method
    without a `now` (the operator whose offer is removed is READY from then)."""

    def __init__(
        self,
        policy: AssignmentPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._policy = policy or AssignmentPolicy()
        self._clock = clock
        self._entries: dict[str, QueueEntry] = {}  # waiting or offered
        self._waiting = SortedList()  # (score, queued_at, contact_id)
        self._offers: dict[str, Offer] = {}
        self._by_expiry = SortedList()  # (expires_at, contact_id)
        self._operators: dict[str, _Operator] = {}
        self._pools: dict[PoolKey, SortedList] = {}  # of (idle_since, operator_id)

    @property
    def policy(self) -> AssignmentPolicy:
        return self._policy

    # --- contacts ---------------------------------------------------------------------------

    async def enqueue(self, entry: QueueEntry) -> bool:
        if entry.contact_id in self._entries:
            return False
        self._entries[entry.contact_id] = entry
        self._waiting.add(_order(entry))
        return True

    async def remove(self, contact_id: str) -> QueueEntry | None:
        entry = self._entries.pop(contact_id, None)
        if entry is None:
            return None
        offer = self._offers.get(contact_id)
        if offer is None:
            self._waiting.remove(_order(entry))
            return entry
        self._end_offer(offer)
        self._make_ready(offer.operator_id, self._operators[offer.operator_id], self._clock())
        return entry

    async def reprioritise(self, entry: QueueEntry) -> bool:
        old = self._entries.get(entry.contact_id)
        if old is None:
            return False
        entry = replace(entry, queued_at=old.queued_at)  # its place among equals stays
        self._entries[entry.contact_id] = entry
        offer = self._offers.get(entry.contact_id)
        if offer is None:
            self._waiting.remove(_order(old))
            self._waiting.add(_order(entry))
        else:
            self._offers[entry.contact_id] = replace(offer, entry=entry)
        return True

    async def waiting(self, limit: int | None = None) -> list[QueueEntry]:
        rows = self._waiting if limit is None else self._waiting.islice(0, max(limit, 0))
        return [self._entries[cid] for _, _, cid in rows]

    async def offers(self) -> list[Offer]:
        return [self._offers[cid] for _, cid in self._by_expiry]

    # --- operators --------------------------------------------------------------------------

    async def set_presence(
        self, operator_id: str, skills: Skills, presence: Presence, now: float
    ) -> None:
        op = self._operators.get(operator_id)
        status = next_presence(
            None if op is None else _status(operator_id, op), operator_id, skills, presence, now
        )
        if op is None:
            op = self._operators[operator_id] = _Operator(presence, now, skills)
        self._leave_pools(operator_id, op)
        op.skills = skills
        if presence is Presence.READY:
            self._make_ready(operator_id, op, status.since)
        else:
            op.presence, op.since, op.contact_id = presence, status.since, status.contact_id

    async def forget_operator(self, operator_id: str) -> None:
        op = self._operators.pop(operator_id, None)
        if op is None:
            return
        self._leave_pools(operator_id, op)
        if op.presence is Presence.OFFERED and op.contact_id is not None:
            offer = self._offers[op.contact_id]
            self._end_offer(offer)
            self._waiting.add(_order(offer.entry))

    async def operators(self) -> list[OperatorStatus]:
        return [_status(oid, op) for oid, op in sorted(self._operators.items())]

    # --- pairing ----------------------------------------------------------------------------

    async def assign(self, now: float) -> Offer | None:
        if not any(self._pools.values()):  # nobody ready (every operator busy): no scan
            return None
        empty: set[PoolKey] = set()  # pools already seen empty in this scan
        for row in self._waiting.islice(0, self._policy.scan_depth):
            entry = self._entries[row[2]]
            key = entry_pool(entry, now, self._policy)
            if key in empty:
                continue
            pool = self._pools.get(key)
            if not pool:
                empty.add(key)
                continue
            operator_id: str = pool[0][1]
            self._waiting.remove(row)
            op = self._operators[operator_id]
            self._leave_pools(operator_id, op)
            op.presence, op.since, op.contact_id = Presence.OFFERED, now, entry.contact_id
            offer = Offer(entry, operator_id, now + self._policy.offer_timeout_s)
            self._offers[entry.contact_id] = offer
            self._by_expiry.add((offer.expires_at, entry.contact_id))
            return offer
        return None

    async def accept(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        # Accepted late but before expire_offers ran still counts: the caller is served sooner.
        offer = self._held(contact_id, operator_id)
        if offer is None:
            return None
        self._end_offer(offer)
        del self._entries[contact_id]
        op = self._operators[operator_id]
        op.presence, op.since, op.contact_id = Presence.BUSY, now, contact_id
        return offer

    async def decline(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        offer = self._held(contact_id, operator_id)
        if offer is None:
            return None
        self._end_offer(offer)
        self._waiting.add(_order(offer.entry))
        self._make_ready(operator_id, self._operators[operator_id], now)
        return offer

    async def expire_offers(self, now: float) -> list[Offer]:
        due: list[Offer] = []
        for expires_at, cid in self._by_expiry:
            if expires_at > now:
                break
            due.append(self._offers[cid])
        for offer in due:
            self._end_offer(offer)
            self._waiting.add(_order(offer.entry))
            op = self._operators[offer.operator_id]
            if self._policy.away_on_missed_offer:
                op.presence, op.since, op.contact_id = Presence.AWAY, now, None
            else:
                self._make_ready(offer.operator_id, op, now)
        return due

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check_invariants(self) -> list[str]:
        """Problems with the internal state (empty when consistent); for tests and health."""
        problems: list[str] = []
        waiting = {row[2] for row in self._waiting}
        if len(waiting) != len(self._waiting):
            problems.append("a contact waits twice")
        if waiting & self._offers.keys():
            problems.append(f"waiting and offered: {sorted(waiting & self._offers.keys())}")
        if waiting | self._offers.keys() != self._entries.keys():
            problems.append("entries differ from waiting + offered")
        holders: dict[str, str] = {}
        for cid, offer in self._offers.items():
            op = self._operators.get(offer.operator_id)
            if op is None or op.presence is not Presence.OFFERED or op.contact_id != cid:
                problems.append(f"offer {cid} held by {offer.operator_id} who does not know it")
            if offer.operator_id in holders:
                problems.append(f"operator {offer.operator_id} holds two offers")
            holders[offer.operator_id] = cid
        for oid, op in self._operators.items():
            if op.presence is Presence.OFFERED and holders.get(oid) != op.contact_id:
                problems.append(f"operator {oid} is offered without an offer")
            want = pool_keys(op.skills) if op.presence is Presence.READY else ()
            if op.pools != want:
                problems.append(f"operator {oid} sits in the wrong pools")
        pooled = sum(len(pool) for pool in self._pools.values())
        if pooled != sum(len(op.pools) for op in self._operators.values()):
            problems.append("stale members in the ready pools")
        return problems

    # --- internals --------------------------------------------------------------------------

    def _held(self, contact_id: str, operator_id: str) -> Offer | None:
        offer = self._offers.get(contact_id)
        return offer if offer is not None and offer.operator_id == operator_id else None

    def _end_offer(self, offer: Offer) -> None:
        del self._offers[offer.contact_id]
        self._by_expiry.remove((offer.expires_at, offer.contact_id))

    def _leave_pools(self, operator_id: str, op: _Operator) -> None:
        for key in op.pools:
            self._pools[key].remove((op.since, operator_id))
        op.pools = ()

    def _make_ready(self, operator_id: str, op: _Operator, since: float) -> None:
        self._leave_pools(operator_id, op)
        op.presence, op.since, op.contact_id = Presence.READY, since, None
        op.pools = pool_keys(op.skills)
        for key in op.pools:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = SortedList()
            pool.add((since, operator_id))


def _order(entry: QueueEntry) -> tuple[float, float, str]:
    return (entry.score, entry.queued_at, entry.contact_id)


def _status(operator_id: str, op: _Operator) -> OperatorStatus:
    return OperatorStatus(operator_id, op.presence, op.since, op.skills, op.contact_id)
