"""What the dispatch services and their store exchange: units with their status, dispatches
with the timestamps response times are measured on, incidents with their grouped contacts.

Pure (no SDK): the store (ports.py; its SQL adapter in sql/) maps rows to these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from contact.dispatch.units import Unit, UnitKind, UnitPosition, UnitStatus
from contact.domain.model import Incident

# A unit's own reports move it along; DISPATCHED is set only by a dispatch (one action of an
# operator), so a unit cannot claim an assignment it was not given.
ALLOWED_FROM: dict[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.DISPATCHED: frozenset(),
    UnitStatus.EN_ROUTE: frozenset({UnitStatus.DISPATCHED}),
    UnitStatus.ON_SCENE: frozenset({UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE}),
    UnitStatus.TRANSPORTING: frozenset({UnitStatus.ON_SCENE}),
    UnitStatus.AVAILABLE: frozenset(
        {
            UnitStatus.DISPATCHED,
            UnitStatus.EN_ROUTE,
            UnitStatus.ON_SCENE,
            UnitStatus.TRANSPORTING,
            UnitStatus.OUT_OF_SERVICE,
        }
    ),
    UnitStatus.OUT_OF_SERVICE: frozenset(
        {
            UnitStatus.AVAILABLE,
            UnitStatus.DISPATCHED,
            UnitStatus.EN_ROUTE,
            UnitStatus.ON_SCENE,
            UnitStatus.TRANSPORTING,
        }
    ),
}

# statuses in which a unit works an assignment
ASSIGNED = frozenset(
    {UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING}
)


class DispatchState(StrEnum):
    ACTIVE = "active"  # the unit works it
    COMPLETED = "completed"  # the unit arrived and cleared
    CANCELLED = "cancelled"  # ended before the unit arrived


@dataclass(frozen=True, slots=True)
class UnitRecord:
    id: str
    callsign: str
    kind: UnitKind
    status: UnitStatus
    status_at: datetime
    district_id: str | None = None
    department: str | None = None
    crew: tuple[str, ...] = ()
    dispatch_id: str | None = None
    position: UnitPosition | None = None
    active: bool = True

    def as_unit(self) -> Unit:
        """What the ranking table needs; an inactive unit is never ranked."""
        status = self.status if self.active else UnitStatus.OUT_OF_SERVICE
        return Unit(self.id, self.kind, status, self.position, self.callsign, self.department)


@dataclass(frozen=True, slots=True)
class DispatchRecord:
    id: str
    contact_id: str
    incident_id: str | None
    unit_id: str
    operator_id: str
    district_id: str | None
    lat: float
    lon: float
    eta_s: float | None
    eta_source: str | None
    state: DispatchState
    received_at: datetime
    dispatched_at: datetime
    acknowledged_at: datetime | None = None
    en_route_at: datetime | None = None
    arrived_at: datetime | None = None
    cleared_at: datetime | None = None
    response_s: float | None = None
    first_on_scene: bool = False


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The outcome of one status report: the unit after it, what it was, its dispatch."""

    unit: UnitRecord
    previous: UnitStatus
    dispatch: DispatchRecord | None
    changed: bool  # False: the unit already had this status (a retry), nothing was written


@dataclass(frozen=True, slots=True)
class IncidentMember:
    contact_id: str
    incident_id: str
    category: str | None
    lat: float | None
    lon: float | None
    received_at: datetime
    joined_at: datetime
    how: str  # created | grouped | merged | split


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: Incident
    district_id: str | None
    department: str | None
    outside_districts: bool
    last_contact_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    merged_into: str | None
    members: tuple[IncidentMember, ...]


@dataclass(frozen=True, slots=True)
class NewContact:
    """A contact to place into an incident."""

    contact_id: str
    lat: float
    lon: float
    accuracy_m: float | None
    received_at: datetime
    category: str | None
    district_id: str | None
    department: str | None
    outside_districts: bool


@dataclass(frozen=True, slots=True)
class GroupResult:
    incident_id: str
    created: bool
    distance_m: float | None  # to the nearest contact of the incident it joined
    already: bool = False  # the contact was grouped before (a repeated event): nothing changed


@dataclass(frozen=True, slots=True)
class DistrictRecord:
    id: str
    name_kk: str
    name_ru: str
    department: str
    geometry: dict[str, Any]
    position: int
    name_en: str | None = None  # the English pages' name; None: they show name_ru


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: str
    ok_count: int
    failure_count: int
    consecutive_failures: int
    last_ok_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None


__all__ = [
    "ALLOWED_FROM",
    "ASSIGNED",
    "CameraHealth",
    "DispatchRecord",
    "DispatchState",
    "DistrictRecord",
    "GroupResult",
    "IncidentMember",
    "IncidentView",
    "NewContact",
    "StatusChange",
    "UnitRecord",
]
