"""SQLModel tables for units, unit statuses, cameras, districts, dispatches and incident
grouping, owned by dispatch. Migrated by revision 0002 of the one Alembic chain
(contact/persistence/migrations); contact/schema.py gathers them with every other table.

Incidents themselves live in `incidents` (revision 0001); what grouping and dispatch add about
an incident (its district, the time of its last contact, what it was merged into) is in
`incident_dispatch`, and each grouped contact's own place and time in `incident_contacts`, so a
split can recompute both halves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Text
from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class UnitRow(Base, table=True):
    __tablename__ = "units"

    id: str = Field(primary_key=True)
    callsign: str = Field(unique=True)
    kind: str  # car | foot | bike
    district_id: str | None = None
    department: str | None = None
    crew: str = Field(default="[]", sa_type=Text)  # JSON list of names
    status: str = Field(index=True)
    status_at: datetime = Field(sa_type=UtcDateTime)
    dispatch_id: str | None = None  # the assignment being worked
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    position_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    token_hash: str | None = None  # sha256 of the unit's API token; the token is never stored
    active: bool = True
    created_at: datetime = Field(sa_type=UtcDateTime)


class UnitStatusRow(Base, table=True):
    """Every status a unit had, with when and who said so."""

    __tablename__ = "unit_status_history"
    __table_args__ = (Index(None, "unit_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: str
    status: str
    at: datetime = Field(sa_type=UtcDateTime)
    source: str  # operator | unit | geofence | system | cli
    actor: str | None = None
    dispatch_id: str | None = None


class DispatchRow(Base, table=True):
    """One unit sent to one contact, with the timestamps response times are measured on."""

    __tablename__ = "dispatches"

    id: str = Field(primary_key=True)
    contact_id: str = Field(index=True)
    incident_id: str | None = Field(default=None, index=True)
    unit_id: str = Field(index=True)
    operator_id: str
    district_id: str | None = None
    lat: float
    lon: float
    eta_s: float | None = None
    eta_source: str | None = None
    state: str = Field(index=True)  # active | completed | cancelled
    received_at: datetime = Field(sa_type=UtcDateTime)  # the contact's arrival
    dispatched_at: datetime = Field(sa_type=UtcDateTime, index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    en_route_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # the supervisor's response times read the arrivals of a period
    arrived_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    cleared_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    response_s: float | None = None  # received -> arrived
    first_on_scene: bool = False  # the first arrival at its incident (counted in reports)


class CameraRow(Base, table=True):
    __tablename__ = "cameras"

    id: str = Field(primary_key=True)
    lat: float
    lon: float
    heading_deg: float
    fov_deg: float
    range_m: float
    stream_url: str = Field(sa_type=Text)  # may hold credentials: never sent to browsers
    snapshot_url: str | None = Field(default=None, sa_type=Text)
    district_id: str | None = None
    imported_at: datetime = Field(sa_type=UtcDateTime, index=True)


class CameraHealthRow(Base, table=True):
    """Snapshot fetches through the proxy: failures show on the supervisor page."""

    __tablename__ = "camera_health"

    camera_id: str = Field(primary_key=True)
    ok_count: int = Field(default=0, sa_type=BigInteger)
    failure_count: int = Field(default=0, sa_type=BigInteger)
    consecutive_failures: int = 0
    last_ok_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = None


class DistrictRow(Base, table=True):
    __tablename__ = "districts"

    id: str = Field(primary_key=True)
    name_kk: str
    name_ru: str
    name_en: str | None = None  # revision 0016; None: the English pages show name_ru
    department: str
    geometry: str = Field(sa_type=Text)  # the GeoJSON geometry, as imported
    position: int = 0  # file order: it decides points on a shared border
    imported_at: datetime = Field(sa_type=UtcDateTime)


class IncidentDispatchRow(Base, table=True):
    """What grouping and dispatch know about an incident, beside `incidents`."""

    __tablename__ = "incident_dispatch"

    incident_id: str = Field(primary_key=True)
    district_id: str | None = None
    department: str | None = None
    outside_districts: bool = False
    last_contact_at: datetime = Field(sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    merged_into: str | None = None


class IncidentContactRow(Base, table=True):
    """A contact's membership of an incident, with its own place, time and category."""

    __tablename__ = "incident_contacts"
    # grouping reads the last window's members in the grid cells around a point
    # (dispatch/grouping.py): each cell from the window's start, the box inside the index
    __table_args__ = (Index(None, "cell", "received_at", "lat", "lon"),)

    contact_id: str = Field(primary_key=True)
    incident_id: str = Field(index=True)
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    cell: int | None = Field(default=None, sa_type=BigInteger)  # grid_cell(lat, lon)
    received_at: datetime = Field(sa_type=UtcDateTime)
    joined_at: datetime = Field(sa_type=UtcDateTime)
    how: str  # created | grouped | merged | split | manual


__all__ = [
    "CameraHealthRow",
    "CameraRow",
    "DispatchRow",
    "DistrictRow",
    "IncidentContactRow",
    "IncidentDispatchRow",
    "UnitRow",
    "UnitStatusRow",
]
