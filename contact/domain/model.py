"""Value objects, enums and entities of the contact center. Pure: no SDK imports."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, StrEnum


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """Opaque identifier for contacts, messages, incidents (32 hex chars)."""
    return uuid.uuid4().hex


class ChannelKind(StrEnum):
    VOICE = "voice"  # 102 call through Asterisk
    VIDEO = "video"  # citizen app video call
    APP = "app"  # citizen app text report
    APP_SOS = "app_sos"  # citizen app SOS button
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    KIOSK = "kiosk"  # SOS pillar / ATM button
    SCHOOL_ALARM = "school_alarm"
    CAMERA = "camera"  # video analytics alert
    CALLBACK = "callback"  # call back an abandoned caller


class Capability(StrEnum):
    """What an operator's workplace can handle; every channel needs exactly one."""

    VOICE = "voice"
    VIDEO = "video"
    CHAT = "chat"


CHANNEL_CAPABILITY: dict[ChannelKind, Capability] = {
    ChannelKind.VOICE: Capability.VOICE,
    ChannelKind.KIOSK: Capability.VOICE,
    ChannelKind.CALLBACK: Capability.VOICE,
    ChannelKind.VIDEO: Capability.VIDEO,
    ChannelKind.APP_SOS: Capability.VIDEO,
    ChannelKind.APP: Capability.CHAT,
    ChannelKind.TELEGRAM: Capability.CHAT,
    ChannelKind.WHATSAPP: Capability.CHAT,
    ChannelKind.SCHOOL_ALARM: Capability.CHAT,
    ChannelKind.CAMERA: Capability.CHAT,
}


class Priority(IntEnum):
    """Lower value is more urgent. See triage.py for how a contact gets one."""

    ALARM = 0  # school panic button
    SOS = 1  # kiosk, app SOS, keyword alert
    VOICE = 2  # 102 call
    VIDEO = 3  # app video call
    CHAT = 4  # app report, Telegram, WhatsApp, camera alert
    INFO = 5  # information requests, callbacks


class Language(StrEnum):
    """A citizen's language: the ones the centre answers in."""

    KK = "kk"
    RU = "ru"


class UiLanguage(StrEnum):
    """The language of an operator's or supervisor's pages (chosen per user)."""

    KK = "kk"
    RU = "ru"
    EN = "en"


class Gender(StrEnum):
    """The grammatical form texts about a person take («Отошла» / «Отошёл»); `other`:
    neutral wording. Values are the ICU `select` keys of the catalogue's messages."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class ContactState(StrEnum):
    NEW = "new"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"


LEGAL_TRANSITIONS: dict[ContactState, frozenset[ContactState]] = {
    ContactState.NEW: frozenset({ContactState.QUEUED, ContactState.ABANDONED}),
    ContactState.QUEUED: frozenset({ContactState.OFFERED, ContactState.ABANDONED}),
    # an offer is accepted, times out / is declined (back to the queue), or the citizen leaves
    ContactState.OFFERED: frozenset(
        {ContactState.CONNECTED, ContactState.QUEUED, ContactState.ABANDONED}
    ),
    # back to the queue when the operator's workplace is lost or on transfer to another operator;
    # abandoned when a caller hangs up while the accepting operator's phone still rings
    ContactState.CONNECTED: frozenset(
        {ContactState.WRAP_UP, ContactState.CLOSED, ContactState.QUEUED, ContactState.ABANDONED}
    ),
    ContactState.WRAP_UP: frozenset({ContactState.CLOSED}),
    ContactState.CLOSED: frozenset(),
    ContactState.ABANDONED: frozenset(),
}

WAITING_STATES = frozenset({ContactState.QUEUED, ContactState.OFFERED})
OPEN_STATES = frozenset(
    {
        ContactState.NEW,
        ContactState.QUEUED,
        ContactState.OFFERED,
        ContactState.CONNECTED,
        ContactState.WRAP_UP,
    }
)


class IllegalTransition(ValueError):
    def __init__(self, contact_id: str, current: ContactState, wanted: ContactState) -> None:
        super().__init__(f"contact {contact_id}: {current} -> {wanted} is not allowed")
        self.contact_id = contact_id
        self.current = current
        self.wanted = wanted


class LocationSource(StrEnum):
    GPS = "gps"  # the citizen's device
    NETWORK = "network"  # operator / AML network estimate
    SIP_HEADER = "sip_header"  # X-Location
    PIDF_LO = "pidf_lo"  # RFC 6442
    FIXED = "fixed"  # a kiosk's or school's registered position
    CAMERA = "camera"  # a camera's position
    SHARED = "shared"  # shared in a chat (Telegram / WhatsApp)
    MANUAL = "manual"  # typed by an operator


# 100 km: coarser than a mobile cell sector is no place to send a unit (and a radius of 1e308
# m draws as NaN on the operator's map)
MAX_ACCURACY_M = 100_000.0


# a device's own clock may say anything: times outside these are no time of an event
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)


def plausible_time(at: datetime) -> bool:
    return EARLIEST_EVENT <= at < LATEST_EVENT


def plausible_accuracy(accuracy_m: float | None) -> float | None:
    """An accuracy a Location takes, else None (for sources where a bad radius should not
    lose the point itself: rows stored before the bound, a messenger's shared location)."""
    if accuracy_m is None or not (math.isfinite(accuracy_m) and 0 <= accuracy_m <= MAX_ACCURACY_M):
        return None
    return accuracy_m


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    accuracy_m: float | None = None
    source: LocationSource = LocationSource.GPS
    address: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude out of range: {self.lat!r}")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude out of range: {self.lon!r}")
        if self.accuracy_m is not None and not (
            math.isfinite(self.accuracy_m) and 0 <= self.accuracy_m <= MAX_ACCURACY_M
        ):
            raise ValueError(
                f"accuracy must be a number of metres from 0 to {MAX_ACCURACY_M:.0f}: "
                f"{self.accuracy_m!r}"
            )


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    def at_least(self, other: Role) -> bool:
        order = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
        return order.index(self) >= order.index(other)


class Presence(StrEnum):
    READY = "ready"
    OFFERED = "offered"  # holding an offer: not available for another
    BUSY = "busy"
    WRAP_UP = "wrap_up"
    AWAY = "away"


@dataclass(frozen=True, slots=True)
class Skills:
    languages: frozenset[Language] = frozenset({Language.KK, Language.RU})
    capabilities: frozenset[Capability] = frozenset(Capability)

    def can_take(self, language: Language | None, capability: Capability) -> bool:
        return capability in self.capabilities and (language is None or language in self.languages)


@dataclass(slots=True)
class Operator:
    id: str
    username: str
    display_name: str
    role: Role = Role.OPERATOR
    skills: Skills = field(default_factory=Skills)
    endpoint: str | None = None  # softphone / desk phone SIP endpoint, e.g. PJSIP/op1
    active: bool = True
    ui_language: UiLanguage | None = None  # None: the browser's choice (cookie, Accept-Language)
    gender: Gender = Gender.OTHER


class MessageDirection(StrEnum):
    INBOUND = "in"  # from the citizen
    OUTBOUND = "out"  # from an operator


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    contact_id: str
    media_type: str
    size: int
    sha256: str
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    contact_id: str
    direction: MessageDirection
    text: str
    created_at: datetime
    author: str | None = None  # operator id for outbound; None for the citizen
    external_id: str | None = None  # the channel's own message id (dedupe)


@dataclass(slots=True)
class Contact:
    """One citizen interaction on one channel. Mutated only through `transition`."""

    id: str
    channel: ChannelKind
    priority: Priority
    created_at: datetime
    state: ContactState = ContactState.NEW
    language: Language | None = None
    citizen: str | None = None  # channel-specific handle: device id, phone number, chat id
    location: Location | None = None
    summary: str = ""
    incident_id: str | None = None
    operator_id: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    closed_at: datetime | None = None
    # when its conversation ended and its operator's wrap-up began (the page's wrap-up timer)
    wrapped_up_at: datetime | None = None
    disposition: str | None = None
    # since when its holder has been gone (routing/orphans.py); cleared by any transition
    orphaned_at: datetime | None = None
    # when it was handed to the supervisors because it could not go back to the queue
    escalated_at: datetime | None = None

    @property
    def capability(self) -> Capability:
        return CHANNEL_CAPABILITY[self.channel]

    def can_become(self, wanted: ContactState) -> bool:
        return wanted in LEGAL_TRANSITIONS[self.state]

    def transition(self, wanted: ContactState, at: datetime) -> None:
        if not self.can_become(wanted):
            raise IllegalTransition(self.id, self.state, wanted)
        if wanted is ContactState.QUEUED and self.queued_at is None:
            self.queued_at = at  # first arrival keeps its place when an offer goes back
        elif wanted is ContactState.CONNECTED and self.answered_at is None:
            self.answered_at = at
        elif wanted is ContactState.WRAP_UP:
            self.wrapped_up_at = at
        elif wanted in (ContactState.CLOSED, ContactState.ABANDONED):
            self.closed_at = at
        if wanted is ContactState.QUEUED:
            self.operator_id = None
        self.orphaned_at = self.escalated_at = None  # judged again in the new state
        self.state = wanted

    def relocated(self, location: Location) -> None:
        self.location = location


class IncidentState(StrEnum):
    OPEN = "open"
    DISPATCHED = "dispatched"
    CLOSED = "closed"


@dataclass(slots=True)
class Incident:
    id: str
    created_at: datetime
    state: IncidentState = IncidentState.OPEN
    category: str | None = None
    location: Location | None = None
    contact_ids: list[str] = field(default_factory=list)


__all__ = [
    "CHANNEL_CAPABILITY",
    "LEGAL_TRANSITIONS",
    "OPEN_STATES",
    "WAITING_STATES",
    "Attachment",
    "Capability",
    "ChannelKind",
    "Contact",
    "ContactState",
    "IllegalTransition",
    "Incident",
    "IncidentState",
    "Language",
    "Location",
    "LocationSource",
    "Message",
    "MessageDirection",
    "Operator",
    "Presence",
    "Priority",
    "Role",
    "Skills",
    "new_id",
    "utcnow",
]
