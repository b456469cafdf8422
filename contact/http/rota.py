"""The published staffing rota beside the room (GET /api/v1/supervisor/rota): for the
current hour on the centre's clock and the next ones, how many operators each skill group
needs (published by `contact simulate SCENARIO --recommend --publish`) and how many are on
the lines now (logged in and not away), and by how many a group is short.

Who counts for which group: an operator fits a group when she speaks every language of it and
her workplace takes every kind of its channels (chat, voice, video). Each operator counts
once: the operators who fit the fewest groups are placed first, each in the group she fits
that is furthest below its need (the earlier group on a tie); an operator who fits none is
counted apart (`unplaced`).

Privacy: counts and the publisher's display name only; not audited (the wallboard is not
either). Publishing is audited where it happens (`rota.publish`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from contact.domain.model import Presence, Role, Skills
from contact.errors import BadRequest, NotFound
from contact.http.api import API, acting
from contact.http.keys import CONTAINER
from contact.http.openapi import SESSION, error_responses, json_content, operation
from contact.persistence.rota import RotaEntry

DEFAULT_HOURS, MAX_HOURS = 4, 24


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    languages: frozenset[str]
    capabilities: frozenset[str]


def fits(skills: Skills, group: Group) -> bool:
    speaks = {lang.value for lang in skills.languages}
    takes = {cap.value for cap in skills.capabilities}
    return group.languages <= speaks and group.capabilities <= takes


def cover(
    groups: Sequence[Group], needed: Mapping[str, int], operators: Sequence[Skills]
) -> tuple[dict[str, int], int]:
    """(operators counted for each group, operators who fit none): each operator once, the
    least versatile first, into the group she fits that is furthest below its need."""
    on = {g.name: 0 for g in groups}
    order = {g.name: i for i, g in enumerate(groups)}
    unplaced = 0
    fitting = [[g.name for g in groups if fits(s, g)] for s in operators]
    for names in sorted(fitting, key=len):
        if not names:
            unplaced += 1
            continue
        best = max(names, key=lambda n: (needed.get(n, 0) - on[n], -order[n]))
        on[best] += 1
    return on, unplaced


def hour_of_week(at: datetime) -> int:
    return at.weekday() * 24 + at.hour


def hour_rows(
    starts: Sequence[datetime], entries: Sequence[RotaEntry], operators: Sequence[Skills]
) -> list[dict[str, Any]]:
    """One row per hour: each published group's need, the operators counted for it, short."""
    rows = []
    for start in starts:
        how = hour_of_week(start)
        published = [e for e in entries if e.hour_of_week == how]
        groups = [
            Group(e.group, frozenset(e.languages), frozenset(e.capabilities)) for e in published
        ]
        needed = {e.group: e.needed for e in published}
        on, unplaced = cover(groups, needed, operators)
        out: list[dict[str, Any]] = [
            {
                "name": e.group,
                "languages": list(e.languages),
                "capabilities": list(e.capabilities),
                "needed": e.needed,
                "on_lines": on[e.group],
                "short": max(0, e.needed - on[e.group]),
            }
            for e in published
        ]
        rows.append(
            {
                "start": start.isoformat(),
                "hour_of_week": how,
                "published": bool(published),
                "groups": out,
                "needed": sum(e.needed for e in published),
                "short": sum(int(g["short"]) for g in out),
                "unplaced": unplaced,
            }
        )
    return rows


async def rota(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    c = request.app[CONTAINER]
    try:
        count = int(request.query.get("hours", DEFAULT_HOURS))
    except ValueError:
        raise BadRequest("hours: a whole number", error_id="bad_hours") from None
    if not 1 <= count <= MAX_HOURS:
        raise BadRequest(f"hours: 1 to {MAX_HOURS}", error_id="bad_hours")
    zone = ZoneInfo(c.settings.http.time_zone)
    now = datetime.now(UTC)
    first = now.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    starts = [(first.astimezone(UTC) + timedelta(hours=k)).astimezone(zone) for k in range(count)]
    entries = await c.db.rota.hours([hour_of_week(s) for s in starts])
    statuses = await c.store.operators()
    present = [s.skills for s in statuses if s.presence is not Presence.AWAY]
    published = None
    if entries:
        last = max(entries, key=lambda e: e.published_at)
        try:
            by = (await c.db.operators.get(last.published_by)).display_name
        except NotFound:
            by = None
        published = {
            "scenario": last.scenario,
            "service_level": last.service_level,
            "published_at": last.published_at.isoformat(),
            "published_by": by,
        }
    return web.json_response(
        {
            "time_zone": c.settings.http.time_zone,
            "published": published,
            "logged_in": len(statuses),
            "on_lines": len(present),
            "hours": hour_rows(starts, entries, present),
        }
    )


def setup(app: web.Application) -> None:
    app.router.add_get(f"{API}/supervisor/rota", rota)


OPENAPI: dict[str, Any] = {
    f"{API}/supervisor/rota": {
        "get": operation(
            "The published staffing rota for the current hour on the centre's clock and the "
            "next ones: operators needed per skill group beside those on the lines now (logged "
            "in, not away), and by how many each group is short",
            {"200": json_content({"type": "object"}), **error_responses(400, 401, 403)},
            parameters=[
                {
                    "name": "hours",
                    "in": "query",
                    "required": False,
                    "description": f"hours shown, from the current one (1..{MAX_HOURS}, "
                    f"default {DEFAULT_HOURS})",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_HOURS},
                }
            ],
            security=SESSION,
            tags=["supervisors"],
        )
    },
}
