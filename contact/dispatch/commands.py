"""Dispatch's commands: what an operator or a unit asks of the dispatch service, through the
bus like every command (each has one handler, in contact/dispatch/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contact.dispatch.model import DispatchRecord, StatusChange
from contact.domain.commands import Command
from contact.domain.model import IncidentState


@dataclass(frozen=True, kw_only=True)
class DispatchUnit(Command[DispatchRecord]):
    """Send an available unit to a contact's location (the operator's one action)."""

    name: ClassVar[str] = "dispatch_unit"
    contact_id: str
    unit_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class CancelDispatch(Command[StatusChange]):
    name: ClassVar[str] = "cancel_dispatch"
    dispatch_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class AcknowledgeDispatch(Command[DispatchRecord]):
    name: ClassVar[str] = "acknowledge_dispatch"
    unit_id: str
    dispatch_id: str


@dataclass(frozen=True, kw_only=True)
class ReportUnitStatus(Command[StatusChange]):
    """A unit (or an operator on its behalf) reports a status: en_route, on_scene …"""

    name: ClassVar[str] = "report_unit_status"
    unit_id: str
    status: str
    source: str = "unit"  # unit | operator | geofence | system
    actor: str | None = None  # the operator id when source is operator


@dataclass(frozen=True, kw_only=True)
class MergeIncidents(Command[tuple[str, ...]]):
    """Move every contact of `other_id` into `incident_id`; `other_id` is closed."""

    name: ClassVar[str] = "merge_incidents"
    incident_id: str
    other_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class SplitIncident(Command[str]):
    """Move some contacts of an incident into a new incident of their own."""

    name: ClassVar[str] = "split_incident"
    incident_id: str
    contact_ids: tuple[str, ...]
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class SetIncidentState(Command[IncidentState]):
    name: ClassVar[str] = "set_incident_state"
    incident_id: str
    state: IncidentState
    operator_id: str
