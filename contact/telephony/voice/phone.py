"""The operator's phone: ring it for a call (the answer comes as an OriginateResponse), bridge
the caller to the leg that answered, and give the contact back to the queue when it does not
answer. A ring guard stands in for an OriginateResponse that never comes.

States of the call here: HOLDING → RINGING (ring) → CONNECTED (bridged) | HOLDING (not
answered, failed: the contact back at its place in the queue)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from contact.domain import events as ev
from contact.domain.commands import ReturnToQueue
from contact.domain.model import ContactState, new_id
from contact.errors import ContactError, NotFound
from contact.ports import Call, CallState
from contact.telephony import parse
from contact.telephony.voice.kit import RING_GUARD_EXTRA_S, Kit
from contact.telephony.voice.states import move

# Asterisk's stop is announced on the caller's channel; the operator's leg, another channel,
# may fail before it (cause 38 for a ringing or talking phone; channels' events come in no set
# order, and 0.3 s was measured too short): such a failure is judged after this long, so a
# stopping Asterisk is not taken for her phone's failure (she stays ready, the caller's own
# end decides). A real failure of her phone reaches the queue a second later.
SHUTDOWN_SETTLE_S = 1.0

log = logging.getLogger(__name__)


class OperatorPhone:
    def __init__(self, kit: Kit) -> None:
        self._k = kit

    async def ring(self, call: Call, operator_id: str, *, offered: bool = False) -> None:
        """Ring the operator's phone (under the call's lock); the answer comes as an event.
        `offered`: ring on offer, the accept is being recorded meanwhile."""
        k = self._k
        if call.state == CallState.ENDED:
            return
        if call.operator_id == operator_id and call.state in (
            CallState.RINGING,
            CallState.CONNECTED,
        ):
            return  # already ringing for this operator (ring on offer, then the accept)
        contact = await k.contacts.get(call.contact_id)
        wanted = (
            (ContactState.OFFERED, ContactState.CONNECTED) if offered else (ContactState.CONNECTED,)
        )
        if contact.state not in wanted or contact.operator_id != operator_id:
            log.debug("not ringing: the contact is %s", contact.state)
            return
        operator = await k.operators.get(operator_id)
        endpoint = parse.operator_dial_string(operator.endpoint)
        if endpoint is None:
            log.warning("operator %s has no usable phone endpoint", operator_id)
            await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason="no_phone"))
            return
        leg = new_id()
        call.operator_id = operator_id
        call.operator_leg = leg
        move(call, CallState.RINGING, "ring")
        k.book.link(leg, call.uniqueid)
        try:
            await k.control.ring(
                endpoint,
                leg,
                k.ring_s,
                caller_id=f'"102" <{call.number or "102"}>',
                # the citizen app's video: the operator's leg carries it both ways
                video_of=call.uniqueid if call.kind in ("video", "sos_video") else None,
            )
        except ContactError as error:
            log.warning("ringing the operator failed: %s", error.message)
            k.book.unlink(leg)
            await self.not_answered(call, "operator_failed")
            return
        await k.repo.save(call)  # after the ring: not on the path to the phone
        self.guard(call.uniqueid, leg)
        await k.bus.publish(ev.CallRinging(contact_id=call.contact_id, operator_id=operator_id))

    def guard(self, anchor: str, leg: str) -> None:
        """Stop waiting for `leg`'s answer a little after it stops ringing."""
        k = self._k
        k.later(k.ring_s + RING_GUARD_EXTRA_S, lambda: self._ring_guard(anchor, leg))

    async def _ring_guard(self, anchor: str, leg: str) -> None:
        """An OriginateResponse that never came: treat the leg as not answered."""
        k = self._k
        async with k.locks.hold(anchor):
            call = k.book.call(anchor)
            if call is None or call.operator_leg != leg or call.state != CallState.RINGING:
                return
            if call.direction == "in" and k.book.bridging_to(anchor) == leg:
                return
            with contextlib.suppress(ContactError):
                await k.control.hangup(leg)
            await self.not_answered(call, "no_answer")

    async def not_answered(self, call: Call, reason: str) -> None:
        """The operator's phone did not answer (or failed): the contact goes back to its place
        in the queue; the caller never left holding."""
        k = self._k
        leg = call.operator_leg
        call.operator_leg = None
        call.operator_id = None
        if call.direction == "in":
            move(call, CallState.HOLDING, reason)
            call.bridged_at = None  # waiting again (a held call whose phone went meanwhile)
            await k.repo.save(call)
        else:
            move(call, CallState.ENDED, reason)
            call.ended_at = k.now()
            call.end_reason = "operator_no_answer"
            k.book.forget(call)
            await k.repo.save(call)
        if leg:
            k.book.unlink(leg)
        await k.bus.execute(ReturnToQueue(contact_id=call.contact_id, reason=reason))

    async def originated(self, sig: parse.OriginateResult) -> None:
        """The operator's leg answered or failed (OriginateResponse)."""
        k = self._k
        call = k.book.call_of(sig.uniqueid)
        if call is None or call.operator_leg != sig.uniqueid or call.state != CallState.RINGING:
            if sig.answered and call is None:
                log.info("an answered leg belongs to no live call: hanging it up")
                with contextlib.suppress(ContactError):
                    await k.control.hangup(sig.uniqueid)
            return
        if not sig.answered:
            if await self.ended_by_shutdown(sig.uniqueid):
                # a stopping Asterisk ended the ring, not her phone: the caller's end decides
                return
            if k.book.call_of(call.uniqueid) is not call or call.state != CallState.RINGING:
                return  # the caller's end came meanwhile and decided
            await self.not_answered(call, sig.reason)
            return
        if call.direction == "out":
            return  # the operator hears the citizen's phone ring ([contact-callback])
        if k.book.is_armed(call.uniqueid):
            # an armed phone answered before the queue's offer: connected once it comes
            k.book.armed_answered(call.uniqueid, sig.uniqueid)
            return
        await self.connect(call, sig.uniqueid)

    async def ended_by_shutdown(self, leg: str) -> bool:
        """Whether a stopping Asterisk ended this leg (asked after SHUTDOWN_SETTLE_S)."""
        book = self._k.book
        if book.take_shutdown_end(leg):
            return True
        await asyncio.sleep(SHUTDOWN_SETTLE_S)
        return book.shutting_down

    async def connect(self, call: Call, leg: str) -> None:
        """Bridge the caller with an answered leg (operator or transfer target)."""
        k = self._k
        k.book.bridging(call.uniqueid, leg)
        try:
            await k.control.connect(call.uniqueid, leg)
        except NotFound:
            # the caller left meanwhile: its hangup follows; the leg must not stay up
            k.book.bridged(call.uniqueid)
            with contextlib.suppress(ContactError):
                await k.control.hangup(leg)

    async def bridged(self, call: Call) -> None:
        """The caller is bridged to its operator's leg: they talk."""
        k = self._k
        assert call.operator_id is not None
        first = call.answered_at is None
        move(call, CallState.CONNECTED, "bridged")
        now = k.now()
        if first:
            call.answered_at = now
        call.bridged_at = call.bridged_at or now  # kept across hold and consultation
        await k.repo.save(call)
        await k.bus.publish(
            ev.CallConnected(contact_id=call.contact_id, operator_id=call.operator_id)
        )

    async def hang_up_leg(self, leg: str) -> None:
        k = self._k
        k.book.unlink(leg)
        with contextlib.suppress(ContactError):
            await k.control.hangup(leg)
