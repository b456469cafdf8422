"""The armed phone (ring on offer).

With ring on offer, Asterisk holds the phone of the operator the queue would offer the next new
call to (CONTACT_ARMED, [contact-armed-claim]); the first caller takes it and the dialplan rings
it at once, as app_queue rings a member: no round trip to contact, no commit before the ring.
The queue stays the authority: its offer confirms the ring, and an armed ring it did not
confirm (it chose someone else, or no one) stops.

A call that took the armed phone: HOLDING → RINGING (took it) → confirmed by the offer (and
CONNECTED once answered) | HOLDING (not confirmed within ARMED_CONFIRM_S, or offered to someone
else: that phone stops)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging

from contact.domain import events as ev
from contact.domain.model import Capability
from contact.ports import Call, CallState
from contact.telephony import parse
from contact.telephony.voice.kit import Kit
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.states import move

log = logging.getLogger(__name__)

# Asterisk drops an arm not refreshed within ARM_TTL_S (a contact that died stops arming); an
# armed ring its queue did not confirm by then stops
ARM_TTL_S = 30.0
ARM_REFRESH_S = 10.0
ARMED_CONFIRM_S = 2.0


class ArmedPhone:
    def __init__(self, kit: Kit, phone: OperatorPhone) -> None:
        self._k = kit
        self._phone = phone
        # what Asterisk holds (operator, dial string, ring s) and until when
        self._arm_key: tuple[str, str, int] | None = None
        self._arm_until = 0.0
        self._arm_known = False  # False: Asterisk's CONTACT_ARMED is unknown, set it again
        self._arming: asyncio.Task[None] | None = None
        self._rearm_again = False

    def unknown(self) -> None:
        """Asterisk's CONTACT_ARMED is not known (a new link, a restarted Asterisk)."""
        self._arm_known = False

    async def disarm(self) -> None:
        """The service stops: no phone rings for a contact that is gone."""
        k = self._k
        if self._arm_key is not None and k.control.connected:
            with contextlib.suppress(Exception):
                await k.control.set_globals({"CONTACT_ARMED": ""})
        self._arm_key, self._arm_known = None, False

    async def on_presence(self, event: ev.OperatorPresenceChanged) -> None:
        self.rearm_soon()

    def rearm_soon(self) -> None:
        k = self._k
        if not k.asterisk.ring_on_offer or not k.started:
            return
        self._rearm_again = True
        if self._arming is None or self._arming.done():
            self._arming = asyncio.create_task(
                self._rearm(), name="voice-arm", context=contextvars.Context()
            )
            k.tasks.add(self._arming)
            self._arming.add_done_callback(k.tasks.discard)

    async def _rearm(self) -> None:
        while self._rearm_again and self._k.started:
            self._rearm_again = False
            try:
                await self._arm()
            except Exception as error:  # the next change or refresh tries again
                log.warning("arming the next phone failed: %s", error)
                self._arm_known = False

    async def _arm(self) -> None:
        k = self._k
        key: tuple[str, str, int] | None = None
        if k.control.connected:
            taken = k.book.armed_operators()  # rung for a call, not yet confirmed
            operator_id = await k.routing.longest_idle(Capability.VOICE, exclude=taken)
            if operator_id is not None:
                operator = await k.operators.get(operator_id)
                endpoint = parse.operator_dial_string(operator.endpoint)
                if endpoint is not None:
                    key = (operator_id, endpoint, max(1, round(k.ring_s)))
        now = k.clock()
        if (
            self._arm_known
            and key == self._arm_key
            and (key is None or now < self._arm_until - ARM_TTL_S + ARM_REFRESH_S)
        ):
            return
        if not k.control.connected:
            self._arm_key, self._arm_known = None, False
            return
        value = ""
        if key is not None:
            operator_id, endpoint, ring = key
            value = f"{ring}|{operator_id}|{endpoint}|{int(now + ARM_TTL_S)}"
        await k.control.set_globals({"CONTACT_ARMED": value})
        self._arm_key, self._arm_until, self._arm_known = key, now + ARM_TTL_S, True

    async def took(self, call: Call, operator_id: str) -> None:
        """The caller took the armed phone, which rings already (the dialplan rings it first;
        its leg was announced just before)."""
        k = self._k
        self._arm_known = False  # the dialplan emptied CONTACT_ARMED
        self.rearm_soon()
        anchor = call.uniqueid
        leg = k.book.take_early_leg(anchor)
        if leg == "" or any(o == operator_id for o in k.book.operators_on_calls()):
            # its phone failed at once, or two callers took one arm (the dialplan reads, then
            # empties it) and the first, ringing that phone, keeps it: this call waits
            log.info("armed phone not usable for this call: it waits")
            if leg:
                await self._phone.hang_up_leg(leg)
            return
        call.operator_id = operator_id
        move(call, CallState.RINGING, "armed")
        k.book.took_armed(anchor, operator_id)
        if leg is not None:
            self._armed_leg(call, leg)
            await k.bus.publish(ev.CallRinging(contact_id=call.contact_id, operator_id=operator_id))
        k.later(ARMED_CONFIRM_S, lambda: self._armed_check(anchor))

    def _armed_leg(self, call: Call, leg: str) -> None:
        call.operator_leg = leg
        self._k.book.link(leg, call.uniqueid)
        self._phone.guard(call.uniqueid, leg)

    async def ringing(self, sig: parse.ArmedRing) -> None:
        """The armed phone rings for `sig.caller`; usually before that call is announced."""
        k = self._k
        leg = sig.uniqueid
        call = k.book.call(sig.caller)
        if call is None:
            k.book.early_leg(sig.caller, leg)
            k.later(ARMED_CONFIRM_S, lambda: self._early_leg_unclaimed(sig.caller, leg))
            return
        if call.state != CallState.RINGING or call.operator_id is None or call.operator_leg:
            await self._phone.hang_up_leg(leg)  # the queue decided otherwise meanwhile
            return
        self._armed_leg(call, leg)
        await k.bus.publish(
            ev.CallRinging(contact_id=call.contact_id, operator_id=call.operator_id)
        )
        await k.repo.save(call)

    async def _early_leg_unclaimed(self, caller: str, leg: str) -> None:
        """An armed leg whose call was never announced (it failed before): not left ringing."""
        k = self._k
        async with k.locks.hold(caller):
            if k.book.early_leg_of(caller) == leg:
                k.book.take_early_leg(caller)
                await self._phone.hang_up_leg(leg)

    async def settled(self, call: Call, operator_id: str) -> bool:
        """The queue offered the call to `operator_id`. True: that is the operator whose armed
        phone already rings (connected now if it was answered meanwhile); otherwise that
        phone stops and the offered operator's rings as usual."""
        k = self._k
        armed = k.book.take_armed(call.uniqueid)
        if armed is None:
            return False
        if armed == operator_id and call.operator_id == armed and call.state == CallState.RINGING:
            leg = k.book.take_armed_answer(call.uniqueid)
            if leg is not None:
                await self._phone.connect(call, leg)
            return True
        await self._drop(call)
        return False

    async def _armed_check(self, anchor: str) -> None:
        k = self._k
        async with k.locks.hold(anchor):
            call = k.book.call(anchor)
            if call is None:
                return
            if k.book.is_armed(anchor):
                log.info("armed ring not confirmed by the queue: stopped")
                await self._drop(call)
            elif call.state == CallState.RINGING and call.operator_leg is None:
                # the armed phone never rang (Asterisk could not make its channel)
                await self._phone.not_answered(call, "operator_failed")

    async def _drop(self, call: Call) -> None:
        k = self._k
        k.book.armed_over(call.uniqueid)
        if call.state != CallState.RINGING:
            return
        leg = call.operator_leg
        call.operator_id = None
        call.operator_leg = None
        move(call, CallState.HOLDING, "armed_dropped")
        if leg is not None:
            await self._phone.hang_up_leg(leg)
        await k.repo.save(call)
