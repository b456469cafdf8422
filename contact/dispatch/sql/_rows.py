"""Rows to records and back, shared by the parts of the dispatch repository."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam

from contact.dispatch.model import (
    DispatchRecord,
    DispatchState,
    UnitRecord,
)
from contact.dispatch.sql.tables import (
    DispatchRow,
    UnitRow,
)
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.errors import NotFound
from contact.persistence.engine import Store


class SqlPart:
    """One concern of the dispatch repository over the shared Store."""

    def __init__(self, store: Store) -> None:
        self._store = store


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


def _unit_not_found(unit_id: str) -> NotFound:
    return NotFound(f"unit {unit_id} not found", error_id="unit_not_found")


def _incident_not_found(incident_id: str) -> NotFound:
    return NotFound(f"incident {incident_id} not found", error_id="incident_not_found")
