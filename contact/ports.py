"""The seams: typing.Protocols that services depend on and adapters implement.

Naming: `<Tech><Port>` is a concrete adapter (RedisQueueStore, SqlContactRepository),
`Memory<Port>` an in-process one, `Fake<Port>` a test double.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from contact.domain.model import (
    Attachment,
    Capability,
    ChannelKind,
    Contact,
    ContactState,
    Gender,
    Incident,
    Language,
    Message,
    Operator,
    Presence,
    Priority,
    Role,
    Skills,
    UiLanguage,
)

# --- routing: the unified queue and operator availability -------------------------------


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """What the queue needs to know about a waiting contact; no citizen data."""

    contact_id: str
    priority: Priority
    capability: Capability
    language: Language | None
    score: float  # triage.queue_score: lower goes first
    queued_at: float  # epoch seconds of first arrival (for waits and language fallback)


@dataclass(frozen=True, slots=True)
class OperatorStatus:
    operator_id: str
    presence: Presence
    since: float  # epoch seconds the presence began (idle-since when READY)
    skills: Skills
    contact_id: str | None = None  # the offer or the contact being worked


@dataclass(frozen=True, slots=True)
class Offer:
    entry: QueueEntry
    operator_id: str
    expires_at: float

    @property
    def contact_id(self) -> str:
        return self.entry.contact_id


@dataclass(frozen=True, slots=True)
class AssignmentPolicy:
    offer_timeout_s: float = 15.0
    language_fallback_s: float = 20.0
    scan_depth: int = 64
    away_on_missed_offer: bool = True


class QueueStore(Protocol):
    """The unified queue plus the operators it may be offered to.

    Both live behind one port because pairing them must be one atomic step: no operator ever
    holds two offers and no contact is offered twice, also across several server processes.
    """

    async def enqueue(self, entry: QueueEntry) -> bool:
        """Add a waiting contact; False (and no change) when it is already waiting or offered."""
        ...

    async def remove(self, contact_id: str) -> QueueEntry | None:
        """Take a contact out (abandoned, closed elsewhere). An offer holder becomes READY."""
        ...

    async def waiting(self, limit: int | None = None) -> list[QueueEntry]:
        """Waiting contacts in queue order (not the offered ones)."""
        ...

    async def reprioritise(self, entry: QueueEntry) -> bool:
        """A held contact's new priority and score (a keyword alert moved it up): a waiting one
        takes its new place at once; an offered one keeps its offer and comes back with the
        new score if declined or missed. False (and no change) when the store does not hold
        it."""
        ...

    async def offers(self) -> list[Offer]: ...

    async def set_presence(
        self, operator_id: str, skills: Skills, presence: Presence, now: float
    ) -> None:
        """Record an operator's presence. READY joins the ready pool with idle-since = now.
        Not allowed to drop an operator's current offer: use decline for that."""
        ...

    async def forget_operator(self, operator_id: str) -> None:
        """The operator logged out; any offer they held goes back to the queue."""
        ...

    async def operators(self) -> list[OperatorStatus]: ...

    async def assign(self, now: float) -> Offer | None:
        """Atomically offer the first waiting contact that a ready operator can take to the
        longest-idle such operator. None when no pair exists."""
        ...

    async def accept(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        """Turn the operator's offer into work (operator BUSY). None if no such offer."""
        ...

    async def decline(self, contact_id: str, operator_id: str, now: float) -> Offer | None:
        """The operator passes: the contact returns to its place, the operator is READY."""
        ...

    async def expire_offers(self, now: float) -> list[Offer]:
        """Offers past their deadline: contacts return to their place; operators go AWAY (or
        READY, by policy)."""
        ...

    async def ping(self) -> None:
        """Raise Unavailable when the backing service is down."""
        ...

    async def close(self) -> None: ...


# --- fan-out of projections to every node's WebSocket clients ---------------------------

BroadcastListener = Callable[[str, Mapping[str, Any]], Awaitable[None]]


class Broadcast(Protocol):
    """Topic messages to every node: in-process for one node, Redis pub/sub for several."""

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None: ...

    def listen(self, listener: BroadcastListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BackgroundService(Protocol):
    """A long-running part of a plugin; every start has a stop that cancels and awaits."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


# --- persistence --------------------------------------------------------------------------


class ContactRepository(Protocol):
    async def add(
        self,
        contact: Contact,
        message: Message | None = None,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        external_id: str | None = None,
        fingerprint: str | None = None,
        guard: Callable[[Any], None] | None = None,
    ) -> str:
        """Store a new contact with its first message and attachments in one transaction.
        With an external_id already stored for this channel, store nothing and return the
        existing contact's id (idempotent intake). `fingerprint` is kept with the external_id:
        what the request said, to tell a replay from a reused key. `guard(connection)` runs
        first in that transaction (RegisterContact.guard): when it raises, nothing is looked
        up or stored and its error reaches the caller."""
        ...

    async def intake_fingerprint(
        self,
        channel: ChannelKind,
        external_id: str | None,
        guard: Callable[[Any], None] | None = None,
    ) -> tuple[str, str | None] | None:
        """The contact stored under this external_id and its request's fingerprint (None
        without an external_id), read after `guard(connection)` in the same transaction."""
        ...

    async def get(self, contact_id: str) -> Contact:
        """Raise NotFound for an unknown id."""
        ...

    async def save(self, contact: Contact) -> None:
        """Persist state, operator, timestamps, location, language, priority, incident,
        whatever is stored: for set-up and tools. The product's own writes are conditional
        (save_if), so none writes back a contact another node changed meanwhile."""
        ...

    async def save_if(
        self,
        contact: Contact,
        *,
        state: ContactState,
        operator_id: str | None,
        only: frozenset[str] | None = None,
    ) -> bool:
        """save (the `only` fields, by the contact's attribute names, else all), only while
        the stored contact is still in `state` held by `operator_id`: False (nothing
        written) when it changed meanwhile."""
        ...

    async def held_by(self, operator_id: str) -> list[Contact]:
        """Contacts offered to, connected to or in wrap-up with this operator."""
        ...

    async def in_progress(
        self, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Contact]:
        """Connected and wrap-up contacts by (answered_at, id), `limit` after the cursor."""
        ...

    async def find_by_external_id(
        self, channel: ChannelKind, external_id: str
    ) -> Contact | None: ...

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]:
        """Oldest first by queued_at, then created_at (to rebuild the queue after a restart)."""
        ...

    async def recent(self, limit: int = 100) -> list[Contact]: ...

    async def add_message(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> None:
        """Store a message with its attachments in one transaction; a message whose
        external_id this contact already has is stored once (nothing else is added)."""
        ...

    async def add_message_if_open(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> bool:
        """add_message, in one transaction with a look at the contact: False (nothing stored)
        when the contact is closed, abandoned or unknown."""
        ...

    async def messages(self, contact_id: str) -> list[Message]: ...

    async def attachments(self, contact_id: str) -> list[Attachment]: ...

    async def attachment_content(self, attachment_id: str) -> tuple[Attachment, bytes]: ...


@dataclass(frozen=True, slots=True)
class Credentials:
    operator: Operator
    password_hash: str


class OperatorRepository(Protocol):
    async def add(self, operator: Operator, password_hash: str) -> None:
        """Raise Conflict when the username is taken."""
        ...

    async def get(self, operator_id: str) -> Operator: ...

    async def by_username(self, username: str) -> Credentials | None: ...

    async def all(self) -> list[Operator]: ...

    async def set_password(self, operator_id: str, password_hash: str) -> None: ...

    async def set_preferences(
        self, operator_id: str, ui_language: UiLanguage | None, gender: Gender
    ) -> None:
        """Her pages' language (None: the browser's) and the form texts about her take."""
        ...

    async def set_presence(self, operator_id: str, presence: Presence) -> None:
        """Remembered so a restarted node (or a Redis that lost its data) can rebuild the pool."""
        ...

    async def presences(self) -> dict[str, Presence]: ...


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str  # sha256 of the cookie value; the raw token is never stored
    operator_id: str
    role: Role
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


class SessionRepository(Protocol):
    async def create(self, session: Session) -> None: ...

    async def get(self, token_hash: str) -> Session | None: ...

    async def touch(self, token_hash: str, at: datetime) -> None: ...

    async def delete(self, token_hash: str) -> None: ...

    async def delete_for_operator(self, operator_id: str) -> None: ...

    async def for_operator(self, operator_id: str) -> list[Session]: ...


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str  # operator id, or "system", or "citizen:<channel>"
    action: str  # "contact.view", "contact.accept", "operator.login" …
    subject: str | None  # the contact, operator or incident acted on
    details: Mapping[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""


@dataclass(frozen=True, slots=True)
class AuditProblem:
    seq: int
    problem: str  # "edited", "inserted", "deleted", "broken link"


class AuditLog(Protocol):
    async def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry: ...

    async def entries(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]: ...

    async def verify(self) -> list[AuditProblem]:
        """Recompute the hash chain; an empty list means untouched."""
        ...


class IncidentRepository(Protocol):
    async def add(self, incident: Incident) -> None: ...

    async def get(self, incident_id: str) -> Incident: ...

    async def save(self, incident: Incident) -> None: ...


class Database(Protocol):
    """Lifecycle and health of the SQL store behind the repositories."""

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


# --- registries of the device channels: app devices, SOS kiosks, alarm sites, cameras -----


@dataclass(frozen=True, slots=True)
class Device:
    """A registered citizen app installation. Its token is stored only as a sha256."""

    id: str
    registered_at: datetime
    platform: str | None = None
    language: Language | None = None
    last_seen_at: datetime | None = None


class DeviceRegistry(Protocol):
    async def register(
        self, device: Device, token_hash: str, *, current_token_hash: str | None = None
    ) -> bool:
        """Store a new device (True) or, when `current_token_hash` is that device's token,
        replace its token (False). Raise Conflict when the id is taken by another holder."""
        ...

    async def by_token(self, token_hash: str) -> Device | None: ...

    async def get(self, device_id: str) -> Device | None: ...

    async def is_registered(self, device_id: str) -> bool:
        """Whether `device_id` is registered (an app read or socket without a token)."""
        ...

    def registered_in(self, connection: Any, device_id: str) -> bool:
        """is_registered on the connection of a unit of work already running: the app report
        without a token checks it in the intake's own transaction (RegisterContact.guard)."""
        ...

    async def touch(self, device_id: str, at: datetime) -> None: ...


class KioskState:
    UNKNOWN = "unknown"  # never heard from since it was registered
    ONLINE = "online"
    OFFLINE = "offline"  # missed heartbeats (kiosk.offline was raised)


@dataclass(frozen=True, slots=True)
class Kiosk:
    """An SOS pillar or an ATM's SOS button, at a fixed place."""

    id: str
    name: str
    lat: float
    lon: float
    partner: str | None = None  # who hosts it: a park, a bank's ATM network …
    address: str | None = None
    sip_account: str | None = None  # its SIP endpoint (voice kiosks); None: HTTP button only
    camera_id: str | None = None
    enabled: bool = True
    state: str = KioskState.UNKNOWN
    last_heartbeat_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KioskEvent:
    id: str
    kiosk_id: str
    kind: str  # tamper | door_open | door_closed | power_lost | power_restored
    received_at: datetime
    reported_at: datetime | None = None  # the kiosk's own clock
    detail: str | None = None


class KioskRegistry(Protocol):
    async def upsert(
        self, kiosks: Sequence[Kiosk], new_keys: Mapping[str, str], *, at: datetime
    ) -> None:
        """Add or update kiosks in one transaction (all or nothing). `new_keys` sets the HMAC
        key of the kiosks it names; a new kiosk must have one."""
        ...

    async def get(self, kiosk_id: str) -> Kiosk | None: ...

    async def all(self) -> list[Kiosk]: ...

    async def by_sip_account(self, sip_account: str) -> Kiosk | None:
        """The kiosk calling from this SIP endpoint (its place, partner and camera)."""
        ...

    async def key(self, kiosk_id: str) -> str | None:
        """The kiosk's HMAC key (kept: verifying a signature needs it)."""
        ...

    async def set_key(self, kiosk_id: str, key: str, *, at: datetime) -> None: ...

    async def heartbeat(self, kiosk_id: str, at: datetime) -> bool:
        """Record a heartbeat; True when the kiosk was offline (it came back)."""
        ...

    async def mark_offline(self, silent_since: datetime, *, at: datetime) -> list[Kiosk]:
        """Online kiosks whose last heartbeat is older than `silent_since` become offline;
        returns exactly those (once, also with several nodes racing)."""
        ...

    async def add_event(self, event: KioskEvent) -> None: ...

    async def events(self, kiosk_id: str, limit: int = 50) -> list[KioskEvent]: ...


@dataclass(frozen=True, slots=True)
class AlarmSite:
    """A school (or another protected site) with panic buttons and its own cameras."""

    id: str
    name: str
    lat: float
    lon: float
    kind: str = "school"
    address: str | None = None
    camera_ids: tuple[str, ...] = ()
    enabled: bool = True


class SiteRegistry(Protocol):
    async def upsert(
        self, sites: Sequence[AlarmSite], new_key_hashes: Mapping[str, str], *, at: datetime
    ) -> None:
        """Add or update sites in one transaction; `new_key_hashes` (sha256 of each site's
        key) sets the key of the sites it names; a new site must have one."""
        ...

    async def get(self, site_id: str) -> AlarmSite | None: ...

    async def by_key_hash(self, key_hash: str) -> AlarmSite | None: ...

    async def all(self) -> list[AlarmSite]: ...

    async def set_key_hash(self, site_id: str, key_hash: str, *, at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class AlertClaim:
    """Where one camera alert went: a new group (a new contact) or a repeat of one."""

    group_id: str
    repeat: bool
    count: int  # alerts in this group so far, this one included
    contact_id: str | None  # None until the group's contact was stored


class CameraAlertLog(Protocol):
    async def claim(
        self, dedupe_key: str, camera_id: str, kind: str, at: datetime, window_s: float
    ) -> AlertClaim:
        """Count an alert into the group of `dedupe_key` that started within `window_s`
        before `at`, or start a new group. Atomic across nodes."""
        ...

    async def bind(self, group_id: str, contact_id: str) -> None:
        """Record the contact a group's alerts collapse into."""
        ...


@dataclass(frozen=True, slots=True)
class IntakeSource:
    """What a device contact came from: the kiosk, site, camera or app device, with the
    cameras attached to it. Operators read it beside the contact."""

    contact_id: str
    kind: str  # device | kiosk | site | camera
    source_id: str
    camera_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


class IntakeSources(Protocol):
    async def add(self, source: IntakeSource) -> None:
        """Idempotent: a second add for the same contact keeps the first."""
        ...

    async def get(self, contact_id: str) -> IntakeSource | None: ...

    async def open_contact(self, channel: ChannelKind, citizen: str) -> Contact | None:
        """The newest contact of this citizen on this channel that is not closed or
        abandoned (a second SOS press joins the first)."""
        ...

    async def history(
        self,
        citizen: str,
        channels: frozenset[ChannelKind],
        limit: int = 50,
        since: datetime | None = None,
    ) -> list[Contact]:
        """The citizen's contacts on these channels, newest first."""
        ...


class ReplayGuard(Protocol):
    async def first_use(self, digest: str, expires_at: datetime) -> bool:
        """False when this signature digest was seen before (a replayed request)."""
        ...

    async def purge(self, now: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class CameraInfo:
    id: str
    lat: float
    lon: float
    snapshot_url: str | None = None
    name: str | None = None


class CameraDirectory(Protocol):
    """Where a camera is. Dispatch owns the city's cameras; kiosks and sites know their own."""

    async def camera(self, camera_id: str) -> CameraInfo | None: ...


# --- telephony: calls on Asterisk, their recordings and callbacks ---------------------------


class CallState:
    HOLDING = "holding"  # in the menu or on hold, waiting for an operator
    RINGING = "ringing"  # the accepting operator's phone rings
    CONNECTED = "connected"  # caller and operator bridged
    HELD = "held"  # put on hold by the operator (still theirs)
    CONSULTING = "consulting"  # attended transfer: the operator talks to the service
    TRANSFERRING = "transferring"  # blind transfer: the service's phone rings
    TRANSFERRED = "transferred"  # bridged to the service; contact's part is done
    ENDED = "ended"


@dataclass(slots=True)
class Call:
    """One call of a voice contact. `uniqueid` is the channel contact steers: the caller's for
    an incoming call (the contact's external_id), the operator's leg for a callback."""

    id: str
    contact_id: str
    uniqueid: str
    channel: str
    direction: str  # in | out
    kind: str  # voice | kiosk | video | callback
    started_at: datetime
    state: str = CallState.HOLDING
    endpoint: str | None = None  # the pjsip endpoint it came from (trunk, kiosk, app)
    number: str | None = None  # the caller's number, digits and + only
    citizen_leg: str | None = None  # the citizen's channel (uniqueid), if any yet
    operator_id: str | None = None
    operator_leg: str | None = None  # uniqueid of the operator's leg
    consult_leg: str | None = None  # uniqueid of the transfer target's leg
    transfer_target: str | None = None
    language: Language | None = None
    civic_address: str | None = None
    recording: str | None = None  # its file, relative to the recording directory
    answered_at: datetime | None = None  # first bridged to an operator
    # bridged to someone (operator or transfer target) in the conversation going on now;
    # None while the caller waits for one (never answered, or back in the queue): a call
    # that ends with it None was abandoned, whatever the contact's state says
    bridged_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    hangup_cause: int | None = None
    dropped: bool = False


@dataclass(slots=True)
class Recording:
    id: str
    contact_id: str
    call_id: str
    path: str  # relative to the recording directory: <UTC date>/<uniqueid>.wav
    started_at: datetime
    ended_at: datetime | None = None
    size_bytes: int | None = None
    purged_at: datetime | None = None


class CallbackState:
    PENDING_AUTO = "pending_auto"  # the automatic first attempt is due
    DIALING = "dialing"  # the automatic attempt rings
    QUEUED = "queued"  # a task in the queue for an operator
    ANSWERED = "answered"  # the automatic attempt reached the citizen (a new voice contact)
    DONE = "done"


@dataclass(slots=True)
class Callback:
    id: str
    source_contact_id: str
    target: str  # a number (through the trunk) or `endpoint:<name>` (a kiosk, the app)
    reason: str  # abandoned | dropped
    created_at: datetime
    state: str = CallbackState.QUEUED
    due_at: datetime | None = None
    attempts: int = 0
    task_contact_id: str | None = None
    leg_uniqueid: str | None = None
    answered_contact_id: str | None = None
    last_result: str | None = None


class CallRepository(Protocol):
    async def add(self, call: Call) -> None: ...

    async def save(self, call: Call) -> None: ...

    async def by_uniqueid(self, uniqueid: str) -> Call | None: ...

    async def for_contact(self, contact_id: str) -> list[Call]:
        """The contact's calls, oldest first."""
        ...

    async def live(self) -> list[Call]:
        """Calls not ended, oldest first (to rebuild the picture after a restart)."""
        ...

    async def add_recording(self, recording: Recording) -> None: ...

    async def save_recording(self, recording: Recording) -> None: ...

    async def recording(self, recording_id: str) -> Recording | None: ...

    async def recordings(self, contact_id: str) -> list[Recording]: ...

    async def recordings_before(self, before: datetime) -> list[Recording]:
        """Recordings started before `before` and not purged yet."""
        ...

    async def add_callback(self, callback: Callback) -> bool:
        """False (and nothing stored) when the source contact already has one."""
        ...

    async def save_callback(self, callback: Callback) -> None: ...

    async def callback(self, callback_id: str) -> Callback | None: ...

    async def callback_for_task(self, contact_id: str) -> Callback | None: ...

    async def callbacks_in(self, states: frozenset[str]) -> list[Callback]: ...

    async def set_contact_languages(self, languages: Mapping[str, Language]) -> None:
        """Only the language column, of several contacts in one commit: the menu's answer
        never overwrites a concurrent change of state."""
        ...


class CallControl(Protocol):
    """What contact asks of the PBX. Implementations raise contact.errors.ContactError
    subclasses (Unavailable when the PBX cannot be reached, NotFound for a gone channel)."""

    @property
    def connected(self) -> bool: ...

    async def hold(self, channel: str) -> None:
        """Send a channel (uniqueid or name) back to the holding dialplan."""
        ...

    async def ring(
        self,
        endpoint: str,
        leg_id: str,
        timeout_s: float,
        *,
        context: str = "contact-operator-wait",
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        video_of: str | None = None,
    ) -> None:
        """Originate a leg (uniqueid `leg_id`) to a dial string into `context`; the result
        arrives as an event (OriginateResponse). `video_of`: the channel (uniqueid) the leg is
        to be bridged with, whose video it must carry both ways (a citizen app's video call):
        the leg is offered video in that channel's codec, not audio only."""
        ...

    async def connect(self, caller: str, leg: str) -> None:
        """Bridge a caller with an answered leg (the caller falls back to holding when the
        bridge ends without it hanging up)."""
        ...

    async def blind_transfer(self, caller: str, target: str, incident_id: str | None) -> None: ...

    async def consult(
        self, caller: str, operator_leg: str, target: str, incident_id: str | None
    ) -> None:
        """Attended transfer, first step: caller to holding, the operator's leg dials the
        target."""
        ...

    async def hangup(self, channel: str, cause: int = 16) -> None: ...

    async def spy(self, endpoint: str, leg_id: str, spied: str, options: str) -> None:
        """Originate a supervisor's phone into ChanSpy on the `spied` channel; a browser
        softphone answers it by itself and shows the mode."""
        ...

    async def channels(self) -> list[Mapping[str, str]]:
        """Every live channel (CoreShowChannels)."""
        ...

    async def variables(self, channel: str, names: Sequence[str]) -> dict[str, str]: ...

    async def set_globals(self, variables: Mapping[str, str]) -> None:
        """Set dialplan globals (the armed phone, CONTACT_ARMED)."""
        ...


# --- leases (one node per job: the telephony driver of an Asterisk) ---------------------------


@dataclass(frozen=True, slots=True)
class LeaseState:
    """A lease as the store saw it when it answered."""

    name: str
    holder: str | None  # None: released (nobody holds it)
    epoch: int  # +1 whenever the holder changes (a fencing token); 0: never held
    expires_in_s: float  # by the store's own clock; <= 0: expired


class LeaseStore(Protocol):
    """Leases shared by every node. Time is the store's own clock, never a node's."""

    async def claim(self, name: str, holder: str, ttl_s: float) -> LeaseState:
        """Acquire the lease, or renew it when `holder` has it, for `ttl_s` from now, unless
        another holder has it and it has not expired. One atomic step; the answer says who
        holds it now (`holder` itself when the claim succeeded)."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up if `holder` has it (a no-op otherwise)."""
        ...

    async def close(self) -> None: ...
