"""The operator's hold, resume and hang up (under the call's lock).

The call: CONNECTED → HELD (hold: the caller hears music) → RINGING (resume: connecting to the
operator's leg that is up, or ringing her phone again if it was put down) → CONNECTED."""

from __future__ import annotations

from contact.domain import events as ev
from contact.errors import Conflict
from contact.ports import Call, CallState
from contact.telephony.voice.kit import Kit
from contact.telephony.voice.phone import OperatorPhone
from contact.telephony.voice.states import move


class Hold:
    def __init__(self, kit: Kit, phone: OperatorPhone) -> None:
        self._k = kit
        self._phone = phone

    async def hold(self, call: Call) -> None:
        k = self._k
        if call.state != CallState.CONNECTED:
            raise Conflict("the call is not connected", error_id="call_not_connected")
        await k.control.hold(call.uniqueid)
        move(call, CallState.HELD, "hold")
        await k.repo.save(call)
        await k.bus.publish(
            ev.CallHeld(contact_id=call.contact_id, operator_id=call.operator_id, reason="operator")
        )

    async def resume(self, call: Call) -> None:
        k = self._k
        if call.state != CallState.HELD or call.operator_id is None:
            raise Conflict("the call is not on hold", error_id="call_not_held")
        if call.operator_leg is None:
            await self._phone.ring(call, call.operator_id)  # the phone was put down meanwhile
            return
        move(call, CallState.RINGING, "resume")  # connecting to the leg that is up
        await k.repo.save(call)
        await self._phone.connect(call, call.operator_leg)

    async def hangup(self, call: Call) -> None:
        """The operator ends the call (the caller's leg)."""
        k = self._k
        k.book.ended_by_operator(call.uniqueid)
        await k.control.hangup(call.citizen_leg or call.uniqueid)
