"""From the queue to the operator's phone: an accept (or, with ring on offer, an offer) rings
the operator's phone for the contact's call; a callback task accepted dials the citizen back.
The same for what another node's bus had (relay.py: `nudge`), and for what durable state says
should ring and does not (`ring_missed`)."""

from __future__ import annotations

import logging

from contact.domain import events as ev
from contact.domain.commands import Accept
from contact.domain.model import ChannelKind, ContactState
from contact.errors import ContactError, NotFound
from contact.ports import Call, CallState
from contact.telephony.voice.armed import ArmedPhone
from contact.telephony.voice.callbacks import Callbacks
from contact.telephony.voice.failsafe import FailSafe
from contact.telephony.voice.kit import ATTACHABLE, CALL_READY_WAIT_S, VOICE_CHANNELS, Kit
from contact.telephony.voice.phone import OperatorPhone

log = logging.getLogger(__name__)


class Ringing:
    def __init__(
        self,
        kit: Kit,
        phone: OperatorPhone,
        armed: ArmedPhone,
        callbacks: Callbacks,
        failsafe: FailSafe,
    ) -> None:
        self._k = kit
        self._phone = phone
        self._armed = armed
        self._callbacks = callbacks
        self._failsafe = failsafe

    async def on_offered(self, event: ev.ContactOffered) -> None:
        if self._k.started:  # a standby's service: the node that drives hears of it (relay)
            self.offered(event.contact_id, event.operator_id)

    def offered(self, contact_id: str, operator_id: str) -> None:
        """Ring on offer (CONTACT_ASTERISK_RING_ON_OFFER): a call offered is accepted for the
        operator at once, so their phone rings now; not answering returns it like any offer."""
        k = self._k
        if k.asterisk.ring_on_offer and k.book.live_call(contact_id) is not None:
            # the phone rings while the accept is recorded (not after it): the ring is on the
            # path of every call, the accept's commits need not be
            k.spawn(self._accept_for(contact_id, operator_id), "voice-offer")
            k.spawn(self.ring_for(contact_id, operator_id, 0.0, offered=True), "voice-offer-ring")

    async def _accept_for(self, contact_id: str, operator_id: str) -> None:
        try:
            await self._k.bus.execute(Accept(contact_id=contact_id, operator_id=operator_id))
        except ContactError as error:  # the offer moved on meanwhile
            log.info("ring on offer: %s", error.message, extra={"contact_id": contact_id})

    async def on_accepted(self, event: ev.ContactAccepted) -> None:
        """Bus handler (holds the contact's lock): the work goes to a task of its own. A
        standby's service (never started) does nothing: the node that drives hears of it."""
        if self._k.started:
            self.accepted(event.contact_id, event.channel, event.operator_id)

    def accepted(self, contact_id: str, channel: ChannelKind, operator_id: str) -> None:
        k = self._k
        if channel in VOICE_CHANNELS:
            k.spawn(self.ring_for(contact_id, operator_id), "voice-accept")
        elif channel in ATTACHABLE and k.book.live_call(contact_id) is not None:
            # an SOS report whose video call already waits
            k.spawn(self.ring_for(contact_id, operator_id, 0.0), "voice-accept")
        elif channel is ChannelKind.CALLBACK:
            k.spawn(self._callbacks.callback_for(contact_id, operator_id), "voice-cb")

    # --- what other nodes' buses had (contact/telephony/relay.py) ------------------------------

    def nudge(self, event: str, contact_id: str, operator_id: str) -> None:
        """Another node's bus had `event` (contact.accepted, or contact.offered with ring on
        offer) for this contact: do what this node's own handler would have done, from the
        contact as the database has it now (the message itself is only a hint)."""
        if self._k.started:
            self._k.spawn(self._nudged(event, contact_id, operator_id), "voice-nudge")

    async def _nudged(self, event: str, contact_id: str, operator_id: str) -> None:
        k = self._k
        if event == ev.ContactOffered.name:
            self.offered(contact_id, operator_id)  # the accept and the ring check the state
            return
        if event != ev.ContactAccepted.name:
            return
        try:
            contact = await k.contacts.get(contact_id)
        except NotFound:
            return
        if contact.state is not ContactState.CONNECTED or contact.operator_id != operator_id:
            log.debug("relayed accept is stale: the contact is %s", contact.state)
            return
        if contact.channel is ChannelKind.CALLBACK and k.book.live_call(contact_id) is not None:
            return  # dialled already
        self.accepted(contact_id, contact.channel, operator_id)

    async def ring_missed(self) -> int:
        """Durable state says an operator's phone should ring for a waiting call and it does
        not: the contact is connected to the operator (or offered, with ring on offer) and the
        call still holds. A relay from another node was lost (pub/sub is at-most-once), or
        came while no node drove. Ring it now; idempotent (ring_operator checks the state
        under the call's lock). Run by the periodic check and after every full resync; the
        number of calls rung."""
        k = self._k
        if not k.started or not k.control.connected:
            return 0
        rung = 0
        async with k.locks.hold("ring-missed"):
            holding = {c.contact_id for c in k.book.calls() if _may_miss(c)}
            if not holding:
                return 0
            wanted = frozenset({ContactState.CONNECTED, ContactState.OFFERED})
            try:  # one query, not one per holding call (hundreds hold at a busy hour)
                contacts = [c for c in await k.contacts.in_states(wanted) if c.id in holding]
            except ContactError as error:  # the database: the next check tries again
                log.warning("missed rings not checked: %s", error.message)
                return 0
            for contact in contacts:
                operator_id = contact.operator_id
                if operator_id is None:
                    continue
                offered = contact.state is ContactState.OFFERED
                if offered and not k.asterisk.ring_on_offer:
                    continue
                await self.ring_for(contact.id, operator_id, 0.0, offered=offered)
                call = k.book.live_call(contact.id)
                if call is None or call.state != CallState.RINGING:
                    continue
                log.info("a missed ring: the phone rings now", extra={"contact_id": contact.id})
                rung += 1
                if offered:
                    k.spawn(self._accept_for(contact.id, operator_id), "voice-offer")
        return rung

    async def ring_for(
        self,
        contact_id: str,
        operator_id: str,
        wait_s: float = CALL_READY_WAIT_S,
        *,
        offered: bool = False,
    ) -> None:
        k = self._k
        call = await k.book.wait_for(contact_id, wait_s)
        log.debug("accepted %s: call %s", contact_id, call)
        if call is None:
            log.warning("accepted voice contact has no live call", extra={"contact_id": contact_id})
            return
        async with k.locks.hold(call.uniqueid):
            try:
                if not await self._armed.settled(call, operator_id):
                    await self._phone.ring(call, operator_id, offered=offered)
            except Exception:
                log.exception("ringing the operator failed", extra={"contact_id": contact_id})
                await self._failsafe.fail_safe(call, "error")


def _may_miss(call: Call) -> bool:
    return call.direction == "in" and call.state == CallState.HOLDING
