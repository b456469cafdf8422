"""Units, dispatches, cameras, districts and incident grouping in SQL.

Every change of a unit is one transaction with a conditional UPDATE (`WHERE status = …`), so
two operators (or two nodes) dispatching the same unit cannot both succeed. Grouping reads the
open incidents and writes the result in one transaction, serialised (SQLite: BEGIN IMMEDIATE;
PostgreSQL: a transaction-scoped advisory lock), so two contacts about one fire arriving at
the same moment on two nodes still make one incident.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import TextClause
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contact.dispatch.cameras import Camera
from contact.dispatch.grouping import Candidate, Match, incident_category
from contact.dispatch.model import (
    ALLOWED_FROM,
    CameraHealth,
    DispatchRecord,
    DispatchState,
    DistrictRecord,
    GroupResult,
    IncidentMember,
    IncidentView,
    NewContact,
    StatusChange,
    UnitRecord,
)
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.domain.model import Incident, IncidentState, Location, LocationSource, new_id
from contact.errors import Conflict, NotFound
from contact.persistence._mapping import location_columns
from contact.persistence.engine import Store
from contact.persistence.tables import ContactRow, IncidentRow
from contact.persistence.tables_dispatch import (
    CameraHealthRow,
    CameraRow,
    DispatchRow,
    DistrictRow,
    IncidentContactRow,
    IncidentDispatchRow,
    UnitRow,
    UnitStatusRow,
)

# any constant: grouping transactions take turns on PostgreSQL
_GROUPING_LOCK_KEY = 0x6772_6F75_70  # "group"
CAMERA_BATCH = 5_000  # rows per INSERT … ON CONFLICT statement

Chooser = Callable[[list[Candidate], dict[str, str | None]], Match | None]


class SqlDispatchRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    # --- units ------------------------------------------------------------------------------

    async def add_unit(self, unit: UnitRecord, token_hash: str | None) -> None:
        row = UnitRow(
            id=unit.id,
            callsign=unit.callsign,
            kind=unit.kind.value,
            district_id=unit.district_id,
            department=unit.department,
            crew=json.dumps(list(unit.crew), ensure_ascii=False),
            status=unit.status.value,
            status_at=unit.status_at,
            token_hash=token_hash,
            active=unit.active,
            created_at=unit.status_at,
            **_position_columns(unit.position),
        )
        try:
            async with self._store.write() as session:
                session.add(row)
                await session.flush()
                session.add(
                    UnitStatusRow(
                        unit_id=unit.id, status=unit.status.value, at=unit.status_at, source="cli"
                    )
                )
        except IntegrityError as error:
            raise Conflict(
                f"a unit with id {unit.id!r} or call sign {unit.callsign!r} exists",
                error_id="unit_exists",
                details={"unit_id": unit.id, "callsign": unit.callsign},
            ) from error

    async def update_unit(self, unit: UnitRecord) -> None:
        """Registry fields only (call sign, kind, district, crew, active): status and position
        change through their own methods."""
        try:
            async with self._store.write() as session:
                result = await session.exec(
                    update(UnitRow)
                    .where(col(UnitRow.id) == unit.id)
                    .values(
                        callsign=unit.callsign,
                        kind=unit.kind.value,
                        district_id=unit.district_id,
                        department=unit.department,
                        crew=json.dumps(list(unit.crew), ensure_ascii=False),
                        active=unit.active,
                    )
                )
                if result.rowcount != 1:
                    raise _unit_not_found(unit.id)
        except IntegrityError as error:
            raise Conflict(
                f"call sign {unit.callsign!r} is taken", error_id="unit_exists"
            ) from error

    async def get_unit(self, unit_id: str) -> UnitRecord:
        async with self._store.read() as session:
            row = await session.get(UnitRow, unit_id)
        if row is None:
            raise _unit_not_found(unit_id)
        return _to_unit(row)

    async def unit_by_callsign(self, callsign: str) -> UnitRecord | None:
        async with self._store.read() as session:
            row = (await session.exec(select(UnitRow).where(UnitRow.callsign == callsign))).first()
        return None if row is None else _to_unit(row)

    async def units(self) -> list[UnitRecord]:
        async with self._store.read() as session:
            rows = (await session.exec(select(UnitRow).order_by(col(UnitRow.callsign)))).all()
        return [_to_unit(row) for row in rows]

    async def unit_token_hash(self, unit_id: str) -> str | None:
        async with self._store.read() as session:
            row = await session.get(UnitRow, unit_id)
        return None if row is None or not row.active else row.token_hash

    async def set_unit_token(self, unit_id: str, token_hash: str) -> None:
        async with self._store.write() as session:
            result = await session.exec(
                update(UnitRow).where(col(UnitRow.id) == unit_id).values(token_hash=token_hash)
            )
            if result.rowcount != 1:
                raise _unit_not_found(unit_id)

    async def save_positions(self, positions: Sequence[tuple[str, UnitPosition]]) -> None:
        """The latest position of each unit, in one transaction (a batch, newest wins)."""
        if not positions:
            return
        params = [
            {"b_id": unit_id, **{f"b_{k}": v for k, v in _position_columns(p).items()}}
            for unit_id, p in positions
        ]
        statement = (
            update(UnitRow)
            .where(col(UnitRow.id) == _bind("b_id"))
            .where(
                (col(UnitRow.position_at).is_(None))
                | (col(UnitRow.position_at) <= _bind("b_position_at"))
            )
            .values(
                lat=_bind("b_lat"),
                lon=_bind("b_lon"),
                accuracy_m=_bind("b_accuracy_m"),
                position_at=_bind("b_position_at"),
            )
        )
        async with self._store.write() as session:
            conn = await session.connection()
            await conn.execute(statement, params)

    async def set_status(
        self, unit_id: str, status: UnitStatus, at: datetime, source: str, actor: str | None
    ) -> StatusChange:
        """Move a unit to `status` if ALLOWED_FROM permits it from where it is, updating its
        dispatch (en route, arrival with the response time, clearing) in the same transaction.
        The same status again changes nothing (a retried report). Conflict otherwise."""
        async with self._store.write() as session:
            row = await session.get(UnitRow, unit_id)
            if row is None:
                raise _unit_not_found(unit_id)
            unit = _to_unit(row)
            dispatch_row = (
                await session.get(DispatchRow, row.dispatch_id) if row.dispatch_id else None
            )
            if unit.status is status:
                dispatch = _to_dispatch(dispatch_row) if dispatch_row is not None else None
                return StatusChange(unit, unit.status, dispatch, changed=False)
            if unit.status not in ALLOWED_FROM[status]:
                raise Conflict(
                    f"unit {unit.callsign} is {unit.status.value}; it cannot become {status.value}",
                    error_id="unit_status_not_allowed",
                    details={"status": unit.status.value, "wanted": status.value},
                )
            values: dict[str, Any] = {"status": status.value, "status_at": at}
            if dispatch_row is not None:
                await _advance_dispatch(session, dispatch_row, status, at)
                if dispatch_row.state != DispatchState.ACTIVE.value:
                    values["dispatch_id"] = None
            result = await session.exec(
                update(UnitRow)
                .where(col(UnitRow.id) == unit_id, col(UnitRow.status) == unit.status.value)
                .values(**values)
            )
            if result.rowcount != 1:  # another node moved it between our read and write
                raise Conflict("the unit changed meanwhile; try again", error_id="unit_changed")
            session.add(
                UnitStatusRow(
                    unit_id=unit_id,
                    status=status.value,
                    at=at,
                    source=source,
                    actor=actor,
                    dispatch_id=dispatch_row.id if dispatch_row is not None else None,
                )
            )
            await session.flush()
            await session.refresh(row)
            return StatusChange(
                _to_unit(row),
                unit.status,
                _to_dispatch(dispatch_row) if dispatch_row is not None else None,
                changed=True,
            )

    async def status_history(
        self, unit_id: str, limit: int = 50
    ) -> list[tuple[str, datetime, str]]:
        statement = (
            select(UnitStatusRow)
            .where(UnitStatusRow.unit_id == unit_id)
            .order_by(col(UnitStatusRow.at).desc(), col(UnitStatusRow.id).desc())
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [(r.status, r.at, r.source) for r in rows]

    # --- dispatches -------------------------------------------------------------------------

    async def dispatch(self, record: DispatchRecord) -> UnitRecord:
        """Claim an available unit for a contact: the unit becomes DISPATCHED and the dispatch
        is stored, in one transaction. Conflict when the unit is not available (any more)."""
        async with self._store.write() as session:
            row = await session.get(UnitRow, record.unit_id)
            if row is None:
                raise _unit_not_found(record.unit_id)
            if not row.active or row.status != UnitStatus.AVAILABLE.value:
                raise Conflict(
                    f"unit {row.callsign} is {row.status}, not available",
                    error_id="unit_not_available",
                    details={"unit_id": row.id, "status": row.status},
                )
            result = await session.exec(
                update(UnitRow)
                .where(
                    col(UnitRow.id) == record.unit_id,
                    col(UnitRow.status) == UnitStatus.AVAILABLE.value,
                )
                .values(
                    status=UnitStatus.DISPATCHED.value,
                    status_at=record.dispatched_at,
                    dispatch_id=record.id,
                )
            )
            if result.rowcount != 1:
                raise Conflict(
                    f"unit {row.callsign} was just dispatched elsewhere",
                    error_id="unit_not_available",
                    details={"unit_id": row.id},
                )
            session.add(_dispatch_row(record))
            session.add(
                UnitStatusRow(
                    unit_id=record.unit_id,
                    status=UnitStatus.DISPATCHED.value,
                    at=record.dispatched_at,
                    source="operator",
                    actor=record.operator_id,
                    dispatch_id=record.id,
                )
            )
            await session.flush()
            await session.refresh(row)
            return _to_unit(row)

    async def get_dispatch(self, dispatch_id: str) -> DispatchRecord:
        async with self._store.read() as session:
            row = await session.get(DispatchRow, dispatch_id)
        if row is None:
            raise NotFound(f"dispatch {dispatch_id} not found", error_id="dispatch_not_found")
        return _to_dispatch(row)

    async def acknowledge(
        self, unit_id: str, dispatch_id: str, at: datetime
    ) -> tuple[DispatchRecord, bool]:
        """Record the unit's acknowledgement; (dispatch, True) the first time."""
        async with self._store.write() as session:
            row = await session.get(DispatchRow, dispatch_id)
            if row is None or row.unit_id != unit_id:
                raise NotFound("no such dispatch for this unit", error_id="dispatch_not_found")
            if row.state == DispatchState.CANCELLED.value:
                raise Conflict("this dispatch was cancelled", error_id="dispatch_cancelled")
            first = row.acknowledged_at is None
            if first:
                row.acknowledged_at = at
                session.add(row)
            return _to_dispatch(row), first

    async def dispatches(
        self,
        *,
        contact_ids: Iterable[str] = (),
        incident_id: str | None = None,
        unit_id: str | None = None,
        active_only: bool = False,
    ) -> list[DispatchRecord]:
        statement = select(DispatchRow)
        contact_ids = list(contact_ids)
        if contact_ids and incident_id is not None:
            statement = statement.where(
                col(DispatchRow.contact_id).in_(contact_ids)
                | (col(DispatchRow.incident_id) == incident_id)
            )
        elif contact_ids:
            statement = statement.where(col(DispatchRow.contact_id).in_(contact_ids))
        elif incident_id is not None:
            statement = statement.where(DispatchRow.incident_id == incident_id)
        if unit_id is not None:
            statement = statement.where(DispatchRow.unit_id == unit_id)
        if active_only:
            statement = statement.where(DispatchRow.state == DispatchState.ACTIVE.value)
        statement = statement.order_by(col(DispatchRow.dispatched_at), col(DispatchRow.id))
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_dispatch(r) for r in rows]

    async def set_dispatch_incident(self, contact_id: str, incident_id: str) -> None:
        """Dispatches follow their contact when it moves to another incident."""
        async with self._store.write() as session:
            await session.exec(
                update(DispatchRow)
                .where(col(DispatchRow.contact_id) == contact_id)
                .values(incident_id=incident_id)
            )

    async def arrivals(
        self, since: datetime, until: datetime
    ) -> list[tuple[str | None, float, datetime]]:
        """(district, response seconds, arrived at) of the first unit on scene at each
        incident, arrived within [since, until)."""
        statement = select(
            DispatchRow.district_id, DispatchRow.response_s, DispatchRow.arrived_at
        ).where(
            DispatchRow.first_on_scene == True,  # noqa: E712 - SQL, not Python truth
            col(DispatchRow.arrived_at) >= since,
            col(DispatchRow.arrived_at) < until,
            col(DispatchRow.response_s).is_not(None),
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [(d, float(r), a) for d, r, a in rows if r is not None and a is not None]

    async def dispatch_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        statement = (
            select(DispatchRow.district_id, func.count())
            .where(col(DispatchRow.dispatched_at) >= since, col(DispatchRow.dispatched_at) < until)
            .group_by(col(DispatchRow.district_id))
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return {d: int(n) for d, n in rows}

    # --- incidents --------------------------------------------------------------------------

    async def group(
        self, contact: NewContact, window_start: datetime, choose: Chooser, near_m: float
    ) -> GroupResult:
        """Put a contact into the incident `choose` picks among open incidents with a contact
        since `window_start` within `near_m` of it, or into a new one. Idempotent per
        contact. One synchronous transaction of Core statements: this runs for every located
        intake (Store.write_sync)."""
        greatest = func.max if self._store.is_sqlite else func.greatest
        lock = not self._store.is_sqlite  # SQLite: BEGIN IMMEDIATE holds the write lock already

        def work(conn: Connection) -> GroupResult:
            if lock:
                conn.execute(_grouping_lock())
            known = conn.execute(
                sa_select(IncidentContactRow.incident_id).where(  # type: ignore[call-overload]
                    col(IncidentContactRow.contact_id) == contact.contact_id
                )
            ).scalar()
            if known is not None:
                return GroupResult(known, created=False, distance_m=None, already=True)
            candidates, categories = _open_candidates(
                conn, window_start, contact.lat, contact.lon, near_m
            )
            match = choose(candidates, categories)
            at = contact.received_at
            if match is None:
                incident_id = new_id()
                location = Location(contact.lat, contact.lon, contact.accuracy_m)
                conn.execute(
                    insert(IncidentRow),
                    [
                        {
                            "id": incident_id,
                            "created_at": at,
                            "state": IncidentState.OPEN.value,
                            "category": contact.category,
                            "contact_ids": json.dumps([contact.contact_id]),
                            **location_columns(location),
                        }
                    ],
                )
                conn.execute(
                    insert(IncidentDispatchRow),
                    [
                        {
                            "incident_id": incident_id,
                            "district_id": contact.district_id,
                            "department": contact.department,
                            "outside_districts": contact.outside_districts,
                            "last_contact_at": at,
                            "updated_at": at,
                        }
                    ],
                )
                how, distance = "created", None
            else:
                incident_id, distance = match.incident_id, match.distance_m
                ids_json, category = conn.execute(
                    sa_select(IncidentRow.contact_ids, IncidentRow.category).where(  # type: ignore[call-overload]
                        col(IncidentRow.id) == incident_id
                    )
                ).one()
                conn.execute(
                    update(IncidentRow)
                    .where(col(IncidentRow.id) == incident_id)
                    .values(
                        contact_ids=json.dumps([*json.loads(ids_json), contact.contact_id]),
                        category=category if category is not None else contact.category,
                    )
                )
                conn.execute(
                    update(IncidentDispatchRow)
                    .where(col(IncidentDispatchRow.incident_id) == incident_id)
                    .values(
                        last_contact_at=greatest(col(IncidentDispatchRow.last_contact_at), at),
                        updated_at=at,
                    )
                )
                how = "grouped"
            conn.execute(
                insert(IncidentContactRow),
                [
                    {
                        "contact_id": contact.contact_id,
                        "incident_id": incident_id,
                        "category": contact.category,
                        "lat": contact.lat,
                        "lon": contact.lon,
                        "received_at": at,
                        "joined_at": at,
                        "how": how,
                    }
                ],
            )
            conn.execute(
                update(ContactRow)
                .where(col(ContactRow.id) == contact.contact_id)
                .values(incident_id=incident_id)
            )
            return GroupResult(incident_id, created=match is None, distance_m=distance)

        return await self._store.write_sync(work)

    async def _lock_grouping(self, session: AsyncSession) -> None:
        if not self._store.is_sqlite:  # SQLite: BEGIN IMMEDIATE holds the write lock already
            await session.exec(_grouping_lock())  # type: ignore[call-overload]

    async def incident(self, incident_id: str) -> IncidentView:
        async with self._store.read(snapshot=True) as session:
            return await _incident_view(session, incident_id)

    async def incident_of_contact(self, contact_id: str) -> str | None:
        async with self._store.read() as session:
            row = await session.get(IncidentContactRow, contact_id)
        return None if row is None else row.incident_id

    async def open_incidents(self, limit: int = 200) -> list[IncidentView]:
        statement = (
            select(IncidentRow.id)
            .where(col(IncidentRow.state) != IncidentState.CLOSED.value)
            .order_by(col(IncidentRow.created_at).desc())
            .limit(limit)
        )
        async with self._store.read(snapshot=True) as session:
            ids = (await session.exec(statement)).all()
            return [await _incident_view(session, i) for i in ids]

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

    # --- cameras ----------------------------------------------------------------------------

    async def import_cameras(
        self,
        cameras: Sequence[Camera],
        at: datetime,
        *,
        replace_all: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert or update cameras by id, all in ONE transaction: a failure anywhere (a
        database error, Ctrl-C) leaves the table as it was. `replace_all` also deletes the
        cameras not in `cameras`."""
        insert = sqlite_insert if self._store.is_sqlite else pg_insert
        columns = (
            "lat",
            "lon",
            "heading_deg",
            "fov_deg",
            "range_m",
            "stream_url",
            "snapshot_url",
            "district_id",
            "imported_at",
        )
        statement = insert(CameraRow)
        statement = statement.on_conflict_do_update(
            index_elements=[col(CameraRow.id)],
            set_={name: getattr(statement.excluded, name) for name in columns},
        )
        async with self._store.write() as session:
            conn = await session.connection()
            if replace_all:
                await conn.execute(delete(CameraRow))
            done = 0
            for start in range(0, len(cameras), CAMERA_BATCH):
                batch = cameras[start : start + CAMERA_BATCH]
                await conn.execute(
                    statement,
                    [
                        {
                            "id": c.id,
                            "lat": c.lat,
                            "lon": c.lon,
                            "heading_deg": c.heading_deg,
                            "fov_deg": c.fov_deg,
                            "range_m": c.range_m,
                            "stream_url": c.stream_url,
                            "snapshot_url": c.snapshot_url,
                            "district_id": c.district,
                            "imported_at": at,
                        }
                        for c in batch
                    ],
                )
                done += len(batch)
                if progress is not None:
                    progress(done)
        return len(cameras)

    async def cameras(self) -> list[Camera]:
        table = CameraRow.__table__  # type: ignore[attr-defined]
        names = ("id", "lat", "lon", "heading_deg", "fov_deg", "range_m", "stream_url")
        statement = sa_select(
            *(table.c[n] for n in names), table.c.snapshot_url, table.c.district_id
        ).order_by(table.c.id)
        async with self._store.read() as session:
            conn = await session.connection()
            rows = (await conn.execute(statement)).all()
        return [
            Camera(
                id=r[0],
                lat=r[1],
                lon=r[2],
                heading_deg=r[3],
                fov_deg=r[4],
                range_m=r[5],
                stream_url=r[6],
                snapshot_url=r[7],
                district=r[8],
            )
            for r in rows
        ]

    async def cameras_version(self) -> tuple[int, datetime | None]:
        """(count, newest import time): changes whenever an import changes the table."""
        async with self._store.read() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(CameraRow.imported_at)))
            ).one()
        if isinstance(newest, str):  # SQLite hands aggregate timestamps back as text
            newest = datetime.fromisoformat(newest)
        return int(count), newest

    async def record_snapshot(
        self, camera_id: str, ok: bool, at: datetime, error: str | None = None
    ) -> None:
        async with self._store.write() as session:
            row = await session.get(CameraHealthRow, camera_id)
            if row is None:
                row = CameraHealthRow(camera_id=camera_id)
            if ok:
                row.ok_count += 1
                row.consecutive_failures = 0
                row.last_ok_at = at
            else:
                row.failure_count += 1
                row.consecutive_failures += 1
                row.last_failure_at = at
                row.last_error = (error or "")[:300]
            session.add(row)

    async def camera_health(self, limit: int = 100) -> list[CameraHealth]:
        """Cameras whose last snapshots failed, the longest-failing first."""
        statement = (
            select(CameraHealthRow)
            .where(col(CameraHealthRow.consecutive_failures) > 0)
            .order_by(
                col(CameraHealthRow.consecutive_failures).desc(),
                col(CameraHealthRow.camera_id),
            )
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [
            CameraHealth(
                r.camera_id,
                r.ok_count,
                r.failure_count,
                r.consecutive_failures,
                r.last_ok_at,
                r.last_failure_at,
                r.last_error,
            )
            for r in rows
        ]

    # --- districts --------------------------------------------------------------------------

    async def replace_districts(self, districts: Sequence[DistrictRecord], at: datetime) -> None:
        """A district file is the whole city: the table becomes exactly these, at once."""
        async with self._store.write() as session:
            await session.exec(delete(DistrictRow))
            for d in districts:
                session.add(
                    DistrictRow(
                        id=d.id,
                        name_kk=d.name_kk,
                        name_ru=d.name_ru,
                        department=d.department,
                        geometry=json.dumps(d.geometry, ensure_ascii=False),
                        position=d.position,
                        imported_at=at,
                    )
                )

    async def districts(self) -> list[DistrictRecord]:
        statement = select(DistrictRow).order_by(col(DistrictRow.position), col(DistrictRow.id))
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [
            DistrictRecord(
                r.id, r.name_kk, r.name_ru, r.department, json.loads(r.geometry), r.position
            )
            for r in rows
        ]

    async def districts_version(self) -> tuple[int, datetime | None]:
        async with self._store.read() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(DistrictRow.imported_at)))
            ).one()
        if isinstance(newest, str):
            newest = datetime.fromisoformat(newest)
        return int(count), newest


# --- helpers ----------------------------------------------------------------------------------


def _bind(name: str) -> Any:
    return bindparam(name)


def _position_columns(position: UnitPosition | None) -> dict[str, Any]:
    if position is None:
        return {"lat": None, "lon": None, "accuracy_m": None, "position_at": None}
    return {
        "lat": position.lat,
        "lon": position.lon,
        "accuracy_m": position.accuracy_m,
        "position_at": position.at,
    }


def _to_unit(row: UnitRow) -> UnitRecord:
    position = (
        UnitPosition(row.lat, row.lon, row.position_at, row.accuracy_m)
        if row.lat is not None and row.lon is not None
        else None
    )
    return UnitRecord(
        id=row.id,
        callsign=row.callsign,
        kind=UnitKind(row.kind),
        status=UnitStatus(row.status),
        status_at=row.status_at,
        district_id=row.district_id,
        department=row.department,
        crew=tuple(json.loads(row.crew)),
        dispatch_id=row.dispatch_id,
        position=position,
        active=row.active,
    )


def _dispatch_row(d: DispatchRecord) -> DispatchRow:
    return DispatchRow(
        id=d.id,
        contact_id=d.contact_id,
        incident_id=d.incident_id,
        unit_id=d.unit_id,
        operator_id=d.operator_id,
        district_id=d.district_id,
        lat=d.lat,
        lon=d.lon,
        eta_s=d.eta_s,
        eta_source=d.eta_source,
        state=d.state.value,
        received_at=d.received_at,
        dispatched_at=d.dispatched_at,
        acknowledged_at=d.acknowledged_at,
        en_route_at=d.en_route_at,
        arrived_at=d.arrived_at,
        cleared_at=d.cleared_at,
        response_s=d.response_s,
        first_on_scene=d.first_on_scene,
    )


def _to_dispatch(r: DispatchRow) -> DispatchRecord:
    return DispatchRecord(
        id=r.id,
        contact_id=r.contact_id,
        incident_id=r.incident_id,
        unit_id=r.unit_id,
        operator_id=r.operator_id,
        district_id=r.district_id,
        lat=r.lat,
        lon=r.lon,
        eta_s=r.eta_s,
        eta_source=r.eta_source,
        state=DispatchState(r.state),
        received_at=r.received_at,
        dispatched_at=r.dispatched_at,
        acknowledged_at=r.acknowledged_at,
        en_route_at=r.en_route_at,
        arrived_at=r.arrived_at,
        cleared_at=r.cleared_at,
        response_s=r.response_s,
        first_on_scene=r.first_on_scene,
    )


async def _advance_dispatch(
    session: AsyncSession, row: DispatchRow, status: UnitStatus, at: datetime
) -> None:
    if status is UnitStatus.EN_ROUTE and row.en_route_at is None:
        row.en_route_at = at
    elif status is UnitStatus.ON_SCENE and row.arrived_at is None:
        row.arrived_at = at
        row.response_s = max(0.0, (at - row.received_at).total_seconds())
        row.first_on_scene = not await _someone_arrived(session, row)
    elif status in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE):
        row.cleared_at = at
        row.state = (
            DispatchState.COMPLETED.value
            if row.arrived_at is not None
            else DispatchState.CANCELLED.value
        )
    session.add(row)


async def _someone_arrived(session: AsyncSession, row: DispatchRow) -> bool:
    """Another unit is already on scene at this incident (or this contact, without one)."""
    same = (
        DispatchRow.incident_id == row.incident_id
        if row.incident_id is not None
        else DispatchRow.contact_id == row.contact_id
    )
    statement = (
        select(DispatchRow.id)
        .where(same, DispatchRow.id != row.id, col(DispatchRow.arrived_at).is_not(None))
        .limit(1)
    )
    return (await session.exec(statement)).first() is not None


def _grouping_lock() -> TextClause:
    """Grouping, merge and split one at a time across nodes (PostgreSQL)."""
    return text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_GROUPING_LOCK_KEY)


def _open_candidates(
    conn: Connection, window_start: datetime, lat: float, lon: float, near_m: float
) -> tuple[list[Candidate], dict[str, str | None]]:
    # only members in a box around the point: a busy hour must not make every intake read
    # every open incident (the chooser still applies the exact distance)
    dlat = near_m / 111_320.0
    dlon = near_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    member = IncidentContactRow
    statement = (
        sa_select(  # type: ignore[call-overload]
            member.incident_id,
            member.contact_id,
            member.lat,
            member.lon,
            member.received_at,
            IncidentRow.category,
        )
        .join(
            IncidentDispatchRow,
            col(IncidentDispatchRow.incident_id) == col(member.incident_id),
        )
        .join(IncidentRow, col(IncidentRow.id) == col(member.incident_id))
        .where(
            col(IncidentRow.state) != IncidentState.CLOSED.value,
            col(IncidentDispatchRow.last_contact_at) >= window_start,
            col(member.lat).between(lat - dlat, lat + dlat),
            col(member.lon).between(lon - dlon, lon + dlon),
        )
    )
    rows = conn.execute(statement).all()
    candidates = [
        Candidate(incident, contact_id, float(m_lat), float(m_lon), received)
        for incident, contact_id, m_lat, m_lon, received, _ in rows
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


async def _incident_view(session: AsyncSession, incident_id: str) -> IncidentView:
    row = await session.get(IncidentRow, incident_id)
    if row is None:
        raise _incident_not_found(incident_id)
    extra = await session.get(IncidentDispatchRow, incident_id)
    members = (
        await session.exec(
            select(IncidentContactRow).where(IncidentContactRow.incident_id == incident_id)
        )
    ).all()
    order = {c: i for i, c in enumerate(json.loads(row.contact_ids))}
    location = (
        Location(
            row.lat,
            row.lon,
            row.accuracy_m,
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


def _unit_not_found(unit_id: str) -> NotFound:
    return NotFound(f"unit {unit_id} not found", error_id="unit_not_found")


def _incident_not_found(incident_id: str) -> NotFound:
    return NotFound(f"incident {incident_id} not found", error_id="incident_not_found")


__all__ = ["CAMERA_BATCH", "SqlDispatchRepository"]
