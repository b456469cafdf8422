"""Units and their dispatches in SQL.

Every change of a unit is one transaction with a conditional UPDATE (`WHERE status = …`), so
two operators (or two nodes) dispatching the same unit cannot both succeed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contact.dispatch.model import (
    ALLOWED_FROM,
    DispatchRecord,
    DispatchState,
    StatusChange,
    UnitRecord,
)
from contact.dispatch.sql._rows import (
    SqlPart,
    _bind,
    _dispatch_row,
    _position_columns,
    _to_dispatch,
    _to_unit,
    _unit_not_found,
)
from contact.dispatch.sql.tables import (
    DispatchRow,
    UnitRow,
    UnitStatusRow,
)
from contact.dispatch.units import UnitPosition, UnitStatus
from contact.errors import Conflict, NotFound
from contact.persistence.prepared import Prepared

_UNITS = UnitRow.__table__  # type: ignore[attr-defined]
_DISPATCHES = DispatchRow.__table__  # type: ignore[attr-defined]
_DISPATCH = Prepared(sa_select(_DISPATCHES).where(_DISPATCHES.c.id == bindparam("id")))
_UNIT_TOKEN = Prepared(
    sa_select(_UNITS.c.token_hash, _UNITS.c.active).where(_UNITS.c.id == bindparam("id"))
)


class SqlUnits(SqlPart):
    """Units, their status machine and positions; dispatches and their response times."""

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
        # before every request of a unit's device: one hop on the driver's cursor
        rows = await self._store.read_sync(lambda conn: _UNIT_TOKEN.rows(conn, {"id": unit_id}))
        return rows[0][0] if rows and rows[0][1] else None

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
        # every dispatch event's projection reads it: one hop on the driver's cursor
        rows = await self._store.read_sync(
            lambda conn: _DISPATCH.records(conn, {"id": dispatch_id})
        )
        if not rows:
            raise NotFound(f"dispatch {dispatch_id} not found", error_id="dispatch_not_found")
        return _to_dispatch(rows[0])

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
