"""Resync: Asterisk's channels are the truth for what is live.

After every AMI (re)login (a full resync: events were missed): calls gone meanwhile were
dropped (by Asterisk's announced stop, or while the link or contact itself was down) and are
offered for callback; the legs of calls still there are reconciled (an operator's phone
still ringing rings on: a takeover never takes a ring from her); live callers unknown to
the book are registered; orphaned operator legs are hung up. Periodically (a drift check) only
what drifted: a call that vanished without its Hangup reaching us, a caller whose
announcement we failed to register."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from contact.domain import events as ev
from contact.errors import ContactError, Unavailable
from contact.ports import Call, CallState
from contact.telephony import parse
from contact.telephony.voice.endings import Endings
from contact.telephony.voice.failsafe import FailSafe
from contact.telephony.voice.intake import Intake
from contact.telephony.voice.kit import Kit
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.records import CallRecord, CallRecords
from contact.telephony.voice.states import move

log = logging.getLogger(__name__)


class Resync:
    def __init__(
        self,
        kit: Kit,
        *,
        intake: Intake,
        endings: Endings,
        phone: OperatorPhone,
        failsafe: FailSafe,
        after_full: Callable[[], Awaitable[None]],
        records: CallRecords | None = None,
    ) -> None:
        self._k = kit
        self._intake = intake
        self._endings = endings
        self._phone = phone
        self._failsafe = failsafe
        self._after_full = after_full
        self._records = records
        self.resyncs = 0
        self.last_resync_at: float | None = None

    async def resync(self, *, full: bool = True) -> ev.TelephonyLinkChanged:
        k = self._k
        book = k.book
        channels: dict[str, parse.LiveChannel] = {}
        for info in await k.control.channels():
            live = parse.live_channel(info)
            if live is not None:
                channels[live.uniqueid] = live
        dropped = registered = 0
        # after a (re)login, calls gone meanwhile were lost: by Asterisk's announced stop, or
        # while the link (or contact itself) was down; the periodic check only finds a call
        # whose Hangup was missed
        lost = ("asterisk_shutdown" if book.shutting_down else "link_lost") if full else None
        for call in book.calls():
            async with k.locks.hold(call.uniqueid):
                if not book.has(call.uniqueid):
                    continue
                if call.uniqueid not in channels:
                    dropped += 1
                    await self._endings.call_gone(call, None, lost=lost)
                elif full:
                    await self._reconcile(call, channels)
        known = book.known()
        for live in channels.values():
            if live.uniqueid in known:
                continue
            if live.caller:
                variables = await k.control.variables(live.uniqueid, parse.RESYNC_VARIABLES)
                if not parse.was_announced(variables):
                    continue  # not announced yet: its ContactCall is on its way
                sig, recording = parse.announced_from_variables(live, variables)
                if sig is None:
                    continue
                async with k.locks.hold(sig.uniqueid):
                    if not book.has(sig.uniqueid):
                        await self._intake.announced(sig, recording)
                        registered += 1
            elif live.operator_leg and full:
                log.info("orphaned operator leg %s: hanging it up", live.channel)
                with contextlib.suppress(ContactError):
                    await k.control.hangup(live.uniqueid)
        if full:
            book.running_again()  # this is a running Asterisk's picture
        self.resyncs += 1
        self.last_resync_at = k.clock()
        event = ev.TelephonyLinkChanged(
            up=True, live_calls=len(book), registered=registered, dropped=dropped
        )
        if full or registered or dropped:
            log.info(
                "telephony resynced: %d live calls, %d registered, %d gone",
                event.live_calls,
                registered,
                dropped,
            )
        if full:
            await k.bus.publish(event)
            await self._after_full()
        # after the live calls' picture: a backlog of records (a long standby) costs a lookup
        # each and must not delay the takeover of the calls still there
        recovered = await self._recover(channels)
        if recovered:
            log.warning("telephony resync: %d calls no node saw recovered", recovered)
        return event

    async def _recover(self, channels: dict[str, parse.LiveChannel]) -> int:
        """Calls Asterisk recorded (records.py) that no node registered and that are gone: each
        an abandoned contact with its callback task, once (by the caller's uniqueid: the
        database's call row, or this book). The watermark moves only when all are handled."""
        k = self._k
        book = k.book
        if self._records is None:
            return 0
        found, mark = await asyncio.to_thread(self._records.read)
        recovered = 0
        for record in found:
            uid = record.uniqueid
            live = uid in channels
            if book.awaits_storage(uid) or (live and uid not in book.known()):
                # not stored yet (its ContactCall on its way, or waiting for the database):
                # the watermark stays before it until it is (or is found gone by a later read)
                if mark is not None:
                    mark = (mark[0], min(mark[1], record.start))
                continue
            if live:
                continue
            try:
                recovered += await self._recover_one(record)
            except Unavailable:
                # the database is away: this record and the next are read again next time
                if mark is not None:
                    mark = (mark[0], min(mark[1], record.start))
                break
        if mark is not None:
            await asyncio.to_thread(self._records.commit, mark)
        return recovered

    async def _recover_one(self, record: CallRecord) -> int:
        k = self._k
        book = k.book
        uid = record.uniqueid
        async with k.locks.hold(uid):
            if uid in book.known() or await k.repo.by_uniqueid(uid) is not None:
                return 0
            try:
                sig = parse.CallAnnounced(
                    uniqueid=uid,
                    channel="",
                    endpoint=None,
                    number=record.number,
                    channel_kind=record.kind,
                    location=None,
                    civic_address=None,
                )
                await self._intake.announced(sig)
                call = book.call(uid)
                if call is None:
                    return 0
                call.started_at = datetime.fromtimestamp(record.at, UTC)
                if record.language is not None:  # its callback task speaks it
                    call.language = record.language
                    await k.repo.set_contact_languages({call.contact_id: record.language})
                log.warning(
                    "a call no node saw is recovered from Asterisk's records",
                    extra={"contact_id": call.contact_id},
                )
                await self._endings.call_gone(call, None, lost="link_lost")
            except Unavailable:
                half = book.call(uid)  # in the book, not (all) in the database
                if half is not None:
                    book.forget(half)
                raise
            return 1

    async def _reconcile(self, call: Call, channels: dict[str, parse.LiveChannel]) -> None:
        """A call that is still there: make contact's view of its legs true again."""
        k = self._k
        changed = False
        if call.operator_leg and call.operator_leg not in channels:
            k.book.unlink(call.operator_leg)
            call.operator_leg = None
            changed = True
        if call.consult_leg and call.consult_leg not in channels:
            k.book.unlink(call.consult_leg)
            call.consult_leg = None
            changed = True
        if call.direction == "out":
            if changed and call.operator_leg is None:
                await self._endings.call_gone(call, None)
            return
        live = channels[call.uniqueid]
        if call.state in (CallState.CONNECTED, CallState.RINGING) and live.bridge_id is None:
            leg = call.operator_leg
            if leg is not None and channels[leg].state == "Up" and call.operator_id is not None:
                # the answer came while nobody listened: connect them now
                move(call, CallState.RINGING, "resync_answered")
                await k.repo.save(call)
                await self._phone.connect(call, leg)
                return
            if call.state == CallState.RINGING and leg is not None and call.operator_id:
                # still ringing (a restart, a takeover, this node's lease regained): it keeps
                # ringing; its answer or failure comes as an OriginateResponse on this link,
                # the guard stands in for one that never comes (the ring's timers were the
                # last term's)
                self._phone.guard(call.uniqueid, leg)
                if changed:
                    await k.repo.save(call)
                return
            if leg is not None:
                with contextlib.suppress(ContactError):
                    await k.control.hangup(leg)
            await self._failsafe.fail_safe(call, "operator_failed")
            return
        if call.state == CallState.TRANSFERRING and live.context != "contact-dial":
            await self._failsafe.fail_safe(call, "transfer_failed")
            return
        if changed:
            await k.repo.save(call)
