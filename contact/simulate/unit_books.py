"""The units' side of a run's accounting: what the center acknowledged to the bots and to the
units' devices, looked up in the database itself at the end (beside `chaos.account`, which
does the same for the citizens' contacts).

- every dispatch a bot was answered for (201, or found in her panel after a lost answer) is
  in `dispatches`, and no contact of the run has two;
- every unit's stored status is the last status it was answered for, and that is out of
  service (every unit reports it at the end of a run: `edges/units.py`);
- no dispatch is left active for a unit whose last acknowledged report (available or out of
  service) was sent after the dispatch was made: that report clears it;
- every unit's stored position is at least as recent as its last fix acknowledged (HTTP 202,
  or the broker's PUBACK for a unit on MQTT; positions are written in batches, so this is
  looked for again for a while).

Anything in `UnitBooks.lost` fails the run, as a lost contact does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from contact.simulate.edges.units import Reported

CLEARING = frozenset({"available", "out_of_service"})  # a report that ends a unit's dispatch
SLACK = timedelta(milliseconds=1)  # a fix's stamp as stored, to the millisecond
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredUnit:
    id: str
    status: str
    position_at: datetime | None


@dataclass(frozen=True)
class StoredDispatch:
    id: str
    contact_id: str
    unit_id: str
    state: str
    dispatched_at: datetime


@dataclass
class UnitBooks:
    units: int
    dispatches_acknowledged: int
    dispatches_found: int
    dispatches_missing: list[str]  # acknowledged, not in the database
    dispatches_duplicated: list[str]  # contacts with more than one acknowledged dispatch
    dispatches_unacknowledged: int  # stored, the answer lost on the way (not a loss)
    statuses_acknowledged: int  # units with a status report answered
    statuses_reflected: int  # of them, stored as last reported
    statuses_not_reflected: list[str]  # "unit: reported X, stored Y"
    not_retired: list[str]  # units whose out-of-service report was never answered
    left_active: list[str]  # dispatches active after their unit reported itself clear
    fixes_reflected: int
    fixes_behind: list[str]  # units whose last acknowledged fix the center does not have
    final_states: dict[str, int] = field(default_factory=dict)
    # contacts whose bot, its answer lost, sent another unit while the first was still being
    # stored: two units where one was meant (an operator clicking again does the same; POST
    # …/dispatch takes no Idempotency-Key yet). Reported, not failed.
    dispatches_sent_again: list[str] = field(default_factory=list)

    @property
    def lost(self) -> list[str]:
        """What fails the run, one line each."""
        return [
            *(f"dispatch {d}: acknowledged, not in the database" for d in self.dispatches_missing),
            *(f"contact {c}: more than one dispatch" for c in self.dispatches_duplicated),
            *(f"unit {u}" for u in self.statuses_not_reflected),
            *(f"unit {u}: out of service never acknowledged" for u in self.not_retired),
            *(f"dispatch {d}: active after its unit was clear" for d in self.left_active),
            *(f"unit {u}: last fix not stored" for u in self.fixes_behind),
        ]

    def figures(self) -> dict[str, Any]:
        return dict(vars(self))


def judge(
    units: Collection[str],
    stored_units: Sequence[StoredUnit],
    stored_dispatches: Sequence[StoredDispatch],
    acknowledged: Mapping[str, str],
    reported: Mapping[str, Reported],
    fixes: Mapping[str, datetime],
) -> UnitBooks:
    """`units`: the run's unit ids; `acknowledged`: dispatch id → its contact, as the bots were
    answered; `reported`: unit → its last acknowledged status report; `fixes`: unit → the
    stamp of its last acknowledged fix."""
    by_id = {u.id: u for u in stored_units}
    dispatch_ids = {d.id for d in stored_dispatches}
    per_contact: dict[str, int] = {}  # acknowledged dispatches
    unanswered: dict[str, int] = {}
    for d in stored_dispatches:
        counts = per_contact if d.id in acknowledged else unanswered
        counts[d.contact_id] = counts.get(d.contact_id, 0) + 1
    missing = sorted(d for d in acknowledged if d not in dispatch_ids)
    not_reflected = []
    for unit_id, last in sorted(reported.items()):
        stored = by_id.get(unit_id)
        if stored is None or stored.status != last.status:
            now = "nothing" if stored is None else stored.status
            not_reflected.append(f"{unit_id}: reported {last.status}, stored {now}")
    left_active = sorted(
        d.id
        for d in stored_dispatches
        if d.state == "active"
        and (clear := reported.get(d.unit_id)) is not None
        and clear.status in CLEARING
        and d.dispatched_at < clear.sent_at
    )
    behind = sorted(
        unit_id
        for unit_id, at in fixes.items()
        if (stored := by_id.get(unit_id)) is None
        or stored.position_at is None
        or stored.position_at < at - SLACK
    )
    states: dict[str, int] = {}
    for u in stored_units:
        states[u.status] = states.get(u.status, 0) + 1
    return UnitBooks(
        units=len(units),
        dispatches_acknowledged=len(acknowledged),
        dispatches_found=len(acknowledged) - len(missing),
        dispatches_missing=missing,
        dispatches_duplicated=sorted(
            c
            for c in per_contact.keys() | unanswered.keys()
            if per_contact.get(c, 0) > 1 or unanswered.get(c, 0) > 1
        ),
        dispatches_sent_again=sorted(
            c for c, n in per_contact.items() if n == 1 and unanswered.get(c, 0) == 1
        ),
        dispatches_unacknowledged=len(dispatch_ids - set(acknowledged)),
        statuses_acknowledged=len(reported),
        statuses_reflected=len(reported) - len(not_reflected),
        statuses_not_reflected=not_reflected,
        not_retired=sorted(
            u for u in units if (r := reported.get(u)) is None or r.status != "out_of_service"
        ),
        left_active=left_active,
        fixes_reflected=len(fixes) - len(behind),
        fixes_behind=behind,
        final_states=states,
    )


def _utc(value: Any) -> datetime | None:
    """A timestamp as the driver hands it back: text from SQLite (stored naive, in UTC), an
    aware datetime from PostgreSQL."""
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(at, datetime)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def _read(database_url: str, callsigns: str) -> tuple[list[StoredUnit], list[StoredDispatch]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            p = {"p": f"{callsigns}%"}
            units = (
                await conn.execute(
                    text("SELECT id, status, position_at FROM units WHERE callsign LIKE :p"), p
                )
            ).all()
            dispatches = (
                await conn.execute(
                    text(
                        "SELECT d.id, d.contact_id, d.unit_id, d.state, d.dispatched_at "
                        "FROM dispatches d JOIN units u ON u.id = d.unit_id "
                        "WHERE u.callsign LIKE :p"
                    ),
                    p,
                )
            ).all()
    finally:
        await engine.dispose()
    return (
        [StoredUnit(str(i), str(s), _utc(at)) for i, s, at in units],
        [
            StoredDispatch(str(i), str(c), str(u), str(s), _utc(at) or NEVER)
            for i, c, u, s, at in dispatches
        ],
    )


async def account_units(
    database_url: str,
    callsigns: str,
    units: Collection[str],
    acknowledged: Mapping[str, str],
    reported: Mapping[str, Reported],
    fixes: Mapping[str, datetime],
    within_s: float = 0.0,
) -> UnitBooks:
    """`judge` on the database's rows of the run's units (their call signs begin with
    `callsigns`); what is lost is looked for again for up to `within_s` (positions are
    written in batches)."""
    deadline = time.monotonic() + within_s
    while True:
        books = judge(units, *await _read(database_url, callsigns), acknowledged, reported, fixes)
        if not books.lost or time.monotonic() >= deadline:
            return books
        await asyncio.sleep(1.0)


__all__ = ["StoredDispatch", "StoredUnit", "UnitBooks", "account_units", "judge"]
