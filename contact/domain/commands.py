"""Imperative commands: what an operator or a channel asks the center to do.

A command has exactly one handler and fails loud: the caller sees the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from contact.domain.model import (
    Attachment,
    ChannelKind,
    IncidentState,
    Language,
    Location,
    Presence,
)


@dataclass(frozen=True, kw_only=True)
class Command:
    name: ClassVar[str] = "command"

    @property
    def key(self) -> str | None:
        return getattr(self, "contact_id", None)


@dataclass(frozen=True, kw_only=True)
class RegisterContact(Command):
    """A channel hands over a new contact; it is stored before this command returns."""

    name: ClassVar[str] = "register_contact"
    channel: ChannelKind
    text: str
    language: Language | None = None
    citizen: str | None = None
    location: Location | None = None
    attachments: tuple[tuple[Attachment, bytes], ...] = ()
    external_id: str | None = None  # the channel's own message / idempotency key
    information_only: bool = False


@dataclass(frozen=True, kw_only=True)
class Accept(Command):
    name: ClassVar[str] = "accept"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Decline(Command):
    name: ClassVar[str] = "decline"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Reply(Command):
    name: ClassVar[str] = "reply"
    contact_id: str
    operator_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Close(Command):
    name: ClassVar[str] = "close"
    contact_id: str
    operator_id: str
    disposition: str | None = None
    wrap_up: bool = False  # go through wrap-up instead of closing at once


@dataclass(frozen=True, kw_only=True)
class Abandon(Command):
    name: ClassVar[str] = "abandon"
    contact_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateLocation(Command):
    name: ClassVar[str] = "update_location"
    contact_id: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class SetPresence(Command):
    name: ClassVar[str] = "set_presence"
    operator_id: str
    presence: Presence


@dataclass(frozen=True, kw_only=True)
class AssignNext(Command):
    """Pair waiting contacts with ready operators until one side runs out."""

    name: ClassVar[str] = "assign_next"


# --- dispatch ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DispatchUnit(Command):
    """Send an available unit to a contact's location (the operator's one action)."""

    name: ClassVar[str] = "dispatch_unit"
    contact_id: str
    unit_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class CancelDispatch(Command):
    name: ClassVar[str] = "cancel_dispatch"
    dispatch_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class AcknowledgeDispatch(Command):
    name: ClassVar[str] = "acknowledge_dispatch"
    unit_id: str
    dispatch_id: str


@dataclass(frozen=True, kw_only=True)
class ReportUnitStatus(Command):
    """A unit (or an operator on its behalf) reports a status: en_route, on_scene …"""

    name: ClassVar[str] = "report_unit_status"
    unit_id: str
    status: str
    source: str = "unit"  # unit | operator | geofence | system
    actor: str | None = None  # the operator id when source is operator


@dataclass(frozen=True, kw_only=True)
class MergeIncidents(Command):
    """Move every contact of `other_id` into `incident_id`; `other_id` is closed."""

    name: ClassVar[str] = "merge_incidents"
    incident_id: str
    other_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class SplitIncident(Command):
    """Move some contacts of an incident into a new incident of their own."""

    name: ClassVar[str] = "split_incident"
    incident_id: str
    contact_ids: tuple[str, ...]
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class SetIncidentState(Command):
    name: ClassVar[str] = "set_incident_state"
    incident_id: str
    state: IncidentState
    operator_id: str


# --- chat channels ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddCitizenMessage(Command):
    """A follow-up from the citizen on an open contact (a chat's next message), stored with
    its attachments in one transaction; a shared location also moves the contact. Conflict
    `contact_closed` when the contact is over: the channel then opens a new one."""

    name: ClassVar[str] = "add_citizen_message"
    contact_id: str
    text: str
    external_id: str | None = None  # the channel's own message id (dedupe)
    attachments: tuple[tuple[Attachment, bytes], ...] = ()
    location: Location | None = None


# --- telephony --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReturnToQueue(Command):
    """A connected voice contact goes back to its place in the queue: the operator's phone did
    not answer, failed, or a transfer failed (a call is never dropped by our error)."""

    name: ClassVar[str] = "return_to_queue"
    contact_id: str
    reason: str  # no_answer | operator_failed | transfer_failed | error
