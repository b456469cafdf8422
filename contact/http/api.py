"""The operator and supervisor REST API under /api/v1 (session cookie + CSRF)."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web

from contact import text_policy
from contact.domain.commands import Accept, Close, Decline, Reply, SetPresence
from contact.domain.model import ContactState, Gender, Presence, Priority, Role, UiLanguage
from contact.errors import (
    BadRequest,
    Conflict,
    ContactError,
    Forbidden,
    NotFound,
    Unprocessable,
    UnsupportedMediaType,
)
from contact.http.auth import Principal, check_csrf, need_principal
from contact.http.close_form import disposition_of
from contact.http.keys import CONTAINER
from contact.http.pages import ui_language
from contact.http.paging import encode_cursor, page_cursor, page_limit
from contact.http.views import (
    detail,
    mark_keywords,
    message_json,
    operator_status_json,
    public_contact,
)
from contact.i18n import text as i18n_text

API = "/api/v1"
MAX_REPLY_CHARS = 4000
IN_PROGRESS = frozenset({ContactState.CONNECTED, ContactState.WRAP_UP})
IN_PROGRESS_PAGE, IN_PROGRESS_MAX = 50, 200
# refusals an operator or a supervisor reads on the page: in her language (contact/i18n.py
# `error.<id>`), both official languages in details.messages
LOCALIZED_ERRORS = frozenset(
    {
        "contact_open",
        "not_in_progress",
        "contact_changed",
        "not_requeueable",
        "same_operator",
        "operator_unable",
        "operator_absent",
        "operator_busy",
        "live_call",
        "missing_reason",
        "reason_too_long",
    }
)
T = TypeVar("T")


async def localized(request: web.Request, action: Awaitable[T]) -> T:
    try:
        return await action
    except ContactError as error:
        if error.error_id in LOCALIZED_ERRORS:
            key = f"error.{error.error_id}"
            error.message = i18n_text(key, ui_language(request))
            error.details["messages"] = {x.value: i18n_text(key, x) for x in UiLanguage}
        raise


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json", error_id="json_required")
    raw = await request.read()
    try:
        data = text_policy.loads(raw or b"null")  # text cleaned, numbers finite (one policy)
    except (ValueError, RecursionError):  # deep nesting is not JSON we take
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
    # what she is working on, from the contacts themselves: a reload, a second tab, a crash
    # or a restart shows the same contact again
    held = await c.db.contacts.held_by(principal.operator_id)
    working = [x for x in held if x.state in IN_PROGRESS]
    return _json(
        {
            "contact_id": working[0].id if working else None,
            "contacts": [public_contact(x) for x in held],
            "id": operator.id,
            "username": operator.username,
            "display_name": operator.display_name,
            "role": operator.role.value,
            "languages": sorted(x.value for x in operator.skills.languages),
            "capabilities": sorted(x.value for x in operator.skills.capabilities),
            "presence": presences.get(operator.id, Presence.AWAY).value,
            "ui_language": operator.ui_language.value if operator.ui_language else None,
            "gender": operator.gender.value,
            "csrf_token": principal.csrf_token,
        }
    )


async def set_preferences(request: web.Request) -> web.Response:
    """Her pages' language (kk, ru, en; null: the browser's) and the form texts about her take
    (female, male, other: neutral wording). Either may be left out to keep it."""
    principal = acting(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Unprocessable("send an object", error_id="invalid_preferences")
    c = request.app[CONTAINER]
    operator = await c.db.operators.get(principal.operator_id)
    language, gender = operator.ui_language, operator.gender
    try:
        if "ui_language" in body:
            wanted = body["ui_language"]
            language = UiLanguage(str(wanted)) if wanted is not None else None
        if "gender" in body:
            gender = Gender(str(body["gender"]))
    except ValueError:
        raise Unprocessable(
            "ui_language is kk, ru, en or null; gender is female, male or other",
            error_id="invalid_preferences",
        ) from None
    await c.db.operators.set_preferences(principal.operator_id, language, gender)
    await c.db.audit.append(
        principal.operator_id,
        "operator.preferences",
        principal.operator_id,
        {"ui_language": language.value if language else None, "gender": gender.value},
    )
    return _json({"ui_language": language.value if language else None, "gender": gender.value})


async def set_presence(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    try:
        presence = Presence(str(body.get("presence")))
    except ValueError:
        raise Unprocessable("presence must be ready or away", error_id="invalid_presence") from None
    if presence not in (Presence.READY, Presence.AWAY):
        raise Unprocessable("presence must be ready or away", error_id="invalid_presence")
    if presence is Presence.READY:
        held = await request.app[CONTAINER].db.contacts.held_by(principal.operator_id)
        open_ids = [x.id for x in held if x.state in IN_PROGRESS]
        if open_ids:
            error = Conflict("close the open contact first", error_id="contact_open")
            error.details["contact_id"] = open_ids[0]
            await localized(request, _raise(error))
    await request.app[CONTAINER].bus.execute(
        SetPresence(operator_id=principal.operator_id, presence=presence)
    )
    return _json({"presence": presence.value})


def _queue_key(key: list[Any]) -> tuple[float, str]:
    score, contact_id = key
    if type(score) not in (int, float) or not math.isfinite(score):
        raise ValueError("not a score")
    if not isinstance(contact_id, str):
        raise TypeError("not an id")
    return float(score), contact_id


async def queue(request: web.Request) -> web.Response:
    """Waiting contacts in queue order, one page (`limit`, `cursor` from `next_cursor`)."""
    principal = acting(request)
    c = request.app[CONTAINER]
    page = await c.db.queue.waiting_page(
        page_limit(request), page_cursor(request, _queue_key), offered_to=principal.operator_id
    )
    mine = page.offered_to
    expires = None  # when my offer moves on: the page's countdown survives a reload
    if mine is not None:
        offer = next((o for o in await c.store.offers() if o.contact_id == mine.id), None)
        if offer is not None:
            expires = datetime.fromtimestamp(offer.expires_at, UTC).isoformat()
    return _json(
        {
            "contacts": [public_contact(x) for x in page.contacts],
            "total": page.total,
            "next_cursor": encode_cursor(*page.next_key) if page.next_key else None,
            "offered_to_me": public_contact(mine) if mine is not None else None,
            "offer_expires_at": expires,
        }
    )


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
    body = detail(contact, messages, attachments)
    mark_keywords(body, messages, c.triage.analyse)
    return _json(body)


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
    body = detail(contact, messages, attachments)
    mark_keywords(body, messages, c.triage.analyse)
    return _json(body)


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
    disposition = disposition_of(body) or disposition
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
    limit = page_limit(request)  # operators listed; the counts cover everyone
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
    forms = {o.id: o.gender.value for o in operators}  # «Отошла» / «Отошёл» / neutral
    statuses = sorted(
        (
            {
                **operator_status_json(s, now),
                "display_name": names.get(s.operator_id, "?"),
                "gender": forms.get(s.operator_id, Gender.OTHER.value),
            }
            for s in await c.store.operators()
        ),
        key=lambda s: (s["display_name"], s["operator_id"]),
    )
    m = c.metrics
    return _json(
        {
            "depth": depth,
            "waiting": len(waiting),
            "offered": len(offers),
            "longest_wait_s": round(now - oldest, 1) if oldest is not None else 0,
            "operators": statuses[:limit],
            "operators_total": len(statuses),
            "answered": m.answered_count,
            "answered_within_sla_ratio": m.answered_within_sla_ratio,
            "sla_breaches": m.sla_breach_count,
            "store_healthy": c.routing.store_healthy,
        }
    )


async def _raise(error: ContactError) -> None:
    raise error


def _in_progress_key(key: list[Any]) -> tuple[datetime, str]:
    at, contact_id = key
    if not isinstance(at, str) or not isinstance(contact_id, str):
        raise TypeError("not a key")
    return datetime.fromisoformat(at), contact_id


async def in_progress(request: web.Request) -> web.Response:
    """Contacts being worked (connected, wrap-up) with their operator and age, the oldest
    answered first; paged by `limit` and the `next_cursor` of the previous page."""
    acting(request, Role.SUPERVISOR)
    c = request.app[CONTAINER]
    limit = page_limit(request, default=IN_PROGRESS_PAGE, most=IN_PROGRESS_MAX)
    page = await c.db.contacts.in_progress(limit + 1, page_cursor(request, _in_progress_key))
    more = len(page) > limit
    page = page[:limit]
    names = {o.id: o.display_name for o in await c.db.operators.all()}
    now = c.clock()
    rows = []
    for contact in page:
        answered = contact.answered_at or contact.created_at
        rows.append(
            {
                **public_contact(contact),
                "operator_name": names.get(contact.operator_id or ""),
                "age_s": round(max(0.0, now - answered.timestamp()), 1),
                "orphaned_at": contact.orphaned_at.isoformat() if contact.orphaned_at else None,
                "escalated_at": contact.escalated_at.isoformat() if contact.escalated_at else None,
            }
        )
    last = page[-1] if more and page else None
    cursor = None
    if last is not None:
        assert last.answered_at is not None
        cursor = encode_cursor(last.answered_at.isoformat(), last.id)
    return _json({"contacts": rows, "next_cursor": cursor})


async def reassign(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    body = await json_body(request)
    if "operator_id" not in body:
        raise Unprocessable(
            "operator_id is required (null: back to the queue)", error_id="missing_operator"
        )
    to = body["operator_id"]
    if to is not None and (not isinstance(to, str) or not to or len(to) > 64):
        raise Unprocessable("operator_id must be an operator's id or null", error_id="bad_operator")
    control = request.app[CONTAINER].control
    contact = await localized(
        request, control.reassign(request.match_info["contact_id"], principal.operator_id, to)
    )
    return _json(public_contact(contact))


async def force_close(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    body = await json_body(request)
    reason = body.get("reason")
    if not isinstance(reason, str):
        reason = ""
    control = request.app[CONTAINER].control
    contact = await localized(
        request,
        control.force_close(request.match_info["contact_id"], principal.operator_id, reason),
    )
    return _json(public_contact(contact))


async def take_over(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    c = request.app[CONTAINER]
    contact = await localized(
        request, c.control.take_over(request.match_info["contact_id"], principal.operator_id)
    )
    messages = await c.db.contacts.messages(contact.id)
    attachments = await c.db.contacts.attachments(contact.id)
    return _json(detail(contact, messages, attachments))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{API}/me", me)
    r.add_post(f"{API}/me/presence", set_presence)
    r.add_post(f"{API}/me/preferences", set_preferences)
    r.add_get(f"{API}/queue", queue)
    r.add_get(f"{API}/contacts/{{contact_id}}", get_contact)
    r.add_get(f"{API}/contacts/{{contact_id}}/attachments/{{attachment_id}}", get_attachment)
    r.add_post(f"{API}/contacts/{{contact_id}}/accept", accept)
    r.add_post(f"{API}/contacts/{{contact_id}}/decline", decline)
    r.add_post(f"{API}/contacts/{{contact_id}}/reply", reply)
    r.add_post(f"{API}/contacts/{{contact_id}}/close", close)
    r.add_get(f"{API}/supervisor/overview", overview)
    r.add_get(f"{API}/supervisor/in-progress", in_progress)
    r.add_post(f"{API}/contacts/{{contact_id}}/reassign", reassign)
    r.add_post(f"{API}/contacts/{{contact_id}}/force-close", force_close)
    r.add_post(f"{API}/contacts/{{contact_id}}/take-over", take_over)
