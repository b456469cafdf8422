"""Supervisors on live calls: listen, whisper (coach the operator) and barge, with ChanSpy
originated to the supervisor's own phone. Who hears whom (verified with tones, see
tests/integration/test_voice_supervision.py):

| mode    | spied channel | supervisor hears  | caller hears     | operator hears      |
|---------|---------------|-------------------|------------------|---------------------|
| listen  | the caller's  | caller + operator | operator         | caller              |
| whisper | the operator's| caller + operator | operator         | caller + supervisor |
| barge   | the caller's  | caller + operator | operator + sup.  | caller + supervisor |
"""

from __future__ import annotations

from collections.abc import Callable

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import Operator, new_id
from contact.errors import Conflict, Unprocessable
from contact.ports import AuditLog, Call, CallControl, CallState
from contact.telephony import parse

MODES = tuple(parse.SPY_MODES)


class SpyService:
    def __init__(
        self,
        *,
        control: CallControl,
        audit: AuditLog,
        bus: MessageBus,
        on_leg: Callable[[str], None] | None = None,
    ) -> None:
        self._control = control
        self._audit = audit
        self._bus = bus
        self._on_leg = on_leg

    async def spy(self, call: Call, supervisor: Operator, mode: str) -> str:
        """Ring the supervisor's phone into ChanSpy on the call; returns the spy leg's id."""
        if mode not in parse.SPY_MODES:
            raise Unprocessable(f"mode is one of {', '.join(MODES)}", error_id="bad_mode")
        if call.state == CallState.ENDED:
            raise Conflict("the call has ended", error_id="call_ended")
        which, options = parse.SPY_MODES[mode]
        spied = (call.citizen_leg or call.uniqueid) if which == "citizen" else call.operator_leg
        if spied is None:
            raise Conflict("no operator is on this call to coach", error_id="no_operator")
        endpoint = parse.operator_dial_string(supervisor.endpoint)
        if endpoint is None:
            raise Unprocessable("your phone endpoint is not set", error_id="no_phone")
        leg = new_id()
        if self._on_leg is not None:
            self._on_leg(leg)
        await self._control.spy(endpoint, leg, spied, options)
        await self._audit.append(
            supervisor.id, "call.spy", call.contact_id, {"mode": mode, "call_id": call.id}
        )
        await self._bus.publish(
            ev.CallSpied(contact_id=call.contact_id, supervisor_id=supervisor.id, mode=mode)
        )
        return leg
