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
from dataclasses import dataclass
from datetime import datetime

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import Operator, new_id, utcnow
from contact.errors import Conflict, Unprocessable
from contact.ports import AuditLog, Call, CallControl, CallState
from contact.telephony import parse

MODES = tuple(parse.SPY_MODES)


@dataclass(frozen=True, slots=True)
class SpyLeg:
    """A supervisor's phone in ChanSpy on a call, from the moment it was rung until its leg
    hangs up: the server's truth of who listens, whatever her page shows (a desk phone's leg
    outlives a reload of her page; a browser softphone's ends with it)."""

    leg: str  # the leg's uniqueid (ChannelId of the originate)
    contact_id: str
    supervisor_id: str
    mode: str
    started_at: datetime


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
        self._legs: dict[str, SpyLeg] = {}  # leg → who spies, on what (the driving node's)

    def legs(self, contact_id: str | None = None) -> list[SpyLeg]:
        """The spy legs up now (on this call), oldest first."""
        return [s for s in self._legs.values() if contact_id in (None, s.contact_id)]

    def only_on(self, live: set[str]) -> None:
        """Forget legs on calls no longer live (a Hangup missed while the AMI link was down:
        a spy leg cannot outlive the call it listens to)."""
        for leg, s in list(self._legs.items()):
            if s.contact_id not in live:
                del self._legs[leg]

    def ended(self, uniqueid: str) -> None:
        """A channel hung up (AMI Hangup): if it was a spy leg, nobody spies through it now."""
        self._legs.pop(uniqueid, None)

    async def stop(self, contact_id: str, supervisor_id: str) -> int:
        """Hang up this supervisor's spy legs on this call (e.g. her desk phone's, from her
        page); how many there were."""
        mine = [s for s in self.legs(contact_id) if s.supervisor_id == supervisor_id]
        for s in mine:
            await self._control.hangup(s.leg)
            self._legs.pop(s.leg, None)
        return len(mine)

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
        self._legs[leg] = SpyLeg(leg, call.contact_id, supervisor.id, mode, utcnow())
        await self._audit.append(
            supervisor.id, "call.spy", call.contact_id, {"mode": mode, "call_id": call.id}
        )
        await self._bus.publish(
            ev.CallSpied(contact_id=call.contact_id, supervisor_id=supervisor.id, mode=mode)
        )
        return leg
