"""One driver per Asterisk: the telephony lease.

Every node with CONTACT_ASTERISK_ENABLED=true runs a `Leadership` on the lease named after the
AMI address (`telephony:<host>:<port>`). The node holding it drives Asterisk (the AMI link,
resyncs, timers, every action); the others stand by: no AMI link at all, so no action, no
resync, nothing armed, nothing hung up. A holder renews every `lease_renew_s`; a holder that
stops renewing (killed, cut off) is replaced once `lease_s` has passed since its last renewal;
a holder that stops cleanly releases the lease and a standby takes it at once.

The lease lives in the database every node already shares (contact/persistence/leases.py),
not in Redis: telephony runs without Redis (one node on SQLite, or nodes on PostgreSQL only);
the calls' state is in the database anyway, so a node cut off from it could not drive calls
correctly and loses the lease with it; the database's clock times every lease, so nodes' clocks
need not agree; and the epoch, bumped whenever the holder changes, is a fencing token.

Fencing: a holder counts its lease from the moment it *sent* the claim that succeeded, on its
own monotonic clock, minus a guard; the database counts from when it ran the statement, which
is later. So `valid()` turns false on the holder before any other node can take the lease, even
when the database answers slowly or not at all, and only the clocks' rates need to agree.
`valid()` is checked before every AMI action and event; the loop demotes at the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from contact.errors import ContactError
from contact.ports import LeaseState, LeaseStore

log = logging.getLogger(__name__)

# how long before its lease's end a holder stops acting (an action in flight reaches Asterisk
# within it), at most this share of the lease
FENCE_GUARD_S = 0.5
FENCE_GUARD_SHARE = 0.125
# a standby asks again this long after the lease it saw should have expired
EXPIRY_SLACK_S = 0.05
MIN_WAIT_S = 0.02
# a claim still unanswered after this many lease periods is given up (cancelled) and sent anew
STALE_CLAIM_TTLS = 4


@dataclass(frozen=True, slots=True)
class RoleChange:
    """This node started or stopped driving. `reason`: acquired | lost (another node has the
    lease) | expired (no renewal confirmed in time) | released (stopping) | failed (could not
    start driving). `holder`: who has the lease now, as far as this node knows."""

    leading: bool
    reason: str
    holder: str | None
    epoch: int


Drive = Callable[[bool], Awaitable[None]]
Announce = Callable[[RoleChange], Awaitable[None]]


class Leadership:
    def __init__(
        self,
        store: LeaseStore,
        name: str,
        holder: str,
        *,
        ttl_s: float,
        renew_s: float,
        drive: Drive,
        announce: Announce | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`drive(True)` starts driving (the lease is valid meanwhile), `drive(False)` stops;
        `announce` is told of every change once it is complete (a release included)."""
        if ttl_s < 2 * renew_s:
            raise ValueError("a lease must last at least two renewal periods")
        self._store = store
        self.name = name
        self.holder = holder
        self._ttl_s = ttl_s
        self._renew_s = renew_s
        self._guard_s = min(FENCE_GUARD_S, ttl_s * FENCE_GUARD_SHARE)
        self._drive = drive
        self._announce = announce
        self._clock = clock
        self.leading = False
        self.state: LeaseState | None = None  # the last answer of the store
        self.epoch = 0  # of this node's current (or last) term
        self.changes = 0
        self.last_change_at: float | None = None  # time.time() of the last role change
        self._valid_until = 0.0
        self._hold_off_until = 0.0
        self._reachable = True
        self._task: asyncio.Task[None] | None = None
        # the claim on its way, and when it was sent: a round that stops waiting for it
        # leaves it running for the next round (see _claimed)
        self._claim: asyncio.Task[LeaseState] | None = None
        self._claim_sent = 0.0
        # one round at a time: a stop never interleaves with a claim (which could renew the
        # lease between the stop's fence and its release, and so outlive the release)
        self._round = asyncio.Lock()
        self._wakeup = asyncio.Event()

    # --- what the rest of the node asks ---------------------------------------------------------

    def valid(self) -> bool:
        """This node holds the lease and may act on Asterisk now."""
        return self.leading and self._clock() < self._valid_until

    @property
    def current_holder(self) -> str | None:
        if self.leading:
            return self.holder
        state = self.state
        if state is None or state.holder in (None, self.holder) or state.expires_in_s <= 0:
            return None  # nobody, or this node's own lapsed term: unknown until the next claim
        return state.holder

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "role": "leader" if self.valid() else "standby",
            "node": self.holder,
            "holder": self.current_holder,
            "lease": self.name,
            "epoch": self.epoch if self.leading else (state.epoch if state else 0),
            "store": "up" if self._reachable else "down",
            "changes": self.changes,
            "last_change_at": self.last_change_at,
        }

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """One claim now (a lone node leads before its start returns), then the loop."""
        delay = await self.step()
        self._task = asyncio.create_task(self._run(delay), name="telephony-lease")

    async def stop(self) -> None:
        """Stop driving, then release the lease so that a standby takes it at once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with self._round:
            claim, self._claim = self._claim, None
            if claim is not None:  # a late renewal must not outlive the release
                claim.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await claim
            if self.leading:
                await self._demote("released", self.state)
            else:
                await self._release()  # a term that lapsed may still be ours in the store

    def wake(self) -> None:
        """Claim again now (the holder released the lease)."""
        self._wakeup.set()

    async def _run(self, delay: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            self._wakeup.clear()
            try:
                delay = await self.step()
            except Exception:  # never reached (step handles its failures): keep the loop
                log.exception("telephony lease %s: a round failed", self.name)
                delay = self._renew_s

    # --- one round ------------------------------------------------------------------------------

    async def step(self) -> float:
        """Claim (acquire or renew) once, change role if needed; the seconds until the next."""
        async with self._round:
            return await self._step()

    async def _step(self) -> float:
        if self.leading and not self.valid():
            await self._demote("expired", self.state)
        now = self._clock()
        if not self.leading and now < self._hold_off_until:
            return self._hold_off_until - now
        budget = self._valid_until - now if self.leading else self._renew_s
        try:
            state, sent = await self._claimed(max(budget, MIN_WAIT_S))
        except Exception as error:  # unreachable, slow; or a bug: logged, and asked again
            if self._reachable and not isinstance(error, ContactError | TimeoutError | OSError):
                log.exception("telephony lease %s: the claim failed", self.name)
            self._unreachable(error)
            if self.leading and not self.valid():
                await self._demote("expired", self.state)
            return self._next_wait()
        if not self._reachable:
            log.info("telephony lease %s: the store answers again", self.name)
        self._reachable = True
        previous, self.state = self.state, state
        if state.holder == self.holder:
            until = sent + self._ttl_s - self._guard_s
            if self._clock() >= until:  # confirmed too late to act on
                if self.leading:
                    await self._demote("expired", state)
                return self._next_wait()
            self._valid_until = until
            if not self.leading:
                await self._promote(state)
        else:
            if self.leading:
                await self._demote("lost", state)
            elif state.holder is not None and (previous is None or previous.holder != state.holder):
                log.info(
                    "telephony lease %s: held by %s (epoch %d); this node stands by",
                    self.name,
                    state.holder,
                    state.epoch,
                )
        return self._next_wait()

    async def _claimed(self, within_s: float) -> tuple[LeaseState, float]:
        """The store's answer to this node's claim, and when the claim was sent; TimeoutError
        when none came within `within_s`. A claim that outlasts its round is not cancelled:
        the next round waits for the same one. Cancelling it threw its connection away, so
        on a loaded machine every round began again with a new connection, slower than the
        round itself, and no node led for minutes. Timed from its sending, a late answer is
        still fenced right (and one confirmed too late is not acted on)."""
        now = self._clock()
        claim = self._claim
        if claim is not None and now - self._claim_sent > STALE_CLAIM_TTLS * self._ttl_s:
            claim.cancel()  # hung: its answer could never be acted on
            claim = None
        if claim is None:
            self._claim_sent = now
            claim = self._claim = asyncio.create_task(
                self._store.claim(self.name, self.holder, self._ttl_s),
                name="telephony-lease-claim",
            )
        done, _ = await asyncio.wait({claim}, timeout=within_s)
        if not done:
            raise TimeoutError
        self._claim = None
        return claim.result(), self._claim_sent

    def _next_wait(self) -> float:
        now = self._clock()
        if self.leading:
            return max(MIN_WAIT_S, min(self._renew_s, self._valid_until - now))
        if now < self._hold_off_until:
            return self._hold_off_until - now
        state = self.state
        if self._reachable and state is not None and state.holder is not None:
            # ask again right after it should expire, not up to a renewal period later
            return max(MIN_WAIT_S, min(self._renew_s, state.expires_in_s + EXPIRY_SLACK_S))
        return self._renew_s

    def _unreachable(self, error: BaseException) -> None:
        if self._reachable:
            reason = error.message if isinstance(error, ContactError) else type(error).__name__
            log.warning("telephony lease %s: the store does not answer (%s)", self.name, reason)
        self._reachable = False

    async def _promote(self, state: LeaseState) -> None:
        self.leading = True
        self.epoch = state.epoch
        self._mark()
        log.info(
            "telephony lease %s: this node (%s) leads now (epoch %d)",
            self.name,
            self.holder,
            state.epoch,
        )
        try:
            await self._drive(True)
        except Exception:
            log.exception("telephony lease %s: could not start driving; giving it up", self.name)
            # another node may do better: leave it the lease for a whole period
            self._hold_off_until = self._clock() + self._ttl_s
            await self._demote("failed", state)
            return
        await self._tell(
            RoleChange(leading=True, reason="acquired", holder=self.holder, epoch=state.epoch)
        )

    async def _demote(self, reason: str, state: LeaseState | None) -> None:
        """Stop driving. The fence closes before anything else runs, except on a release: the
        lease is still valid then, and what stopping undoes may still reach Asterisk."""
        gives_up = reason in ("released", "failed")
        if not gives_up:
            self.leading = False
            self._valid_until = 0.0
        self._mark()
        log.info(
            "telephony lease %s: this node (%s) stopped driving (%s)",
            self.name,
            self.holder,
            reason,
        )
        try:
            await self._drive(False)
        except Exception:
            log.exception("telephony lease %s: stopping failed", self.name)
        finally:
            self.leading = False
            self._valid_until = 0.0
        if gives_up:
            await self._release()
        holder = state.holder if reason == "lost" and state is not None else None
        epoch = state.epoch if state is not None else self.epoch
        await self._tell(RoleChange(leading=False, reason=reason, holder=holder, epoch=epoch))

    async def _release(self) -> None:
        try:
            async with asyncio.timeout(self._renew_s * 2):
                await self._store.release(self.name, self.holder)
        except (ContactError, TimeoutError, OSError) as error:
            log.warning("telephony lease %s not released (%s): it expires", self.name, error)

    async def _tell(self, change: RoleChange) -> None:
        if self._announce is None:
            return
        try:
            await self._announce(change)
        except Exception:
            log.exception("telephony lease %s: announcing a change failed", self.name)

    def _mark(self) -> None:
        self.changes += 1
        self.last_change_at = time.time()


class MemoryLeaseStore:
    """Leases in this process (tests; the reference for SqlLeaseStore), timed by `clock`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rows: dict[str, tuple[str | None, int, float]] = {}  # holder, epoch, expires_at
        self.claims = 0

    async def claim(self, name: str, holder: str, ttl_s: float) -> LeaseState:
        self.claims += 1
        now = self._clock()
        current, epoch, expires_at = self._rows.get(name, (None, 0, now))
        if current == holder or current is None or expires_at <= now:
            if current != holder:
                epoch += 1
            current, expires_at = holder, now + ttl_s
            self._rows[name] = (current, epoch, expires_at)
        return LeaseState(name=name, holder=current, epoch=epoch, expires_in_s=expires_at - now)

    async def release(self, name: str, holder: str) -> None:
        current, epoch, _ = self._rows.get(name, (None, 0, 0.0))
        if current == holder:
            self._rows[name] = (None, epoch, self._clock())

    async def close(self) -> None:
        return None
