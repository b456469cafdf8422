"""Domain events: frozen, past tense, with a dotted wire name (`contact.queued`).

Every event is catalogued in docs/events.md; a unit test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Location,
    Presence,
    Priority,
    utcnow,
)


@dataclass(frozen=True, kw_only=True)
class Event:
    name: ClassVar[str] = "event"
    # citizen data a projection must not copy onto topics visible to every operator
    personal: ClassVar[frozenset[str]] = frozenset()
    occurred_at: datetime = field(default_factory=utcnow)

    @property
    def key(self) -> str | None:
        """Events with the same key are handled in order (per contact)."""
        return getattr(self, "contact_id", None)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.name
        return data

    def public_dict(self) -> dict[str, Any]:
        """as_dict without the `personal` fields: what a topic every operator (or every
        supervisor) sees may carry."""
        data = self.as_dict()
        for name in self.personal:
            data.pop(name, None)
        return data


# --- contacts ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ContactReceived(Event):
    """A new contact was made durable by its channel (before the channel acknowledged it)."""

    name: ClassVar[str] = "contact.received"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen", "location", "summary"})
    contact_id: str
    channel: ChannelKind
    priority: Priority
    language: Language | None
    citizen: str | None
    location: Location | None
    summary: str


@dataclass(frozen=True, kw_only=True)
class ContactQueued(Event):
    """A durable contact waits for an operator. Carries what the queue and its public view
    need, so neither reads the contact back on the intake path."""

    name: ClassVar[str] = "contact.queued"
    contact_id: str
    channel: ChannelKind
    priority: Priority
    language: Language | None
    created_at: datetime
    queued_at: datetime
    has_location: bool

    @classmethod
    def of(cls, contact: Contact, occurred_at: datetime | None = None) -> ContactQueued:
        """The event of a contact (back) in the queue, at its own queued_at."""
        assert contact.queued_at is not None
        extra = {} if occurred_at is None else {"occurred_at": occurred_at}
        return cls(
            contact_id=contact.id,
            channel=contact.channel,
            priority=contact.priority,
            language=contact.language,
            created_at=contact.created_at,
            queued_at=contact.queued_at,
            has_location=contact.location is not None,
            **extra,
        )


@dataclass(frozen=True, kw_only=True)
class ContactOffered(Event):
    name: ClassVar[str] = "contact.offered"
    contact_id: str
    operator_id: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class OfferExpired(Event):
    """An offer was not accepted in time or was declined; the contact went back to the queue."""

    name: ClassVar[str] = "contact.offer_expired"
    contact_id: str
    operator_id: str
    declined: bool = False


@dataclass(frozen=True, kw_only=True)
class ContactReclaimed(Event):
    """A connected contact was taken back from an operator who is not there (logged out, session
    expired, away) because something new joined it; it went back to its place in the queue."""

    name: ClassVar[str] = "contact.reclaimed"
    contact_id: str
    operator_id: str
    reason: str  # holder_absent


@dataclass(frozen=True, kw_only=True)
class ContactOrphaned(Event):
    """A contact whose holder has been gone past CONTACT_ROUTING_ORPHAN_AFTER_S and that cannot
    go back to the queue (in wrap-up, or a unit was dispatched for it): handed to the
    supervisors, who reassign, take over or force-close it (routing/orphans.py)."""

    name: ClassVar[str] = "contact.orphaned"
    contact_id: str
    operator_id: str | None
    reason: str  # holder_away | holder_without_session
    state: ContactState


@dataclass(frozen=True, kw_only=True)
class ContactReassigned(Event):
    """A supervisor moved a contact in progress: to another operator, to herself (take-over,
    `taken_over`), or back to its place in the queue (`to_operator_id` None)."""

    name: ClassVar[str] = "contact.reassigned"
    contact_id: str
    supervisor_id: str
    from_operator_id: str | None
    to_operator_id: str | None
    taken_over: bool = False


@dataclass(frozen=True, kw_only=True)
class ContactForceClosed(Event):
    """A supervisor closed a contact held by someone else, with a reason (audited);
    contact.closed follows."""

    name: ClassVar[str] = "contact.force_closed"
    contact_id: str
    supervisor_id: str
    operator_id: str | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class ContactAccepted(Event):
    """An operator took the contact. Carries what the citizen's notifiers need (the citizen's
    handle on the channel, the contact's language), so they never read the contact back."""

    name: ClassVar[str] = "contact.accepted"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen"})
    contact_id: str
    channel: ChannelKind
    operator_id: str
    waited_s: float
    citizen: str | None = None
    language: Language | None = None


@dataclass(frozen=True, kw_only=True)
class ContactWrappedUp(Event):
    name: ClassVar[str] = "contact.wrapped_up"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class ContactClosed(Event):
    """The contact is over. `channel`, `citizen` and `language` are the contact's, for the
    citizen's notifiers (None only in events of older nodes)."""

    name: ClassVar[str] = "contact.closed"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen"})
    contact_id: str
    operator_id: str | None
    disposition: str | None
    channel: ChannelKind | None = None
    citizen: str | None = None
    language: Language | None = None


@dataclass(frozen=True, kw_only=True)
class ContactAbandoned(Event):
    """The citizen left (hung up, withdrew) before an operator answered."""

    name: ClassVar[str] = "contact.abandoned"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen"})
    contact_id: str
    previous: ContactState
    channel: ChannelKind | None = None  # the contact's, for the citizen's notifiers
    citizen: str | None = None
    language: Language | None = None


@dataclass(frozen=True, kw_only=True)
class ContactLocated(Event):
    name: ClassVar[str] = "contact.located"
    personal: ClassVar[frozenset[str]] = frozenset({"location"})
    contact_id: str
    location: Location


@dataclass(frozen=True, kw_only=True)
class SlaBreached(Event):
    """A contact has waited longer than the answer target (10 s by default)."""

    name: ClassVar[str] = "contact.sla_breached"
    contact_id: str
    priority: Priority
    waited_s: float


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MessageReceived(Event):
    name: ClassVar[str] = "message.received"
    personal: ClassVar[frozenset[str]] = frozenset({"text"})
    contact_id: str
    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class ReplySent(Event):
    """An operator's message to the citizen; `channel` and `citizen` are the contact's, for
    the notifier that carries it to the citizen."""

    name: ClassVar[str] = "message.sent"
    personal: ClassVar[frozenset[str]] = frozenset({"text", "citizen"})
    contact_id: str
    message_id: str
    operator_id: str
    text: str
    channel: ChannelKind | None = None
    citizen: str | None = None


# --- operators --------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OperatorPresenceChanged(Event):
    name: ClassVar[str] = "operator.presence_changed"
    operator_id: str
    presence: Presence
    reason: str | None = None


# --- dispatch: units, suggestions, incidents ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SuggestedUnit:
    """One line of a suggestion: an available unit and how long it needs to the scene."""

    unit_id: str
    callsign: str
    kind: str  # car | foot | bike
    eta_s: float
    distance_m: float  # great-circle
    eta_source: str  # "road" (routing server) or "estimate" (distance x road factor / speed)


@dataclass(frozen=True, kw_only=True)
class DispatchSuggested(Event):
    """Units ranked by ETA for a contact with a location (no citizen data: ids and times)."""

    name: ClassVar[str] = "dispatch.suggested"
    contact_id: str
    incident_id: str | None
    district_id: str | None
    department: str | None
    outside_districts: bool  # the location is in no district: someone must decide who goes
    units: tuple[SuggestedUnit, ...]


@dataclass(frozen=True, kw_only=True)
class UnitDispatched(Event):
    """A unit was sent for a contact; `channel` and `citizen` are the contact's, for the
    citizen's notifiers (a chat citizen is told a unit is on its way)."""

    name: ClassVar[str] = "unit.dispatched"
    personal: ClassVar[frozenset[str]] = frozenset({"citizen"})
    dispatch_id: str
    unit_id: str
    callsign: str
    contact_id: str
    incident_id: str | None
    operator_id: str
    eta_s: float | None
    channel: ChannelKind | None = None
    citizen: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnitAcknowledged(Event):
    """The unit confirmed it received the dispatch (on its WebSocket or REST)."""

    name: ClassVar[str] = "unit.acknowledged"
    dispatch_id: str
    unit_id: str
    contact_id: str


@dataclass(frozen=True, kw_only=True)
class UnitStatusChanged(Event):
    name: ClassVar[str] = "unit.status_changed"
    unit_id: str
    status: str  # available | dispatched | en_route | on_scene | transporting | out_of_service
    previous: str
    source: str  # operator | unit | geofence | system
    dispatch_id: str | None = None
    contact_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnitArrived(Event):
    """A dispatched unit is on scene; the response time is measured from the contact."""

    name: ClassVar[str] = "unit.arrived"
    dispatch_id: str
    unit_id: str
    contact_id: str
    incident_id: str | None
    district_id: str | None
    response_s: float  # contact received -> on scene
    travel_s: float  # dispatched -> on scene
    within_target: bool
    first_on_scene: bool  # the first unit at this incident (what the report counts)


@dataclass(frozen=True, kw_only=True)
class IncidentCreated(Event):
    name: ClassVar[str] = "incident.created"
    incident_id: str
    contact_id: str
    category: str | None
    district_id: str | None


@dataclass(frozen=True, kw_only=True)
class ContactGrouped(Event):
    """A contact joined an existing incident (automatically by place, time and category)."""

    name: ClassVar[str] = "incident.contact_added"
    incident_id: str
    contact_id: str
    distance_m: float | None
    automatic: bool = True


@dataclass(frozen=True, kw_only=True)
class IncidentsMerged(Event):
    name: ClassVar[str] = "incident.merged"
    incident_id: str  # the one that remains
    merged_id: str  # the one closed into it
    contact_ids: tuple[str, ...]  # the contacts that moved
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class IncidentSplit(Event):
    name: ClassVar[str] = "incident.split"
    incident_id: str  # the one split
    new_incident_id: str
    contact_ids: tuple[str, ...]  # the contacts that moved to the new incident
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class IncidentStateChanged(Event):
    name: ClassVar[str] = "incident.state_changed"
    incident_id: str
    state: str  # open | dispatched | closed
    previous: str
    operator_id: str | None = None


ALL_EVENTS: tuple[type[Event], ...] = (
    ContactReceived,
    ContactQueued,
    ContactOffered,
    OfferExpired,
    ContactReclaimed,
    ContactOrphaned,
    ContactReassigned,
    ContactForceClosed,
    ContactAccepted,
    ContactWrappedUp,
    ContactClosed,
    ContactAbandoned,
    ContactLocated,
    SlaBreached,
    MessageReceived,
    ReplySent,
    OperatorPresenceChanged,
    DispatchSuggested,
    UnitDispatched,
    UnitAcknowledged,
    UnitStatusChanged,
    UnitArrived,
    IncidentCreated,
    ContactGrouped,
    IncidentsMerged,
    IncidentSplit,
    IncidentStateChanged,
)


# --- device channels: SOS kiosks, school alarms, camera analytics, app SOS ----------------


@dataclass(frozen=True, slots=True)
class KioskView:
    """A kiosk as its event leaves it (kiosks are not citizen data): what the supervisors'
    room shows of it, carried by the event so that nobody reads the kiosk back."""

    id: str
    name: str
    lat: float
    lon: float
    state: str  # online | offline | unknown
    partner: str | None = None
    address: str | None = None
    camera_id: str | None = None
    last_heartbeat_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class KioskWentOffline(Event):
    """A kiosk missed its heartbeats (three by default): it may be broken or vandalised."""

    name: ClassVar[str] = "kiosk.offline"
    kiosk_id: str
    kiosk_name: str
    last_heartbeat_at: datetime | None
    silent_s: float
    kiosk: KioskView | None = None

    @property
    def key(self) -> str | None:
        return f"kiosk:{self.kiosk_id}"


@dataclass(frozen=True, kw_only=True)
class KioskCameOnline(Event):
    """An offline kiosk sent a heartbeat again."""

    name: ClassVar[str] = "kiosk.online"
    kiosk_id: str
    kiosk_name: str
    kiosk: KioskView | None = None

    @property
    def key(self) -> str | None:
        return f"kiosk:{self.kiosk_id}"


@dataclass(frozen=True, kw_only=True)
class KioskAlerted(Event):
    """A kiosk reported a tamper, door or power event (stored before it was acknowledged)."""

    name: ClassVar[str] = "kiosk.alerted"
    kiosk_id: str
    kiosk_name: str
    event_id: str
    kind: str  # tamper | door_open | door_closed | power_lost | power_restored
    detail: str | None = None
    kiosk: KioskView | None = None

    @property
    def key(self) -> str | None:
        return f"kiosk:{self.kiosk_id}"


@dataclass(frozen=True, kw_only=True)
class SuggestionRequested(Event):
    """An intake wants the nearest units suggested now (school alarm, kiosk or app SOS), with
    the cameras known at the place. Dispatch answers with dispatch.suggested."""

    name: ClassVar[str] = "dispatch.suggestion_requested"
    personal: ClassVar[frozenset[str]] = frozenset({"location"})
    contact_id: str
    location: Location
    camera_ids: tuple[str, ...] = ()
    reason: str  # school_alarm | kiosk_sos | app_sos


ALL_EVENTS += (KioskWentOffline, KioskCameOnline, KioskAlerted, SuggestionRequested)


# --- chat channels: Telegram, WhatsApp --------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MessageDeliveryChanged(Event):
    """An outbound message to a citizen's chat changed delivery state: accepted by the
    messenger, sent, delivered, read, or failed (with the messenger's reason)."""

    name: ClassVar[str] = "message.delivery_changed"
    contact_id: str
    message_id: str  # the operator's message, or the id of a notice the center sent itself
    channel: ChannelKind
    status: str  # pending | accepted | sent | delivered | read | failed
    kind: str = "reply"  # reply (an operator's message) | notice (a status text)
    error: str | None = None


ALL_EVENTS += (MessageDeliveryChanged,)


# --- triage: alarming words in what a citizen wrote or said (contact/triage) --------------


@dataclass(frozen=True, kw_only=True)
class KeywordAlerted(Event):
    """A citizen's words read as danger (triage intent SOS): in the first message of a report
    or chat, a later message, or a transcript segment of a call. `priority` is the contact's
    priority after the alert: a waiting contact moves up to SOS (`raised`)."""

    name: ClassVar[str] = "keyword.alert"
    personal: ClassVar[frozenset[str]] = frozenset({"words"})
    contact_id: str
    category: str  # contact.domain.triage.Category value: weapon, fire, violence …
    words: tuple[str, ...]  # the citizen's words that matched
    source: str  # intake | message | transcript
    priority: Priority
    raised: bool = False


ALL_EVENTS += (KeywordAlerted,)


# --- telephony: 102 calls, callbacks, recordings, supervision (contact/telephony) ----------


@dataclass(frozen=True, kw_only=True)
class CallRinging(Event):
    """The operator who accepted a voice contact: their phone is ringing."""

    name: ClassVar[str] = "call.ringing"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class CallConnected(Event):
    """Caller and operator are bridged: audio flows."""

    name: ClassVar[str] = "call.connected"
    contact_id: str
    operator_id: str


@dataclass(frozen=True, kw_only=True)
class CallHeld(Event):
    """The caller waits in the holding dialplan again: put on hold by the operator, during an
    attended transfer, or failed safe (an operator's phone failed, an error)."""

    name: ClassVar[str] = "call.held"
    contact_id: str
    operator_id: str | None
    reason: str  # operator | consult | fail_safe | no_answer


@dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    """The citizen's leg is gone. `dropped`: it was lost (Asterisk restarted, the link
    died), not hung up by anyone."""

    name: ClassVar[str] = "call.ended"
    contact_id: str
    reason: str  # caller_hangup | operator_hangup | transferred | dropped | …
    cause: int | None = None
    dropped: bool = False
    operator_id: str | None = None  # the operator the call was with, if any


@dataclass(frozen=True, kw_only=True)
class CallLanguageChosen(Event):
    name: ClassVar[str] = "call.language_chosen"
    contact_id: str
    language: Language


@dataclass(frozen=True, kw_only=True)
class CallTransferred(Event):
    """A transfer to a service (101, 103, 104, 112) progressed."""

    name: ClassVar[str] = "call.transferred"
    contact_id: str
    operator_id: str | None
    target: str
    mode: str  # blind | attended
    outcome: str  # started | consulting | completed | cancelled | failed
    incident_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallSpied(Event):
    """A supervisor started listening, whispering to the operator or barging in."""

    name: ClassVar[str] = "call.spied"
    contact_id: str
    supervisor_id: str
    mode: str  # listen | whisper | barge


@dataclass(frozen=True, kw_only=True)
class RecordingStored(Event):
    name: ClassVar[str] = "call.recorded"
    contact_id: str
    recording_id: str
    size_bytes: int
    duration_s: float


@dataclass(frozen=True, kw_only=True)
class CallbackRequested(Event):
    """An abandoned or dropped call became a callback task (a contact of its own)."""

    name: ClassVar[str] = "callback.requested"
    contact_id: str  # the task
    source_contact_id: str  # the call that was lost
    reason: str  # abandoned | dropped


@dataclass(frozen=True, kw_only=True)
class CallbackDialed(Event):
    """A callback attempt ended: answered, no_answer, busy, failed."""

    name: ClassVar[str] = "callback.dialed"
    contact_id: str  # the task, or the abandoned call for an automatic attempt
    outcome: str
    automatic: bool = False
    operator_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TelephonyLinkChanged(Event):
    """The AMI link to Asterisk went down or came back (and live calls were reconciled)."""

    name: ClassVar[str] = "telephony.link_changed"
    up: bool
    live_calls: int = 0
    registered: int = 0  # live calls contact did not know (arrived while it was away)
    dropped: int = 0  # calls contact knew that no longer exist


@dataclass(frozen=True, kw_only=True)
class TelephonyLeaderChanged(Event):
    """A node started or stopped driving an Asterisk (it took, lost or released the telephony
    lease; one node per Asterisk holds it, the others stand by)."""

    name: ClassVar[str] = "telephony.leader_changed"
    node: str  # the node whose role changed
    leading: bool
    holder: str | None  # who holds the lease now, as far as that node knows
    reason: str  # acquired | lost | expired | released | failed
    epoch: int  # the lease's term (+1 at every change of holder)


ALL_EVENTS += (
    CallRinging,
    CallConnected,
    CallHeld,
    CallEnded,
    CallLanguageChosen,
    CallTransferred,
    CallSpied,
    RecordingStored,
    CallbackRequested,
    CallbackDialed,
    TelephonyLinkChanged,
    TelephonyLeaderChanged,
)


# --- transcription (contact/transcribe) ---------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TranscriptPartial(Event):
    """What a leg's speaker is saying now, as recognised so far (replaced by the next one)."""

    name: ClassVar[str] = "transcript.partial"
    personal: ClassVar[frozenset[str]] = frozenset({"text"})
    contact_id: str
    speaker: str  # caller | operator
    text: str


@dataclass(frozen=True, kw_only=True)
class TranscriptSegmentStored(Event):
    """One utterance of a leg, recognised and stored (GET /api/v1/contacts/{id}/transcript)."""

    name: ClassVar[str] = "transcript.segment"
    personal: ClassVar[frozenset[str]] = frozenset({"text"})
    contact_id: str
    segment_id: str
    speaker: str
    language: str
    text: str
    start_s: float  # from the start of the leg's tap
    end_s: float
    confidence: float


@dataclass(frozen=True, kw_only=True)
class TranscriptDegraded(Event):
    """Transcription of a leg is worse than live, or absent: `level` is partials_dropped
    (behind real time), stopped (further behind, or the stream broke), refused (no capacity
    for another leg), no_model (the language's model is not installed), tap_failed (Asterisk
    could not start the tap), failed (the recognizer broke), or recovered (live again)."""

    name: ClassVar[str] = "transcript.degraded"
    contact_id: str
    speaker: str
    level: str
    reason: str


ALL_EVENTS += (TranscriptPartial, TranscriptSegmentStored, TranscriptDegraded)
