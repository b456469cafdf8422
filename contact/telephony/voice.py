"""102 calls as contacts of the unified queue: AMI signals → commands, operator actions → PBX.

The life of an incoming call (asterisk-config/extensions.conf has the dialplan side):

  ContactCall (before Answer)  → RegisterContact (voice, kiosk or video; external_id = the
                                 caller's Uniqueid) → queued like every chat and alarm
  contact.accepted             → Originate the operator's phone into [contact-operator-wait];
                                 answered → the caller is Redirected into [contact-connect],
                                 which bridges it to that leg; not answered within the offer
                                 timeout → the contact goes back to its place in the queue
  caller hangs up              → waiting: abandoned + a callback task (or an automatic first
                                 callback); connected: wrap-up for the operator
  operator's leg hangs up      → normal clearing (16, the operator's own BYE): the call is
                                 over, the caller is hung up; anything else (a failed phone,
                                 network): the caller is back on hold and the contact at the
                                 head of the queue
  AMI (re)login                → resync (CoreShowChannels): calls no longer there are marked
                                 dropped and offered for callback; live callers unknown to the
                                 database are registered; orphaned legs are hung up

Fail safe: an exception while steering a live call sends the caller back to [contact-hold];
a call is never hung up by our error. Signals are handled one at a time per call (keyed by the
citizen's channel), in AMI order; calls do not wait for each other. Lock order: a call's lock,
then (through bus.execute) the contact's; bus event handlers never take a call's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contact.bus import KeyedLocks, MessageBus
from contact.config import Settings
from contact.domain import events as ev
from contact.domain.commands import (
    Abandon,
    Accept,
    Close,
    RegisterContact,
    ReturnToQueue,
    SetPresence,
    UpdateLocation,
)
from contact.domain.model import (
    OPEN_STATES,
    Capability,
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Presence,
    new_id,
)
from contact.errors import Conflict, ContactError, NotFound, Unprocessable
from contact.i18n import text
from contact.ports import (
    Call,
    Callback,
    CallbackState,
    CallControl,
    CallRepository,
    CallState,
    ContactRepository,
    OperatorRepository,
    Recording,
)
from contact.routing.service import RoutingService
from contact.telephony import parse

log = logging.getLogger(__name__)

VOICE_CHANNELS = frozenset({ChannelKind.VOICE, ChannelKind.KIOSK, ChannelKind.VIDEO})
# app contacts a video call of the citizen app may join (X-Contact-Id: an SOS it reported)
ATTACHABLE = frozenset({ChannelKind.APP_SOS, ChannelKind.APP, ChannelKind.VIDEO})
CALL_READY_WAIT_S = 2.0
RING_GUARD_EXTRA_S = 5.0
RESYNC_EVERY_S = 15.0
# the armed phone (ring on offer): Asterisk drops an arm not refreshed within ARM_TTL_S (a
# contact that died stops arming); an armed ring its queue did not confirm by then stops
ARM_TTL_S = 30.0
ARM_REFRESH_S = 10.0
ARMED_CONFIRM_S = 2.0
LANGUAGE_WRITE_S = 0.5
BOOKKEEPING = (parse.HungUp, parse.LanguageChosen, parse.RecordingStarted, parse.Drift)
LOCAL_ZONE = "Asia/Almaty"


def _zone() -> Any:
    try:
        return ZoneInfo(LOCAL_ZONE)
    except Exception:  # no tz database on this machine
        return UTC


class VoiceService:
    """Keeps contacts and Asterisk's calls in step. One per node; several nodes may share one
    Asterisk (every node sees every event; the database dedupes intake)."""

    def __init__(
        self,
        *,
        settings: Settings,
        bus: MessageBus,
        contacts: ContactRepository,
        operators: OperatorRepository,
        calls: CallRepository,
        control: CallControl,
        routing: RoutingService,
        clock: Callable[[], float] = time.time,
        on_recording_closed: Callable[[Recording], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._settings = settings
        self._asterisk = settings.asterisk
        self._bus = bus
        self._contacts = contacts
        self._operators = operators
        self._repo = calls
        self._control = control
        self._routing = routing
        self._clock = clock
        self._on_recording_closed = on_recording_closed
        self._locks = KeyedLocks()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        # the live picture: anchor uniqueid → call; other legs → anchor; contact → anchor
        self._calls: dict[str, Call] = {}
        self._legs: dict[str, str] = {}
        self._by_contact: dict[str, str] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._bridging: dict[str, str] = {}  # anchor → the leg it is being bridged to
        self._ended_by_operator: set[str] = set()
        self._cancelling: set[str] = set()
        self._auto_legs: dict[str, str] = {}  # automatic callback leg → callback id
        self._other_legs: set[str] = set()  # supervisors' spy legs
        self._recording_paths: dict[str, str] = {}  # anchor → its recording, until stored
        # the armed phone: what Asterisk holds (operator, dial string, ring s) and until when;
        # calls that took it, by anchor → operator, until the queue's offer confirms them
        self._arm_key: tuple[str, str, int] | None = None
        self._arm_until = 0.0
        self._arm_known = False  # False: Asterisk's CONTACT_ARMED is unknown, set it again
        self._arming: asyncio.Task[None] | None = None
        self._rearm_again = False
        self._armed: dict[str, str] = {}
        self._armed_answered: dict[str, str] = {}  # anchor → its answered armed leg
        # armed legs announced before their caller (the dialplan rings first): caller → leg,
        # "" once that leg is gone
        self._early_legs: dict[str, str] = {}
        self._languages: dict[str, Language] = {}  # chosen, not yet on the contacts' rows
        self._language_writer: asyncio.Task[None] | None = None
        self._bookkeeping = asyncio.Semaphore(2)
        self._started = False
        self._periodic_task: asyncio.Task[None] | None = None
        self.resyncs = 0
        self.last_resync_at: float | None = None
        self.link_up = False

    # --- wiring -----------------------------------------------------------------------------

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactAccepted, self._on_accepted)
        bus.subscribe(ev.ContactOffered, self._on_offered)
        bus.subscribe(ev.OperatorPresenceChanged, self._on_presence)
        bus.register(ReturnToQueue, self.return_to_queue)

    @property
    def ring_s(self) -> float:
        return self._asterisk.operator_ring_s or self._settings.routing.offer_timeout_s

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str = "voice") -> None:
        # a fresh context: a task started inside a bus handler must not inherit the bus's
        # pending-events queue of that handler (its events would be lost)
        task = asyncio.create_task(coro, name=name, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _later(self, delay: float, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._spawn(factory(), "voice-timer")

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    async def start(self) -> None:
        """Load the calls the database says are live (a restarted node); the resync at the
        first AMI login checks them against Asterisk."""
        for call in await self._repo.live():
            self._remember(call)
        for cb in await self._repo.callbacks_in(
            frozenset({CallbackState.PENDING_AUTO, CallbackState.DIALING})
        ):
            due = cb.due_at.timestamp() if cb.due_at is not None else self._clock()
            self._later(due - self._clock(), self._attempt_factory(cb.id))
        self._started = True
        self._periodic_task = asyncio.create_task(self._periodic(), name="voice-periodic")

    async def stop(self) -> None:
        self._started = False
        if self._arm_key is not None and self._control.connected:
            with contextlib.suppress(Exception):  # no phone rings for a contact that is gone
                await self._control.set_globals({"CONTACT_ARMED": ""})
        self._arm_key, self._arm_known = None, False
        if self._language_writer is not None and not self._language_writer.done():
            self._language_writer.cancel()
        await self._write_languages(0.0)  # what the menus said so far is kept
        if self._periodic_task is not None:
            self._periodic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._periodic_task
            self._periodic_task = None
        for handle in list(self._timers):
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def idle(self) -> None:
        """Wait until every signal received so far is handled (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- the live picture ---------------------------------------------------------------------

    def _remember(self, call: Call) -> None:
        self._calls[call.uniqueid] = call
        self._by_contact[call.contact_id] = call.uniqueid
        for leg in (call.citizen_leg, call.operator_leg, call.consult_leg):
            if leg and leg != call.uniqueid:
                self._legs[leg] = call.uniqueid
        ready = self._ready.pop(call.contact_id, None)
        if ready is not None:
            ready.set()

    def _forget(self, call: Call) -> None:
        self._calls.pop(call.uniqueid, None)
        if self._by_contact.get(call.contact_id) == call.uniqueid:
            del self._by_contact[call.contact_id]
        for leg, anchor in list(self._legs.items()):
            if anchor == call.uniqueid:
                del self._legs[leg]
        self._bridging.pop(call.uniqueid, None)
        self._armed.pop(call.uniqueid, None)
        self._armed_answered.pop(call.uniqueid, None)
        self._ended_by_operator.discard(call.uniqueid)
        self._cancelling.discard(call.uniqueid)

    def _anchor(self, uniqueid: str) -> str:
        return self._legs.get(uniqueid, uniqueid)

    def live_call(self, contact_id: str) -> Call | None:
        anchor = self._by_contact.get(contact_id)
        return self._calls.get(anchor) if anchor is not None else None

    def live_calls(self) -> list[Call]:
        return sorted(self._calls.values(), key=lambda c: c.started_at)

    async def _call_for(self, contact_id: str, wait_s: float = CALL_READY_WAIT_S) -> Call | None:
        """The contact's live call; its ContactCall may still be being registered."""
        call = self.live_call(contact_id)
        if call is not None or wait_s <= 0:
            return call
        ready = self._ready.setdefault(contact_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), wait_s)
        self._ready.pop(contact_id, None)
        return self.live_call(contact_id)

    def locked(self, call: Call) -> Any:
        return self._locks.hold(call.uniqueid)

    # --- AMI signals ---------------------------------------------------------------------------

    def on_ami_event(self, event: dict[str, str]) -> None:
        """Called by the AMI client for every event, in order, synchronously."""
        sig = parse.signal(event)
        if sig is None or not self._started:
            return
        if isinstance(sig, parse.RecordingStarted):
            # it follows its ContactCall by a millisecond: kept for the call's row, which is
            # being written (one write per call instead of two)
            self._recording_paths[self._anchor(sig.uniqueid)] = sig.path
        if isinstance(sig, parse.DialStarted):
            anchor = self._legs.get(sig.uniqueid, sig.uniqueid)
            if anchor in self._calls and sig.dest_uniqueid not in self._calls:
                # known from now on: later events of the new leg find their call
                self._legs[sig.dest_uniqueid] = anchor
        if isinstance(sig, parse.ArmedRing):
            # its answer or hangup finds the call (the call's own events, keyed alike, follow)
            self._legs[sig.uniqueid] = sig.caller
        if isinstance(sig, parse.Booted | parse.Drift):
            key = "resync"
        elif isinstance(sig, parse.ShuttingDown):
            return
        elif isinstance(sig, parse.LocationSent):
            key = f"endpoint:{sig.endpoint}"
        else:
            key = self._anchor(sig.uniqueid)
        self._spawn(self._handle(key, sig), "voice-signal")

    def on_link(self, up: bool) -> None:
        self.link_up = up
        self._arm_known = False  # a restarted Asterisk has no globals of ours
        if not up:
            self._spawn(self._link_down(), "voice-link")

    async def _link_down(self) -> None:
        await self._bus.publish(ev.TelephonyLinkChanged(up=False))

    async def _handle(self, key: str, sig: parse.Signal) -> None:
        async with self._locks.hold(key):
            try:
                if isinstance(sig, BOOKKEEPING):
                    # after the fact (a waiting caller hung up, the menu's answer): a few at
                    # a time, so that new calls' intake never queues behind a burst of them
                    async with self._bookkeeping:
                        await self._apply(sig)
                else:
                    await self._apply(sig)
            except Exception:
                log.exception("voice: handling %s failed", type(sig).__name__)
                uid = getattr(sig, "uniqueid", None)
                call = self._calls.get(self._anchor(uid)) if uid else None
                if call is not None:
                    await self._fail_safe(call, "error")

    async def _apply(self, sig: parse.Signal) -> None:
        if isinstance(sig, parse.CallAnnounced):
            await self._announced(sig)
        elif isinstance(sig, parse.RecordingStarted):
            await self._recording_started(sig)
        elif isinstance(sig, parse.LanguageChosen):
            await self._language(sig)
        elif isinstance(sig, parse.LocationSent):
            await self._location(sig)
        elif isinstance(sig, parse.HungUp):
            await self._hung_up(sig)
        elif isinstance(sig, parse.OriginateResult):
            await self._originated(sig)
        elif isinstance(sig, parse.ArmedRing):
            await self._armed_ring(sig)
        elif isinstance(sig, parse.DialStarted):
            await self._dial_started(sig)
        elif isinstance(sig, parse.DialEnded):
            await self._dial_ended(sig)
        elif isinstance(sig, parse.Bridged):
            await self._bridged(sig)
        elif isinstance(sig, parse.DialplanResult):
            await self._dialplan_result(sig)
        elif isinstance(sig, parse.Booted):
            await self.resync()
        elif isinstance(sig, parse.Drift):
            await self.resync(full=False)

    # --- intake ------------------------------------------------------------------------------

    def _summary(self, sig: parse.CallAnnounced) -> str:
        if sig.callback_id is not None:
            summary = text("call.callback_answered", None)
        elif sig.channel_kind is ChannelKind.KIOSK:
            summary = text("call.kiosk", None).format(endpoint=sig.endpoint or "?")
        elif sig.channel_kind is ChannelKind.VIDEO:
            summary = text("call.video", None)
        else:
            summary = text("call.voice", None)
        if sig.civic_address:
            summary += ". " + text("call.address", None).format(address=sig.civic_address)
        return summary

    async def _attachable(self, contact_id: str | None) -> Contact | None:
        """The open app contact (an SOS report) a video call of the app belongs to."""
        if contact_id is None:
            return None
        try:
            contact = await self._contacts.get(contact_id)
        except NotFound:
            return None
        if contact.channel not in ATTACHABLE or contact.state not in OPEN_STATES:
            return None
        return contact

    async def _announced(self, sig: parse.CallAnnounced, recording: str | None = None) -> None:
        if sig.uniqueid in self._calls:
            return  # a resync raced the event
        kind = sig.channel_kind
        attached = await self._attachable(sig.contact_id)
        if attached is not None:
            contact_id = attached.id
        else:
            citizen = sig.number
            if kind is ChannelKind.KIOSK or (kind is ChannelKind.VIDEO and not citizen):
                citizen = sig.endpoint
            registered = await self._bus.execute(
                RegisterContact(
                    channel=kind,
                    text=self._summary(sig),
                    citizen=citizen,
                    location=sig.location,
                    external_id=sig.uniqueid,
                )
            )
            contact_id = registered.contact_id
        call = self._calls.get(sig.uniqueid)
        if call is None:
            call = Call(
                id=new_id(),
                contact_id=contact_id,
                uniqueid=sig.uniqueid,
                channel=sig.channel,
                direction="in",
                kind=(
                    "sos_video"
                    if attached is not None
                    else "callback"
                    if sig.callback_id
                    else kind.value
                ),
                started_at=self._now(),
                endpoint=sig.endpoint,
                number=sig.number,
                citizen_leg=sig.uniqueid,
                civic_address=sig.civic_address,
                recording=recording or self._recording_paths.pop(sig.uniqueid, None),
            )
            if sig.armed_operator is not None:
                await self._took_armed(call, sig.armed_operator)
            self._remember(call)
            try:
                async with self._bookkeeping:  # after the intake: not on its path
                    await self._repo.add(call)
            except Conflict:  # another node registered it first
                stored = await self._repo.by_uniqueid(sig.uniqueid)
                if stored is not None:
                    self._remember(stored)
        else:
            self._remember(call)
        log.info("call registered", extra={"contact_id": contact_id, "channel": kind.value})
        if sig.callback_id is not None:
            await self._auto_callback_answered(sig.callback_id, contact_id)
        if (
            attached is not None
            and attached.state is ContactState.CONNECTED
            and attached.operator_id is not None
        ):
            # the operator already works the SOS: their phone rings for its video at once
            await self.ring_operator(call, attached.operator_id)

    async def _recording_started(self, sig: parse.RecordingStarted) -> None:
        """Its call's row has it unless the row was written before it came."""
        anchor = self._anchor(sig.uniqueid)
        path = self._recording_paths.pop(anchor, None)
        call = self._calls.get(anchor)
        if call is None or path is None or call.recording == path:
            return
        call.recording = path
        await self._repo.save(call)

    async def _language(self, sig: parse.LanguageChosen) -> None:
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None or call.language is sig.language:
            return
        call.language = sig.language  # on the call's row with its next write
        # on the contact's row within LANGUAGE_WRITE_S, with the others chosen meanwhile: one
        # commit for a burst of menus ending, not one each ahead of new calls' intake
        self._languages[call.contact_id] = sig.language
        if self._language_writer is None or self._language_writer.done():
            self._language_writer = asyncio.create_task(
                self._write_languages(), name="voice-languages", context=contextvars.Context()
            )
        await self._bus.publish(
            ev.CallLanguageChosen(contact_id=call.contact_id, language=sig.language)
        )

    async def _write_languages(self, delay_s: float | None = None) -> None:
        await asyncio.sleep(LANGUAGE_WRITE_S if delay_s is None else delay_s)
        languages, self._languages = self._languages, {}
        if languages:
            try:
                await self._repo.set_contact_languages(languages)
            except ContactError as error:  # a hint for routing and reports; the call goes on
                log.warning("callers' languages not stored: %s", error.message)

    async def _location(self, sig: parse.LocationSent) -> None:
        """A caller's device sent its position: the one live call of that endpoint moves.
        Kiosks are where they are configured; a shared endpoint (a trunk) is ambiguous."""
        calls = [
            c
            for c in self._calls.values()
            if c.endpoint == sig.endpoint and c.direction == "in" and c.kind != "kiosk"
        ]
        if len(calls) != 1:
            log.info("location from %s matches %d live calls: ignored", sig.endpoint, len(calls))
            return
        await self._bus.execute(
            UpdateLocation(contact_id=calls[0].contact_id, location=sig.location)
        )

    # --- hangups ------------------------------------------------------------------------------

    async def _hung_up(self, sig: parse.HungUp) -> None:
        uid = sig.uniqueid
        self._other_legs.discard(uid)
        if uid in self._auto_legs:
            return  # its OriginateResponse (failure) or its ContactCall tells the story
        caller = self._legs.get(uid)
        if caller is not None and self._early_legs.get(caller) == uid:
            self._early_legs[caller] = ""  # an armed phone that failed before its call came
        call = self._calls.get(self._anchor(uid))
        if call is None:
            return
        if uid == call.uniqueid:
            await self._call_gone(call, sig.cause)
        elif uid == call.operator_leg:
            await self._operator_leg_gone(call, sig.cause)
        elif uid == call.consult_leg:
            await self._consult_leg_gone(call)
        self._legs.pop(uid, None)

    async def _call_gone(self, call: Call, cause: int | None, *, dropped: bool = False) -> None:
        previous = call.state
        if dropped:
            reason = "dropped"
        elif previous == CallState.TRANSFERRED:
            reason = "transferred"
        elif call.uniqueid in self._ended_by_operator:
            reason = "operator_hangup"
        elif call.direction == "out":
            reason = "callback_ended"
        else:
            reason = "caller_hangup"
        call.state = CallState.ENDED
        call.ended_at = self._now()
        call.end_reason = reason
        call.hangup_cause = cause
        call.dropped = dropped
        legs = [
            leg for leg in (call.operator_leg, call.consult_leg) if leg and leg != call.uniqueid
        ]
        self._forget(call)
        await self._repo.save(call)
        if not dropped:
            for leg in legs:
                with contextlib.suppress(ContactError):
                    await self._control.hangup(leg)
        contact = await self._contacts.get(call.contact_id)
        if call.kind == "sos_video":
            pass  # the SOS report stands without its video: the contact is left as it is
        elif contact.state in (ContactState.NEW, ContactState.QUEUED, ContactState.OFFERED):
            await self._bus.execute(Abandon(contact_id=contact.id))
            if contact.answered_at is None and call.direction == "in":
                await self._request_callback(contact, call, "dropped" if dropped else "abandoned")
        elif contact.state is ContactState.CONNECTED and contact.operator_id is not None:
            answered = call.answered_at is not None
            if call.direction == "in" or answered:
                await self._bus.execute(
                    Close(
                        contact_id=contact.id,
                        operator_id=contact.operator_id,
                        disposition=contact.disposition or reason,
                        wrap_up=True,
                    )
                )
                if dropped and call.direction == "in":
                    await self._request_callback(contact, call, "dropped")
        await self._bus.publish(
            ev.CallEnded(
                contact_id=call.contact_id,
                reason=reason,
                cause=cause,
                dropped=dropped,
                operator_id=contact.operator_id,
            )
        )
        self._recording_paths.pop(call.uniqueid, None)
        if self._on_recording_closed is not None and call.recording is not None:
            recording = Recording(
                id=new_id(),
                contact_id=call.contact_id,
                call_id=call.id,
                path=call.recording,
                started_at=call.started_at,
                ended_at=call.ended_at,
            )
            self._spawn(self._on_recording_closed(recording), "voice-recording")

    async def _operator_leg_gone(self, call: Call, cause: int | None) -> None:
        call.operator_leg = None
        state = call.state
        if state == CallState.RINGING and call.direction == "in":
            # the phone was rejected or the leg failed before answering
            await self._not_answered(call, "no_answer")
            return
        if state == CallState.CONNECTED and call.direction == "in":
            if cause == parse.NORMAL_CLEARING:
                # the operator's own BYE: the call is over for the caller too
                self._ended_by_operator.add(call.uniqueid)
                await self._repo.save(call)
                with contextlib.suppress(ContactError):
                    await self._control.hangup(call.uniqueid)
                return
            # the phone failed: the caller is back on hold ([contact-connect]); to the head
            log.warning(
                "operator leg failed (cause %s): caller back to the queue",
                cause,
                extra={"contact_id": call.contact_id},
            )
            operator_id = call.operator_id
            call.state = CallState.HOLDING
            call.operator_id = None
            await self._repo.save(call)
            await self._bus.publish(
                ev.CallHeld(contact_id=call.contact_id, operator_id=operator_id, reason="fail_safe")
            )
            await self._bus.execute(
                ReturnToQueue(contact_id=call.contact_id, reason="operator_failed")
            )
            return
        if state == CallState.CONSULTING:
            consult = call.consult_leg
            call.consult_leg = None
            call.state = CallState.HOLDING
            call.operator_id = None
            await self._repo.save(call)
            if consult:
                with contextlib.suppress(ContactError):
                    await self._control.hangup(consult)
            await self._bus.execute(
                ReturnToQueue(contact_id=call.contact_id, reason="operator_failed")
            )
            return
        await self._repo.save(call)

    async def _consult_leg_gone(self, call: Call) -> None:
        if call.state == CallState.TRANSFERRED:
            # the service hung up after the transfer: the call is over
            with contextlib.suppress(ContactError):
                await self._control.hangup(call.uniqueid)
        # while consulting, the operator's leg reports the end (UserEvent ContactConsult)

    # --- the operator's phone -------------------------------------------------------------------

    async def _on_offered(self, event: ev.ContactOffered) -> None:
        if self._started:  # a standby's service: the node that drives hears of it (relay)
            self._offered(event.contact_id, event.operator_id)

    def _offered(self, contact_id: str, operator_id: str) -> None:
        """Ring on offer (CONTACT_ASTERISK_RING_ON_OFFER): a call offered is accepted for the
        operator at once, so their phone rings now; not answering returns it like any offer."""
        if self._asterisk.ring_on_offer and self.live_call(contact_id) is not None:
            # the phone rings while the accept is recorded (not after it): the ring is on the
            # path of every call, the accept's commits need not be
            self._spawn(self._accept_for(contact_id, operator_id), "voice-offer")
            self._spawn(
                self._ring_for(contact_id, operator_id, 0.0, offered=True), "voice-offer-ring"
            )

    async def _accept_for(self, contact_id: str, operator_id: str) -> None:
        try:
            await self._bus.execute(Accept(contact_id=contact_id, operator_id=operator_id))
        except ContactError as error:  # the offer moved on meanwhile
            log.info("ring on offer: %s", error.message, extra={"contact_id": contact_id})

    async def _on_accepted(self, event: ev.ContactAccepted) -> None:
        """Bus handler (holds the contact's lock): the work goes to a task of its own. A
        standby's service (never started) does nothing: the node that drives hears of it."""
        if self._started:
            self._accepted(event.contact_id, event.channel, event.operator_id)

    def _accepted(self, contact_id: str, channel: ChannelKind, operator_id: str) -> None:
        if channel in VOICE_CHANNELS:
            self._spawn(self._ring_for(contact_id, operator_id), "voice-accept")
        elif channel in ATTACHABLE and self.live_call(contact_id) is not None:
            # an SOS report whose video call already waits
            self._spawn(self._ring_for(contact_id, operator_id, 0.0), "voice-accept")
        elif channel is ChannelKind.CALLBACK:
            self._spawn(self._callback_for(contact_id, operator_id), "voice-cb")

    # --- what other nodes' buses had (contact/telephony/relay.py) ------------------------------

    def nudge(self, event: str, contact_id: str, operator_id: str) -> None:
        """Another node's bus had `event` (contact.accepted, or contact.offered with ring on
        offer) for this contact: do what this node's own handler would have done, from the
        contact as the database has it now (the message itself is only a hint)."""
        if self._started:
            self._spawn(self._nudged(event, contact_id, operator_id), "voice-nudge")

    async def _nudged(self, event: str, contact_id: str, operator_id: str) -> None:
        if event == ev.ContactOffered.name:
            self._offered(contact_id, operator_id)  # the accept and the ring check the state
            return
        if event != ev.ContactAccepted.name:
            return
        try:
            contact = await self._contacts.get(contact_id)
        except NotFound:
            return
        if contact.state is not ContactState.CONNECTED or contact.operator_id != operator_id:
            log.debug("relayed accept is stale: the contact is %s", contact.state)
            return
        if contact.channel is ChannelKind.CALLBACK and self.live_call(contact_id) is not None:
            return  # dialled already
        self._accepted(contact_id, contact.channel, operator_id)

    async def ring_missed(self) -> int:
        """Durable state says an operator's phone should ring for a waiting call and it does
        not: the contact is connected to the operator (or offered, with ring on offer) and the
        call still holds. A relay from another node was lost (pub/sub is at-most-once), or
        came while no node drove. Ring it now; idempotent (ring_operator checks the state
        under the call's lock). Run by the periodic check and after every full resync; the
        number of calls rung."""
        if not self._started or not self._control.connected:
            return 0
        rung = 0
        async with self._locks.hold("ring-missed"):
            holding = {c.contact_id for c in self._calls.values() if self._may_miss(c)}
            if not holding:
                return 0
            wanted = frozenset({ContactState.CONNECTED, ContactState.OFFERED})
            try:  # one query, not one per holding call (hundreds hold at a busy hour)
                contacts = [c for c in await self._contacts.in_states(wanted) if c.id in holding]
            except ContactError as error:  # the database: the next check tries again
                log.warning("missed rings not checked: %s", error.message)
                return 0
            for contact in contacts:
                operator_id = contact.operator_id
                if operator_id is None:
                    continue
                offered = contact.state is ContactState.OFFERED
                if offered and not self._asterisk.ring_on_offer:
                    continue
                await self._ring_for(contact.id, operator_id, 0.0, offered=offered)
                call = self.live_call(contact.id)
                if call is None or call.state != CallState.RINGING:
                    continue
                log.info("a missed ring: the phone rings now", extra={"contact_id": contact.id})
                rung += 1
                if offered:
                    self._spawn(self._accept_for(contact.id, operator_id), "voice-offer")
        return rung

    @staticmethod
    def _may_miss(call: Call) -> bool:
        return call.direction == "in" and call.state == CallState.HOLDING

    async def _ring_for(
        self,
        contact_id: str,
        operator_id: str,
        wait_s: float = CALL_READY_WAIT_S,
        *,
        offered: bool = False,
    ) -> None:
        call = await self._call_for(contact_id, wait_s)
        log.debug("accepted %s: call %s", contact_id, call)
        if call is None:
            log.warning("accepted voice contact has no live call", extra={"contact_id": contact_id})
            return
        async with self.locked(call):
            try:
                if not await self._armed_settled(call, operator_id):
                    await self.ring_operator(call, operator_id, offered=offered)
            except Exception:
                log.exception("ringing the operator failed", extra={"contact_id": contact_id})
                await self._fail_safe(call, "error")

    async def ring_operator(self, call: Call, operator_id: str, *, offered: bool = False) -> None:
        """Ring the operator's phone (under the call's lock); the answer comes as an event.
        `offered`: ring on offer, the accept is being recorded meanwhile."""
        if call.state == CallState.ENDED:
            return
        if call.operator_id == operator_id and call.state in (
            CallState.RINGING,
            CallState.CONNECTED,
        ):
            return  # already ringing for this operator (ring on offer, then the accept)
        contact = await self._contacts.get(call.contact_id)
        wanted = (
            (ContactState.OFFERED, ContactState.CONNECTED) if offered else (ContactState.CONNECTED,)
        )
        if contact.state not in wanted or contact.operator_id != operator_id:
            log.debug("not ringing: the contact is %s", contact.state)
            return
        operator = await self._operators.get(operator_id)
        endpoint = parse.operator_dial_string(operator.endpoint)
        if endpoint is None:
            log.warning("operator %s has no usable phone endpoint", operator_id)
            await self._bus.execute(ReturnToQueue(contact_id=call.contact_id, reason="no_phone"))
            return
        leg = new_id()
        call.operator_id = operator_id
        call.operator_leg = leg
        call.state = CallState.RINGING
        self._legs[leg] = call.uniqueid
        try:
            await self._control.ring(
                endpoint,
                leg,
                self.ring_s,
                caller_id=f'"102" <{call.number or "102"}>',
                # the citizen app's video: the operator's leg carries it both ways
                video_of=call.uniqueid if call.kind in ("video", "sos_video") else None,
            )
        except ContactError as error:
            log.warning("ringing the operator failed: %s", error.message)
            self._legs.pop(leg, None)
            await self._not_answered(call, "operator_failed")
            return
        await self._repo.save(call)  # after the ring: not on the path to the phone
        self._later(self.ring_s + RING_GUARD_EXTRA_S, lambda: self._ring_guard(call.uniqueid, leg))
        await self._bus.publish(ev.CallRinging(contact_id=call.contact_id, operator_id=operator_id))

    async def _ring_guard(self, anchor: str, leg: str) -> None:
        """An OriginateResponse that never came: treat the leg as not answered."""
        async with self._locks.hold(anchor):
            call = self._calls.get(anchor)
            if call is None or call.operator_leg != leg or call.state != CallState.RINGING:
                return
            if call.direction == "in" and self._bridging.get(anchor) == leg:
                return
            with contextlib.suppress(ContactError):
                await self._control.hangup(leg)
            await self._not_answered(call, "no_answer")

    async def _not_answered(self, call: Call, reason: str) -> None:
        """The operator's phone did not answer (or failed): the contact goes back to its place
        in the queue; the caller never left holding."""
        leg = call.operator_leg
        call.operator_leg = None
        call.operator_id = None
        if call.direction == "in":
            call.state = CallState.HOLDING
            await self._repo.save(call)
        else:
            call.state = CallState.ENDED
            call.ended_at = self._now()
            call.end_reason = "operator_no_answer"
            self._forget(call)
            await self._repo.save(call)
        if leg:
            self._legs.pop(leg, None)
        await self._bus.execute(ReturnToQueue(contact_id=call.contact_id, reason=reason))

    def own_leg(self, leg: str) -> None:
        """A leg contact originates for something else than a call (a supervisor's ChanSpy):
        not an orphan to hang up."""
        self._other_legs.add(leg)

    async def _originated(self, sig: parse.OriginateResult) -> None:
        if sig.uniqueid in self._other_legs:
            if not sig.answered:
                self._other_legs.discard(sig.uniqueid)
            return
        if sig.uniqueid in self._auto_legs:
            await self._auto_originated(sig)
            return
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None or call.operator_leg != sig.uniqueid or call.state != CallState.RINGING:
            if sig.answered and call is None:
                log.info("an answered leg belongs to no live call: hanging it up")
                with contextlib.suppress(ContactError):
                    await self._control.hangup(sig.uniqueid)
            return
        if not sig.answered:
            await self._not_answered(call, sig.reason)
            return
        if call.direction == "out":
            return  # the operator hears the citizen's phone ring ([contact-callback])
        if call.uniqueid in self._armed:
            # an armed phone answered before the queue's offer: connected once it comes
            self._armed_answered[call.uniqueid] = sig.uniqueid
            return
        await self._connect(call, sig.uniqueid)

    async def _connect(self, call: Call, leg: str) -> None:
        """Bridge the caller with an answered leg (operator or transfer target)."""
        self._bridging[call.uniqueid] = leg
        try:
            await self._control.connect(call.uniqueid, leg)
        except NotFound:
            # the caller left meanwhile: its hangup follows; the leg must not stay up
            self._bridging.pop(call.uniqueid, None)
            with contextlib.suppress(ContactError):
                await self._control.hangup(leg)

    async def _bridged(self, sig: parse.Bridged) -> None:
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None or sig.uniqueid != call.uniqueid or call.direction != "in":
            return
        leg = self._bridging.pop(call.uniqueid, None)
        if leg is None:
            return
        if leg == call.operator_leg and call.operator_id is not None:
            first = call.answered_at is None
            call.state = CallState.CONNECTED
            if first:
                call.answered_at = self._now()
            await self._repo.save(call)
            await self._bus.publish(
                ev.CallConnected(contact_id=call.contact_id, operator_id=call.operator_id)
            )
        elif leg == call.consult_leg:
            await self._transfer_completed(call, "attended")

    # --- hold, resume, hang up (operator actions, under the call's lock) -------------------------

    async def hold(self, call: Call) -> None:
        if call.state != CallState.CONNECTED:
            raise Conflict("the call is not connected", error_id="call_not_connected")
        await self._control.hold(call.uniqueid)
        call.state = CallState.HELD
        await self._repo.save(call)
        await self._bus.publish(
            ev.CallHeld(contact_id=call.contact_id, operator_id=call.operator_id, reason="operator")
        )

    async def resume(self, call: Call) -> None:
        if call.state != CallState.HELD or call.operator_id is None:
            raise Conflict("the call is not on hold", error_id="call_not_held")
        if call.operator_leg is None:
            await self.ring_operator(call, call.operator_id)  # the phone was put down meanwhile
            return
        call.state = CallState.RINGING  # connecting to the leg that is up
        await self._repo.save(call)
        await self._connect(call, call.operator_leg)

    async def hangup(self, call: Call) -> None:
        """The operator ends the call (the caller's leg)."""
        self._ended_by_operator.add(call.uniqueid)
        target = call.citizen_leg or call.uniqueid
        await self._control.hangup(target)

    # --- transfers ----------------------------------------------------------------------------

    async def _incident_of(self, call: Call) -> str:
        contact = await self._contacts.get(call.contact_id)
        return contact.incident_id or contact.id

    async def transfer(self, call: Call, target: str, mode: str) -> None:
        if target not in self._asterisk.targets:
            raise Unprocessable(
                f"transfers go to {', '.join(self._asterisk.targets)}", error_id="bad_target"
            )
        if call.direction != "in" or call.state not in (CallState.CONNECTED, CallState.HELD):
            raise Conflict(
                "only a connected call can be transferred", error_id="call_not_connected"
            )
        incident = await self._incident_of(call)
        call.transfer_target = target
        if mode == "blind":
            call.state = CallState.TRANSFERRING
            await self._repo.save(call)
            leg = call.operator_leg
            try:
                await self._control.blind_transfer(call.uniqueid, target, incident)
            except ContactError:
                await self._fail_safe(call, "error")
                raise
            if leg:  # the operator is done with this call
                call.operator_leg = None
                await self._repo.save(call)
                with contextlib.suppress(ContactError):
                    await self._control.hangup(leg)
        elif mode == "attended":
            if call.operator_leg is None:
                raise Conflict("the operator's phone is not on the call", error_id="no_leg")
            call.state = CallState.CONSULTING
            await self._repo.save(call)
            try:
                await self._control.consult(call.uniqueid, call.operator_leg, target, incident)
            except ContactError:
                await self._fail_safe(call, "error")
                raise
            await self._bus.publish(
                ev.CallHeld(
                    contact_id=call.contact_id, operator_id=call.operator_id, reason="consult"
                )
            )
        else:
            raise Unprocessable("mode is blind or attended", error_id="bad_mode")
        await self._bus.publish(
            ev.CallTransferred(
                contact_id=call.contact_id,
                operator_id=call.operator_id,
                target=target,
                mode=mode,
                outcome="started",
                incident_id=incident,
            )
        )

    async def complete_transfer(self, call: Call) -> None:
        if call.state != CallState.CONSULTING or call.consult_leg is None:
            raise Conflict("no answered consultation to complete", error_id="no_consultation")
        await self._connect(call, call.consult_leg)

    async def cancel_transfer(self, call: Call) -> None:
        if call.state != CallState.CONSULTING:
            raise Conflict("no consultation to cancel", error_id="no_consultation")
        self._cancelling.add(call.uniqueid)
        if call.consult_leg is not None:
            await self._control.hangup(call.consult_leg)
        # the operator's Dial ends ([contact-consult]): ContactConsult reconnects the caller

    async def _transfer_completed(self, call: Call, mode: str) -> None:
        call.state = CallState.TRANSFERRED
        operator_id, leg = call.operator_id, call.operator_leg
        call.operator_leg = None
        await self._repo.save(call)
        if leg and mode == "attended":
            with contextlib.suppress(ContactError):
                await self._control.hangup(leg)
        contact = await self._contacts.get(call.contact_id)
        target = call.transfer_target or "?"
        if contact.state is ContactState.CONNECTED and contact.operator_id is not None:
            await self._bus.execute(
                Close(
                    contact_id=contact.id,
                    operator_id=contact.operator_id,
                    disposition=f"transferred:{target}",
                    wrap_up=True,
                )
            )
        await self._bus.publish(
            ev.CallTransferred(
                contact_id=call.contact_id,
                operator_id=operator_id,
                target=target,
                mode=mode,
                outcome="completed",
                incident_id=contact.incident_id or contact.id,
            )
        )

    async def _dial_started(self, sig: parse.DialStarted) -> None:
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None:
            return
        if call.direction == "out" and sig.uniqueid == call.uniqueid:
            call.citizen_leg = sig.dest_uniqueid
        elif (sig.uniqueid, call.state) in (
            (call.operator_leg, CallState.CONSULTING),
            (call.uniqueid, CallState.TRANSFERRING),
        ):
            call.consult_leg = sig.dest_uniqueid
        else:
            return
        self._legs[sig.dest_uniqueid] = call.uniqueid
        await self._repo.save(call)

    async def _dial_ended(self, sig: parse.DialEnded) -> None:
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None or sig.status != "ANSWER":
            return
        if call.direction == "out" and sig.uniqueid == call.uniqueid:
            call.state = CallState.CONNECTED
            call.answered_at = call.answered_at or self._now()
            await self._repo.save(call)
            assert call.operator_id is not None
            await self._bus.publish(
                ev.CallConnected(contact_id=call.contact_id, operator_id=call.operator_id)
            )
            await self._bus.publish(
                ev.CallbackDialed(
                    contact_id=call.contact_id, outcome="answered", operator_id=call.operator_id
                )
            )
        elif sig.uniqueid == call.uniqueid and call.state == CallState.TRANSFERRING:
            await self._transfer_completed(call, "blind")
        elif sig.uniqueid == call.operator_leg and call.state == CallState.CONSULTING:
            await self._bus.publish(
                ev.CallTransferred(
                    contact_id=call.contact_id,
                    operator_id=call.operator_id,
                    target=call.transfer_target or "?",
                    mode="attended",
                    outcome="consulting",
                    incident_id=await self._incident_of(call),
                )
            )

    async def _dialplan_result(self, sig: parse.DialplanResult) -> None:
        call = self._calls.get(self._anchor(sig.uniqueid))
        if call is None:
            return
        if sig.kind == "transfer" and call.state == CallState.TRANSFERRING:
            if sig.result == "ANSWER":
                return  # done at DialEnd; this is the end of their conversation
            # not answered: the dialplan took the caller back to holding; to the head
            operator_id = call.operator_id
            call.state = CallState.HOLDING
            call.consult_leg = None
            call.operator_id = None
            await self._repo.save(call)
            await self._bus.publish(
                ev.CallTransferred(
                    contact_id=call.contact_id,
                    operator_id=operator_id,
                    target=sig.target or call.transfer_target or "?",
                    mode="blind",
                    outcome="failed",
                    incident_id=await self._incident_of(call),
                )
            )
            await self._bus.execute(
                ReturnToQueue(contact_id=call.contact_id, reason="transfer_failed")
            )
        elif sig.kind == "consult" and sig.uniqueid == call.operator_leg:
            completing = call.consult_leg is not None and (
                self._bridging.get(call.uniqueid) == call.consult_leg
            )
            if call.state == CallState.CONSULTING and not completing:
                # cancelled, not answered, or the service hung up: back to the operator
                cancelled = call.uniqueid in self._cancelling
                self._cancelling.discard(call.uniqueid)
                call.consult_leg = None
                call.state = CallState.RINGING
                await self._repo.save(call)
                await self._connect(call, sig.uniqueid)
                await self._bus.publish(
                    ev.CallTransferred(
                        contact_id=call.contact_id,
                        operator_id=call.operator_id,
                        target=sig.target or call.transfer_target or "?",
                        mode="attended",
                        outcome="cancelled" if cancelled else "failed",
                        incident_id=await self._incident_of(call),
                    )
                )
            else:
                with contextlib.suppress(ContactError):
                    await self._control.hangup(sig.uniqueid)
        elif sig.kind == "callback" and call.direction == "out" and sig.result != "ANSWER":
            await self._bus.publish(
                ev.CallbackDialed(
                    contact_id=call.contact_id,
                    outcome=sig.result.lower(),
                    operator_id=call.operator_id,
                )
            )

    # --- failing safe -------------------------------------------------------------------------

    async def _fail_safe(self, call: Call, reason: str) -> None:
        """After an error: the caller back to holding, and (if it was an operator's) the
        contact back to the queue, at its place. Never a hangup."""
        try:
            if call.direction == "in" and call.state != CallState.ENDED:
                with contextlib.suppress(NotFound):
                    await self._control.hold(call.uniqueid)
                operator_id = call.operator_id
                call.state = CallState.HOLDING
                call.operator_id = None
                leg, call.operator_leg = call.operator_leg, None
                await self._repo.save(call)
                if leg:
                    with contextlib.suppress(ContactError):
                        await self._control.hangup(leg)
                await self._bus.publish(
                    ev.CallHeld(
                        contact_id=call.contact_id, operator_id=operator_id, reason="fail_safe"
                    )
                )
            await self._bus.execute(ReturnToQueue(contact_id=call.contact_id, reason=reason))
        except Exception:
            log.exception("fail safe failed", extra={"contact_id": call.contact_id})

    async def return_to_queue(self, command: ReturnToQueue) -> Contact:
        """ReturnToQueue handler: CONNECTED → QUEUED at the contact's original place."""
        contact = await self._contacts.get(command.contact_id)
        if contact.state is not ContactState.CONNECTED:
            return contact
        operator_id = contact.operator_id
        now = self._now()
        contact.transition(ContactState.QUEUED, now)
        await self._contacts.save(contact)
        if operator_id is not None:
            await self._bus.publish(
                ev.OfferExpired(contact_id=contact.id, operator_id=operator_id, declined=False)
            )
        assert contact.queued_at is not None
        await self._bus.publish(
            ev.ContactQueued(
                contact_id=contact.id,
                channel=contact.channel,
                priority=contact.priority,
                language=contact.language,
                created_at=contact.created_at,
                queued_at=contact.queued_at,
                has_location=contact.location is not None,
                occurred_at=now,
            )
        )
        if operator_id is not None:
            missed = command.reason in ("no_answer", "operator_failed", "no_phone", "busy")
            away = missed and self._settings.routing.away_on_missed_offer
            with contextlib.suppress(ContactError):
                await self._routing.set_presence(
                    SetPresence(
                        operator_id=operator_id, presence=Presence.AWAY if away else Presence.READY
                    )
                )
        log.info(
            "voice contact back in the queue (%s)", command.reason, extra={"contact_id": contact.id}
        )
        return contact

    # --- the armed phone (ring on offer) ------------------------------------------------------
    #
    # With ring on offer, Asterisk holds the phone of the operator the queue would offer the
    # next new call to (CONTACT_ARMED, [contact-armed-claim]); the first caller takes it and the
    # dialplan rings it at once, as app_queue rings a member: no round trip to contact, no
    # commit before the ring. The queue stays the authority: its offer confirms the ring, and
    # an armed ring it did not confirm (it chose someone else, or no one) stops.

    async def _on_presence(self, event: ev.OperatorPresenceChanged) -> None:
        self._rearm_soon()

    def _rearm_soon(self) -> None:
        if not self._asterisk.ring_on_offer or not self._started:
            return
        self._rearm_again = True
        if self._arming is None or self._arming.done():
            self._arming = asyncio.create_task(
                self._rearm(), name="voice-arm", context=contextvars.Context()
            )
            self._tasks.add(self._arming)
            self._arming.add_done_callback(self._tasks.discard)

    async def _rearm(self) -> None:
        while self._rearm_again and self._started:
            self._rearm_again = False
            try:
                await self._arm()
            except Exception as error:  # the next change or refresh tries again
                log.warning("arming the next phone failed: %s", error)
                self._arm_known = False

    async def _arm(self) -> None:
        key: tuple[str, str, int] | None = None
        if self._control.connected:
            taken = set(self._armed.values())  # rung for a call, not yet confirmed
            operator_id = await self._routing.longest_idle(Capability.VOICE, exclude=taken)
            if operator_id is not None:
                operator = await self._operators.get(operator_id)
                endpoint = parse.operator_dial_string(operator.endpoint)
                if endpoint is not None:
                    key = (operator_id, endpoint, max(1, round(self.ring_s)))
        now = self._clock()
        if (
            self._arm_known
            and key == self._arm_key
            and (key is None or now < self._arm_until - ARM_TTL_S + ARM_REFRESH_S)
        ):
            return
        if not self._control.connected:
            self._arm_key, self._arm_known = None, False
            return
        value = ""
        if key is not None:
            operator_id, endpoint, ring = key
            value = f"{ring}|{operator_id}|{endpoint}|{int(now + ARM_TTL_S)}"
        await self._control.set_globals({"CONTACT_ARMED": value})
        self._arm_key, self._arm_until, self._arm_known = key, now + ARM_TTL_S, True

    async def _took_armed(self, call: Call, operator_id: str) -> None:
        """The caller took the armed phone, which rings already (the dialplan rings it first;
        its leg was announced just before)."""
        self._arm_known = False  # the dialplan emptied CONTACT_ARMED
        self._rearm_soon()
        anchor = call.uniqueid
        leg = self._early_legs.pop(anchor, None)
        if leg == "" or any(c.operator_id == operator_id for c in self._calls.values()):
            # its phone failed at once, or two callers took one arm (the dialplan reads, then
            # empties it) and the first, ringing that phone, keeps it: this call waits
            log.info("armed phone not usable for this call: it waits")
            if leg:
                await self._hang_up_leg(leg)
            return
        call.operator_id = operator_id
        call.state = CallState.RINGING
        self._armed[anchor] = operator_id
        if leg is not None:
            self._armed_leg(call, leg)
            await self._bus.publish(
                ev.CallRinging(contact_id=call.contact_id, operator_id=operator_id)
            )
        self._later(ARMED_CONFIRM_S, lambda: self._armed_check(anchor))

    def _armed_leg(self, call: Call, leg: str) -> None:
        call.operator_leg = leg
        self._legs[leg] = call.uniqueid
        self._later(self.ring_s + RING_GUARD_EXTRA_S, lambda: self._ring_guard(call.uniqueid, leg))

    async def _hang_up_leg(self, leg: str) -> None:
        self._legs.pop(leg, None)
        with contextlib.suppress(ContactError):
            await self._control.hangup(leg)

    async def _armed_ring(self, sig: parse.ArmedRing) -> None:
        """The armed phone rings for `sig.caller`; usually before that call is announced."""
        leg = sig.uniqueid
        call = self._calls.get(sig.caller)
        if call is None:
            self._early_legs[sig.caller] = leg
            self._later(ARMED_CONFIRM_S, lambda: self._early_leg_unclaimed(sig.caller, leg))
            return
        if call.state != CallState.RINGING or call.operator_id is None or call.operator_leg:
            await self._hang_up_leg(leg)  # the queue decided otherwise meanwhile
            return
        self._armed_leg(call, leg)
        await self._bus.publish(
            ev.CallRinging(contact_id=call.contact_id, operator_id=call.operator_id)
        )
        await self._repo.save(call)

    async def _early_leg_unclaimed(self, caller: str, leg: str) -> None:
        """An armed leg whose call was never announced (it failed before): not left ringing."""
        async with self._locks.hold(caller):
            if self._early_legs.get(caller) == leg:
                del self._early_legs[caller]
                await self._hang_up_leg(leg)

    async def _armed_settled(self, call: Call, operator_id: str) -> bool:
        """The queue offered the call to `operator_id`. True: that is the operator whose armed
        phone already rings (connected now if it was answered meanwhile); otherwise that
        phone stops and the offered operator's rings as usual."""
        armed = self._armed.pop(call.uniqueid, None)
        if armed is None:
            return False
        if armed == operator_id and call.operator_id == armed and call.state == CallState.RINGING:
            leg = self._armed_answered.pop(call.uniqueid, None)
            if leg is not None:
                await self._connect(call, leg)
            return True
        await self._drop_armed(call)
        return False

    async def _armed_check(self, anchor: str) -> None:
        async with self._locks.hold(anchor):
            call = self._calls.get(anchor)
            if call is None:
                return
            if anchor in self._armed:
                log.info("armed ring not confirmed by the queue: stopped")
                await self._drop_armed(call)
            elif call.state == CallState.RINGING and call.operator_leg is None:
                # the armed phone never rang (Asterisk could not make its channel)
                await self._not_answered(call, "operator_failed")

    async def _drop_armed(self, call: Call) -> None:
        self._armed.pop(call.uniqueid, None)
        self._armed_answered.pop(call.uniqueid, None)
        if call.state != CallState.RINGING:
            return
        leg = call.operator_leg
        call.operator_id = None
        call.operator_leg = None
        call.state = CallState.HOLDING
        if leg is not None:
            await self._hang_up_leg(leg)
        await self._repo.save(call)

    # --- callbacks ---------------------------------------------------------------------------

    async def _request_callback(self, contact: Contact, call: Call, reason: str) -> None:
        if call.kind in ("kiosk", "video") and call.endpoint:
            target: str | None = f"endpoint:{call.endpoint}"
        else:
            target = parse.dialable(call.number)
        if target is None:
            return
        auto = self._asterisk.callback_auto
        now = self._now()
        callback = Callback(
            id=new_id(),
            source_contact_id=contact.id,
            target=target,
            reason=reason,
            created_at=now,
            state=CallbackState.PENDING_AUTO if auto else CallbackState.QUEUED,
            due_at=now + timedelta(seconds=self._asterisk.callback_auto_delay_s) if auto else None,
        )
        if auto:
            if await self._repo.add_callback(callback):
                self._later(
                    self._asterisk.callback_auto_delay_s, lambda: self._auto_attempt(callback.id)
                )
        else:
            await self._queue_callback(callback, contact)

    async def _queue_callback(self, callback: Callback, source: Contact | None = None) -> None:
        """The callback as a task in the queue. A new one (no automatic attempt) is stored once,
        with its task: the task's intake is idempotent per lost call."""
        new = source is not None
        if source is None:
            source = await self._contacts.get(callback.source_contact_id)
        at = source.created_at.astimezone(_zone()).strftime("%H:%M")
        key = "callback.dropped" if callback.reason == "dropped" else "callback.abandoned"
        registered = await self._bus.execute(
            RegisterContact(
                channel=ChannelKind.CALLBACK,
                text=text(key, source.language).format(at=at),
                language=source.language,
                citizen=source.citizen,
                location=source.location,
                external_id=f"callback:{callback.source_contact_id}",
            )
        )
        callback.task_contact_id = registered.contact_id
        callback.state = CallbackState.QUEUED
        if new:
            if not await self._repo.add_callback(callback):
                return  # another node (or an earlier resync) made it
        else:
            await self._repo.save_callback(callback)
        await self._bus.publish(
            ev.CallbackRequested(
                contact_id=registered.contact_id,
                source_contact_id=callback.source_contact_id,
                reason=callback.reason,
            )
        )

    def _attempt_factory(self, callback_id: str) -> Callable[[], Coroutine[Any, Any, None]]:
        return lambda: self._auto_attempt(callback_id)

    async def _auto_attempt(self, callback_id: str) -> None:
        callback = await self._repo.callback(callback_id)
        if callback is None or callback.state not in (
            CallbackState.PENDING_AUTO,
            CallbackState.DIALING,
        ):
            return
        if callback.state == CallbackState.DIALING or not self._control.connected:
            # a node restarted mid-attempt, or no PBX: an operator does it
            await self._queue_callback(callback)
            return
        leg = new_id()
        callback.state = CallbackState.DIALING
        callback.attempts += 1
        callback.leg_uniqueid = leg
        await self._repo.save_callback(callback)
        self._auto_legs[leg] = callback.id
        number = "" if callback.target.startswith("endpoint:") else callback.target
        try:
            dial = parse.callback_dial_string(
                callback.target, self._asterisk.trunk, self._asterisk.trunk_host
            )
            await self._control.ring(
                dial,
                leg,
                float(self._asterisk.callback_ring_s),
                context="contact-callback-auto",
                variables={"CONTACT_CALLBACK_NUM": number, "CONTACT_CALLBACK_ID": callback.id},
            )
        except (ContactError, ValueError) as error:
            log.warning("automatic callback could not be placed: %s", error)
            self._auto_legs.pop(leg, None)
            callback.last_result = "failed"
            await self._queue_callback(callback)

    async def _auto_originated(self, sig: parse.OriginateResult) -> None:
        callback_id = self._auto_legs.get(sig.uniqueid)
        if callback_id is None or sig.answered:
            return  # answered: its ContactCall registers the citizen as a caller
        self._auto_legs.pop(sig.uniqueid, None)
        callback = await self._repo.callback(callback_id)
        if callback is None or callback.state != CallbackState.DIALING:
            return
        callback.last_result = sig.reason
        await self._bus.publish(
            ev.CallbackDialed(
                contact_id=callback.source_contact_id, outcome=sig.reason, automatic=True
            )
        )
        await self._queue_callback(callback)

    async def _auto_callback_answered(self, callback_id: str, contact_id: str) -> None:
        callback = await self._repo.callback(callback_id)
        if callback is None:
            return
        if callback.leg_uniqueid is not None:
            self._auto_legs.pop(callback.leg_uniqueid, None)
        callback.state = CallbackState.ANSWERED
        callback.answered_contact_id = contact_id
        callback.last_result = "answered"
        await self._repo.save_callback(callback)
        await self._bus.publish(
            ev.CallbackDialed(
                contact_id=callback.source_contact_id, outcome="answered", automatic=True
            )
        )

    async def _callback_for(self, contact_id: str, operator_id: str) -> None:
        try:
            await self.dial_callback(contact_id, operator_id)
        except Exception:
            log.exception("callback could not be placed", extra={"contact_id": contact_id})
            with contextlib.suppress(Exception):
                await self._bus.execute(ReturnToQueue(contact_id=contact_id, reason="error"))

    async def dial_callback(self, contact_id: str, operator_id: str) -> Call:
        """One click: the operator's phone rings, then it hears the citizen's phone ring."""
        if self.live_call(contact_id) is not None:
            raise Conflict("a call of this contact is live", error_id="call_live")
        contact = await self._contacts.get(contact_id)
        if contact.state is not ContactState.CONNECTED or contact.operator_id != operator_id:
            raise Conflict("accept the callback first", error_id="not_connected")
        callback = await self._repo.callback_for_task(contact_id)
        target = callback.target if callback is not None else parse.dialable(contact.citizen)
        if target is None:
            raise Unprocessable("no number to call back", error_id="no_number")
        operator = await self._operators.get(operator_id)
        endpoint = parse.operator_dial_string(operator.endpoint)
        if endpoint is None:
            await self._bus.execute(ReturnToQueue(contact_id=contact_id, reason="no_phone"))
            raise Unprocessable("your phone endpoint is not set", error_id="no_phone")
        leg = new_id()
        endpoint_target = target.removeprefix("endpoint:") if target.startswith("endpoint:") else ""
        call = Call(
            id=new_id(),
            contact_id=contact_id,
            uniqueid=leg,
            channel=endpoint,
            direction="out",
            kind="callback",
            started_at=self._now(),
            state=CallState.RINGING,
            number=None if endpoint_target else target,
            endpoint=endpoint_target or None,
            operator_id=operator_id,
            operator_leg=leg,
        )
        self._remember(call)
        await self._repo.add(call)
        s = self._asterisk
        async with self.locked(call):
            try:
                await self._control.ring(
                    endpoint,
                    leg,
                    self.ring_s,
                    context="contact-callback",
                    caller_id=f'"callback" <{call.number or "102"}>',
                    variables={
                        "CONTACT_CALLBACK_NUM": call.number or "",
                        "CONTACT_CALLBACK_ENDPOINT": endpoint_target,
                        "CONTACT_TRUNK": s.trunk,
                        "CONTACT_TRUNK_HOST": s.trunk_host or "",
                        "CONTACT_RING_S": str(s.callback_ring_s),
                    },
                )
            except ContactError:
                await self._not_answered(call, "operator_failed")
                raise
            self._later(self.ring_s + RING_GUARD_EXTRA_S, lambda: self._ring_guard(leg, leg))
        if callback is not None:
            callback.attempts += 1
            await self._repo.save_callback(callback)
        await self._bus.publish(ev.CallRinging(contact_id=contact_id, operator_id=operator_id))
        return call

    # --- resync -------------------------------------------------------------------------------

    async def resync(self, *, full: bool = True) -> ev.TelephonyLinkChanged:
        """Asterisk's channels are the truth for what is live. `full` after every AMI login
        (events were missed): calls gone meanwhile were dropped, legs are reconciled, orphaned
        legs hung up. Otherwise (the periodic check) only what drifted: a call that vanished
        without its Hangup reaching us, a caller whose announcement we failed to register."""
        channels: dict[str, parse.LiveChannel] = {}
        for info in await self._control.channels():
            live = parse.live_channel(info)
            if live is not None:
                channels[live.uniqueid] = live
        dropped = registered = 0
        for call in list(self._calls.values()):
            async with self.locked(call):
                if call.uniqueid not in self._calls:
                    continue
                if call.uniqueid not in channels:
                    dropped += 1
                    await self._call_gone(call, None, dropped=full)
                elif full:
                    await self._reconcile(call, channels)
        known = set(self._legs) | set(self._calls) | set(self._auto_legs) | self._other_legs
        for live in channels.values():
            if live.uniqueid in known:
                continue
            if live.caller:
                variables = await self._control.variables(live.uniqueid, parse.RESYNC_VARIABLES)
                if not parse.was_announced(variables):
                    continue  # not announced yet: its ContactCall is on its way
                sig, recording = parse.announced_from_variables(live, variables)
                if sig is None:
                    continue
                async with self._locks.hold(sig.uniqueid):
                    if sig.uniqueid not in self._calls:
                        await self._announced(sig, recording)
                        registered += 1
            elif live.operator_leg and full:
                log.info("orphaned operator leg %s: hanging it up", live.channel)
                with contextlib.suppress(ContactError):
                    await self._control.hangup(live.uniqueid)
        self.resyncs += 1
        self.last_resync_at = self._clock()
        event = ev.TelephonyLinkChanged(
            up=True, live_calls=len(self._calls), registered=registered, dropped=dropped
        )
        if full or registered or dropped:
            log.info(
                "telephony resynced: %d live calls, %d registered, %d gone",
                event.live_calls,
                registered,
                dropped,
            )
        if full:
            await self._bus.publish(event)
            self._arm_known = False
            self._rearm_soon()
            # accepts made on other nodes while no node drove (a takeover, a restart)
            self._spawn(self.ring_missed(), "voice-ring-missed")
        return event

    async def _periodic(self) -> None:
        waited = 0.0
        while True:
            await asyncio.sleep(ARM_REFRESH_S)
            waited += ARM_REFRESH_S
            self._rearm_soon()  # refreshes the arm before Asterisk lets it lapse
            if self.link_up:
                self._spawn(self.ring_missed(), "voice-ring-missed")
            if waited >= RESYNC_EVERY_S and self.link_up:
                waited = 0.0
                self._spawn(self._handle("resync", parse.Drift()), "voice-drift")

    async def _reconcile(self, call: Call, channels: dict[str, parse.LiveChannel]) -> None:
        """A call that is still there: make contact's view of its legs true again."""
        changed = False
        for attr in ("operator_leg", "consult_leg"):
            leg = getattr(call, attr)
            if leg and leg not in channels:
                setattr(call, attr, None)
                self._legs.pop(leg, None)
                changed = True
        if call.direction == "out":
            if changed and call.operator_leg is None:
                await self._call_gone(call, None)
            return
        live = channels[call.uniqueid]
        if call.state in (CallState.CONNECTED, CallState.RINGING) and live.bridge_id is None:
            leg = call.operator_leg
            if leg is not None and channels[leg].state == "Up" and call.operator_id is not None:
                # the answer came while nobody listened: connect them now
                call.state = CallState.RINGING
                await self._repo.save(call)
                await self._connect(call, leg)
                return
            if leg is not None:
                with contextlib.suppress(ContactError):
                    await self._control.hangup(leg)
            await self._fail_safe(call, "operator_failed")
            return
        if call.state == CallState.TRANSFERRING and live.context != "contact-dial":
            await self._fail_safe(call, "transfer_failed")
            return
        if changed:
            await self._repo.save(call)
