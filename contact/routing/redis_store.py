"""RedisQueueStore: the unified queue shared by several `contact serve` processes.

Every change touching more than one key is one call of queue.lua (EVALSHA), so pairing a
contact with an operator is atomic across processes: no double offer, no operator with two.
The rules are those of MemoryQueueStore; both pass the same contract tests.

`assign` costs no round trip while no operator of any node is ready: the enqueue and assign
scripts say whether one is, and the store believes a "nobody" until it calls any other
script (an operator made ready, an offer returned) or for `ready_recheck_s` at most. An
operator made ready on another node gets the waiting contacts from that node's own `assign`,
which the routing service runs after every presence change; the recheck covers a node that
died between the two.
"""

from __future__ import annotations

import contextlib
import json
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import redis.exceptions
from redis.asyncio import Redis

from contact.domain.model import Capability, Language, Presence, Priority, Skills
from contact.errors import BadRequest, Conflict, Unavailable
from contact.ports import AssignmentPolicy, Offer, OperatorStatus, QueueEntry
from contact.redis_keys import RedisKeys

SCRIPT = Path(__file__).with_name("queue.lua")
_SEE_READY = frozenset({"enqueue", "assign"})  # their replies say whether anyone is ready
ORDER_KEY_LEN = 16  # hex digits of order_key(); queue.lua has the same constant

# Redis is down or failing over: the caller sees one error type (errors.py).
_DOWN = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    OSError,
)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except _DOWN as exc:
        raise Unavailable("redis is not reachable", details={"reason": str(exc)}) from exc


def order_key(queued_at: float) -> str:
    """16 hex digits that sort like `queued_at`: ZSET ties on score are ordered by member, so
    a member of order key + contact id gives the (score, queued_at, contact_id) order."""
    bits: int = struct.unpack(">Q", struct.pack(">d", queued_at + 0.0))[0]  # -0.0 → 0.0
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | (1 << 63)
    return f"{bits:0{ORDER_KEY_LEN}x}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _encode_entry(entry: QueueEntry) -> tuple[str, str]:
    member = order_key(entry.queued_at) + entry.contact_id
    record = {
        "m": member,
        "p": str(int(entry.priority)),
        "c": entry.capability.value,
        "l": "" if entry.language is None else entry.language.value,
        "s": repr(entry.score),
        "q": repr(entry.queued_at),
    }
    return member, json.dumps(record, separators=(",", ":"))


def _decode_entry(raw: Any) -> QueueEntry:
    rec = json.loads(raw)
    return QueueEntry(
        contact_id=rec["m"][ORDER_KEY_LEN:],
        priority=Priority(int(rec["p"])),
        capability=Capability(rec["c"]),
        language=Language(rec["l"]) if rec["l"] else None,
        score=float(rec["s"]),
        queued_at=float(rec["q"]),
    )


def _csv(values: Sequence[str]) -> str:
    return ",".join(sorted(values))


def _decode_operator(operator_id: str, raw: Any) -> OperatorStatus:
    rec = json.loads(raw)
    skills = Skills(
        languages=frozenset(Language(v) for v in rec["l"].split(",") if v),
        capabilities=frozenset(Capability(v) for v in rec["k"].split(",") if v),
    )
    return OperatorStatus(
        operator_id=operator_id,
        presence=Presence(rec["p"]),
        since=float(rec["s"]),
        skills=skills,
        contact_id=rec["c"] or None,
    )


def _ended(found: Any, operator_id: str) -> Offer | None:
    """The Offer of an accept/decline reply ({entry JSON, expires_at} or nil)."""
    if found is None:
        return None
    return Offer(_decode_entry(found[0]), operator_id, float(found[1]))


class RedisQueueStore:
    """The QueueStore on Redis.

    The client belongs to the caller (the broadcast may share it); `close()` closes it only
    with `close_client=True`. `clock` gives the time for `remove`, the one method without a
    `now` (the operator whose offer is removed is READY from then).
    """

    def __init__(
        self,
        client: Redis,
        keys: RedisKeys | None = None,
        policy: AssignmentPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
        close_client: bool = False,
        ready_recheck_s: float = 1.0,
    ) -> None:
        self._client = client
        self._keys = keys or RedisKeys()
        self._policy = policy or AssignmentPolicy()
        self._clock = clock
        self._close_client = close_client
        self._ready_recheck_s = ready_recheck_s
        self._nobody_ready_at: float | None = None  # monotonic time a reply said "nobody"
        self._changes = 0  # calls of the commands that may ready someone: started + ended
        pools = self._keys.ready_pools()
        k = self._keys
        self._script_keys = [k.waiting, k.entries, k.offers, k.offer_holders, k.operators]
        self._script_keys += list(pools.values())
        self._pool_names = ",".join(pools)
        self._script = client.register_script(SCRIPT.read_text())

    @property
    def policy(self) -> AssignmentPolicy:
        return self._policy

    async def _run(self, command: str, *args: str) -> Any:
        """One command of queue.lua. Any but enqueue and assign may make an operator ready
        (itself, or through what the caller does next), so a "nobody ready" is forgotten when
        one of them starts and again when it ends."""
        if command in _SEE_READY:
            with translate_errors():
                return await self._script(
                    keys=self._script_keys, args=[command, self._pool_names, *args]
                )
        self._changes += 1
        self._nobody_ready_at = None
        try:
            with translate_errors():
                return await self._script(
                    keys=self._script_keys, args=[command, self._pool_names, *args]
                )
        finally:
            self._changes += 1
            self._nobody_ready_at = None

    def _saw_ready(self, anyone_ready: Any, changes_before: int) -> None:
        """What a reply of enqueue or assign said about the ready pools of every node: a
        "nobody" is believed only when no other command started or ended meanwhile (on
        another connection, Redis may have run it after this one)."""
        if int(anyone_ready):
            self._nobody_ready_at = None
        elif self._changes == changes_before:
            self._nobody_ready_at = time.monotonic()

    def _nobody_ready(self) -> bool:
        seen = self._nobody_ready_at
        return seen is not None and time.monotonic() - seen < self._ready_recheck_s

    # --- contacts ---------------------------------------------------------------------------

    async def enqueue(self, entry: QueueEntry) -> bool:
        member, record = _encode_entry(entry)
        changes_before = self._changes
        added, anyone_ready = await self._run(
            "enqueue", entry.contact_id, record, member, repr(entry.score)
        )
        self._saw_ready(anyone_ready, changes_before)
        return bool(added)

    async def remove(self, contact_id: str) -> QueueEntry | None:
        raw = await self._run("remove", contact_id, repr(self._clock()))
        return None if raw is None else _decode_entry(raw)

    async def reprioritise(self, entry: QueueEntry) -> bool:
        _, record = _encode_entry(entry)
        moved = await self._run("reprioritise", entry.contact_id, record, repr(entry.score))
        return bool(moved)

    async def waiting(self, limit: int | None = None) -> list[QueueEntry]:
        if limit is not None and limit <= 0:
            return []
        raws = await self._run("waiting", str(-1 if limit is None else limit - 1))
        return [_decode_entry(raw) for raw in raws]

    async def offers(self) -> list[Offer]:
        flat = await self._run("offers")
        out: list[Offer] = []
        for i in range(0, len(flat), 2):
            holder = json.loads(flat[i + 1])
            out.append(Offer(_decode_entry(flat[i]), holder["o"], float(holder["x"])))
        return out

    # --- operators --------------------------------------------------------------------------

    async def set_presence(
        self, operator_id: str, skills: Skills, presence: Presence, now: float
    ) -> None:
        langs = _csv([Language(v).value for v in skills.languages])
        caps = _csv([Capability(v).value for v in skills.capabilities])
        status, *rest = await self._run(
            "set_presence", operator_id, Presence(presence).value, repr(now), langs, caps
        )
        status = _text(status)
        if status == "conflict":
            raise Conflict(
                "the operator holds an offer: accept or decline it first",
                details={"operator_id": operator_id, "contact_id": _text(rest[0])},
            )
        if status == "bad":
            raise BadRequest(
                "an operator becomes offered through assignment only"
                if _text(rest[0]) == "offered"
                else f"no ready pool for {_text(rest[0])}",
                details={"operator_id": operator_id},
            )

    async def forget_operator(self, operator_id: str) -> None:
        await self._run("forget_operator", operator_id)

    async def operators(self) -> list[OperatorStatus]:
        with translate_errors():
            rows = await self._client.hgetall(self._keys.operators)
        ops = [_decode_operator(_text(oid), raw) for oid, raw in rows.items()]
        return sorted(ops, key=lambda op: op.operator_id)

    # --- pairing ----------------------------------------------------------------------------

    async def assign(self, now: float) -> Offer | None:
        if self._policy.scan_depth <= 0:  # ZRANGE 0 -1 would mean everything
            return None
        if self._nobody_ready():  # nothing to pair with: no round trip
            return None
        expires_at = now + self._policy.offer_timeout_s
        changes_before = self._changes
        found = await self._run(
            "assign",
            repr(now),
            repr(expires_at),
            repr(float(self._policy.language_fallback_s)),
            str(self._policy.scan_depth),
        )
        if not isinstance(found, list):  # no pairing: whether anyone is ready
            self._saw_ready(found, changes_before)
            return None
        _, raw, operator_id = found
        return Offer(_decode_entry(raw), _text(operator_id), expires_at)

    async def accept(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        # Accepted late but before expire_offers ran still counts: the caller is served sooner.
        return _ended(await self._run("accept", contact_id, operator_id, repr(now)), operator_id)

    async def decline(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        return _ended(await self._run("decline", contact_id, operator_id, repr(now)), operator_id)

    async def expire_offers(self, now: float) -> list[Offer]:
        away = "1" if self._policy.away_on_missed_offer else "0"
        flat = await self._run("expire_offers", repr(now), away)
        return [
            Offer(_decode_entry(flat[i + 1]), _text(flat[i + 2]), float(flat[i + 3]))
            for i in range(0, len(flat), 4)
        ]

    async def ping(self) -> None:
        with translate_errors():
            await self._client.ping()

    async def close(self) -> None:
        if self._close_client:
            with translate_errors():
                await self._client.aclose()

    async def check_invariants(self) -> list[str]:
        """Problems with the shared state, checked atomically inside Redis (empty when
        consistent); for tests and health checks. O(size of the queue)."""
        return [_text(p) for p in await self._run("check")]

    async def clear(self) -> None:
        """Delete the whole queue (tests, `contact` admin commands)."""
        with translate_errors():
            await self._client.delete(*self._keys.queue_keys())
