"""The call actions of the REST API (hang up, hold, resume, transfer, callback, spy) as the
node that drives Asterisk carries them out, on its live call. Whichever node the browser talks
to, an action runs here: on the driving node directly, from a standby through the relay
(contact/telephony/relay.py), one code path either way.

The route keeps the checks of the request (the session, the role, CSRF, the body's shape) and
writes the audit entry; here are the checks that need the live call: whose call it is, and the
call's state (VoiceService, SpyService). A result is JSON (it may cross the relay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contact.domain.model import Role
from contact.errors import Forbidden, NotFound, Unprocessable
from contact.http.views import iso
from contact.ports import Call, OperatorRepository
from contact.telephony.spy import SpyLeg, SpyService
from contact.telephony.voice import VoiceService

# the actions on a live call, and whether a supervisor may do them on another's call
ON_LIVE_CALL = {
    "hangup": True,
    "hold": False,
    "resume": False,
    "transfer": False,
    "complete_transfer": False,
    "cancel_transfer": False,
}
ACTIONS = frozenset({*ON_LIVE_CALL, "callback", "spy", "spy_stop", "spy_legs"})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, as the node the browser talks to authenticated them."""

    operator_id: str
    role: Role

    def as_json(self) -> dict[str, str]:
        return {"operator_id": self.operator_id, "role": self.role.value}

    @classmethod
    def from_json(cls, data: Any) -> Actor:
        if not isinstance(data, dict):
            raise ValueError("an actor is {operator_id, role}")
        operator_id, role = data.get("operator_id"), data.get("role")
        if not isinstance(operator_id, str) or not isinstance(role, str):
            raise ValueError("an actor is {operator_id, role}")
        return cls(operator_id=operator_id, role=Role(role))


def call_json(call: Call) -> dict[str, Any]:
    """No citizen data: the number and location are on the contact."""
    return {
        "id": call.id,
        "contact_id": call.contact_id,
        "direction": call.direction,
        "kind": call.kind,
        "state": call.state,
        "operator_id": call.operator_id,
        "language": call.language.value if call.language else None,
        "transfer_target": call.transfer_target,
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "end_reason": call.end_reason,
        "dropped": call.dropped,
    }


def spy_leg_json(leg: SpyLeg) -> dict[str, Any]:
    return {
        "contact_id": leg.contact_id,
        "supervisor_id": leg.supervisor_id,
        "mode": leg.mode,
        "started_at": iso(leg.started_at),
    }


def _mine(call: Call, actor: Actor, *, supervisors: bool = False) -> None:
    if call.operator_id == actor.operator_id:
        return
    if supervisors and actor.role.at_least(Role.SUPERVISOR):
        return
    raise Forbidden("this call is not yours", error_id="not_yours")


def _text(args: Mapping[str, Any], name: str, error: Unprocessable) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise error
    return value


class CallActions:
    """The dispatcher: `run` is what the driving node does for a route, whichever node the
    route ran on. `voice` gives the voice service of the current term."""

    def __init__(
        self,
        *,
        voice: Callable[[], VoiceService],
        spy: SpyService,
        operators: OperatorRepository,
    ) -> None:
        self._voice = voice
        self._spy = spy
        self._operators = operators

    async def run(
        self, action: str, contact_id: str, actor: Actor, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`{"call": <the call>}` (and for spy `mode`, `leg`); a ContactError otherwise."""
        voice = self._voice()
        if action == "callback":
            dialled = await voice.dial_callback(contact_id, actor.operator_id)
            return {"call": call_json(dialled)}
        if action == "spy":
            return await self._spy_on(voice, contact_id, actor, args)
        if action in ("spy_stop", "spy_legs") and not actor.role.at_least(Role.SUPERVISOR):
            raise Forbidden("supervisors only", error_id="role_required")
        if action == "spy_stop":
            return {"stopped": await self._spy.stop(contact_id, actor.operator_id)}
        if action == "spy_legs":  # every live call's (contact_id unused)
            self._spy.only_on({c.contact_id for c in voice.live_calls()})
            return {"legs": [spy_leg_json(s) for s in self._spy.legs()]}
        if action not in ON_LIVE_CALL:
            raise NotFound(f"no call action {action!r}", error_id="no_such_action")
        target = mode = ""
        if action == "transfer":
            bad = Unprocessable("target and mode are strings", error_id="invalid_transfer")
            target, mode = _text(args, "target", bad), _text(args, "mode", bad)
        call = voice.live_call(contact_id)
        if call is None:
            raise NotFound("this contact has no live call", error_id="no_live_call")
        _mine(call, actor, supervisors=ON_LIVE_CALL[action])
        async with voice.locked(call):
            if action == "hangup":
                await voice.hangup(call)
            elif action == "hold":
                await voice.hold(call)
            elif action == "resume":
                await voice.resume(call)
            elif action == "transfer":
                await voice.transfer(call, target, mode)
            elif action == "complete_transfer":
                await voice.complete_transfer(call)
            else:
                await voice.cancel_transfer(call)
        return {"call": call_json(call)}

    async def _spy_on(
        self, voice: VoiceService, contact_id: str, actor: Actor, args: Mapping[str, Any]
    ) -> dict[str, Any]:
        bad = Unprocessable("mode is listen, whisper or barge", error_id="bad_mode")
        mode = _text(args, "mode", bad)
        call = voice.live_call(contact_id) or next(
            (c for c in voice.live_calls() if c.id == contact_id), None
        )
        if call is None:
            raise NotFound("no live call", error_id="no_live_call")
        supervisor = await self._operators.get(actor.operator_id)
        leg = await self._spy.spy(call, supervisor, mode)
        return {"call": call_json(call), "mode": mode, "leg": leg}
