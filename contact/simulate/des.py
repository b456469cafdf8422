"""A discrete-event simulation of the centre's one queue: no server, no clock, milliseconds a
day. Operators per hour follow a rota; a waiting contact goes to the first free operator in
priority order (emergency, ordinary, informational; first come first served within a kind);
a caller whose patience ends before an answer abandons; after a contact the operator wraps up.
When the rota shrinks, busy operators finish their contact before leaving. Operators may come
in pools by skill (languages, channels): a contact is taken only by a pool that serves it."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from contact.simulate.traffic import Arrival

PRIORITY = {"emergency": 0, "ordinary": 1, "informational": 2}


@dataclass
class Cell:
    """Counts for one (hour, channel, kind) cell of a run."""

    offered: int = 0
    answered: int = 0
    within: int = 0  # answered within the target
    abandoned: int = 0
    waits: list[float] = field(default_factory=list)  # answer times of the answered


@dataclass
class Outcome:
    cells: dict[tuple[int, str, str, str], Cell]  # (hour, channel, kind, language)
    busy_s: list[float]  # operator-seconds busy (handling + wrap-up) per hour
    staffed_s: list[float]  # operator-seconds on the lines per hour
    waiting_at_end: int
    answered_at: dict[int, float] = field(default_factory=dict)  # arrival index → answer time

    def cell(
        self,
        hour: int | None = None,
        channel: str | None = None,
        kind: str | None = None,
        language: str | None = None,
    ) -> Cell:
        total = Cell()
        for (h, c, k, lang), cell in self.cells.items():
            if (
                (hour is None or h == hour)
                and (channel is None or c == channel)
                and (kind is None or k == kind)
                and (language is None or lang == language)
            ):
                total.offered += cell.offered
                total.answered += cell.answered
                total.within += cell.within
                total.abandoned += cell.abandoned
                total.waits.extend(cell.waits)
        return total

    @property
    def hours(self) -> int:
        return len(self.staffed_s)


def service_level(cell: Cell) -> float:
    """Share of the offered answered within the target (abandoned count as missed)."""
    return cell.within / cell.offered if cell.offered else math.nan


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Pool:
    """Operators who take the same contacts: their languages and channels (None: any)."""

    name: str
    languages: frozenset[str] | None = None
    channels: frozenset[str] | None = None

    def serves(self, a: Arrival) -> bool:
        return (self.languages is None or a.language in self.languages) and (
            self.channels is None or a.channel in self.channels
        )

    @property
    def breadth(self) -> float:
        """How much it can take: a contact goes to the narrowest free pool first, keeping the
        versatile operators for what only they can take."""
        return (math.inf if self.languages is None else len(self.languages)) * (
            math.inf if self.channels is None else len(self.channels)
        )


EVERYONE = Pool("all")


def simulate(
    arrivals: Sequence[Arrival],
    rota: Sequence[int] | Mapping[str, Sequence[int]],
    answer_s: float,
    wrap_up_s: float = 0.0,
    pools: Sequence[Pool] = (EVERYONE,),
) -> Outcome:
    """Play the arrivals against a rota: operators per hour of the run (the last one repeats),
    one list for everyone, or one per pool (by name) when operators have skills. A waiting
    contact goes to the first free operator of a pool that serves it, in priority order."""
    rotas = {pools[0].name: rota} if not isinstance(rota, Mapping) else dict(rota)
    if set(rotas) != {p.name for p in pools}:
        raise ValueError("one rota per pool")
    longest = max((len(r) for r in rotas.values()), default=0)
    hours = max(1, math.ceil(max((a.t_s for a in arrivals), default=0.0) / 3600 + 1e-9))
    hours = max(hours, longest)

    def staffed(p: int, h: int) -> int:
        r = rotas[pools[p].name]
        return r[min(h, len(r) - 1)] if r else 0

    cells: dict[tuple[int, str, str, str], Cell] = {}
    busy_s = [0.0] * hours
    staffed_s = [3600.0 * sum(staffed(p, h) for p in range(len(pools))) for h in range(hours)]
    queues: list[list[int]] = [[], [], []]  # arrival indices by priority, oldest first
    working = [0] * len(pools)  # operators busy now, per pool
    on_duty = [staffed(p, 0) for p in range(len(pools))]
    narrowest = sorted(range(len(pools)), key=lambda p: (pools[p].breadth, pools[p].name))
    # events: arrivals (0, index), frees (1, pool), rota changes (2, hour), in time order
    events: list[tuple[float, int, int]] = [(a.t_s, 0, i) for i, a in enumerate(arrivals)]
    events += [(h * 3600.0, 2, h) for h in range(1, hours)]
    heapq.heapify(events)

    def cell_of(a: Arrival) -> Cell:
        key = (int(a.t_s // 3600), a.channel, a.kind, a.language)
        c = cells.get(key)
        if c is None:
            c = cells[key] = Cell()
        return c

    def add_busy(start: float, end: float) -> None:
        h = int(start // 3600)
        while start < end and h < hours:
            stop = min(end, (h + 1) * 3600.0)
            busy_s[h] += stop - start
            start, h = stop, h + 1

    answered_at: dict[int, float] = {}

    def start(i: int, p: int, now: float) -> None:
        a = arrivals[i]
        answered_at[i] = now
        working[p] += 1
        wait = now - a.t_s
        c = cell_of(a)
        c.answered += 1
        c.waits.append(wait)
        if wait <= answer_s:
            c.within += 1
        done = now + a.handle_s + wrap_up_s
        add_busy(now, done)
        heapq.heappush(events, (done, 1, p))

    def next_waiting(p: int, now: float) -> int | None:
        pool = pools[p]
        for q in queues:
            j = 0
            while j < len(q):
                a = arrivals[q[j]]
                if a.t_s + a.patience_s < now:  # hung up while waiting
                    del q[j]
                    cell_of(a).abandoned += 1
                    continue
                if pool.serves(a):
                    return q.pop(j)
                j += 1
        return None

    while events:
        now, what, i = heapq.heappop(events)
        if what == 0:
            a = arrivals[i]
            cell_of(a).offered += 1
            # a free operator who could take it has nobody she could take waiting
            free = [p for p in narrowest if working[p] < on_duty[p] and pools[p].serves(a)]
            if free:
                start(i, free[0], now)
            else:
                queues[PRIORITY[a.kind]].append(i)
            continue
        if what == 1:
            working[i] -= 1
        else:
            on_duty = [staffed(p, i) for p in range(len(pools))]
        for p in narrowest:
            while working[p] < on_duty[p]:
                nxt = next_waiting(p, now)
                if nxt is None:
                    break
                start(nxt, p, now)
    waiting = 0
    end = hours * 3600.0
    for q in queues:
        for i in q:
            a = arrivals[i]
            if a.t_s + a.patience_s < end:
                cell_of(a).abandoned += 1
            else:
                waiting += 1
    return Outcome(cells, busy_s, staffed_s, waiting, answered_at)
