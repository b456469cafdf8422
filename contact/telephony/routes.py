"""The telephony REST API (session cookie + CSRF, like the rest of /api/v1).

Calls are addressed by their contact's id: `/api/v1/calls/{contact_id}/…`. Operators act on
the calls they handle; supervisors list live calls, spy on them (listen, whisper, barge) and
may hang one up. Every action and every recording played is audited.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from contact.domain.model import Role
from contact.errors import ContactError, Forbidden, NotFound, Unprocessable
from contact.http.api import acting, json_body
from contact.http.auth import Principal
from contact.http.keys import CONTAINER
from contact.http.views import iso
from contact.ports import Call, Recording
from contact.telephony.service import Telephony

CALLS = "/api/v1/calls"
TELEPHONY: web.AppKey[Telephony] = web.AppKey("telephony", Telephony)


class Gone(ContactError):
    error_id = "gone"
    status = 410


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


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


def recording_json(recording: Recording) -> dict[str, Any]:
    return {
        "id": recording.id,
        "call_id": recording.call_id,
        "started_at": iso(recording.started_at),
        "ended_at": iso(recording.ended_at),
        "size_bytes": recording.size_bytes,
        "purged": recording.purged_at is not None,
        "url": f"/api/v1/recordings/{recording.id}",
    }


def _telephony(request: web.Request) -> Telephony:
    return request.app[TELEPHONY]


def _live(request: web.Request) -> Call:
    voice = _telephony(request).voice
    call = voice.live_call(request.match_info["contact_id"])
    if call is None:
        raise NotFound("this contact has no live call", error_id="no_live_call")
    return call


def _mine(call: Call, principal: Principal, *, supervisors: bool = False) -> None:
    if call.operator_id == principal.operator_id:
        return
    if supervisors and principal.role.at_least(Role.SUPERVISOR):
        return
    raise Forbidden("this call is not yours", error_id="not_yours")


async def _may_see(request: web.Request, principal: Principal, contact_id: str) -> None:
    """The contact's operator (now or on one of its calls) or a supervisor."""
    if principal.role.at_least(Role.SUPERVISOR):
        return
    c = request.app[CONTAINER]
    contact = await c.db.contacts.get(contact_id)
    if contact.operator_id == principal.operator_id:
        return
    calls = await _telephony(request).calls.for_contact(contact_id)
    if any(call.operator_id == principal.operator_id for call in calls):
        return
    raise Forbidden("this contact is not yours", error_id="not_yours")


async def list_calls(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    calls = _telephony(request).voice.live_calls()
    return _json({"calls": [call_json(c) for c in calls]})


async def status(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    return _json(_telephony(request).status())


async def get_calls(request: web.Request) -> web.Response:
    principal = acting(request)
    contact_id = request.match_info["contact_id"]
    await _may_see(request, principal, contact_id)
    t = _telephony(request)
    calls = await t.calls.for_contact(contact_id)
    live = t.voice.live_call(contact_id)
    recordings = await t.calls.recordings(contact_id)
    return _json(
        {
            "live": call_json(live) if live is not None else None,
            "calls": [call_json(c) for c in calls],
            "recordings": [recording_json(r) for r in recordings],
        }
    )


async def _audit(
    request: web.Request, principal: Principal, action: str, call: Call, **d: Any
) -> None:
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id, action, call.contact_id, {"call_id": call.id, **d}
    )


async def hangup(request: web.Request) -> web.Response:
    principal = acting(request)
    call = _live(request)
    _mine(call, principal, supervisors=True)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.hangup(call)
    await _audit(request, principal, "call.hangup", call)
    return _json({"hangup": True})


async def hold(request: web.Request) -> web.Response:
    principal = acting(request)
    call = _live(request)
    _mine(call, principal)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.hold(call)
    await _audit(request, principal, "call.hold", call)
    return _json(call_json(call))


async def resume(request: web.Request) -> web.Response:
    principal = acting(request)
    call = _live(request)
    _mine(call, principal)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.resume(call)
    await _audit(request, principal, "call.resume", call)
    return _json(call_json(call))


async def transfer(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    target, mode = body.get("target"), body.get("mode", "blind")
    if not isinstance(target, str) or not isinstance(mode, str):
        raise Unprocessable("target and mode are strings", error_id="invalid_transfer")
    call = _live(request)
    _mine(call, principal)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.transfer(call, target, mode)
    await _audit(request, principal, "call.transfer", call, target=target, mode=mode)
    return _json(call_json(call))


async def complete_transfer(request: web.Request) -> web.Response:
    principal = acting(request)
    call = _live(request)
    _mine(call, principal)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.complete_transfer(call)
    await _audit(request, principal, "call.transfer_complete", call)
    return _json(call_json(call))


async def cancel_transfer(request: web.Request) -> web.Response:
    principal = acting(request)
    call = _live(request)
    _mine(call, principal)
    voice = _telephony(request).voice
    async with voice.locked(call):
        await voice.cancel_transfer(call)
    await _audit(request, principal, "call.transfer_cancel", call)
    return _json(call_json(call))


async def callback(request: web.Request) -> web.Response:
    """Call the citizen back again (the callback task is connected to this operator)."""
    principal = acting(request)
    contact_id = request.match_info["contact_id"]
    call = await _telephony(request).voice.dial_callback(contact_id, principal.operator_id)
    await _audit(request, principal, "call.callback", call)
    return _json(call_json(call), status=202)


async def spy(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    body = await json_body(request)
    mode = body.get("mode")
    if not isinstance(mode, str):
        raise Unprocessable("mode is listen, whisper or barge", error_id="bad_mode")
    t = _telephony(request)
    contact_id = request.match_info["contact_id"]
    call = t.voice.live_call(contact_id) or next(
        (c for c in t.voice.live_calls() if c.id == contact_id), None
    )
    if call is None:
        raise NotFound("no live call", error_id="no_live_call")
    supervisor = await request.app[CONTAINER].db.operators.get(principal.operator_id)
    leg = await t.spy.spy(call, supervisor, mode)
    return _json({"mode": mode, "contact_id": call.contact_id, "leg": leg}, status=202)


async def play_recording(request: web.Request) -> web.StreamResponse:
    principal = acting(request)
    t = _telephony(request)
    recording = await t.calls.recording(request.match_info["recording_id"])
    if recording is None:
        raise NotFound("no such recording", error_id="recording_not_found")
    await _may_see(request, principal, recording.contact_id)
    if recording.purged_at is not None:
        raise Gone("the recording was purged (retention period)", error_id="recording_purged")
    path = t.recordings.file(recording)
    if not path.is_file():
        raise NotFound("the recording's file is missing", error_id="recording_missing")
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id,
        "recording.play",
        recording.contact_id,
        {"recording_id": recording.id},
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": "inline",
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application) -> None:
    container = app[CONTAINER]
    telephony = container.extras.get("telephony")
    if not isinstance(telephony, Telephony):
        return
    app[TELEPHONY] = telephony
    r = app.router
    r.add_get(CALLS, list_calls)
    r.add_get("/api/v1/telephony/status", status)
    r.add_get(f"{CALLS}/{{contact_id}}", get_calls)
    r.add_post(f"{CALLS}/{{contact_id}}/hangup", hangup)
    r.add_post(f"{CALLS}/{{contact_id}}/hold", hold)
    r.add_post(f"{CALLS}/{{contact_id}}/resume", resume)
    r.add_post(f"{CALLS}/{{contact_id}}/transfer", transfer)
    r.add_post(f"{CALLS}/{{contact_id}}/transfer/complete", complete_transfer)
    r.add_post(f"{CALLS}/{{contact_id}}/transfer/cancel", cancel_transfer)
    r.add_post(f"{CALLS}/{{contact_id}}/callback", callback)
    r.add_post(f"{CALLS}/{{contact_id}}/spy", spy)
    r.add_get("/api/v1/recordings/{recording_id}", play_recording)
