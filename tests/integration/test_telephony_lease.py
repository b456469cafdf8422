"""The telephony lease in the real database (its contract, shared with MemoryLeaseStore, is
tests/contract/test_lease_store.py): simultaneous first claims, and nodes racing for one lease
on PostgreSQL, each with its own connection pool, through stalls, slow answers, outages and
clean stops: never two holders allowed to act at the same instant, and a holder again soon
after one is lost."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from contact.config import DatabaseSettings
from contact.errors import Unavailable
from contact.persistence.leases import SqlLeaseStore
from contact.persistence.migrate import upgrade
from contact.ports import LeaseState
from contact.telephony.leadership import Leadership

pytestmark = pytest.mark.timeout(90)
LEASE = "telephony:127.0.0.1:5038"


@pytest.fixture
async def leases(database_url: str) -> AsyncIterator[SqlLeaseStore]:
    await upgrade(database_url)
    store = SqlLeaseStore.open(DatabaseSettings(url=database_url))
    yield store
    await store.close()


async def test_simultaneous_first_claims_make_one_holder(leases: SqlLeaseStore) -> None:
    stores = [leases] + [SqlLeaseStore(leases._store) for _ in range(7)]
    answers = await asyncio.gather(
        *(store.claim(LEASE, f"n{i}", 2.0) for i, store in enumerate(stores))
    )
    holders = {a.holder for a in answers}
    assert len(holders) == 1 and all(a.epoch == 1 for a in answers)


async def test_an_unreachable_database_is_unavailable(tmp_path: object) -> None:
    store = SqlLeaseStore.open(DatabaseSettings(url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    try:
        with pytest.raises(Unavailable):
            await store.claim(LEASE, "a", 1.0)
    finally:
        await store.close()


# ---------------------------------------------------------------------------- the race


TTL = 0.8
RENEW = 0.2
RUN_S = 12.0


class Timed(SqlLeaseStore):
    """One node's way to the database, timed: every claim's send and receive instants (one
    monotonic clock for the whole machine), and chaos: slow answers and outages."""

    def __init__(self, url: str, log: list[tuple[str, float, float, LeaseState]]) -> None:
        opened = SqlLeaseStore.open(DatabaseSettings(url=url))
        super().__init__(opened._store)
        self.log = log
        self.releases: list[tuple[str, float]] = []
        self.delay_s = 0.0
        self.down = False

    async def claim(self, name: str, holder: str, ttl_s: float) -> LeaseState:
        sent = time.monotonic()
        if self.down:
            raise Unavailable("cut off")
        await asyncio.sleep(self.delay_s / 2)
        state = await super().claim(name, holder, ttl_s)
        await asyncio.sleep(self.delay_s / 2)
        self.log.append((holder, sent, time.monotonic(), state))
        return state

    async def release(self, name: str, holder: str) -> None:
        sent = time.monotonic()  # it has stopped acting before it asks
        await super().release(name, holder)
        self.releases.append((holder, sent))


@dataclass
class RacingNode:
    name: str
    lead: Leadership
    store: Timed
    paused_until: float = 0.0
    terms: list[tuple[float, float]] = field(default_factory=list)  # drive(True) … drive(False)


async def test_nodes_racing_for_one_lease_never_overlap_and_one_takes_over_soon(
    postgres_url: str,
) -> None:
    database = postgres_url.rsplit("/", 1)[0] + "/" + postgres_url.rsplit("/", 1)[1]
    await upgrade(database)
    rng = random.Random(7)
    claims: list[tuple[str, float, float, LeaseState]] = []
    nodes: list[RacingNode] = []
    samples: list[tuple[float, int]] = []
    name = f"telephony:race-{rng.random()}:5038"

    def make(n: str) -> RacingNode:
        store = Timed(database, claims)
        node: RacingNode

        async def drive(leading: bool) -> None:
            if leading:
                node.terms.append((time.monotonic(), float("inf")))
            elif node.terms and node.terms[-1][1] == float("inf"):
                node.terms[-1] = (node.terms[-1][0], time.monotonic())

        lead = Leadership(store, name, n, ttl_s=TTL, renew_s=RENEW, drive=drive)
        node = RacingNode(n, lead, store)
        return node

    nodes = [make(f"node-{i}") for i in range(4)]
    stop_at = time.monotonic() + RUN_S

    async def run(node: RacingNode) -> None:
        while time.monotonic() < stop_at:
            if time.monotonic() < node.paused_until:  # a stall: no renewal, no step at all
                await asyncio.sleep(0.01)
                continue
            wait = await node.lead.step()
            await asyncio.sleep(wait)

    def heal() -> None:
        for node in nodes:
            node.store.down, node.store.delay_s, node.paused_until = False, 0.0, 0.0

    async def chaos() -> None:
        """One node in trouble at a time (the leader, mostly), long enough for a takeover."""
        while time.monotonic() < stop_at - 2.0:
            await asyncio.sleep(rng.uniform(TTL + 0.4, TTL + 0.9))
            heal()
            leaders = [n for n in nodes if n.lead.leading]
            node = rng.choice(leaders if leaders and rng.random() < 0.8 else nodes)
            what = rng.random()
            if what < 0.3:  # a stall: no renewal, no step at all
                node.paused_until = time.monotonic() + rng.uniform(0.2, 2 * TTL)
            elif what < 0.5:  # answers come, but too late to act on
                node.store.delay_s = rng.choice([0.1, TTL, 1.5 * TTL])
            elif what < 0.75:  # cut off from the database
                node.store.down = True
            elif node.lead.leading:
                await node.lead.stop()  # a clean stop; it comes back as a candidate
        heal()

    async def sample() -> None:
        while time.monotonic() < stop_at:
            samples.append((time.monotonic(), sum(n.lead.valid() for n in nodes)))
            await asyncio.sleep(0.002)

    try:
        await asyncio.gather(*(run(n) for n in nodes), chaos(), sample())
    finally:
        for node in nodes:
            await node.lead.stop()
            await node.store.close()

    # 1. at no sampled instant were two nodes allowed to act
    assert max(count for _, count in samples) == 1
    # 2. from the database's answers alone: a holder's claim, from its answer to its send +
    # TTL (when it stops at the latest) or its release, never overlaps another holder's
    releases = sorted(r for node in nodes for r in node.store.releases)

    def end_of(holder: str, recv: float, sent: float) -> float:
        released = [at for who, at in releases if who == holder and at >= recv]
        return min([sent + TTL, *released])

    held = sorted(
        (recv, end_of(holder, recv, sent), holder)
        for holder, sent, recv, state in claims
        if state.holder == holder and recv < sent + TTL
    )
    intervals_by_holder: dict[str, list[tuple[float, float]]] = {}
    for start, end, holder in held:
        intervals_by_holder.setdefault(holder, []).append((start, end))
    for h1, spans1 in intervals_by_holder.items():
        for h2, spans2 in intervals_by_holder.items():
            if h1 >= h2:
                continue
            for a0, a1 in spans1:
                for b0, b1 in spans2:
                    assert a1 <= b0 or b1 <= a0, (h1, h2, (a0, a1), (b0, b1))
    # 3. the lease changed hands many times, and after the chaos one node leads steadily
    epochs = {state.epoch for _, _, _, state in claims if state.holder is not None}
    assert len(epochs) >= 4, epochs
    calm = [count for at, count in samples if at > stop_at - 0.5]
    assert calm and all(count == 1 for count in calm)
    # 4. nobody led for at most about a lease (a stalled, slow or cut-off holder's lease runs
    # out; another node claims right after the expiry it was told of)
    longest_gap, gap_from = 0.0, None
    for at, count in samples:
        if count == 0 and gap_from is None:
            gap_from = at
        elif count and gap_from is not None:
            longest_gap, gap_from = max(longest_gap, at - gap_from), None
    print(f"\n{len(epochs)} terms; the longest time without a leader: {longest_gap:.2f} s")
    assert longest_gap < TTL + RENEW


# ------------------------------------------------------------ a slow way to the database


class SlowReplies:
    """A TCP relay to PostgreSQL whose every answer arrives `delay_s` late, in order: a
    database far away, or a machine so loaded that each round trip costs that much."""

    def __init__(self, port: int, delay_s: float) -> None:
        self._port, self._delay_s = port, delay_s
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)

        async def requests() -> None:
            while data := await reader.read(65536):
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                await asyncio.sleep(self._delay_s)
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(requests(), replies(), return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def test_a_node_whose_first_claim_outlasts_a_renewal_period_still_leads(
    postgres_url: str,
) -> None:
    """The production periods (4 s lease, 1 s renewal) over a link where a new connection
    and its first claim take longer than the renewal period, and a claim on it much less:
    a claim that outlasts its round is waited for in the next one, not cancelled (which threw
    its connection away, so every round began again with a new connection: no node led for
    minutes on a loaded machine)."""
    await upgrade(postgres_url)
    host_and_db = postgres_url.rsplit("@", 1)[1]
    relay = SlowReplies(int(host_and_db.split(":")[1].split("/")[0]), delay_s=0.12)
    port = await relay.start()
    url = postgres_url.replace(host_and_db.split("/")[0], f"127.0.0.1:{port}")
    store = SqlLeaseStore.open(DatabaseSettings(url=url))
    driving: list[bool] = []
    leads = asyncio.Event()

    async def drive(leading: bool) -> None:
        driving.append(leading)
        if leading:
            leads.set()

    lead = Leadership(
        store, f"telephony:slow-{time.time()}:5038", "n1", ttl_s=4.0, renew_s=1.0, drive=drive
    )
    try:
        await lead.start()
        await asyncio.wait_for(leads.wait(), 60)
        assert driving == [True]
    finally:
        await lead.stop()
        await store.close()
        await relay.close()
