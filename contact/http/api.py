"""The operator and supervisor REST API under /api/v1 (session cookie + CSRF)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from contact.domain.commands import Accept, Close, Decline, Reply, SetPresence
from contact.domain.model import ContactState, Presence, Priority, Role
from contact.domain.triage import queue_score
from contact.errors import BadRequest, Forbidden, NotFound, Unprocessable, UnsupportedMediaType
from contact.http.auth import Principal, check_csrf, need_principal
from contact.http.keys import CONTAINER
from contact.http.views import (
    detail,
    message_json,
    operator_status_json,
    public_contact,
)

API = "/api/v1"
MAX_REPLY_CHARS = 4000


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json", error_id="json_required")
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting is not JSON we take
        raise BadRequest("the body is not valid JSON", error_id="bad_json") from None
    if not isinstance(data, dict):
        raise Unprocessable("the body must be a JSON object", error_id="not_an_object")
    return data


def acting(request: web.Request, role: Role = Role.OPERATOR) -> Principal:
    """The logged-in principal, with the role and (for changes) the CSRF token checked."""
    principal = need_principal(request)
    principal.require(role)
    check_csrf(request, principal)
    return principal


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def me(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    presences = await c.db.operators.presences()
    return _json(
        {
            "id": operator.id,
            "username": operator.username,
            "display_name": operator.display_name,
            "role": operator.role.value,
            "languages": sorted(x.value for x in operator.skills.languages),
            "capabilities": sorted(x.value for x in operator.skills.capabilities),
            "presence": presences.get(operator.id, Presence.AWAY).value,
            "csrf_token": principal.csrf_token,
        }
    )


async def set_presence(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    try:
        presence = Presence(str(body.get("presence")))
    except ValueError:
        raise Unprocessable("presence must be ready or away", error_id="invalid_presence") from None
    if presence not in (Presence.READY, Presence.AWAY):
        raise Unprocessable("presence must be ready or away", error_id="invalid_presence")
    await request.app[CONTAINER].bus.execute(
        SetPresence(operator_id=principal.operator_id, presence=presence)
    )
    return _json({"presence": presence.value})


async def queue(request: web.Request) -> web.Response:
    acting(request)
    c = request.app[CONTAINER]
    waiting = await c.db.contacts.in_states(frozenset({ContactState.QUEUED, ContactState.OFFERED}))
    waiting.sort(key=lambda x: queue_score(x.priority, x.queued_at or x.created_at))
    return _json({"contacts": [public_contact(x) for x in waiting]})


async def _visible_contact(request: web.Request, principal: Principal) -> Any:
    """The contact, if this principal may see its personal data: the operator it is offered
    to or handled by, or a supervisor. Every such view is audited."""
    c = request.app[CONTAINER]
    contact = await c.db.contacts.get(request.match_info["contact_id"])
    if contact.operator_id != principal.operator_id and not principal.role.at_least(
        Role.SUPERVISOR
    ):
        raise Forbidden("this contact is not yours", error_id="not_yours")
    return contact


async def get_contact(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await _visible_contact(request, principal)
    messages = await c.db.contacts.messages(contact.id)
    attachments = await c.db.contacts.attachments(contact.id)
    await c.db.audit.append(principal.operator_id, "contact.view", contact.id)
    return _json(detail(contact, messages, attachments))


async def get_attachment(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await _visible_contact(request, principal)
    attachment, content = await c.db.contacts.attachment_content(
        request.match_info["attachment_id"]
    )
    if attachment.contact_id != contact.id:
        raise NotFound("no such attachment")
    await c.db.audit.append(
        principal.operator_id, "attachment.view", contact.id, {"attachment_id": attachment.id}
    )
    return web.Response(
        body=content,
        content_type=attachment.media_type,
        headers={"Content-Disposition": "inline", "Cache-Control": "no-store"},
    )


async def accept(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await c.bus.execute(
        Accept(contact_id=request.match_info["contact_id"], operator_id=principal.operator_id)
    )
    messages = await c.db.contacts.messages(contact.id)
    attachments = await c.db.contacts.attachments(contact.id)
    return _json(detail(contact, messages, attachments))


async def decline(request: web.Request) -> web.Response:
    principal = acting(request)
    await request.app[CONTAINER].bus.execute(
        Decline(contact_id=request.match_info["contact_id"], operator_id=principal.operator_id)
    )
    return _json({"declined": True})


async def reply(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Unprocessable("text is required", error_id="missing_text")
    if len(text) > MAX_REPLY_CHARS:
        raise Unprocessable(
            f"a reply is at most {MAX_REPLY_CHARS} characters", error_id="text_too_long"
        )
    message = await request.app[CONTAINER].bus.execute(
        Reply(
            contact_id=request.match_info["contact_id"],
            operator_id=principal.operator_id,
            text=text,
        )
    )
    return _json(message_json(message), status=201)


async def close(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request) if request.can_read_body else {}
    disposition = body.get("disposition")
    if disposition is not None and (not isinstance(disposition, str) or len(disposition) > 200):
        raise Unprocessable("disposition must be a short text", error_id="invalid_disposition")
    contact = await request.app[CONTAINER].bus.execute(
        Close(
            contact_id=request.match_info["contact_id"],
            operator_id=principal.operator_id,
            disposition=disposition,
            wrap_up=bool(body.get("wrap_up", False)),
        )
    )
    return _json(public_contact(contact))


async def overview(request: web.Request) -> web.Response:
    """The room at a glance for supervisors: depth, waits, operators, answer share."""
    acting(request, Role.SUPERVISOR)
    c = request.app[CONTAINER]
    now = c.clock()
    waiting = await c.store.waiting()
    depth = {p.name.lower(): 0 for p in Priority}
    for entry in waiting:
        depth[entry.priority.name.lower()] += 1
    offers = await c.store.offers()
    oldest = min((e.queued_at for e in waiting), default=None)
    operators = await c.db.operators.all()
    names = {o.id: o.display_name for o in operators}
    statuses = [
        {**operator_status_json(s, now), "display_name": names.get(s.operator_id, "?")}
        for s in await c.store.operators()
    ]
    m = c.metrics
    return _json(
        {
            "depth": depth,
            "waiting": len(waiting),
            "offered": len(offers),
            "longest_wait_s": round(now - oldest, 1) if oldest is not None else 0,
            "operators": statuses,
            "answered": m.answered_count,
            "answered_within_sla_ratio": m.answered_within_sla_ratio,
            "sla_breaches": m.sla_breach_count,
            "store_healthy": c.routing.store_healthy,
        }
    )


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{API}/me", me)
    r.add_post(f"{API}/me/presence", set_presence)
    r.add_get(f"{API}/queue", queue)
    r.add_get(f"{API}/contacts/{{contact_id}}", get_contact)
    r.add_get(f"{API}/contacts/{{contact_id}}/attachments/{{attachment_id}}", get_attachment)
    r.add_post(f"{API}/contacts/{{contact_id}}/accept", accept)
    r.add_post(f"{API}/contacts/{{contact_id}}/decline", decline)
    r.add_post(f"{API}/contacts/{{contact_id}}/reply", reply)
    r.add_post(f"{API}/contacts/{{contact_id}}/close", close)
    r.add_get(f"{API}/supervisor/overview", overview)
