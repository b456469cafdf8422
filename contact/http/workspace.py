"""What the operator's page shows beyond one contact's record: previews of the queue's rows
(a few words, the district, the caller), the caller's history, the place in words (address,
district with its outline, the nearest camera or kiosk), quick replies (admins edit them) and
the lists an operator picks from on close (incident type, outcome).

Privacy: previews and history carry a citizen's words and number, so each read is audited (one
entry per page of previews); quick-reply edits are audited with what changed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from contact.context import Container
from contact.domain.model import ChannelKind, Contact, ContactState, Language, Role, new_id
from contact.errors import Unprocessable
from contact.http.api import API, _visible_contact, acting, json_body
from contact.http.close_form import INCIDENT_TYPES, OUTCOMES
from contact.http.keys import CONTAINER
from contact.http.openapi import CONTACT_ID, CSRF, SESSION, error_responses, json_content, operation
from contact.http.place import (
    CITY_MAP,
    ReverseGeocoder,
    geocoder_from,
    nearest_place,
)
from contact.persistence.quick_replies import MAX_REPLIES, QuickReply

GEOCODER: web.AppKey[ReverseGeocoder] = web.AppKey("geocoder", ReverseGeocoder)
PREVIEW_CHARS = 140
HISTORY_LIMIT, HISTORY_DAYS = 10, 365
WAITING = frozenset({ContactState.QUEUED, ContactState.OFFERED})
CHATS = frozenset({ChannelKind.TELEGRAM, ChannelKind.WHATSAPP})
KIOSKS_CACHE_S = 60.0
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")


def caller_of(contact: Contact, name: str | None = None) -> dict[str, Any] | None:
    """Who is calling, as the channel names them: a number, a chat handle, a device; and the
    name a messenger user goes by, when known."""
    if not contact.citizen:
        return None
    kind = {
        ChannelKind.VOICE: "number",
        ChannelKind.CALLBACK: "number",
        ChannelKind.TELEGRAM: "handle",
        ChannelKind.WHATSAPP: "number",
        ChannelKind.KIOSK: "kiosk",
        ChannelKind.SCHOOL_ALARM: "site",
        ChannelKind.CAMERA: "camera",
    }.get(contact.channel, "device")
    return {"kind": kind, "id": contact.citizen[:80], "name": name[:80] if name else None}


def _district(request: web.Request, contact: Contact, *, outline: bool) -> dict[str, Any] | None:
    city = request.app[CONTAINER].find(CITY_MAP)
    if city is None or contact.location is None:
        return None
    return city.district(contact.location.lat, contact.location.lon, outline=outline)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


async def previews(request: web.Request) -> web.Response:
    """Previews of waiting contacts (ids: a page of the queue, comma-separated)."""
    principal = acting(request)
    c = request.app[CONTAINER]
    ids = [i for i in request.query.get("ids", "").split(",") if _ID.match(i)][:100]
    contacts = [x for x in await c.db.workspace.contacts(ids) if x.state in WAITING]
    calls = [x.id for x in contacts if x.channel in (ChannelKind.VOICE, ChannelKind.VIDEO)]
    heard = await c.db.workspace.first_caller_words(calls) if calls else {}
    chats = [(x.channel.value, x.citizen) for x in contacts if x.channel in CHATS and x.citizen]
    names = await c.db.workspace.chat_names(chats) if chats else {}
    out: dict[str, Any] = {}
    for x in contacts:
        words = x.summary or heard.get(x.id, "")
        out[x.id] = {
            "snippet": _snippet(words) if words else None,
            "snippet_source": "transcript" if not x.summary and words else "text",
            "caller": caller_of(x, names.get((x.channel.value, x.citizen or ""))),
            "district": _district(request, x, outline=False),
        }
    if out:
        await c.db.audit.append(
            principal.operator_id, "queue.preview", None, {"contact_ids": sorted(out)}
        )
    return _json({"previews": out})


async def history(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await _visible_contact(request, principal)
    rows: list[Contact] = []
    if contact.citizen:
        rows = await c.db.workspace.history(
            contact.citizen,
            before=contact.created_at,
            since=contact.created_at - timedelta(days=HISTORY_DAYS),
            limit=HISTORY_LIMIT,
        )
    await c.db.audit.append(principal.operator_id, "contact.history", contact.id)
    return _json(
        {
            "contact_id": contact.id,
            "contacts": [
                {
                    "id": x.id,
                    "channel": x.channel.value,
                    "state": x.state.value,
                    "priority": int(x.priority),
                    "priority_name": x.priority.name.lower(),
                    "created_at": x.created_at.isoformat(),
                    "disposition": x.disposition,
                    "summary": _snippet(x.summary) if x.summary else None,
                    "incident_id": x.incident_id,
                }
                for x in rows
            ],
            "limit": HISTORY_LIMIT,
        }
    )


class _KioskCache:
    """Enabled kiosks, read again at most once a minute (the place card looks them up often)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.kiosks: list[Any] = []

    async def get(self, request: web.Request) -> list[Any]:
        now = datetime.now(UTC).timestamp()
        if self.until <= now:
            registry = request.app[CONTAINER].db.registries.kiosks
            self.kiosks = [k for k in await registry.all() if k.enabled]
            self.until = now + KIOSKS_CACHE_S
        return self.kiosks


_KIOSKS: web.AppKey[_KioskCache] = web.AppKey("workspace_kiosks", _KioskCache)


async def place(request: web.Request) -> web.Response:
    """The caller's place in words. Answers within the geocoder's timeout at worst."""
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await _visible_contact(request, principal)
    lang = request.query.get("lang", "ru")
    if lang not in {x.value for x in Language}:
        lang = Language.RU.value
    body: dict[str, Any] = {
        "contact_id": contact.id,
        "address": None,
        "address_source": None,
        "district": None,
        "nearest": None,
    }
    loc = contact.location
    if loc is not None:
        body["district"] = _district(request, contact, outline=True)
        if loc.address:
            body["address"], body["address_source"] = loc.address, "caller"
        else:
            found = await request.app[GEOCODER].reverse(loc.lat, loc.lon, lang)
            if found:
                body["address"], body["address_source"] = found, "geocoder"
        city = c.find(CITY_MAP)
        camera = city.nearest_camera(loc.lat, loc.lon) if city is not None else None
        body["nearest"] = nearest_place(
            loc.lat, loc.lon, camera, await request.app[_KIOSKS].get(request)
        )
    await c.db.audit.append(principal.operator_id, "contact.place", contact.id)
    return _json(body)


def _reply_json(r: QuickReply) -> dict[str, Any]:
    return {
        "id": r.id,
        "language": r.language,
        "label": r.label,
        "text": r.text,
        "position": r.position,
    }


async def quick_replies(request: web.Request) -> web.Response:
    acting(request)
    replies = await request.app[CONTAINER].db.quick_replies.list()
    return _json({"replies": [_reply_json(r) for r in replies]})


LABEL_MAX, TEXT_MAX, POSITION_MAX = 40, 1000, 10_000
# a problem of a quick reply's fields → the API's error (the admin page says it in words)
_PROBLEM_ERRORS = {
    "language": ("language must be kk or ru", "invalid_language"),
    "label_empty": (f"label: 1 to {LABEL_MAX} characters", "invalid_label"),
    "label_long": (f"label: 1 to {LABEL_MAX} characters", "invalid_label"),
    "text_empty": (f"text: 1 to {TEXT_MAX} characters", "invalid_text"),
    "text_long": (f"text: 1 to {TEXT_MAX} characters", "invalid_text"),
    "position": (f"position: an integer 0..{POSITION_MAX}", "invalid_position"),
}


def reply_problems(lang: object, label: object, text: object, position: object) -> dict[str, str]:
    """What is wrong with a quick reply's fields: field → problem (a key of _PROBLEM_ERRORS),
    in the fields' order; empty when nothing is. Shared by the API and the admin page."""
    problems: dict[str, str] = {}
    if lang not in {x.value for x in Language}:
        problems["language"] = "language"
    for field, value, most in (("label", label, LABEL_MAX), ("text", text, TEXT_MAX)):
        if not isinstance(value, str) or not value.strip():
            problems[field] = f"{field}_empty"
        elif len(value) > most:
            problems[field] = f"{field}_long"
    if type(position) is not int or not 0 <= position <= POSITION_MAX:
        problems["position"] = "position"
    return problems


def _reply_from(body: dict[str, Any], reply_id: str) -> QuickReply:
    lang: Any = body.get("language")
    label: Any = body.get("label")
    text: Any = body.get("text")
    position: Any = body.get("position", 0)
    problems = reply_problems(lang, label, text, position)
    if problems:  # the first one, as the API always said it
        message, error_id = _PROBLEM_ERRORS[next(iter(problems.values()))]
        raise Unprocessable(message, error_id=error_id)
    return QuickReply(reply_id, lang, label.strip(), text.strip(), position)


# the changes, audited as the API and the admin page both make them
async def _room_in(c: Container, language: str) -> None:
    if await c.db.quick_replies.count(language) >= MAX_REPLIES:
        raise Unprocessable(f"at most {MAX_REPLIES} per language", error_id="too_many_replies")


async def add_reply(c: Container, by: str, reply: QuickReply) -> QuickReply:
    await _room_in(c, reply.language)
    await c.db.quick_replies.put(reply, by=by, at=datetime.now(UTC))
    await c.db.audit.append(by, "quick_reply.create", reply.id, _reply_json(reply))
    return reply


async def change_reply(c: Container, by: str, before: QuickReply, reply: QuickReply) -> None:
    """`reply` (the same id) replaces `before`. Moving to the other language's list counts
    against that list's limit."""
    if reply.language != before.language:
        await _room_in(c, reply.language)
    await c.db.quick_replies.put(reply, by=by, at=datetime.now(UTC))
    await c.db.audit.append(
        by,
        "quick_reply.update",
        reply.id,
        {"before": _reply_json(before), "after": _reply_json(reply)},
    )


async def remove_reply(c: Container, by: str, before: QuickReply) -> None:
    await c.db.quick_replies.delete(before.id)
    await c.db.audit.append(by, "quick_reply.delete", before.id, {"before": _reply_json(before)})


async def create_quick_reply(request: web.Request) -> web.Response:
    principal = acting(request, Role.ADMIN)
    reply = _reply_from(await json_body(request), "qr-" + new_id())
    await add_reply(request.app[CONTAINER], principal.operator_id, reply)
    return _json(_reply_json(reply), status=201)


async def update_quick_reply(request: web.Request) -> web.Response:
    principal = acting(request, Role.ADMIN)
    c = request.app[CONTAINER]
    before = await c.db.quick_replies.get(request.match_info["reply_id"])
    reply = _reply_from(await json_body(request), before.id)
    await change_reply(c, principal.operator_id, before, reply)
    return _json(_reply_json(reply))


async def delete_quick_reply(request: web.Request) -> web.Response:
    principal = acting(request, Role.ADMIN)
    c = request.app[CONTAINER]
    before = await c.db.quick_replies.get(request.match_info["reply_id"])
    await remove_reply(c, principal.operator_id, before)
    return _json({"deleted": before.id})


async def close_lists(request: web.Request) -> web.Response:
    acting(request)
    return _json({"incident_types": list(INCIDENT_TYPES), "outcomes": list(OUTCOMES)})


def _json(data: Any, status: int = 200) -> web.Response:
    import json

    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def setup(app: web.Application) -> None:
    app[GEOCODER] = geocoder_from(app[CONTAINER].settings.geocoder)
    app[_KIOSKS] = _KioskCache()

    async def close_geocoder(app: web.Application) -> None:
        closer = getattr(app[GEOCODER], "close", None)
        if closer is not None:
            await closer()

    app.on_cleanup.append(close_geocoder)
    r = app.router
    r.add_get(f"{API}/queue/previews", previews)
    r.add_get(f"{API}/contacts/{{contact_id}}/history", history)
    r.add_get(f"{API}/contacts/{{contact_id}}/place", place)
    r.add_get(f"{API}/quick-replies", quick_replies)
    r.add_get(f"{API}/close-lists", close_lists)
    r.add_post(f"{API}/admin/quick-replies", create_quick_reply)
    r.add_put(f"{API}/admin/quick-replies/{{reply_id}}", update_quick_reply)
    r.add_delete(f"{API}/admin/quick-replies/{{reply_id}}", delete_quick_reply)


_OPERATORS: dict[str, Any] = {"security": SESSION, "tags": ["operators"]}
_ADMINS: dict[str, Any] = {"security": SESSION, "tags": ["admin"]}
_ONE: dict[str, Any] = {**_OPERATORS, "parameters": [CONTACT_ID]}
REPLY_ID = {"name": "reply_id", "in": "path", "required": True, "schema": {"type": "string"}}
IDS = {
    "name": "ids",
    "in": "query",
    "required": True,
    "description": "contact ids, comma-separated (at most 100)",
    "schema": {"type": "string"},
}
_OBJ = json_content({"type": "object"})
OPENAPI: dict[str, Any] = {
    f"{API}/queue/previews": {
        "get": operation(
            "Previews of waiting contacts (ids=a,b,… up to 100): a few words (text or the "
            "caller's first transcribed words), the caller, the district; audited",
            {"200": _OBJ, **error_responses(401, 403)},
            parameters=[IDS],
            **_OPERATORS,
        )
    },
    f"{API}/contacts/{{contact_id}}/history": {
        "get": operation(
            f"Earlier contacts of the same number, device or handle (at most {HISTORY_LIMIT}, "
            f"{HISTORY_DAYS} days); audited",
            {"200": _OBJ, **error_responses(401, 403, 404)},
            **_ONE,
        )
    },
    f"{API}/contacts/{{contact_id}}/place": {
        "get": operation(
            "The caller's place in words: address (caller's or a reverse geocoder's), the "
            "district with its outline, the nearest camera or kiosk; audited",
            {"200": _OBJ, **error_responses(401, 403, 404)},
            **_ONE,
        )
    },
    f"{API}/quick-replies": {
        "get": operation(
            "Quick replies in kk and ru", {"200": _OBJ, **error_responses(401, 403)}, **_OPERATORS
        )
    },
    f"{API}/close-lists": {
        "get": operation(
            "Incident types and outcomes an operator picks on close",
            {"200": _OBJ, **error_responses(401, 403)},
            **_OPERATORS,
        )
    },
    f"{API}/admin/quick-replies": {
        "post": operation(
            "Add a quick reply (language, label, text, position); audited",
            {"201": _OBJ, **error_responses(401, 403, 415, 422)},
            parameters=[CSRF],
            body={"application/json": {"schema": {"type": "object"}}},
            **_ADMINS,
        )
    },
    f"{API}/admin/quick-replies/{{reply_id}}": {
        "put": operation(
            "Change a quick reply; audited with before and after",
            {"200": _OBJ, **error_responses(401, 403, 404, 415, 422)},
            parameters=[REPLY_ID, CSRF],
            body={"application/json": {"schema": {"type": "object"}}},
            **_ADMINS,
        ),
        "delete": operation(
            "Remove a quick reply; audited",
            {"200": _OBJ, **error_responses(401, 403, 404)},
            parameters=[REPLY_ID, CSRF],
            **_ADMINS,
        ),
    },
}
