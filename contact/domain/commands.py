"""Imperative commands: what an operator or a channel asks the center to do.

A command has exactly one handler and fails loud: the caller sees the error. `Command[R]`
names what its handler returns, so `await bus.execute(Accept(...))` is a `Contact` to mypy; a
command that names nothing returns `object` (nothing a caller should use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic

from typing_extensions import TypeVar

from contact.domain.model import (
    Attachment,
    ChannelKind,
    Contact,
    Language,
    Location,
    Message,
    Presence,
)

R = TypeVar("R", covariant=True, default=object)


@dataclass(frozen=True, kw_only=True)
class Command(Generic[R]):
    name: ClassVar[str] = "command"

    @property
    def key(self) -> str | None:
        return getattr(self, "contact_id", None)


@dataclass(frozen=True, slots=True)
class Registered:
    contact_id: str
    created: bool  # False: an idempotent retry matched a stored contact


@dataclass(frozen=True, kw_only=True)
class RegisterContact(Command[Registered]):
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
    # What triage reads: only the words the citizen wrote as a message. None: `text` is all
    # theirs. A channel whose `text` also holds its own labels or location data (a caller's
    # civic address, a kiosk's or site's address, a camera id) passes the citizen's part, or ""
    triage_text: str | None = None
    fingerprint: str | None = None  # what the request said, kept with external_id
    # run first in the intake's unit of work with its connection, before the replay look-up
    # and in the same transaction; refuses by raising, and then nothing is stored or told
    # (the app's check that a report without a device token is not from a registered device)
    guard: Callable[[Any], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class DeviceSource:
    """What a device contact comes from, stored with it: the app device, kiosk, alarm site or
    camera (`kind` device | kiosk | site | camera), with the cameras attached to it."""

    kind: str
    source_id: str
    camera_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


class Outcome(StrEnum):
    """What a device's intake did (OpenOrJoinContact's result)."""

    OPENED = "opened"  # a new contact, stored with its source
    REPLAYED = "replayed"  # an idempotent retry: the contact stored for its external id
    JOINED = "joined"  # added to the source's open contact
    COLLAPSED = "collapsed"  # a sticky source whose contact is over: counted, nothing added


@dataclass(frozen=True, slots=True)
class DeviceIntakeResult:
    contact_id: str
    outcome: Outcome
    requeued: bool = False  # joined a contact whose operator was not there: back in the queue

    @property
    def created(self) -> bool:
        return self.outcome is Outcome.OPENED


@dataclass(frozen=True, kw_only=True)
class OpenOrJoinContact(Command[DeviceIntakeResult]):
    """A device's intake (an app SOS, a kiosk's press, a school alarm, a camera alert): joins
    the open contact of its source (`source_key`), or opens `open` with its `source` stored in
    the same transaction. Decided atomically across nodes by the database
    (contact/channels/devices), one source at a time on a node (the bus key)."""

    name: ClassVar[str] = "open_or_join_contact"
    source_key: str  # kiosk:ID | site:ID | device:ID | camera-alert:WINDOW
    source: DeviceSource
    open: RegisterContact  # the contact to open when the source has none open
    join_text: str | None = None  # what a join adds (None: nothing, the contact is enough)
    join_external_id: str | None = None
    relocate: bool = False  # a join moves the contact to `open.location` (a phone's SOS)
    # a camera alert's window: its contact takes every repeat, even over (counted, not added)
    sticky: bool = False
    suggest: str | None = None  # a new contact asks for units near it, for this reason
    # called once, right before a new contact is opened; refuses it by raising (rate limits
    # count new contacts only, never a join or a replay)
    admit: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str | None:
        return f"source:{self.source_key}"


@dataclass(frozen=True, kw_only=True)
class Accept(Command[Contact]):
    name: ClassVar[str] = "accept"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Decline(Command[None]):
    name: ClassVar[str] = "decline"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class Reply(Command[Message]):
    name: ClassVar[str] = "reply"
    contact_id: str
    operator_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Close(Command[Contact]):
    name: ClassVar[str] = "close"
    contact_id: str
    operator_id: str
    disposition: str | None = None
    wrap_up: bool = False  # go through wrap-up instead of closing at once


@dataclass(frozen=True, kw_only=True)
class Abandon(Command[Contact]):
    name: ClassVar[str] = "abandon"
    contact_id: str


@dataclass(frozen=True, kw_only=True)
class UpdateLocation(Command[Contact]):
    name: ClassVar[str] = "update_location"
    contact_id: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class SetPresence(Command[None]):
    name: ClassVar[str] = "set_presence"
    operator_id: str
    presence: Presence


@dataclass(frozen=True, kw_only=True)
class AssignNext(Command[None]):
    """Pair waiting contacts with ready operators until one side runs out."""

    name: ClassVar[str] = "assign_next"


# --- chat channels ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddCitizenMessage(Command[Message]):
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
class ReturnToQueue(Command[Contact]):
    """A connected voice contact goes back to its place in the queue: the operator's phone did
    not answer, failed, or a transfer failed (a call is never dropped by our error)."""

    name: ClassVar[str] = "return_to_queue"
    contact_id: str
    reason: str  # no_answer | operator_failed | transfer_failed | error
