"""The telephony REST API (session cookie + CSRF, like the rest of /api/v1).

Calls are addressed by their contact's id: `/api/v1/calls/{contact_id}/…`. Operators act on
the calls they handle; supervisors list live calls, spy on them (listen, whisper, barge) and
may hang one up. Every action and every recording played is audited. Any node serves them: a
call action is carried out by the node that drives Asterisk (Telephony.act), and answered as
that node answered it.
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
from contact.http.paging import page_limit
from contact.http.views import iso
from contact.ports import Recording
from contact.telephony import TELEPHONY_PART
from contact.telephony.actions import Actor, call_json
from contact.telephony.service import Telephony

CALLS = "/api/v1/calls"
TELEPHONY: web.AppKey[Telephony] = web.AppKey("telephony", Telephony)


class Gone(ContactError):
    error_id = "gone"
    status = 410


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


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
    """The live calls, each with the supervisors' spy legs on it (`spies`: who, how, since
    when) as the driving node knows them: the server's truth of who listens, so a supervisor's
    page shows it after a reload (a desk phone's leg outlives the page)."""
    principal = acting(request, Role.SUPERVISOR)
    limit = page_limit(request)
    # the oldest first: a page holds the calls that have waited longest
    calls = sorted(await _telephony(request).live_calls(), key=lambda c: (c.started_at, c.id))
    try:
        legs = (await _act(request, principal, "spy_legs", contact_id=""))["legs"]
    except ContactError:  # no node drives the calls now: nobody can be spying either
        legs = []
    shown = []
    for call in calls[:limit]:
        body = call_json(call)
        body["spies"] = [leg for leg in legs if leg["contact_id"] == call.contact_id]
        shown.append(body)
    return _json({"calls": shown, "total": len(calls)})


async def status(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    return _json(_telephony(request).status())


async def get_calls(request: web.Request) -> web.Response:
    principal = acting(request)
    contact_id = request.match_info["contact_id"]
    await _may_see(request, principal, contact_id)
    t = _telephony(request)
    calls = await t.calls.for_contact(contact_id)
    live = await t.live_call(contact_id)
    recordings = await t.calls.recordings(contact_id)
    return _json(
        {
            "live": call_json(live) if live is not None else None,
            "calls": [call_json(c) for c in calls],
            "recordings": [recording_json(r) for r in recordings],
        }
    )


async def _act(
    request: web.Request,
    principal: Principal,
    action: str,
    args: dict[str, Any] | None = None,
    contact_id: str | None = None,
) -> dict[str, Any]:
    """Carried out by the node that drives Asterisk, this one or another: the same checks of
    the live call either way (contact/telephony/actions.py)."""
    actor = Actor(operator_id=principal.operator_id, role=principal.role)
    if contact_id is None:
        contact_id = request.match_info["contact_id"]
    return await _telephony(request).act(action, contact_id, actor, args or {})


async def _audit(
    request: web.Request, principal: Principal, action: str, call: dict[str, Any], **d: Any
) -> None:
    """By the node the browser talks to, once, whichever node carried the action out."""
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id, action, call["contact_id"], {"call_id": call["id"], **d}
    )


async def hangup(request: web.Request) -> web.Response:
    principal = acting(request)
    done = await _act(request, principal, "hangup")
    await _audit(request, principal, "call.hangup", done["call"])
    return _json({"hangup": True})


async def _simple(request: web.Request, action: str, audited: str) -> web.Response:
    principal = acting(request)
    done = await _act(request, principal, action)
    await _audit(request, principal, audited, done["call"])
    return _json(done["call"])


async def hold(request: web.Request) -> web.Response:
    return await _simple(request, "hold", "call.hold")


async def resume(request: web.Request) -> web.Response:
    return await _simple(request, "resume", "call.resume")


async def transfer(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    target, mode = body.get("target"), body.get("mode", "blind")
    if not isinstance(target, str) or not isinstance(mode, str):
        raise Unprocessable("target and mode are strings", error_id="invalid_transfer")
    done = await _act(request, principal, "transfer", {"target": target, "mode": mode})
    await _audit(request, principal, "call.transfer", done["call"], target=target, mode=mode)
    return _json(done["call"])


async def complete_transfer(request: web.Request) -> web.Response:
    return await _simple(request, "complete_transfer", "call.transfer_complete")


async def cancel_transfer(request: web.Request) -> web.Response:
    return await _simple(request, "cancel_transfer", "call.transfer_cancel")


async def callback(request: web.Request) -> web.Response:
    """Call the citizen back again (the callback task is connected to this operator)."""
    principal = acting(request)
    done = await _act(request, principal, "callback")
    await _audit(request, principal, "call.callback", done["call"])
    return _json(done["call"], status=202)


async def spy(request: web.Request) -> web.Response:
    """Audited by SpyService, where the spy leg is placed."""
    principal = acting(request, Role.SUPERVISOR)
    body = await json_body(request)
    mode = body.get("mode")
    if not isinstance(mode, str):
        raise Unprocessable("mode is listen, whisper or barge", error_id="bad_mode")
    done = await _act(request, principal, "spy", {"mode": mode})
    return _json(
        {"mode": done["mode"], "contact_id": done["call"]["contact_id"], "leg": done["leg"]},
        status=202,
    )


async def spy_stop(request: web.Request) -> web.Response:
    """Hang up my spy legs on this call (a desk phone's too), from my page."""
    principal = acting(request, Role.SUPERVISOR)
    done = await _act(request, principal, "spy_stop")
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id,
        "call.spy_stop",
        request.match_info["contact_id"],
        {"stopped": done["stopped"]},
    )
    return _json({"stopped": done["stopped"]})


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
    telephony = container.find(TELEPHONY_PART)
    if telephony is None:
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
    r.add_post(f"{CALLS}/{{contact_id}}/spy/stop", spy_stop)
    r.add_get("/api/v1/recordings/{recording_id}", play_recording)
