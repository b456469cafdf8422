"""A fake of dispatch's store (contact.dispatch.ports.DispatchRepository) in dicts.

tests/contract/test_dispatch_repository.py runs the same assertions on it and on the SQL
adapter (SQLite, PostgreSQL), so it cannot drift from what the database does. It keeps the
kernel's side of grouping too: the incidents it opens, and (given the contacts' fake) each
grouped contact's `incident_id`, as the SQL adapter writes `incidents` and `contacts`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contact.dispatch.camera_table import CameraTable, CameraTableBuilder
from contact.dispatch.cameras import Camera
from contact.dispatch.grouping import Candidate, incident_category
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
from contact.dispatch.ports import Chooser, DispatchRepository
from contact.dispatch.sql import CAMERA_BATCH  # progress in the same steps as the SQL adapter
from contact.dispatch.units import UnitPosition, UnitStatus
from contact.domain.model import Incident, IncidentState, Location, new_id, plausible_accuracy
from contact.errors import Conflict, NotFound
from tests.fakes import FakeContactRepository

_OPEN = (IncidentState.OPEN, IncidentState.DISPATCHED)


@dataclass
class _Incident:
    """An incident's row and what grouping keeps beside it (`incident_dispatch`)."""

    id: str
    created_at: datetime
    state: IncidentState
    category: str | None
    location: Location | None
    contact_ids: list[str]
    district_id: str | None
    department: str | None
    outside_districts: bool
    last_contact_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    merged_into: str | None = None


@dataclass
class _Health:
    ok_count: int = 0
    failure_count: int = 0
    consecutive_failures: int = 0
    last_ok_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None


class FakeDispatchRepository:
    def __init__(self, contacts: FakeContactRepository | None = None) -> None:
        self._contacts = contacts
        self.unit_rows: dict[str, UnitRecord] = {}
        self.tokens: dict[str, str | None] = {}
        self.history: list[tuple[str, str, datetime, str, str | None, str | None]] = []
        self.dispatch_rows: dict[str, DispatchRecord] = {}
        self.incidents: dict[str, _Incident] = {}
        self.members: dict[str, IncidentMember] = {}  # by contact id
        self.camera_rows: dict[str, tuple[Camera, datetime]] = {}
        self.health: dict[str, _Health] = {}
        self.district_rows: list[tuple[DistrictRecord, datetime]] = []

    # --- units ------------------------------------------------------------------------------

    async def add_unit(self, unit: UnitRecord, token_hash: str | None) -> None:
        if unit.id in self.unit_rows or await self.unit_by_callsign(unit.callsign):
            raise Conflict(
                f"a unit with id {unit.id!r} or call sign {unit.callsign!r} exists",
                error_id="unit_exists",
                details={"unit_id": unit.id, "callsign": unit.callsign},
            )
        self.unit_rows[unit.id] = unit
        self.tokens[unit.id] = token_hash
        self.history.append((unit.id, unit.status.value, unit.status_at, "cli", None, None))

    async def update_unit(self, unit: UnitRecord) -> None:
        known = self.unit_rows.get(unit.id)
        if known is None:
            raise _unit_not_found(unit.id)
        other = await self.unit_by_callsign(unit.callsign)
        if other is not None and other.id != unit.id:
            raise Conflict(f"call sign {unit.callsign!r} is taken", error_id="unit_exists")
        self.unit_rows[unit.id] = replace(
            known,
            callsign=unit.callsign,
            kind=unit.kind,
            district_id=unit.district_id,
            department=unit.department,
            crew=tuple(unit.crew),
            active=unit.active,
        )

    async def get_unit(self, unit_id: str) -> UnitRecord:
        unit = self.unit_rows.get(unit_id)
        if unit is None:
            raise _unit_not_found(unit_id)
        return unit

    async def unit_by_callsign(self, callsign: str) -> UnitRecord | None:
        return next((u for u in self.unit_rows.values() if u.callsign == callsign), None)

    async def units(self) -> list[UnitRecord]:
        return sorted(self.unit_rows.values(), key=lambda u: u.callsign)

    async def unit_token_hash(self, unit_id: str) -> str | None:
        unit = self.unit_rows.get(unit_id)
        return None if unit is None or not unit.active else self.tokens.get(unit_id)

    async def set_unit_token(self, unit_id: str, token_hash: str) -> None:
        if unit_id not in self.unit_rows:
            raise _unit_not_found(unit_id)
        self.tokens[unit_id] = token_hash

    async def save_positions(self, positions: Sequence[tuple[str, UnitPosition]]) -> None:
        for unit_id, position in positions:
            unit = self.unit_rows.get(unit_id)
            if unit is None:
                continue
            stored = unit.position.at if unit.position is not None else None
            # SQL: position_at IS NULL OR position_at <= :at (a NULL :at compares to nothing)
            if stored is None or (position.at is not None and stored <= position.at):
                self.unit_rows[unit_id] = replace(unit, position=position)

    async def set_status(
        self, unit_id: str, status: UnitStatus, at: datetime, source: str, actor: str | None
    ) -> StatusChange:
        unit = await self.get_unit(unit_id)
        dispatch = self.dispatch_rows.get(unit.dispatch_id) if unit.dispatch_id else None
        if unit.status is status:
            return StatusChange(unit, unit.status, dispatch, changed=False)
        if unit.status not in ALLOWED_FROM[status]:
            raise Conflict(
                f"unit {unit.callsign} is {unit.status.value}; it cannot become {status.value}",
                error_id="unit_status_not_allowed",
                details={"status": unit.status.value, "wanted": status.value},
            )
        moved = replace(unit, status=status, status_at=at)
        if dispatch is not None:
            dispatch = self._advance(dispatch, status, at)
            self.dispatch_rows[dispatch.id] = dispatch
            if dispatch.state is not DispatchState.ACTIVE:
                moved = replace(moved, dispatch_id=None)
        self.unit_rows[unit_id] = moved
        self.history.append(
            (unit_id, status.value, at, source, actor, dispatch.id if dispatch else None)
        )
        return StatusChange(moved, unit.status, dispatch, changed=True)

    def _advance(self, d: DispatchRecord, status: UnitStatus, at: datetime) -> DispatchRecord:
        if status is UnitStatus.EN_ROUTE and d.en_route_at is None:
            return replace(d, en_route_at=at)
        if status is UnitStatus.ON_SCENE and d.arrived_at is None:
            same: Callable[[DispatchRecord], bool] = (
                (lambda o: o.incident_id == d.incident_id)
                if d.incident_id is not None
                else (lambda o: o.contact_id == d.contact_id)
            )
            someone = any(
                same(o) and o.id != d.id and o.arrived_at is not None
                for o in self.dispatch_rows.values()
            )
            return replace(
                d,
                arrived_at=at,
                response_s=max(0.0, (at - d.received_at).total_seconds()),
                first_on_scene=not someone,
            )
        if status in (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE):
            state = DispatchState.COMPLETED if d.arrived_at else DispatchState.CANCELLED
            return replace(d, cleared_at=at, state=state)
        return d

    async def status_history(
        self, unit_id: str, limit: int = 50
    ) -> list[tuple[str, datetime, str]]:
        # newest first; rows of one instant in reverse order of writing (the SQL id)
        rows = [(i, h) for i, h in enumerate(self.history) if h[0] == unit_id]
        rows.sort(key=lambda r: (r[1][2], r[0]), reverse=True)
        return [(h[1], h[2], h[3]) for _, h in rows[:limit]]

    # --- dispatches -------------------------------------------------------------------------

    async def dispatch(self, record: DispatchRecord) -> UnitRecord:
        unit = await self.get_unit(record.unit_id)
        if not unit.active or unit.status is not UnitStatus.AVAILABLE:
            raise Conflict(
                f"unit {unit.callsign} is {unit.status.value}, not available",
                error_id="unit_not_available",
                details={"unit_id": unit.id, "status": unit.status.value},
            )
        claimed = replace(
            unit,
            status=UnitStatus.DISPATCHED,
            status_at=record.dispatched_at,
            dispatch_id=record.id,
        )
        self.unit_rows[unit.id] = claimed
        self.dispatch_rows[record.id] = record
        self.history.append(
            (
                unit.id,
                UnitStatus.DISPATCHED.value,
                record.dispatched_at,
                "operator",
                record.operator_id,
                record.id,
            )
        )
        return claimed

    async def get_dispatch(self, dispatch_id: str) -> DispatchRecord:
        found = self.dispatch_rows.get(dispatch_id)
        if found is None:
            raise NotFound(f"dispatch {dispatch_id} not found", error_id="dispatch_not_found")
        return found

    async def acknowledge(
        self, unit_id: str, dispatch_id: str, at: datetime
    ) -> tuple[DispatchRecord, bool]:
        found = self.dispatch_rows.get(dispatch_id)
        if found is None or found.unit_id != unit_id:
            raise NotFound("no such dispatch for this unit", error_id="dispatch_not_found")
        if found.state is DispatchState.CANCELLED:
            raise Conflict("this dispatch was cancelled", error_id="dispatch_cancelled")
        first = found.acknowledged_at is None
        if first:
            found = replace(found, acknowledged_at=at)
            self.dispatch_rows[dispatch_id] = found
        return found, first

    async def dispatches(
        self,
        *,
        contact_ids: Iterable[str] = (),
        incident_id: str | None = None,
        unit_id: str | None = None,
        active_only: bool = False,
    ) -> list[DispatchRecord]:
        ids = set(contact_ids)

        def wanted(d: DispatchRecord) -> bool:
            either = d.contact_id in ids or (incident_id and d.incident_id == incident_id)
            if (ids or incident_id is not None) and not either:
                return False
            if unit_id is not None and d.unit_id != unit_id:
                return False
            return not active_only or d.state is DispatchState.ACTIVE

        found = [d for d in self.dispatch_rows.values() if wanted(d)]
        return sorted(found, key=lambda d: (d.dispatched_at, d.id))

    async def set_dispatch_incident(self, contact_id: str, incident_id: str) -> None:
        self._dispatches_follow([contact_id], incident_id)

    async def arrivals(
        self, since: datetime, until: datetime
    ) -> list[tuple[str | None, float, datetime]]:
        return [
            (d.district_id, float(d.response_s), d.arrived_at)
            for d in self.dispatch_rows.values()
            if d.first_on_scene
            and d.arrived_at is not None
            and since <= d.arrived_at < until
            and d.response_s is not None
        ]

    async def dispatch_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for d in self.dispatch_rows.values():
            if since <= d.dispatched_at < until:
                counts[d.district_id] = counts.get(d.district_id, 0) + 1
        return counts

    # --- incidents --------------------------------------------------------------------------

    async def group(
        self, contact: NewContact, window_start: datetime, choose: Chooser, near_m: float
    ) -> GroupResult:
        known = self.members.get(contact.contact_id)
        if known is not None:
            return GroupResult(known.incident_id, created=False, distance_m=None, already=True)
        dlat = near_m / 111_320.0
        dlon = near_m / (111_320.0 * max(math.cos(math.radians(contact.lat)), 0.01))
        at = contact.received_at
        candidates: list[Candidate] = []
        categories: dict[str, str | None] = {}
        for m in self.members.values():
            incident = self.incidents[m.incident_id]
            if (
                incident.state in _OPEN
                and window_start <= m.received_at <= at + (at - window_start)
                and m.lat is not None
                and m.lon is not None
                and contact.lat - dlat <= m.lat <= contact.lat + dlat
                and contact.lon - dlon <= m.lon <= contact.lon + dlon
            ):
                candidates.append(
                    Candidate(m.incident_id, m.contact_id, m.lat, m.lon, m.received_at)
                )
                categories[m.incident_id] = incident.category
        coslat = math.cos(math.radians(contact.lat))
        nearest: dict[str, Candidate] = {}
        for c in sorted(
            candidates,
            key=lambda c: (
                (c.lat - contact.lat) ** 2 + ((c.lon - contact.lon) * coslat) ** 2,
                -c.received_at.timestamp(),
            ),
        ):
            nearest.setdefault(c.incident_id, c)
        match = choose(list(nearest.values()), categories)
        at = contact.received_at
        if match is None:
            incident_id, distance, how = new_id(), None, "created"
            self.incidents[incident_id] = _Incident(
                id=incident_id,
                created_at=at,
                state=IncidentState.OPEN,
                category=contact.category,
                location=Location(contact.lat, contact.lon, contact.accuracy_m),
                contact_ids=[contact.contact_id],
                district_id=contact.district_id,
                department=contact.department,
                outside_districts=contact.outside_districts,
                last_contact_at=at,
                updated_at=at,
            )
        else:
            incident_id, distance, how = match.incident_id, match.distance_m, "grouped"
            incident = self.incidents[incident_id]
            incident.contact_ids.append(contact.contact_id)
            if incident.category is None:
                incident.category = contact.category
            incident.last_contact_at = max(incident.last_contact_at, at)
            incident.updated_at = at
        self.members[contact.contact_id] = IncidentMember(
            contact.contact_id, incident_id, contact.category, contact.lat, contact.lon, at, at, how
        )
        self._contacts_follow([contact.contact_id], incident_id)
        return GroupResult(incident_id, created=match is None, distance_m=distance)

    async def incident(self, incident_id: str) -> IncidentView:
        found = self.incidents.get(incident_id)
        if found is None:
            raise _incident_not_found(incident_id)
        return self._view(found)

    def _view(self, i: _Incident) -> IncidentView:
        order = {c: n for n, c in enumerate(i.contact_ids)}
        members = [m for m in self.members.values() if m.incident_id == i.id]
        location = (
            replace(i.location, accuracy_m=plausible_accuracy(i.location.accuracy_m))
            if i.location is not None
            else None
        )
        return IncidentView(
            incident=Incident(
                id=i.id,
                created_at=i.created_at,
                state=i.state,
                category=i.category,
                location=location,
                contact_ids=list(i.contact_ids),
            ),
            district_id=i.district_id,
            department=i.department,
            outside_districts=i.outside_districts,
            last_contact_at=i.last_contact_at,
            updated_at=i.updated_at,
            closed_at=i.closed_at,
            merged_into=i.merged_into,
            members=tuple(sorted(members, key=lambda m: order.get(m.contact_id, len(order)))),
        )

    async def incident_of_contact(self, contact_id: str) -> str | None:
        member = self.members.get(contact_id)
        return None if member is None else member.incident_id

    async def open_incidents(
        self, limit: int = 200, before: tuple[datetime, str] | None = None
    ) -> list[IncidentView]:
        found = [
            i
            for i in self.incidents.values()
            if i.state in _OPEN and (before is None or (i.created_at, i.id) < before)
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=True)
        return [self._view(i) for i in found[:limit]]

    def _open_incident(self, incident_id: str) -> _Incident:
        found = self.incidents.get(incident_id)
        if found is None:
            raise _incident_not_found(incident_id)
        if found.state is IncidentState.CLOSED:
            raise Conflict(f"incident {incident_id} is closed", error_id="incident_closed")
        return found

    async def merge(self, incident_id: str, other_id: str, at: datetime) -> tuple[str, ...]:
        if incident_id == other_id:
            raise Conflict("an incident cannot be merged into itself", error_id="same_incident")
        target = self._open_incident(incident_id)
        source = self._open_incident(other_id)
        moved = tuple(source.contact_ids)
        target.contact_ids = [*target.contact_ids, *moved]
        if target.category is None:
            target.category = source.category
        source.contact_ids = []
        source.state = IncidentState.CLOSED
        self._move_members(moved, incident_id, at, "merged")
        target.updated_at = at
        target.last_contact_at = max(target.last_contact_at, source.last_contact_at)
        source.merged_into = incident_id
        source.closed_at = at
        source.updated_at = at
        if self._has_active_dispatch(incident_id, moved):
            target.state = IncidentState.DISPATCHED
        return moved

    async def split(
        self, incident_id: str, contact_ids: Sequence[str], new_incident_id: str, at: datetime
    ) -> None:
        source = self._open_incident(incident_id)
        current = list(source.contact_ids)
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
        for side, new in ((moving, True), (staying, False)):
            known = [self.members[c] for c in side if c in self.members]
            category = incident_category(m.category for m in known)
            located = [m for m in known if m.lat is not None and m.lon is not None]
            location = Location(located[0].lat, located[0].lon) if located else None  # type: ignore[arg-type]
            last = max((m.received_at for m in known), default=at)
            if new:
                self.incidents[new_incident_id] = _Incident(
                    id=new_incident_id,
                    created_at=at,
                    state=IncidentState.OPEN,
                    category=category,
                    location=location,
                    contact_ids=list(side),
                    district_id=source.district_id,
                    department=source.department,
                    outside_districts=source.outside_districts,
                    last_contact_at=last,
                    updated_at=at,
                )
            else:
                source.contact_ids = list(side)
                source.category = category
                source.location = location
                source.last_contact_at = last
                source.updated_at = at
        self._move_members(moving, new_incident_id, at, "split")
        for incident, side in ((incident_id, staying), (new_incident_id, moving)):
            held = self._has_active_dispatch(incident, side)
            self.incidents[incident].state = (
                IncidentState.DISPATCHED if held else IncidentState.OPEN
            )

    async def set_incident_state(
        self, incident_id: str, state: IncidentState, at: datetime
    ) -> IncidentState:
        found = self.incidents.get(incident_id)
        if found is None:
            raise _incident_not_found(incident_id)
        previous, found.state = found.state, state
        found.updated_at = at
        found.closed_at = at if state is IncidentState.CLOSED else None
        return previous

    def _move_members(
        self, contact_ids: Sequence[str], incident_id: str, at: datetime, how: str
    ) -> None:
        for c in contact_ids:
            if c in self.members:
                self.members[c] = replace(
                    self.members[c], incident_id=incident_id, joined_at=at, how=how
                )
        self._contacts_follow(contact_ids, incident_id)
        self._dispatches_follow(contact_ids, incident_id)

    def _dispatches_follow(self, contact_ids: Sequence[str], incident_id: str) -> None:
        for d in list(self.dispatch_rows.values()):
            if d.contact_id in contact_ids:
                self.dispatch_rows[d.id] = replace(d, incident_id=incident_id)

    def _contacts_follow(self, contact_ids: Sequence[str], incident_id: str) -> None:
        if self._contacts is None:
            return
        for c in contact_ids:
            if c in self._contacts.contacts:
                self._contacts.contacts[c] = replace(
                    self._contacts.contacts[c], incident_id=incident_id
                )

    def _has_active_dispatch(self, incident_id: str, contact_ids: Sequence[str]) -> bool:
        return any(
            (d.incident_id == incident_id or d.contact_id in contact_ids)
            and d.state is DispatchState.ACTIVE
            for d in self.dispatch_rows.values()
        )

    # --- cameras ----------------------------------------------------------------------------

    async def import_cameras(
        self,
        cameras: Sequence[Camera],
        at: datetime,
        *,
        replace_all: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        rows = {} if replace_all else dict(self.camera_rows)
        for start in range(0, len(cameras), CAMERA_BATCH):
            batch = cameras[start : start + CAMERA_BATCH]
            rows.update((c.id, (c, at)) for c in batch)
            if progress is not None:
                progress(start + len(batch))
        self.camera_rows = rows  # all or nothing
        return len(cameras)

    async def cameras(self) -> list[Camera]:
        return [self.camera_rows[k][0] for k in sorted(self.camera_rows)]

    async def camera_table(self) -> CameraTable:
        builder = CameraTableBuilder()
        builder.add([_camera_tuple(c) for c in await self.cameras()])
        return builder.build()

    async def cameras_version(self) -> tuple[int, datetime | None]:
        times = [at for _, at in self.camera_rows.values()]
        return len(times), max(times, default=None)

    async def record_snapshot(
        self, camera_id: str, ok: bool, at: datetime, error: str | None = None
    ) -> None:
        h = self.health.setdefault(camera_id, _Health())
        if ok:
            h.ok_count += 1
            h.consecutive_failures = 0
            h.last_ok_at = at
        else:
            h.failure_count += 1
            h.consecutive_failures += 1
            h.last_failure_at = at
            h.last_error = (error or "")[:300]

    async def camera_health(self, limit: int = 100) -> list[CameraHealth]:
        failing = sorted(
            ((k, h) for k, h in self.health.items() if h.consecutive_failures > 0),
            key=lambda kh: (-kh[1].consecutive_failures, kh[0]),
        )
        return [
            CameraHealth(
                k,
                h.ok_count,
                h.failure_count,
                h.consecutive_failures,
                h.last_ok_at,
                h.last_failure_at,
                h.last_error,
            )
            for k, h in failing[:limit]
        ]

    # --- districts --------------------------------------------------------------------------

    async def replace_districts(self, districts: Sequence[DistrictRecord], at: datetime) -> None:
        self.district_rows = [(d, at) for d in districts]

    async def districts(self) -> list[DistrictRecord]:
        return sorted((d for d, _ in self.district_rows), key=lambda d: (d.position, d.id))

    async def districts_version(self) -> tuple[int, datetime | None]:
        return len(self.district_rows), max((at for _, at in self.district_rows), default=None)


def _camera_tuple(c: Camera) -> tuple[Any, ...]:
    return (
        c.id,
        c.lat,
        c.lon,
        c.heading_deg,
        c.fov_deg,
        c.range_m,
        c.stream_url,
        c.snapshot_url,
        c.district,
    )


def _unit_not_found(unit_id: str) -> NotFound:
    return NotFound(f"unit {unit_id} not found", error_id="unit_not_found")


def _incident_not_found(incident_id: str) -> NotFound:
    return NotFound(f"incident {incident_id} not found", error_id="incident_not_found")


_: type[DispatchRepository] = FakeDispatchRepository  # the fake has the whole port
