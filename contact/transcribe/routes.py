"""The transcript API (session cookie, like the rest of /api/v1): a contact's transcript for its
operator and supervisors, full-text search over every transcript for supervisors. Both are
views of citizens' words: every one is audited."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from contact.domain.model import Role
from contact.errors import Forbidden, Unprocessable
from contact.http.api import acting
from contact.http.keys import CONTAINER
from contact.http.views import iso
from contact.persistence.transcripts import Segment, tokens
from contact.transcribe import TRANSCRIPTION_PART
from contact.transcribe.service import Transcription

TRANSCRIPTION: web.AppKey[Transcription] = web.AppKey("transcription", Transcription)
MAX_QUERY = 200
MAX_LIMIT = 200


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def segment_json(s: Segment) -> dict[str, Any]:
    return {
        "id": s.id,
        "contact_id": s.contact_id,
        "speaker": s.speaker,
        "language": s.language,
        "text": s.text,
        "start_s": s.start_s,
        "end_s": s.end_s,
        "confidence": s.confidence,
        "words": [{"word": w, "start_s": a, "end_s": b, "confidence": c} for w, a, b, c in s.words],
        "leg_started_at": iso(s.leg_started_at),
        "created_at": iso(s.created_at),
    }


async def get_transcript(request: web.Request) -> web.Response:
    """The contact's operator (offered or handling it) or a supervisor, as for its details."""
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await c.db.contacts.get(request.match_info["contact_id"])
    if contact.operator_id != principal.operator_id and not principal.role.at_least(
        Role.SUPERVISOR
    ):
        raise Forbidden("this contact is not yours", error_id="not_yours")
    t = request.app[TRANSCRIPTION]
    segments = await t.store.for_contact(contact.id)
    await c.db.audit.append(
        principal.operator_id, "transcript.view", contact.id, {"segments": len(segments)}
    )
    live = [{"speaker": tap.speaker, "language": tap.language} for tap in t.taps(contact.id)]
    return _json(
        {"contact_id": contact.id, "live": live, "segments": [segment_json(s) for s in segments]}
    )


async def search(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    query = request.query.get("q", "")
    if len(query) > MAX_QUERY:
        raise Unprocessable(f"q is at most {MAX_QUERY} characters", error_id="bad_query")
    if not tokens(query):
        raise Unprocessable("q needs at least one word", error_id="bad_query")
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise Unprocessable(f"limit is 1..{MAX_LIMIT}", error_id="bad_limit")
    t = request.app[TRANSCRIPTION]
    found = await t.store.search(query, int(raw_limit))
    # who searched for what, and whose words it showed
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id,
        "transcript.search",
        None,
        {"q": query, "contacts": sorted({s.contact_id for s in found})},
    )
    return _json({"q": query, "segments": [segment_json(s) for s in found]})


def setup(app: web.Application) -> None:
    t = app[CONTAINER].find(TRANSCRIPTION_PART)
    if t is None:
        return
    app[TRANSCRIPTION] = t
    app.router.add_get("/api/v1/contacts/{contact_id}/transcript", get_transcript)
    app.router.add_get("/api/v1/transcripts/search", search)
