"""The telephony lease on a fake clock: acquire, renew, expiry, takeover, release, fencing
(never two nodes allowed to act at the same instant, whatever the interleaving), and the
fence in front of the AMI link."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from contact.config import AsteriskSettings
from contact.domain import events as ev
from contact.domain.commands import Command
from contact.errors import Unavailable
from contact.ports import LeaseState
from contact.telephony.leadership import Leadership, MemoryLeaseStore, RoleChange
from contact.telephony.service import FencedAmiClient
from tests.fakes import ManualClock

TTL = 4.0
RENEW = 1.0
GUARD = 0.5  # min(0.5, TTL / 8)
LEASE = "telephony:127.0.0.1:5038"


class FlakyStore(MemoryLeaseStore):
    """The shared store as one node reaches it: it may be cut off, or slow (the clock moves
    while the claim is on its way there and while the answer comes back)."""

    def __init__(self, shared: MemoryLeaseStore, clock: ManualClock) -> None:
        super().__init__(clock)
        self.shared = shared
        self.clock = clock
        self.down = False
        self.broken = False
        self.latency_s = 0.0

    async def claim(self, name: str, holder: str, ttl_s: float) -> LeaseState:
        if self.down:
            raise Unavailable("the database is unavailable")
        if self.broken:
            raise RuntimeError("relation leases does not exist")
        self.clock.advance(self.latency_s / 2)  # the way there
        state = await self.shared.claim(name, holder, ttl_s)
        self.clock.advance(self.latency_s / 2)  # the answer's way back
        return state

    async def release(self, name: str, holder: str) -> None:
        if self.down:
            raise Unavailable("the database is unavailable")
        await self.shared.release(name, holder)


@dataclass
class Node:
    lead: Leadership
    store: FlakyStore
    driving: list[bool] = field(default_factory=list)
    told: list[RoleChange] = field(default_factory=list)
    fail_start: bool = False

    @property
    def drives(self) -> bool:
        return bool(self.driving) and self.driving[-1]


def node(name: str, shared: MemoryLeaseStore, clock: ManualClock) -> Node:
    store = FlakyStore(shared, clock)
    n: Node

    async def drive(leading: bool) -> None:
        if leading and n.fail_start:
            raise RuntimeError("the database said no")
        n.driving.append(leading)

    async def announce(change: RoleChange) -> None:
        n.told.append(change)

    lead = Leadership(
        store,
        LEASE,
        name,
        ttl_s=TTL,
        renew_s=RENEW,
        drive=drive,
        announce=announce,
        clock=clock,
    )
    n = Node(lead, store)
    return n


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0)


@pytest.fixture
def shared(clock: ManualClock) -> MemoryLeaseStore:
    return MemoryLeaseStore(clock)


async def test_a_lone_node_acquires_at_once_and_renews(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a = node("a", shared, clock)
    wait = await a.lead.step()
    assert a.lead.leading and a.lead.valid() and a.drives
    assert a.told == [RoleChange(leading=True, reason="acquired", holder="a", epoch=1)]
    assert wait == RENEW
    for _ in range(20):  # renewals keep it, no new term, nothing told
        clock.advance(wait)
        wait = await a.lead.step()
        assert a.lead.valid()
    assert a.driving == [True] and len(a.told) == 1
    assert a.lead.snapshot() | {"last_change_at": None} == {
        "role": "leader",
        "node": "a",
        "holder": "a",
        "lease": LEASE,
        "epoch": 1,
        "store": "up",
        "changes": 1,
        "last_change_at": None,
    }


async def test_a_second_node_stands_by_and_asks_again_right_after_the_expiry(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    await a.lead.step()
    clock.advance(0.3)
    wait = await b.lead.step()
    assert not b.lead.leading and b.driving == [] and b.told == []
    assert b.lead.current_holder == "a"
    assert b.lead.snapshot()["role"] == "standby"
    assert wait == RENEW  # the lease has 3.7 s left: at most one renewal period
    clock.advance(3.0)  # a is gone (no renewal): 0.7 s left
    wait = await b.lead.step()
    assert wait == pytest.approx(0.7 + 0.05)


async def test_a_dead_leader_is_replaced_once_its_lease_expires(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    await a.lead.step()  # t=0: a leads; then it is killed (it never steps again)
    died_at = clock.now
    while True:
        wait = await b.lead.step()
        if b.lead.leading:
            break
        clock.advance(wait)
        assert clock.now - died_at <= TTL + RENEW
    took_s = clock.now - died_at
    # a standby asks right after the expiry it saw, not a renewal period later
    assert TTL <= took_s <= TTL + 0.1
    assert b.told == [RoleChange(leading=True, reason="acquired", holder="b", epoch=2)]
    assert not a.lead.valid()  # a's own clock had closed its fence half a second before


async def test_the_holder_that_cannot_renew_stops_acting_before_anyone_can_take_over(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    await a.lead.step()
    start = clock.now
    a.store.down = True  # a is cut off from the database; b is not
    while clock.now - start < TTL + 2:
        clock.advance(0.05)
        for n in (a, b):
            await n.lead.step()
            assert not (a.lead.valid() and b.lead.valid())
        if clock.now - start < TTL - GUARD - 1e-9:
            assert a.lead.valid()  # renewals failed, but the lease it had still runs
    assert a.driving == [True, False] and a.told[-1].reason == "expired"
    assert b.lead.leading and b.drives
    a.store.down = False  # back: b has it, a stays standby
    await a.lead.step()
    assert not a.lead.leading and a.lead.current_holder == "b"


async def test_a_paused_holder_finds_its_lease_taken_and_steps_down(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    await a.lead.step()
    clock.advance(TTL + 1)  # a's process stalls (a long GC pause, a frozen VM)
    assert not a.lead.valid()  # fenced by its own clock, before b takes over
    await b.lead.step()
    assert b.lead.valid()
    await a.lead.step()  # a wakes up: its claim is refused, it stops at once
    assert not a.lead.leading and a.driving == [True, False]
    assert a.told[-1].reason in ("expired", "lost")
    assert b.lead.valid() and not a.lead.valid()


async def test_a_renewal_confirmed_too_late_is_not_acted_on(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a = node("a", shared, clock)
    await a.lead.step()
    a.store.latency_s = TTL  # the answer takes the whole lease: it is stale when it comes
    await a.lead.step()
    assert not a.lead.leading and a.told[-1].reason == "expired"
    a.store.latency_s = 0.01
    clock.advance(1.0)
    await a.lead.step()  # the store answers in time again: a new term
    assert a.lead.valid() and a.driving == [True, False, True]


async def test_a_clean_stop_stops_driving_then_releases_so_a_standby_takes_over_at_once(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    valid_while_stopping: list[bool] = []

    async def drive(leading: bool) -> None:
        valid_while_stopping.append(a.lead.valid())
        a.driving.append(leading)

    a.lead._drive = drive
    await a.lead.step()
    await b.lead.step()
    await a.lead.stop()
    # stopping ran while the lease was still valid (what it undoes may reach Asterisk)
    assert a.driving == [True, False] and valid_while_stopping == [True, True]
    assert a.told[-1] == RoleChange(leading=False, reason="released", holder=None, epoch=1)
    assert not a.lead.valid()
    await b.lead.step()  # no waiting for an expiry
    assert b.lead.valid() and b.told[-1].epoch == 2


async def test_a_node_that_cannot_start_driving_gives_the_lease_up(
    clock: ManualClock, shared: MemoryLeaseStore
) -> None:
    a, b = node("a", shared, clock), node("b", shared, clock)
    a.fail_start = True
    wait = await a.lead.step()
    assert not a.lead.leading and a.told[-1].reason == "failed"
    assert wait == pytest.approx(TTL)  # it leaves the others a whole period
    await b.lead.step()
    assert b.lead.valid()


async def test_an_unexpected_failure_of_the_store_fences_and_is_tried_again(
    clock: ManualClock, shared: MemoryLeaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    a = node("a", shared, clock)
    await a.lead.step()
    a.store.broken = True
    for _ in range(5):
        clock.advance(await a.lead.step())
    assert not a.lead.leading and a.told[-1].reason == "expired"
    assert a.lead.snapshot()["store"] == "down"
    assert "the claim failed" in caplog.text
    a.store.broken = False
    await a.lead.step()
    assert a.lead.valid() and a.lead.snapshot()["store"] == "up"


async def test_never_two_nodes_may_act_at_the_same_instant() -> None:
    """Random interleavings of three nodes: pauses, store outages, slow answers, restarts."""
    for seed in range(60):
        rng = random.Random(seed)
        clock = ManualClock(0.0)
        shared = MemoryLeaseStore(clock)
        nodes = [node(name, shared, clock) for name in "abc"]
        terms: set[int] = set()
        for _ in range(400):
            n = rng.choice(nodes)
            r = rng.random()
            if r < 0.05:
                n.store.down = not n.store.down
            elif r < 0.08:
                n.store.latency_s = rng.choice([0.0, 0.0, 0.3, 2.0, 5.0])
            elif r < 0.10 and n.lead.leading:
                await n.lead.stop()
            else:
                await n.lead.step()
            clock.advance(rng.choice([0.0, 0.01, 0.2, 0.5, 1.0, 3.0]))
            acting = [m.lead.holder for m in nodes if m.lead.valid()]
            assert len(acting) <= 1, (seed, acting)
            for m in nodes:
                if m.lead.valid():
                    terms.add(m.lead.epoch)
        assert terms, seed  # someone led at some point


# ---------------------------------------------------------------------------- the fence


async def test_the_ami_link_refuses_every_action_without_a_valid_lease() -> None:
    allowed = False

    def noop(_event: dict[str, str]) -> None:
        return None

    ami = FencedAmiClient(
        AsteriskSettings(), "secret", noop, on_link=lambda _up: None, may_act=lambda: allowed
    )
    with pytest.raises(Unavailable) as refused:
        await ami.action({"Action": "Hangup", "Channel": "PJSIP/op-1"})
    assert refused.value.error_id == "telephony_standby"
    allowed = True
    with pytest.raises(Unavailable) as down:  # allowed, but no link (not started)
        await ami.action({"Action": "Ping"})
    assert down.value.error_id == "telephony_unavailable"
    assert not ami.connected


async def test_the_bus_reaches_the_voice_service_of_the_current_term_only() -> None:
    from contact.bus import MessageBus
    from contact.telephony.service import VoiceWiring

    bus = MessageBus()
    wiring = VoiceWiring(bus)
    heard: list[tuple[str, str]] = []

    class Echo(Command):
        pass

    class Voice:
        def __init__(self, name: str) -> None:
            self.name = name

        def register(self, b: MessageBus) -> None:
            b.subscribe(ev.TelephonyLinkChanged, self.on_link)
            b.register(Echo, self.echo)

        async def on_link(self, event: ev.TelephonyLinkChanged) -> None:
            heard.append((self.name, "event"))

        async def echo(self, command: Echo) -> str:
            return self.name

    wiring.attach(Voice("first"))  # type: ignore[arg-type]
    await bus.publish(ev.TelephonyLinkChanged(up=True))
    assert await bus.execute(Echo()) == "first"
    wiring.attach(Voice("second"))  # type: ignore[arg-type]
    await bus.publish(ev.TelephonyLinkChanged(up=True))
    assert await bus.execute(Echo()) == "second"
    assert heard == [("first", "event"), ("second", "event")]
