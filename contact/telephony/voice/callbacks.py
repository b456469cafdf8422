"""Callbacks: a call that ended before anyone talked to the citizen (abandoned), or that the
system cut off (dropped), leaves a callback. With automatic callbacks the PBX dials the citizen
once first (PENDING_AUTO → DIALING → ANSWERED, or on failure a task in the queue); otherwise
the callback is at once a task in the queue (QUEUED), and the operator who accepts it rings
the citizen in one click (`dial_callback`): her phone rings, then she hears theirs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from contact.domain import events as ev
from contact.domain.commands import RegisterContact, ReturnToQueue
from contact.domain.model import ChannelKind, Contact, ContactState, new_id
from contact.errors import Conflict, ContactError, Unprocessable
from contact.i18n import text
from contact.ports import Call, Callback, CallbackState, CallState
from contact.telephony import parse
from contact.telephony.voice.kit import Kit, local_zone
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.states import move

log = logging.getLogger(__name__)


class Callbacks:
    def __init__(self, kit: Kit, phone: OperatorPhone) -> None:
        self._k = kit
        self._phone = phone

    async def resume(self) -> None:
        """A restarted node: the automatic attempts that were due or under way."""
        k = self._k
        for cb in await k.repo.callbacks_in(
            frozenset({CallbackState.PENDING_AUTO, CallbackState.DIALING})
        ):
            due = cb.due_at.timestamp() if cb.due_at is not None else k.clock()
            k.later(due - k.clock(), self._attempt_factory(cb.id))

    async def request(self, contact: Contact, call: Call, reason: str) -> None:
        """A callback for a lost call (`reason`: abandoned, dropped)."""
        k = self._k
        if call.kind in ("kiosk", "video") and call.endpoint:
            target: str | None = f"endpoint:{call.endpoint}"
        else:
            target = parse.dialable(call.number)
        if target is None:
            return
        auto = k.asterisk.callback_auto
        now = k.now()
        callback = Callback(
            id=new_id(),
            source_contact_id=contact.id,
            target=target,
            reason=reason,
            created_at=now,
            state=CallbackState.PENDING_AUTO if auto else CallbackState.QUEUED,
            due_at=now + timedelta(seconds=k.asterisk.callback_auto_delay_s) if auto else None,
        )
        if auto:
            if await k.repo.add_callback(callback):
                k.later(k.asterisk.callback_auto_delay_s, self._attempt_factory(callback.id))
        else:
            await self._queue(callback, contact)

    async def _queue(self, callback: Callback, source: Contact | None = None) -> None:
        """The callback as a task in the queue. A new one (no automatic attempt) is stored once,
        with its task: the task's intake is idempotent per lost call."""
        k = self._k
        new = source is not None
        if source is None:
            source = await k.contacts.get(callback.source_contact_id)
        at = source.created_at.astimezone(local_zone()).strftime("%H:%M")
        key = "callback.dropped" if callback.reason == "dropped" else "callback.abandoned"
        registered = await k.bus.execute(
            RegisterContact(
                channel=ChannelKind.CALLBACK,
                text=text(key, source.language).format(at=at),
                triage_text="",
                language=source.language,
                citizen=source.citizen,
                location=source.location,
                external_id=f"callback:{callback.source_contact_id}",
            )
        )
        callback.task_contact_id = registered.contact_id
        callback.state = CallbackState.QUEUED
        if new:
            if not await k.repo.add_callback(callback):
                return  # another node (or an earlier resync) made it
        else:
            await k.repo.save_callback(callback)
        await k.bus.publish(
            ev.CallbackRequested(
                contact_id=registered.contact_id,
                source_contact_id=callback.source_contact_id,
                reason=callback.reason,
            )
        )

    # --- the automatic attempt ------------------------------------------------------------------

    def _attempt_factory(self, callback_id: str) -> Callable[[], Coroutine[Any, Any, None]]:
        return lambda: self._auto_attempt(callback_id)

    async def _auto_attempt(self, callback_id: str) -> None:
        k = self._k
        callback = await k.repo.callback(callback_id)
        if callback is None or callback.state not in (
            CallbackState.PENDING_AUTO,
            CallbackState.DIALING,
        ):
            return
        if callback.state == CallbackState.DIALING or not k.control.connected:
            # a node restarted mid-attempt, or no PBX: an operator does it
            await self._queue(callback)
            return
        leg = new_id()
        callback.state = CallbackState.DIALING
        callback.attempts += 1
        callback.leg_uniqueid = leg
        await k.repo.save_callback(callback)
        k.book.auto_leg(leg, callback.id)
        number = "" if callback.target.startswith("endpoint:") else callback.target
        try:
            dial = parse.callback_dial_string(
                callback.target, k.asterisk.trunk, k.asterisk.trunk_host
            )
            await k.control.ring(
                dial,
                leg,
                float(k.asterisk.callback_ring_s),
                context="contact-callback-auto",
                variables={"CONTACT_CALLBACK_NUM": number, "CONTACT_CALLBACK_ID": callback.id},
            )
        except (ContactError, ValueError) as error:
            log.warning("automatic callback could not be placed: %s", error)
            k.book.auto_leg_over(leg)
            callback.last_result = "failed"
            await self._queue(callback)

    async def auto_originated(self, sig: parse.OriginateResult) -> None:
        k = self._k
        callback_id = k.book.auto_callback(sig.uniqueid)
        if callback_id is None or sig.answered:
            return  # answered: its ContactCall registers the citizen as a caller
        k.book.auto_leg_over(sig.uniqueid)
        callback = await k.repo.callback(callback_id)
        if callback is None or callback.state != CallbackState.DIALING:
            return
        callback.last_result = sig.reason
        await k.bus.publish(
            ev.CallbackDialed(
                contact_id=callback.source_contact_id, outcome=sig.reason, automatic=True
            )
        )
        await self._queue(callback)

    async def auto_answered(self, callback_id: str, contact_id: str) -> None:
        k = self._k
        callback = await k.repo.callback(callback_id)
        if callback is None:
            return
        if callback.leg_uniqueid is not None:
            k.book.auto_leg_over(callback.leg_uniqueid)
        callback.state = CallbackState.ANSWERED
        callback.answered_contact_id = contact_id
        callback.last_result = "answered"
        await k.repo.save_callback(callback)
        await k.bus.publish(
            ev.CallbackDialed(
                contact_id=callback.source_contact_id, outcome="answered", automatic=True
            )
        )

    # --- the operator's callback ----------------------------------------------------------------

    async def callback_for(self, contact_id: str, operator_id: str) -> None:
        try:
            await self.dial(contact_id, operator_id)
        except Exception:
            log.exception("callback could not be placed", extra={"contact_id": contact_id})
            with contextlib.suppress(Exception):
                await self._k.bus.execute(ReturnToQueue(contact_id=contact_id, reason="error"))

    async def dial(self, contact_id: str, operator_id: str) -> Call:
        """One click: the operator's phone rings, then it hears the citizen's phone ring."""
        k = self._k
        if k.book.live_call(contact_id) is not None:
            raise Conflict("a call of this contact is live", error_id="call_live")
        contact = await k.contacts.get(contact_id)
        if contact.state is not ContactState.CONNECTED or contact.operator_id != operator_id:
            raise Conflict("accept the callback first", error_id="not_connected")
        callback = await k.repo.callback_for_task(contact_id)
        target = callback.target if callback is not None else parse.dialable(contact.citizen)
        if target is None:
            raise Unprocessable("no number to call back", error_id="no_number")
        operator = await k.operators.get(operator_id)
        endpoint = parse.operator_dial_string(operator.endpoint)
        if endpoint is None:
            await k.bus.execute(ReturnToQueue(contact_id=contact_id, reason="no_phone"))
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
            started_at=k.now(),
            state=CallState.RINGING,
            number=None if endpoint_target else target,
            endpoint=endpoint_target or None,
            operator_id=operator_id,
            operator_leg=leg,
        )
        k.book.remember(call)
        await k.repo.add(call)
        s = k.asterisk
        async with k.locks.hold(call.uniqueid):
            try:
                await k.control.ring(
                    endpoint,
                    leg,
                    k.ring_s,
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
                await self._phone.not_answered(call, "operator_failed")
                raise
            self._phone.guard(leg, leg)
        if callback is not None:
            callback.attempts += 1
            await k.repo.save_callback(callback)
        await k.bus.publish(ev.CallRinging(contact_id=contact_id, operator_id=operator_id))
        return call

    # --- the dialplan's news of the citizen's phone (a callback's own leg is the anchor) -------

    async def dial_started(self, call: Call, dest: str) -> None:
        """[contact-callback] dials the citizen: their leg is the call's citizen leg."""
        k = self._k
        call.citizen_leg = dest
        k.book.link(dest, call.uniqueid)
        await k.repo.save(call)

    async def answered(self, call: Call) -> None:
        """The citizen answered the operator's callback."""
        k = self._k
        move(call, CallState.CONNECTED, "callback_answered")
        call.answered_at = call.answered_at or k.now()
        call.bridged_at = call.answered_at
        await k.repo.save(call)
        assert call.operator_id is not None
        await k.bus.publish(
            ev.CallConnected(contact_id=call.contact_id, operator_id=call.operator_id)
        )
        await k.bus.publish(
            ev.CallbackDialed(
                contact_id=call.contact_id, outcome="answered", operator_id=call.operator_id
            )
        )

    async def not_reached(self, call: Call, result: str) -> None:
        """The citizen's phone was not answered (busy, no answer, failed)."""
        await self._k.bus.publish(
            ev.CallbackDialed(
                contact_id=call.contact_id, outcome=result.lower(), operator_id=call.operator_id
            )
        )
