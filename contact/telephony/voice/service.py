"""102 calls as contacts of the unified queue: AMI signals → commands, operator actions → PBX.

The voice service reads AMI signals in order and hands each to its flow; the flows share one
call book (book.py) and change a call's state only through the tables of states.py:

  intake.py     a call announced → a contact (or the SOS it belongs to); language, location
  ringing.py    accept/offer → the operator's phone (phone.py), relayed accepts, missed rings
  armed.py      the armed phone (ring on offer)
  hold.py       hold, resume, the operator's hang up
  transfers.py  blind and attended transfers
  endings.py    hangups and drops; callbacks.py: abandoned/dropped → a callback task
  failsafe.py   an error → the caller back to holding, the contact to the queue
  resync.py     AMI login and drift checks against Asterisk's channels, and against
                records.py: Asterisk's own record of the calls it announced (calls no node saw)

The life of an incoming call (asterisk-config/extensions.conf has the dialplan side):

  ContactCall (before Answer)  → RegisterContact (voice, kiosk or video; external_id = the
                                 caller's Uniqueid) → queued like every chat and alarm
  contact.accepted             → Originate the operator's phone into [contact-operator-wait];
                                 answered → the caller is Redirected into [contact-connect],
                                 which bridges it to that leg; not answered within the offer
                                 timeout → the contact goes back to its place in the queue
  caller hangs up              → not bridged to anyone (waiting, the accepting operator's phone
                                 ringing, back in the queue): abandoned + a callback task (or
                                 an automatic first callback), the operator ready; bridged
                                 (`bridged_at`): wrap-up for the operator
  Asterisk stops, link lost    → the legs that end are drops (asterisk_shutdown, link_lost):
                                 as above, and a conversation cut off gets a callback too
  operator's leg hangs up      → normal clearing (16, the operator's own BYE): the call is
                                 over, the caller is hung up; anything else (a failed phone,
                                 network): the caller is back on hold and the contact at the
                                 head of the queue
  AMI (re)login                → resync (CoreShowChannels): calls no longer there are marked
                                 dropped and offered for callback; live callers unknown to the
                                 database are registered; orphaned legs are hung up
  no node drove (takeover)     → resync reads Asterisk's call records since the watermark: a
                                 call gone and unknown to the database → abandoned + callback

Storage away: a call's registration or end that the database refuses (Unavailable) leaves the
call as it was; its signals wait in the book, bounded, with those that come meanwhile, and are
applied in order once storage answers (retried with back-off): a caller who hangs up during a
database cut becomes an abandoned contact with its callback task when it is back.

Fail safe: an exception while steering a live call sends the caller back to [contact-hold];
a call is never hung up by our error. Signals are handled one at a time per call (keyed by the
citizen's channel), in AMI order; calls do not wait for each other. Lock order: a call's lock,
then (through bus.execute) the contact's; bus event handlers never take a call's lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from contact.bus import MessageBus
from contact.config import Settings
from contact.domain import events as ev
from contact.domain.commands import ReturnToQueue
from contact.domain.model import Contact
from contact.errors import Unavailable
from contact.ports import (
    Call,
    CallControl,
    CallRepository,
    ContactRepository,
    OperatorRepository,
)
from contact.routing.service import RoutingService
from contact.telephony import parse
from contact.telephony.voice.armed import ARM_REFRESH_S, ArmedPhone
from contact.telephony.voice.book import ESSENTIAL, CallBook
from contact.telephony.voice.callbacks import Callbacks
from contact.telephony.voice.endings import Endings
from contact.telephony.voice.failsafe import FailSafe
from contact.telephony.voice.hold import Hold
from contact.telephony.voice.intake import Intake
from contact.telephony.voice.kit import Join, Kit, RecordingClosed
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.records import CallRecords
from contact.telephony.voice.resync import Resync
from contact.telephony.voice.ringing import Ringing
from contact.telephony.voice.transfers import Transfers

log = logging.getLogger(__name__)

RESYNC_EVERY_S = 15.0
BOOKKEEPING = (parse.HungUp, parse.LanguageChosen, parse.RecordingStarted, parse.Drift)
# storage did not answer for a call's signals: the first retry after this, doubling up to
STORAGE_RETRY_FIRST_S = 0.5
STORAGE_RETRY_MAX_S = 10.0


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
        on_recording_closed: RecordingClosed | None = None,
        join: Join | None = None,
        records: CallRecords | None = None,
    ) -> None:
        k = self._k = Kit(
            settings=settings,
            bus=bus,
            contacts=contacts,
            operators=operators,
            calls=calls,
            control=control,
            routing=routing,
            clock=clock,
            on_recording_closed=on_recording_closed,
            join=join,
        )
        self.book: CallBook = k.book
        self.failsafe = FailSafe(k)
        self.phone = OperatorPhone(k)
        self.armed = ArmedPhone(k, self.phone)
        self.callbacks = Callbacks(k, self.phone)
        self.ringing = Ringing(k, self.phone, self.armed, self.callbacks, self.failsafe)
        self.hold_flow = Hold(k, self.phone)
        self.transfers = Transfers(k, self.phone, self.failsafe)
        self.endings = Endings(k, self.phone, self.callbacks)
        self.intake = Intake(k, self.phone, self.armed, self.callbacks)
        self.resyncer = Resync(
            k,
            intake=self.intake,
            endings=self.endings,
            phone=self.phone,
            failsafe=self.failsafe,
            after_full=self._after_full_resync,
            records=records,
        )
        self._periodic_task: asyncio.Task[None] | None = None
        self._retrier: asyncio.Task[None] | None = None
        self.storage_retries = 0  # retries storage refused (a metric)
        self.link_up = False

    # --- wiring -----------------------------------------------------------------------------

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactAccepted, self.ringing.on_accepted)
        bus.subscribe(ev.ContactOffered, self.ringing.on_offered)
        bus.subscribe(ev.OperatorPresenceChanged, self.armed.on_presence)
        bus.register(ReturnToQueue, self.return_to_queue)

    @property
    def settings(self) -> Settings:
        return self._k.settings

    @property
    def ring_s(self) -> float:
        return self._k.ring_s

    @property
    def started(self) -> bool:
        return self._k.started

    @property
    def busy(self) -> bool:
        """Signals or timers' work still running (tests)."""
        return bool(self._k.tasks)

    def set_join(self, join: Join | None) -> None:
        self._k.join = join

    @property
    def ring_on_offer(self) -> bool:
        return self._k.asterisk.ring_on_offer

    def set_ring_on_offer(self, on: bool) -> None:
        k = self._k
        k.asterisk = k.asterisk.model_copy(update={"ring_on_offer": on})

    async def start(self) -> None:
        """Load the calls the database says are live (a restarted node); the resync at the
        first AMI login checks them against Asterisk."""
        k = self._k
        for call in await k.repo.live():
            k.book.remember(call)
        await self.callbacks.resume()
        k.started = True
        self._periodic_task = asyncio.create_task(self._periodic(), name="voice-periodic")

    async def stop(self) -> None:
        k = self._k
        k.started = False
        await self.armed.disarm()
        await self.intake.stop()
        if self._periodic_task is not None:
            self._periodic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._periodic_task
            self._periodic_task = None
        for handle in list(k.timers):
            handle.cancel()
        k.timers.clear()
        for task in list(k.tasks):
            task.cancel()
        for task in list(k.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        k.tasks.clear()

    async def idle(self) -> None:
        """Wait until every signal received so far is handled (tests, benchmarks)."""
        while self._k.tasks:
            await asyncio.gather(*list(self._k.tasks), return_exceptions=True)

    # --- the live picture ---------------------------------------------------------------------

    def live_call(self, contact_id: str) -> Call | None:
        return self.book.live_call(contact_id)

    def live_calls(self) -> list[Call]:
        return self.book.live_calls()

    def locked(self, call: Call) -> Any:
        return self._k.locks.hold(call.uniqueid)

    def own_leg(self, leg: str) -> None:
        """A leg contact originates for something else than a call (a supervisor's ChanSpy, an
        audio tap): not an orphan to hang up."""
        self.book.own_leg(leg)

    @property
    def resyncs(self) -> int:
        return self.resyncer.resyncs

    @property
    def last_resync_at(self) -> float | None:
        return self.resyncer.last_resync_at

    # --- AMI signals ---------------------------------------------------------------------------

    def on_ami_event(self, event: dict[str, str]) -> None:
        """Called by the AMI client for every event, in order, synchronously."""
        sig = parse.signal(event)
        if sig is None or not self._k.started:
            return
        book = self.book
        if isinstance(sig, parse.RecordingStarted):
            # it follows its ContactCall by a millisecond: kept for the call's row, which is
            # being written (one write per call instead of two)
            book.recording_announced(book.anchor(sig.uniqueid), sig.path)
        if isinstance(sig, parse.DialStarted):
            anchor = book.anchor(sig.uniqueid)
            if book.has(anchor) and not book.has(sig.dest_uniqueid):
                # known from now on: later events of the new leg find their call
                book.link(sig.dest_uniqueid, anchor)
        if isinstance(sig, parse.HungUp | parse.OriginateResult):
            book.ended_in_shutdown(sig.uniqueid)
        if isinstance(sig, parse.ArmedRing):
            # its answer or hangup finds the call (the call's own events, keyed alike, follow)
            book.link(sig.uniqueid, sig.caller)
        if isinstance(sig, parse.Booted | parse.Drift):
            key = "resync"
        elif isinstance(sig, parse.ShuttingDown):
            if book.shutdown_began():
                log.warning("Asterisk is shutting down: calls ending now are dropped")
            return
        elif isinstance(sig, parse.LocationSent):
            key = f"endpoint:{sig.endpoint}"
        else:
            key = book.anchor(sig.uniqueid)
        self._k.spawn(self._handle(key, sig), "voice-signal")

    def on_link(self, up: bool) -> None:
        self.link_up = up
        self.armed.unknown()  # a restarted Asterisk has no globals of ours
        if not up:
            self._k.spawn(self._link_down(), "voice-link")

    async def _link_down(self) -> None:
        await self._k.bus.publish(ev.TelephonyLinkChanged(up=False))

    async def _handle(self, key: str, sig: parse.Signal) -> None:
        async with self._k.locks.hold(key):
            if self.book.awaits_storage(key):
                # the call waits for storage: this signal follows the ones kept before it
                self.book.keep_for_storage(key, sig)
                return
            if not await self._attempt(key, sig):
                self._await_storage(key, [sig])

    async def _attempt(self, key: str, sig: parse.Signal) -> bool:
        """Apply `sig`; False if storage could not take what it makes of a call (its
        registration, its end): the call is then as it was before, for a retry."""
        book = self.book
        essential = isinstance(sig, ESSENTIAL)
        before = book.call(key) if essential else None
        kept = dataclasses.replace(before) if before is not None else None
        try:
            if isinstance(sig, BOOKKEEPING):
                # after the fact (a waiting caller hung up, the menu's answer): a few at
                # a time, so that new calls' intake never queues behind a burst of them
                async with self._k.bookkeeping:
                    await self._apply(sig)
            else:
                await self._apply(sig)
        except Unavailable as error:
            if not (essential and not error.error_id.startswith("telephony")):
                log.exception("voice: handling %s failed", type(sig).__name__)
                await self._failed(sig)  # Asterisk, not storage: steering failed
                return True
            if before is None:
                half = book.call(key)  # registered in the book, not in the database
                if half is not None:
                    book.forget(half)
            else:
                assert kept is not None
                for field in dataclasses.fields(before):
                    setattr(before, field.name, getattr(kept, field.name))
                book.remember(before)
            return False
        except Exception:
            log.exception("voice: handling %s failed", type(sig).__name__)
            await self._failed(sig)
        return True

    async def _failed(self, sig: parse.Signal) -> None:
        """Handling `sig` failed (logged): its call, if any, fails safe."""
        uid = getattr(sig, "uniqueid", None)
        call = self.book.call_of(uid) if uid else None
        if call is not None:
            await self.failsafe.fail_safe(call, "error")

    def _await_storage(self, key: str, signals: list[parse.Signal]) -> None:
        """Storage did not answer: the call's signals wait in the book and are applied, in
        order with those that come meanwhile, once it answers (retried with back-off)."""
        if not self.book.await_storage(key, signals):
            log.warning(
                "voice: storage unavailable and %d calls wait for it already: a call's "
                "signals are not kept",
                self.book.awaiting(),
            )
            return
        log.warning(
            "voice: storage unavailable: a call waits for it (%d calls now)", self.book.awaiting()
        )
        if self._retrier is None or self._retrier.done():
            self._retrier = self._k.spawn(self._retry_storage(), "voice-storage-retry")

    async def _retry_storage(self) -> None:
        """Apply the calls' kept signals, oldest call first, until storage takes them all;
        a pass stops at the first refusal and the next waits longer (up to STORAGE_RETRY_MAX_S)."""
        book = self.book
        delay = STORAGE_RETRY_FIRST_S
        while book.awaiting():
            await asyncio.sleep(delay)
            for key in book.awaiting_anchors():
                async with self._k.locks.hold(key):
                    signals = book.take_awaiting(key)
                    done = 0
                    for sig in signals:
                        if not await self._attempt(key, sig):
                            break
                        done += 1
                    if done < len(signals):
                        book.await_storage(key, signals[done:])
                        self.storage_retries += 1
                        delay = min(delay * 2, STORAGE_RETRY_MAX_S)
                        break
                    log.info("voice: a call that waited for storage is stored")
            else:
                delay = STORAGE_RETRY_FIRST_S

    async def _apply(self, sig: parse.Signal) -> None:
        if isinstance(sig, parse.CallAnnounced):
            await self.intake.announced(sig)
        elif isinstance(sig, parse.RecordingStarted):
            await self.intake.recording_started(sig)
        elif isinstance(sig, parse.LanguageChosen):
            await self.intake.language(sig)
        elif isinstance(sig, parse.LocationSent):
            await self.intake.location(sig)
        elif isinstance(sig, parse.HungUp):
            await self.endings.hung_up(sig)
        elif isinstance(sig, parse.OriginateResult):
            await self._originated(sig)
        elif isinstance(sig, parse.ArmedRing):
            await self.armed.ringing(sig)
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

    async def _originated(self, sig: parse.OriginateResult) -> None:
        book = self.book
        if book.is_own_leg(sig.uniqueid):
            if not sig.answered:
                book.own_leg_over(sig.uniqueid)
            return
        if book.auto_callback(sig.uniqueid) is not None:
            await self.callbacks.auto_originated(sig)
            return
        await self.phone.originated(sig)

    async def _dial_started(self, sig: parse.DialStarted) -> None:
        call = self.book.call_of(sig.uniqueid)
        if call is None:
            return
        if call.direction == "out" and sig.uniqueid == call.uniqueid:
            await self.callbacks.dial_started(call, sig.dest_uniqueid)
        else:
            await self.transfers.dial_started(call, sig)

    async def _dial_ended(self, sig: parse.DialEnded) -> None:
        call = self.book.call_of(sig.uniqueid)
        if call is None or sig.status != "ANSWER":
            return
        if call.direction == "out" and sig.uniqueid == call.uniqueid:
            await self.callbacks.answered(call)
        else:
            await self.transfers.dial_answered(call, sig)

    async def _bridged(self, sig: parse.Bridged) -> None:
        call = self.book.call_of(sig.uniqueid)
        if call is None or sig.uniqueid != call.uniqueid or call.direction != "in":
            return
        leg = self.book.bridged(call.uniqueid)
        if leg is None:
            return
        if leg == call.operator_leg and call.operator_id is not None:
            await self.phone.bridged(call)
        elif leg == call.consult_leg:
            await self.transfers.completed(call, "attended")

    async def _dialplan_result(self, sig: parse.DialplanResult) -> None:
        call = self.book.call_of(sig.uniqueid)
        if call is None:
            return
        if sig.kind in ("transfer", "consult"):
            await self.transfers.dialplan_result(call, sig)
        elif sig.kind == "callback" and call.direction == "out" and sig.result != "ANSWER":
            await self.callbacks.not_reached(call, sig.result)

    # --- the operator's actions (CallActions, under the call's lock) ---------------------------

    async def ring_operator(self, call: Call, operator_id: str, *, offered: bool = False) -> None:
        await self.phone.ring(call, operator_id, offered=offered)

    async def hold(self, call: Call) -> None:
        await self.hold_flow.hold(call)

    async def resume(self, call: Call) -> None:
        await self.hold_flow.resume(call)

    async def hangup(self, call: Call) -> None:
        await self.hold_flow.hangup(call)

    async def transfer(self, call: Call, target: str, mode: str) -> None:
        await self.transfers.transfer(call, target, mode)

    async def complete_transfer(self, call: Call) -> None:
        await self.transfers.complete(call)

    async def cancel_transfer(self, call: Call) -> None:
        await self.transfers.cancel(call)

    async def dial_callback(self, contact_id: str, operator_id: str) -> Call:
        return await self.callbacks.dial(contact_id, operator_id)

    async def return_to_queue(self, command: ReturnToQueue) -> Contact:
        return await self.failsafe.return_to_queue(command)

    # --- other nodes, missed rings, resync ------------------------------------------------------

    def nudge(self, event: str, contact_id: str, operator_id: str) -> None:
        self.ringing.nudge(event, contact_id, operator_id)

    async def ring_missed(self) -> int:
        return await self.ringing.ring_missed()

    async def resync(self, *, full: bool = True) -> ev.TelephonyLinkChanged:
        return await self.resyncer.resync(full=full)

    async def _after_full_resync(self) -> None:
        self.armed.unknown()
        self.armed.rearm_soon()
        # accepts made on other nodes while no node drove (a takeover, a restart)
        self._k.spawn(self.ring_missed(), "voice-ring-missed")

    async def _periodic(self) -> None:
        waited = 0.0
        while True:
            await asyncio.sleep(ARM_REFRESH_S)
            waited += ARM_REFRESH_S
            self.armed.rearm_soon()  # refreshes the arm before Asterisk lets it lapse
            if self.link_up:
                self._k.spawn(self.ring_missed(), "voice-ring-missed")
            if waited >= RESYNC_EVERY_S and self.link_up:
                waited = 0.0
                self._k.spawn(self._handle("resync", parse.Drift()), "voice-drift")
