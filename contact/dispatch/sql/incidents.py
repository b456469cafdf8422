"""Incident grouping, merge, split and state in SQL.

Grouping reads the open incidents and writes the result in one transaction, serialised
(SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock), so two contacts
about one fire arriving at the same moment on two nodes still make one incident."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Float, bindparam, func, insert, literal_column, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contact.dispatch.grouping import (
    GRID_MAX_CELLS,
    Candidate,
    grid_cell,
    grid_cells,
    incident_category,
)
from contact.dispatch.model import (
    DispatchState,
    GroupResult,
    IncidentMember,
    IncidentView,
    NewContact,
)
from contact.dispatch.ports import Chooser
from contact.dispatch.sql._rows import (
    SqlPart,
    _incident_not_found,
)
from contact.dispatch.sql.tables import (
    DispatchRow,
    IncidentContactRow,
    IncidentDispatchRow,
)
from contact.domain.model import (
    Incident,
    IncidentState,
    Location,
    LocationSource,
    new_id,
    plausible_accuracy,
)
from contact.errors import Conflict
from contact.persistence._mapping import location_columns
from contact.persistence.prepared import Prepared
from contact.persistence.tables import ContactRow, IncidentRow, UtcDateTime

# any constant: grouping transactions take turns on PostgreSQL
_GROUPING_LOCK_KEY = 0x6772_6F75_70  # "group"
# listed, not "!= closed": an IN list can use the state index, a negation reads every row
_OPEN_INCIDENT_STATES = (IncidentState.OPEN.value, IncidentState.DISPATCHED.value)


class SqlIncidents(SqlPart):
    """Incidents as grouping and dispatch see them (beside the kernel's `incidents`)."""

    # --- incidents --------------------------------------------------------------------------

    async def group(
        self, contact: NewContact, window_start: datetime, choose: Chooser, near_m: float
    ) -> GroupResult:
        """Put a contact into the incident `choose` picks among open incidents with a contact
        since `window_start` within `near_m` of it, or into a new one. Idempotent per
        contact. One synchronous transaction of Core statements: this runs for every located
        intake (Store.write_sync)."""
        sqlite = self._store.is_sqlite
        lock = not sqlite  # SQLite: BEGIN IMMEDIATE holds the write lock already
        touch = _TOUCH_INCIDENT_SQLITE if sqlite else _TOUCH_INCIDENT_PG

        # Every statement compiled once, run on the driver's cursor (prepared.py): this runs
        # for every located intake, and through a SQLAlchemy Connection its six to eight small
        # statements cost more CPU than the intake's own transaction.
        def work(conn: Connection) -> GroupResult:
            if lock:
                _LOCK_GROUPING.run(conn, {"key": _GROUPING_LOCK_KEY})
            known = _INCIDENT_OF_MEMBER.scalar(conn, {"p_contact_id": contact.contact_id})
            if known is not None:
                return GroupResult(known, created=False, distance_m=None, already=True)
            at = contact.received_at
            # the window both ways: a contact placed late (after a restart) is judged against
            # what came within the window of its own arrival, before it and after it
            window = (window_start, at + (at - window_start))
            candidates, categories = _open_candidates(
                conn, window, contact.lat, contact.lon, near_m
            )
            match = choose(candidates, categories)
            if match is None:
                incident_id = new_id()
                location = Location(contact.lat, contact.lon, contact.accuracy_m)
                _INSERT_INCIDENT.run(
                    conn,
                    {
                        "id": incident_id,
                        "created_at": at,
                        "state": IncidentState.OPEN.value,
                        "category": contact.category,
                        "contact_ids": json.dumps([contact.contact_id]),
                        **location_columns(location),
                    },
                )
                _INSERT_INCIDENT_DISPATCH.run(
                    conn,
                    {
                        "incident_id": incident_id,
                        "district_id": contact.district_id,
                        "department": contact.department,
                        "outside_districts": contact.outside_districts,
                        "last_contact_at": at,
                        "updated_at": at,
                        "closed_at": None,
                        "merged_into": None,
                    },
                )
                how, distance = "created", None
            else:
                incident_id, distance = match.incident_id, match.distance_m
                ((ids_json, category),) = _INCIDENT_MEMBERS.rows(
                    conn, {"p_incident_id": incident_id}
                )
                _ADD_TO_INCIDENT.run(
                    conn,
                    {
                        "p_incident_id": incident_id,
                        "p_contact_ids": json.dumps([*json.loads(ids_json), contact.contact_id]),
                        "p_category": category if category is not None else contact.category,
                    },
                )
                touch.run(conn, {"p_incident_id": incident_id, "p_at": at})
                how = "grouped"
            _INSERT_MEMBER.run(
                conn,
                {
                    "contact_id": contact.contact_id,
                    "incident_id": incident_id,
                    "category": contact.category,
                    "lat": contact.lat,
                    "lon": contact.lon,
                    "cell": grid_cell(contact.lat, contact.lon),
                    "received_at": at,
                    "joined_at": at,
                    "how": how,
                },
            )
            _SET_CONTACT_INCIDENT.run(
                conn, {"p_contact_id": contact.contact_id, "p_incident_id": incident_id}
            )
            return GroupResult(incident_id, created=match is None, distance_m=distance)

        return await self._store.write_sync(work)

    async def _lock_grouping(self, session: AsyncSession) -> None:
        if not self._store.is_sqlite:  # SQLite: BEGIN IMMEDIATE holds the write lock already
            await session.exec(_grouping_lock())  # type: ignore[call-overload]

    async def incident(self, incident_id: str) -> IncidentView:
        return await self._store.read_sync(
            lambda conn: _incident_view(conn, incident_id), snapshot=True
        )

    async def incident_of_contact(self, contact_id: str) -> str | None:
        found = await self._store.read_sync(
            lambda conn: _INCIDENT_OF_MEMBER.scalar(conn, {"p_contact_id": contact_id})
        )
        return None if found is None else str(found)

    async def open_incidents(
        self, limit: int = 200, before: tuple[datetime, str] | None = None
    ) -> list[IncidentView]:
        """The newest open incidents first, `limit` of them (created before `before`, the
        (created_at, id) of the last one of the previous page). One indexed range per state:
        incidents are rarely closed, so the open ones grow with history."""
        table = IncidentRow
        statements = []
        for state in _OPEN_INCIDENT_STATES:
            statement = sa_select(col(table.created_at), col(table.id)).where(
                col(table.state) == state
            )
            if before is not None:
                at, last_id = before
                statement = statement.where(
                    (col(table.created_at) < at)
                    | ((col(table.created_at) == at) & (col(table.id) < last_id))
                )
            statements.append(
                statement.order_by(col(table.created_at).desc(), col(table.id).desc()).limit(limit)
            )

        def work(conn: Connection) -> list[IncidentView]:
            ids: list[tuple[datetime, str]] = []
            for statement in statements:
                ids.extend((at, str(i)) for at, i in conn.execute(statement).all())
            ids.sort(reverse=True)
            return [_incident_view(conn, i) for _, i in ids[:limit]]

        return await self._store.read_sync(work, snapshot=True)

    async def merge(self, incident_id: str, other_id: str, at: datetime) -> tuple[str, ...]:
        """Move every contact of `other_id` into `incident_id` and close `other_id` as merged.
        Returns the contacts that moved."""
        if incident_id == other_id:
            raise Conflict("an incident cannot be merged into itself", error_id="same_incident")
        async with self._store.write() as session:
            await self._lock_grouping(session)
            target = await _open_incident(session, incident_id)
            source = await _open_incident(session, other_id)
            target_extra = await session.get(IncidentDispatchRow, incident_id)
            source_extra = await session.get(IncidentDispatchRow, other_id)
            moved = tuple(json.loads(source.contact_ids))
            target.contact_ids = json.dumps([*json.loads(target.contact_ids), *moved])
            if target.category is None:
                target.category = source.category
            source.contact_ids = "[]"
            source.state = IncidentState.CLOSED.value
            await _move_members(session, moved, incident_id, at, "merged")
            if target_extra is not None:
                target_extra.updated_at = at
                if source_extra is not None:
                    target_extra.last_contact_at = max(
                        target_extra.last_contact_at, source_extra.last_contact_at
                    )
                session.add(target_extra)
            if source_extra is not None:
                source_extra.merged_into = incident_id
                source_extra.closed_at = at
                source_extra.updated_at = at
                session.add(source_extra)
            if await _has_active_dispatch(session, incident_id, moved):
                target.state = IncidentState.DISPATCHED.value
            session.add_all([target, source])
            return moved

    async def split(
        self, incident_id: str, contact_ids: Sequence[str], new_incident_id: str, at: datetime
    ) -> None:
        """Move `contact_ids` out of an incident into a new incident of their own."""
        async with self._store.write() as session:
            await self._lock_grouping(session)
            source = await _open_incident(session, incident_id)
            current = [str(c) for c in json.loads(source.contact_ids)]
            moving = [c for c in current if c in set(contact_ids)]
            staying = [c for c in current if c not in set(contact_ids)]
            unknown = sorted(set(contact_ids) - set(current))
            if unknown:
                raise Conflict(
                    "these contacts are not in the incident",
                    error_id="not_in_incident",
                    details={"contact_ids": unknown},
                )
            if not moving or not staying:
                raise Conflict(
                    "a split must leave at least one contact on each side",
                    error_id="split_needs_two_sides",
                )
            source_extra = await session.get(IncidentDispatchRow, incident_id)
            members = {
                m.contact_id: m
                for m in (
                    await session.exec(
                        select(IncidentContactRow).where(
                            col(IncidentContactRow.contact_id).in_(current)
                        )
                    )
                ).all()
            }
            for side, row in ((moving, None), (staying, source)):
                known = [members[c] for c in side if c in members]
                category = incident_category(m.category for m in known)
                located = [m for m in known if m.lat is not None and m.lon is not None]
                location = (
                    Location(located[0].lat, located[0].lon)  # type: ignore[arg-type]
                    if located
                    else None
                )
                last = max((m.received_at for m in known), default=at)
                if row is None:
                    session.add(
                        IncidentRow(
                            id=new_incident_id,
                            created_at=at,
                            state=IncidentState.OPEN.value,
                            category=category,
                            contact_ids=json.dumps(side),
                            **location_columns(location),
                        )
                    )
                    session.add(
                        IncidentDispatchRow(
                            incident_id=new_incident_id,
                            district_id=source_extra.district_id if source_extra else None,
                            department=source_extra.department if source_extra else None,
                            outside_districts=bool(
                                source_extra.outside_districts if source_extra else False
                            ),
                            last_contact_at=last,
                            updated_at=at,
                        )
                    )
                else:
                    row.contact_ids = json.dumps(side)
                    row.category = category
                    for name, value in location_columns(location).items():
                        setattr(row, name, value)
                    session.add(row)
                    if source_extra is not None:
                        source_extra.last_contact_at = last
                        source_extra.updated_at = at
                        session.add(source_extra)
            await session.flush()
            await _move_members(session, moving, new_incident_id, at, "split")
            for incident in (incident_id, new_incident_id):
                held = await _has_active_dispatch(
                    session, incident, moving if incident == new_incident_id else staying
                )
                state = IncidentState.DISPATCHED if held else IncidentState.OPEN
                await session.exec(
                    update(IncidentRow)
                    .where(col(IncidentRow.id) == incident)
                    .values(state=state.value)
                )

    async def set_incident_state(
        self, incident_id: str, state: IncidentState, at: datetime
    ) -> IncidentState:
        """Returns the previous state."""
        async with self._store.write() as session:
            row = await session.get(IncidentRow, incident_id)
            if row is None:
                raise _incident_not_found(incident_id)
            previous = IncidentState(row.state)
            row.state = state.value
            session.add(row)
            extra = await session.get(IncidentDispatchRow, incident_id)
            if extra is not None:
                extra.updated_at = at
                extra.closed_at = at if state is IncidentState.CLOSED else None
                session.add(extra)
            return previous


def _grouping_lock() -> TextClause:
    """Grouping, merge and split one at a time across nodes (PostgreSQL)."""
    return text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_GROUPING_LOCK_KEY)


def _open_candidates(
    conn: Connection, window: tuple[datetime, datetime], lat: float, lon: float, near_m: float
) -> tuple[list[Candidate], dict[str, str | None]]:
    """The nearest member of each open incident received within `window` in a box around the
    point, found through the grid cells the box overlaps (_MEMBERS_IN_CELLS)."""
    dlat = near_m / 111_320.0
    dlon = near_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    box = (lat - dlat, lat + dlat, lon - dlon, lon + dlon)
    params: dict[str, Any] = {
        "p_lat": lat,
        "p_lon": lon,
        "p_coslat": math.cos(math.radians(lat)),
        "p_since": window[0],
        "p_until": window[1],
        "p_lat_min": box[0],
        "p_lat_max": box[1],
        "p_lon_min": box[2],
        "p_lon_max": box[3],
    }
    cells = grid_cells(*box)
    if isinstance(cells, tuple):
        statement = _MEMBERS_IN_CELL_RANGE
        params.update(p_cell_first=cells[0], p_cell_last=cells[1])
    elif not cells:
        return [], {}
    else:
        n = next(n for n in _CELL_COUNTS if n >= len(cells))
        statement = _MEMBERS_IN_CELLS[n]
        params.update({f"p_cell{i}": cells[min(i, len(cells) - 1)] for i in range(n)})
    # the state is checked here, not in SQL: a condition on incidents could tempt a planner
    # to start from the state index, which holds every incident ever opened
    found = statement.rows(conn, params)
    rows = [r for r in found if r[6] in _OPEN_INCIDENT_STATES]
    candidates = [
        Candidate(incident, contact_id, float(m_lat), float(m_lon), received)
        for incident, contact_id, m_lat, m_lon, received, _, _ in rows
    ]
    return candidates, {row[0]: row[5] for row in rows}


async def _open_incident(session: AsyncSession, incident_id: str) -> IncidentRow:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise _incident_not_found(incident_id)
    if row.state == IncidentState.CLOSED.value:
        raise Conflict(f"incident {incident_id} is closed", error_id="incident_closed")
    return row


async def _move_members(
    session: AsyncSession, contact_ids: Sequence[str], incident_id: str, at: datetime, how: str
) -> None:
    if not contact_ids:
        return
    ids = list(contact_ids)
    await session.exec(
        update(IncidentContactRow)
        .where(col(IncidentContactRow.contact_id).in_(ids))
        .values(incident_id=incident_id, joined_at=at, how=how)
    )
    await session.exec(
        update(ContactRow).where(col(ContactRow.id).in_(ids)).values(incident_id=incident_id)
    )
    await session.exec(
        update(DispatchRow)
        .where(col(DispatchRow.contact_id).in_(ids))
        .values(incident_id=incident_id)
    )


async def _has_active_dispatch(
    session: AsyncSession, incident_id: str, contact_ids: Sequence[str]
) -> bool:
    statement = (
        select(DispatchRow.id)
        .where(
            (col(DispatchRow.incident_id) == incident_id)
            | col(DispatchRow.contact_id).in_(list(contact_ids)),
            DispatchRow.state == DispatchState.ACTIVE.value,
        )
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


def _incident_view(conn: Connection, incident_id: str) -> IncidentView:
    """The incident, its dispatch side and its members: three prepared statements in the
    caller's read transaction (each dispatch event and dispatch panel reads one)."""
    found = _INCIDENT.records(conn, {"p_id": incident_id})
    if not found:
        raise _incident_not_found(incident_id)
    row = found[0]
    extras = _INCIDENT_EXTRA.records(conn, {"p_id": incident_id})
    extra = extras[0] if extras else None
    members = _MEMBERS_OF.records(conn, {"p_id": incident_id})
    order = {c: i for i, c in enumerate(json.loads(row.contact_ids))}
    location = (
        Location(
            row.lat,
            row.lon,
            plausible_accuracy(row.accuracy_m),  # rows stored before the bound
            LocationSource(row.location_source) if row.location_source else LocationSource.GPS,
            row.address,
        )
        if row.lat is not None and row.lon is not None
        else None
    )
    incident = Incident(
        id=row.id,
        created_at=row.created_at,
        state=IncidentState(row.state),
        category=row.category,
        location=location,
        contact_ids=[str(c) for c in json.loads(row.contact_ids)],
    )
    return IncidentView(
        incident=incident,
        district_id=extra.district_id if extra else None,
        department=extra.department if extra else None,
        outside_districts=bool(extra.outside_districts) if extra else False,
        last_contact_at=extra.last_contact_at if extra else row.created_at,
        updated_at=extra.updated_at if extra else row.created_at,
        closed_at=extra.closed_at if extra else None,
        merged_into=extra.merged_into if extra else None,
        members=tuple(
            sorted(
                (
                    IncidentMember(
                        m.contact_id,
                        m.incident_id,
                        m.category,
                        m.lat,
                        m.lon,
                        m.received_at,
                        m.joined_at,
                        m.how,
                    )
                    for m in members
                ),
                key=lambda m: order.get(m.contact_id, len(order)),
            )
        ),
    )


# --- grouping's statements, compiled once (prepared.py) -----------------------------------

_member = IncidentContactRow
_LOCK_GROUPING = Prepared(text("SELECT pg_advisory_xact_lock(:key)"))
_INCIDENT_OF_MEMBER = Prepared(
    sa_select(_member.incident_id).where(  # type: ignore[call-overload]
        col(_member.contact_id) == bindparam("p_contact_id")
    )
)
# The nearest member of each incident received since the window's start in the grid cells
# around the point, then in its box: each cell is one seek into the index on (cell,
# received_at, lat, lon), which reads only that cell's members of the window and checks the
# box before it reads a row, so neither a year of history nor a busy window elsewhere in the
# city costs anything here (the chooser still applies the exact distance and window). One
# statement per count of cells (padded up to the next size); past GRID_MAX_CELLS the cells'
# range.
_CELL_COUNTS = (4, 9, 16, 36, GRID_MAX_CELLS)


def _members_where(*in_cells: ColumnElement[bool]) -> Prepared:
    # the nearest member of each incident only (a flat-earth distance is exact enough to rank
    # members a few hundred metres apart; ties: the most recent): an incident of thousands of
    # contacts in one square kilometre comes back as one row, not thousands to convert
    f = Float()
    north = _member.lat - bindparam("p_lat", type_=f)
    east = (_member.lon - bindparam("p_lon", type_=f)) * bindparam("p_coslat", type_=f)
    ranked = (
        sa_select(  # type: ignore[call-overload]
            _member.incident_id,
            _member.contact_id,
            _member.lat,
            _member.lon,
            _member.received_at,
            func.row_number()
            .over(
                partition_by=_member.incident_id,
                order_by=(north * north + east * east, col(_member.received_at).desc()),
            )
            .label("nth"),
        )
        .where(
            *in_cells,
            col(_member.received_at).between(
                bindparam("p_since", type_=UtcDateTime), bindparam("p_until", type_=UtcDateTime)
            ),
            col(_member.lat).between(bindparam("p_lat_min"), bindparam("p_lat_max")),
            col(_member.lon).between(bindparam("p_lon_min"), bindparam("p_lon_max")),
        )
        .subquery()
    )
    return Prepared(
        sa_select(  # type: ignore[call-overload]
            ranked.c.incident_id,
            ranked.c.contact_id,
            ranked.c.lat,
            ranked.c.lon,
            ranked.c.received_at,
            IncidentRow.category,
            IncidentRow.state,
        )
        .join(IncidentRow, col(IncidentRow.id) == ranked.c.incident_id)
        .where(ranked.c.nth == literal_column("1"))
    )


_MEMBERS_IN_CELLS = {
    n: _members_where(col(_member.cell).in_([bindparam(f"p_cell{i}") for i in range(n)]))
    for n in _CELL_COUNTS
}
_MEMBERS_IN_CELL_RANGE = _members_where(
    col(_member.cell).between(bindparam("p_cell_first"), bindparam("p_cell_last"))
)
_INSERT_INCIDENT = Prepared(insert(IncidentRow.__table__))  # type: ignore[attr-defined]
_INSERT_INCIDENT_DISPATCH = Prepared(insert(IncidentDispatchRow.__table__))  # type: ignore[attr-defined]
_INSERT_MEMBER = Prepared(insert(_member.__table__))  # type: ignore[attr-defined]
_INCIDENT_MEMBERS = Prepared(
    sa_select(IncidentRow.contact_ids, IncidentRow.category).where(  # type: ignore[call-overload]
        col(IncidentRow.id) == bindparam("p_incident_id")
    )
)
_INCIDENT = Prepared(
    sa_select(IncidentRow.__table__).where(  # type: ignore[attr-defined]
        col(IncidentRow.id) == bindparam("p_id")
    )
)
_INCIDENT_EXTRA = Prepared(
    sa_select(IncidentDispatchRow.__table__).where(  # type: ignore[attr-defined]
        col(IncidentDispatchRow.incident_id) == bindparam("p_id")
    )
)
_MEMBERS_OF = Prepared(
    sa_select(_member.__table__).where(  # type: ignore[attr-defined]
        col(_member.incident_id) == bindparam("p_id")
    )
)
_ADD_TO_INCIDENT = Prepared(
    update(IncidentRow)
    .where(col(IncidentRow.id) == bindparam("p_incident_id"))
    .values(contact_ids=bindparam("p_contact_ids"), category=bindparam("p_category"))
)


def _touch_incident(greatest: Any) -> Prepared:
    at = bindparam("p_at", type_=UtcDateTime)
    return Prepared(
        update(IncidentDispatchRow)
        .where(col(IncidentDispatchRow.incident_id) == bindparam("p_incident_id"))
        .values(
            last_contact_at=greatest(col(IncidentDispatchRow.last_contact_at), at),
            updated_at=at,
        )
    )


_TOUCH_INCIDENT_SQLITE = _touch_incident(func.max)  # SQLite's two-argument max is a greatest
_TOUCH_INCIDENT_PG = _touch_incident(func.greatest)
_SET_CONTACT_INCIDENT = Prepared(
    update(ContactRow)
    .where(col(ContactRow.id) == bindparam("p_contact_id"))
    .values(incident_id=bindparam("p_incident_id"))
)
