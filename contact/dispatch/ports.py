"""Dispatch's seams: the store the dispatch services depend on, one Protocol per concern and
`DispatchRepository`, all of them together.

Adapters: `SqlDispatchRepository` (contact/dispatch/sql/, SQLite and PostgreSQL) and the test
fake (tests/fakes_dispatch.py); tests/contract/test_dispatch_repository.py runs the same
assertions on the three. Records are the pure dataclasses of contact/dispatch/model.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from contact.context import Key
from contact.dispatch.camera_table import CameraTable
from contact.dispatch.cameras import Camera
from contact.dispatch.grouping import Candidate, Match
from contact.dispatch.model import (
    CameraHealth,
    DispatchRecord,
    DistrictRecord,
    GroupResult,
    IncidentView,
    NewContact,
    StatusChange,
    UnitRecord,
)
from contact.dispatch.units import UnitPosition, UnitStatus
from contact.domain.model import Contact, ContactState, IncidentState

# picks the incident a contact joins among the candidates (members of open incidents nearby,
# and each incident's category), or None for a new incident: grouping.choose_incident
Chooser = Callable[[list[Candidate], dict[str, str | None]], Match | None]


class ContactReader(Protocol):
    """What dispatch reads of the kernel's contacts (a ContactRepository has it)."""

    async def get(self, contact_id: str) -> Contact: ...

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]: ...


class UnitStore(Protocol):
    """The registry of units, their status machine (model.ALLOWED_FROM) and positions."""

    async def add_unit(self, unit: UnitRecord, token_hash: str | None) -> None:
        """Conflict `unit_exists` when the id or the call sign is taken."""

    async def update_unit(self, unit: UnitRecord) -> None:
        """Registry fields only (call sign, kind, district, department, crew, active);
        NotFound `unit_not_found`, Conflict `unit_exists` for a taken call sign."""

    async def get_unit(self, unit_id: str) -> UnitRecord:
        """NotFound `unit_not_found`."""

    async def unit_by_callsign(self, callsign: str) -> UnitRecord | None: ...

    async def units(self) -> list[UnitRecord]:
        """Every unit, by call sign."""

    async def unit_token_hash(self, unit_id: str) -> str | None:
        """None for an unknown or inactive unit."""

    async def set_unit_token(self, unit_id: str, token_hash: str) -> None: ...

    async def save_positions(self, positions: Sequence[tuple[str, UnitPosition]]) -> None:
        """The latest position of each unit; an older fix than the stored one is ignored."""

    async def set_status(
        self, unit_id: str, status: UnitStatus, at: datetime, source: str, actor: str | None
    ) -> StatusChange:
        """Move a unit along ALLOWED_FROM, advancing its dispatch in the same step (en route;
        arrival with the response time and first-on-scene; cleared: completed or cancelled).
        The same status again is no change. Conflict `unit_status_not_allowed` otherwise."""

    async def status_history(
        self, unit_id: str, limit: int = 50
    ) -> list[tuple[str, datetime, str]]:
        """(status, at, source), newest first."""


class DispatchLog(Protocol):
    """Dispatches: the claim of an available unit and the times response is measured on."""

    async def dispatch(self, record: DispatchRecord) -> UnitRecord:
        """Claim an available, active unit (it becomes DISPATCHED) and store the dispatch,
        atomically. Conflict `unit_not_available` otherwise; NotFound `unit_not_found`."""

    async def get_dispatch(self, dispatch_id: str) -> DispatchRecord:
        """NotFound `dispatch_not_found`."""

    async def acknowledge(
        self, unit_id: str, dispatch_id: str, at: datetime
    ) -> tuple[DispatchRecord, bool]:
        """(dispatch, True) the first time. NotFound `dispatch_not_found` (also for another
        unit's dispatch), Conflict `dispatch_cancelled`."""

    async def dispatches(
        self,
        *,
        contact_ids: Iterable[str] = (),
        incident_id: str | None = None,
        unit_id: str | None = None,
        active_only: bool = False,
    ) -> list[DispatchRecord]:
        """Of these contacts or this incident (either), oldest first."""

    async def set_dispatch_incident(self, contact_id: str, incident_id: str) -> None: ...

    async def arrivals(
        self, since: datetime, until: datetime
    ) -> list[tuple[str | None, float, datetime]]:
        """(district, response seconds, arrived at) of each first unit on scene, arrived
        within [since, until)."""

    async def dispatch_counts(self, since: datetime, until: datetime) -> dict[str | None, int]:
        """Dispatches per district, dispatched within [since, until)."""


class IncidentStore(Protocol):
    """Incidents as grouping and dispatch see them: members, district, merge and split."""

    async def group(
        self, contact: NewContact, window_start: datetime, choose: Chooser, near_m: float
    ) -> GroupResult:
        """Put a contact into the incident `choose` picks among the members of open
        incidents received since `window_start` within `near_m` of it, or into a new one;
        atomic across nodes, idempotent per contact (`already`). `choose` is handed the
        nearest such member of each incident (ties: the most recent), which is all its
        nearest-first choice needs."""

    async def incident(self, incident_id: str) -> IncidentView:
        """NotFound `incident_not_found`."""

    async def incident_of_contact(self, contact_id: str) -> str | None: ...

    async def open_incidents(
        self, limit: int = 200, before: tuple[datetime, str] | None = None
    ) -> list[IncidentView]:
        """Open and dispatched incidents, newest first, a page after `before`
        ((created_at, id) of the previous page's last)."""

    async def merge(self, incident_id: str, other_id: str, at: datetime) -> tuple[str, ...]:
        """Move every contact of `other_id` into `incident_id`, close `other_id` as merged;
        the contacts that moved. Conflict `same_incident`, `incident_closed`."""

    async def split(
        self, incident_id: str, contact_ids: Sequence[str], new_incident_id: str, at: datetime
    ) -> None:
        """Move `contact_ids` into a new incident. Conflict `not_in_incident`,
        `split_needs_two_sides`, `incident_closed`."""

    async def set_incident_state(
        self, incident_id: str, state: IncidentState, at: datetime
    ) -> IncidentState:
        """The previous state. NotFound `incident_not_found`."""


class CameraStore(Protocol):
    """The city's cameras (imported from a registry file) and their snapshot health."""

    async def import_cameras(
        self,
        cameras: Sequence[Camera],
        at: datetime,
        *,
        replace_all: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert or update by id, all or nothing; `replace_all` drops the others."""

    async def cameras(self) -> list[Camera]:
        """Every camera, by id."""

    async def camera_table(self) -> CameraTable:
        """Every camera as columns, by id (what a node loads at start)."""

    async def cameras_version(self) -> tuple[int, datetime | None]:
        """(count, newest import time): changes whenever an import changes the table."""

    async def record_snapshot(
        self, camera_id: str, ok: bool, at: datetime, error: str | None = None
    ) -> None: ...

    async def camera_health(self, limit: int = 100) -> list[CameraHealth]:
        """Cameras whose last snapshots failed, the longest-failing first."""


class DistrictStore(Protocol):
    async def replace_districts(self, districts: Sequence[DistrictRecord], at: datetime) -> None:
        """A district file is the whole city: exactly these, at once."""

    async def districts(self) -> list[DistrictRecord]:
        """By position, then id."""

    async def districts_version(self) -> tuple[int, datetime | None]: ...


class DispatchRepository(
    UnitStore, DispatchLog, IncidentStore, CameraStore, DistrictStore, Protocol
):
    """Everything the dispatch services keep."""


__all__ = [
    "CameraStore",
    "Chooser",
    "ContactReader",
    "DispatchLog",
    "DispatchRepository",
    "DistrictStore",
    "IncidentStore",
    "UnitStore",
]


# the composition root builds dispatch's store on the shared database whether or not the
# plugin is on (the supervisor's figures read its arrivals): the plugin and the demo get it here
DISPATCH_STORE: Key[DispatchRepository] = Key("dispatch_store")
