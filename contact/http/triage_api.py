"""The triage lexicon over HTTP: `/api/v1/triage/lexicon` for supervisors (read) and admins
(edit), session + CSRF like the other operator routes; the LexiconEditor validates, stores,
audits and applies every edit on every node."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from aiohttp import web

from contact.domain.model import Role
from contact.domain.triage import CATEGORY_INTENT
from contact.errors import Conflict, Unprocessable
from contact.http.api import API, _json, acting, json_body
from contact.http.keys import CONTAINER
from contact.triage.lexicon import LANGUAGES, Entry, from_json

LEXICON = f"{API}/triage/lexicon"


def _listing(version: int, entries: list[Entry]) -> dict[str, Any]:
    return {
        "version": version,
        "size": len(entries),
        "categories": [{"name": c.value, "intent": i.value} for c, i in CATEGORY_INTENT.items()],
        "languages": list(LANGUAGES),
        "entries": [e.as_json() for e in entries],
    }


async def get_lexicon(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    version, entries = await request.app[CONTAINER].lexicon.current()
    return _json(_listing(version, entries))


async def put_lexicon(request: web.Request) -> web.Response:
    """The whole lexicon; `version` (optional) must be the one read, else 409."""
    principal = acting(request, Role.ADMIN)
    data = await json_body(request)
    entries = from_json(data.get("entries"))
    editor = request.app[CONTAINER].lexicon
    expected = data.get("version")
    if expected is not None:
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise Unprocessable("version is an integer", error_id="invalid_version")
        current, _ = await editor.current()
        if current != expected:
            raise Conflict(
                "the lexicon changed since you read it",
                error_id="lexicon_changed",
                details={"version": current},
            )
    version = await editor.replace(entries, principal.operator_id)
    return _json({"version": version, "size": len(entries)})


async def add_entries(request: web.Request) -> web.Response:
    """Add entries, or change the weight of existing ones (same lang, category and term)."""
    principal = acting(request, Role.ADMIN)
    data = await json_body(request)
    entries = from_json(data.get("entries"))
    if not entries:
        raise Unprocessable("no entries", error_id="invalid_entry")
    editor = request.app[CONTAINER].lexicon
    version = await editor.add(entries, principal.operator_id)
    return _json({"version": version, "entries": [e.as_json() for e in entries]}, status=201)


async def remove_entry(request: web.Request) -> web.Response:
    principal = acting(request, Role.ADMIN)
    info = request.match_info
    key = (info["lang"], info["category"], " ".join(unquote(info["term"]).split()))
    version = await request.app[CONTAINER].lexicon.remove([key], principal.operator_id)
    return _json({"version": version})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(LEXICON, get_lexicon)
    r.add_put(LEXICON, put_lexicon)
    r.add_post(f"{LEXICON}/entries", add_entries)
    r.add_delete(f"{LEXICON}/entries/{{lang}}/{{category}}/{{term}}", remove_entry)
