"""The supervisor's wallboard, charts and shift report (/api/v1/supervisor/wallboard, /stats,
/report.csv and the printable /supervisor/report).

Privacy: every figure is an aggregate (counts, times) read without a citizen's words, number or
place. The live wallboard and the charts are not audited (polled every few seconds, they show
what the supervisor's room shows anyway); a shift report leaves the screen as a file or a print,
so each one is audited with its period (`report.export`, `report.view`)."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp_jinja2
from aiohttp import web

from contact.context import Key
from contact.domain.model import Priority, Role
from contact.errors import BadRequest, Unprocessable
from contact.http.api import API, acting
from contact.http.auth import need_principal
from contact.http.keys import CONTAINER
from contact.http.openapi import SESSION, error_responses, json_content, operation
from contact.http.pages import _context, ui_language
from contact.http.shift_figures import figures
from contact.i18n import CATALOGUE, text

MAX_PERIOD = timedelta(days=31)
DEFAULT_PERIOD = timedelta(hours=24)
SHIFT = timedelta(hours=12)  # the wallboard's answer share and abandoned: the last shift
DEFAULT_ZONE = "Asia/Almaty"
KEYWORD_SCAN = 200  # waiting contacts (the first in queue order) checked for alert words
SNAPSHOT_S = 2.0  # a wallboard snapshot is shared by the polls within this time


class DispatchFigures(Protocol):
    """What the wallboard and the shift figures read of a running dispatch."""

    def district_names(self, district_id: str) -> tuple[str | None, str | None, str | None] | None:
        """(Kazakh, Russian, English) name of a district, None for an unknown one."""
        ...

    def unit_statuses(self) -> list[str]:
        """The status of every unit now."""
        ...


class Arrivals(Protocol):
    """The first unit on scene at each incident (dispatch's records, read whether or not
    dispatch runs on this node)."""

    async def arrivals(
        self, since: datetime, until: datetime
    ) -> list[tuple[str | None, float, datetime]]: ...


# provided by the composition root: dispatch's figures while dispatch runs, and the category
# a citizen's words name (dispatch's incident categories) for the wallboard's alerts
DISPATCH_FIGURES: Key[DispatchFigures] = Key("dispatch_figures")
CATEGORY_OF: Key[Callable[[str], str | None]] = Key("category_of")
ARRIVALS: Key[Arrivals] = Key("arrivals")


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 time", error_id="bad_time") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone (…Z or +05:00)", error_id="bad_time")
    return value.astimezone(UTC)


def _zone(request: web.Request) -> tzinfo:
    name = request.query.get("tz") or request.app[CONTAINER].settings.http.time_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest("tz must be an IANA time zone", error_id="bad_zone") from None


def period(request: web.Request, now: datetime) -> tuple[datetime, datetime]:
    """[from, to) of the query: at most MAX_PERIOD, the last day by default."""
    until = _time(request, "to") or now
    since = _time(request, "from") or until - DEFAULT_PERIOD
    if since >= until:
        raise Unprocessable("from must be before to", error_id="bad_period")
    if until - since > MAX_PERIOD:
        raise Unprocessable(
            f"a period is at most {MAX_PERIOD.days} days", error_id="period_too_long"
        )
    return since, until


async def _figures(request: web.Request) -> dict[str, Any]:
    c = request.app[CONTAINER]
    zone = _zone(request)
    since, until = period(request, datetime.fromtimestamp(c.clock(), UTC))
    contacts = await c.db.stats.contacts(since, until)
    arrivals = await c.get(ARRIVALS).arrivals(since, until)
    dispatch = c.find(DISPATCH_FIGURES)

    def names(district_id: str) -> tuple[str | None, str | None, str | None] | None:
        return dispatch.district_names(district_id) if dispatch else None

    return figures(
        contacts,
        arrivals,
        since=since,
        until=until,
        zone=zone,
        answer_target_s=c.settings.routing.sla_answer_s,
        response_target_s=c.settings.dispatch.response_target_s,
        district_names=names,
    )


def _json(data: Any) -> web.Response:
    return web.json_response(data, headers={"Cache-Control": "no-store"})


async def stats(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    return _json(await _figures(request))


@dataclass
class _Snapshot:
    at: float = -math.inf
    body: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


SNAPSHOT: web.AppKey[_Snapshot] = web.AppKey("wallboard_snapshot", _Snapshot)


ROOM = "room"  # ?part=room: only what the queue store knows now (the page asks on pushes)
OPERATORS_LISTED = 200  # operators named in the answer; the counts cover everyone


async def wallboard(request: web.Request) -> web.Response:
    """The room now. The part read from the database (the shift's answer share and abandoned,
    keyword alerts, kiosks, units) is one snapshot per node that serves every supervisor's poll
    for SNAPSHOT_S, so the room's supervisors cost the database one set of those queries per
    interval, not one each. What waits and who works now is read fresh from the queue store on
    every call: `?part=room` asks for that part alone (the page asks on every push that
    changes it, so waiting counts and operators' states move at once, not every 5 s)."""
    acting(request, Role.SUPERVISOR)
    part = request.query.get("part")
    if part not in (None, ROOM):
        raise BadRequest(f"part must be {ROOM}", error_id="bad_part")
    c = request.app[CONTAINER]
    room = await _room(request, c.clock())
    if part == ROOM:
        return _json(room)
    snap = request.app[SNAPSHOT]
    async with snap.lock:
        now = c.clock()
        if snap.body is None or now - snap.at >= SNAPSHOT_S:
            snap.body, snap.at = await _wallboard(request, now), now
    return _json({**snap.body, **room})


async def _room(request: web.Request, now: float) -> dict[str, Any]:
    """What waits (by priority, with the longest wait; offered contacts still wait) and the
    operators by state with time in state, from the queue store; SLA breaches so far."""
    c = request.app[CONTAINER]
    sla = c.settings.routing.sla_answer_s
    offers = await c.store.offers()
    entries = list(await c.store.waiting()) + [o.entry for o in offers]
    waiting: dict[str, dict[str, Any]] = {
        p.name.lower(): {"n": 0, "longest_wait_s": 0.0} for p in Priority
    }
    for e in entries:
        row = waiting[e.priority.name.lower()]
        row["n"] += 1
        row["longest_wait_s"] = max(row["longest_wait_s"], round(now - e.queued_at, 1))
    ops = await c.db.operators.all()
    names = {o.id: o.display_name for o in ops}
    forms = {o.id: o.gender.value for o in ops}  # the form her state reads in
    operators: list[dict[str, Any]] = sorted(
        (
            {
                "operator_id": s.operator_id,
                "display_name": names.get(s.operator_id, "?"),
                "gender": forms.get(s.operator_id, "other"),
                "presence": s.presence.value,
                "for_s": round(max(0.0, now - s.since), 1),
                "languages": sorted(lang.value for lang in s.skills.languages),
            }
            for s in await c.store.operators()
        ),
        key=lambda s: (s["presence"], -s["for_s"]),
    )
    by_state: dict[str, int] = {}
    for s in operators:
        by_state[s["presence"]] = by_state.get(s["presence"], 0) + 1
    return {
        "room_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "waiting": waiting,
        "waiting_total": len(entries),
        "offered": len(offers),
        "longest_wait_s": max((r["longest_wait_s"] for r in waiting.values()), default=0.0),
        "over_target_now": sum(1 for e in entries if now - e.queued_at > sla),
        "answer_target_s": sla,
        "sla_breaches": c.metrics.sla_breach_count,
        "operators_by_state": by_state,
        "operators": operators[:OPERATORS_LISTED],
        "operators_total": len(operators),
    }


async def _wallboard(request: web.Request, now: float) -> dict[str, Any]:
    """The last shift's answer share and abandoned contacts, keyword alerts among the waiting,
    kiosks offline, units by status: the part read from the database, shared as a snapshot."""
    c = request.app[CONTAINER]
    sla = c.settings.routing.sla_answer_s
    end = datetime.fromtimestamp(now, UTC)
    shift = await c.db.stats.contacts(end - SHIFT, end + timedelta(seconds=1))
    answered = [
        (f.answered_at - (f.queued_at or f.created_at)).total_seconds()
        for f in shift
        if f.answered_at is not None
    ]
    within = sum(1 for t in answered if t <= sla)
    alerts: dict[str, int] = {}
    categorize = c.find(CATEGORY_OF) or (lambda _text: None)
    for contact in (await c.db.queue.waiting_page(KEYWORD_SCAN)).contacts:
        if not contact.summary:
            continue
        if c.triage.analyse(contact.summary).alarming:  # words that lift a contact to SOS
            alerts["danger"] = alerts.get("danger", 0) + 1
        if (category := categorize(contact.summary)) is not None:
            alerts[category] = alerts.get(category, 0) + 1
    kiosks = await c.db.stats.kiosks_by_state()
    units: dict[str, int] = {}
    if (dispatch := c.find(DISPATCH_FIGURES)) is not None:
        for status in dispatch.unit_statuses():
            units[status] = units.get(status, 0) + 1
    return {
        "at": end.isoformat(),
        "shift_hours": SHIFT.total_seconds() / 3600,
        "shift_contacts": len(shift),
        "answered": len(answered),
        "answered_within_target_ratio": round(within / len(answered), 3) if answered else None,
        "abandoned": sum(1 for f in shift if f.state == "abandoned"),
        "keyword_alerts": alerts,
        "kiosks_offline": kiosks.get("offline", 0),
        "kiosks_total": sum(kiosks.values()),
        "units_by_status": units,
    }


# --- the shift report --------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


def report_rows(f: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The report as tidy rows (section, subject, item, value): one file a spreadsheet pivots."""
    rows: list[tuple[Any, ...]] = [
        ("period", "", "from", f["from"]),
        ("period", "", "to", f["to"]),
        ("period", "", "zone", f["zone"]),
    ]
    for key in (
        "contacts",
        "answered",
        "answered_within_target",
        "answered_within_target_ratio",
        "abandoned",
        "abandoned_ratio",
    ):
        rows.append(("totals", "", key, f[key]))
    rows += [("channel", ch, "contacts", n) for ch, n in f["by_channel"].items()]
    rows += [("priority", p, "contacts", n) for p, n in f["by_priority"].items()]
    for hour in f["per_hour"]:
        rows += [("hour", hour["hour"], ch, n) for ch, n in sorted(hour["channels"].items())]
    a = f["answer_times"]
    rows += [("answer_time", "", k, a[k]) for k in ("target_s", "median_s", "p90_s")]
    rows += [("answer_time", b["le_s"] or "more", "contacts", b["n"]) for b in a["bins"]]
    r = f["response_times"]
    for k in ("target_s", "n", "median_s", "p90_s", "within_target", "within_target_ratio"):
        rows.append(("response_time", "", k, r[k]))
    rows += [("response_time", b["le_s"] or "more", "arrivals", b["n"]) for b in r["bins"]]
    for d in r["districts"]:
        for k in ("n", "median_s", "p90_s", "within_target_ratio"):
            rows.append(("district", d["district_id"] or "", k, d[k]))
    return rows


async def report_csv(request: web.Request) -> web.Response:
    principal = acting(request, Role.SUPERVISOR)
    f = await _figures(request)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "subject", "item", "value"))
    writer.writerows(tuple(_cell(v) for v in row) for row in report_rows(f))
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id, "report.export", None, {"from": f["from"], "to": f["to"]}
    )
    day = f["from"][:10]
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),  # the BOM: Excel reads UTF-8 Cyrillic
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="contact-report-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _local(iso: str, zone: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%d.%m.%Y %H:%M")


async def report_page(request: web.Request) -> web.Response:
    principal = need_principal(request)
    principal.require(Role.SUPERVISOR)
    c = request.app[CONTAINER]
    f = await _figures(request)
    zone = _zone(request)
    operator = await c.db.operators.get(principal.operator_id)
    lang = ui_language(request, operator.ui_language)
    channels = list(f["by_channel"])
    hours = [
        {
            "at": _local(h["hour"], zone),
            "cells": [h["channels"].get(ch, 0) for ch in channels],
            "total": sum(h["channels"].values()),
        }
        for h in f["per_hour"]
        if h["channels"]
    ]
    await c.db.audit.append(
        principal.operator_id, "report.view", None, {"from": f["from"], "to": f["to"]}
    )
    context = _context(
        request,
        lang,
        operator=operator,
        csrf_token=principal.csrf_token,
        f=f,
        channels=channels,
        hours=hours,
        period_from=_local(f["from"], zone),
        period_to=_local(f["to"], zone),
        district_name=lambda d: (
            d.get(f"name_{lang.value}") or d["name_ru"] or d["district_id"] or "—"
        ),
        pct=lambda r: "—" if r is None else f"{round(r * 100)} %",
        channel_name=lambda ch: text(f"ui.ch_{ch}", lang) if f"ui.ch_{ch}" in CATALOGUE else ch,
    )
    response = aiohttp_jinja2.render_template("supervisor_report.html", request, context)
    response.headers["Cache-Control"] = "no-store"
    return response


PERIOD_PARAMS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"ISO-8601 time with a zone; {hint}; at most {MAX_PERIOD.days} days",
        "schema": {"type": "string", "format": "date-time"},
    }
    for name, hint in (("from", "default: `to` minus 24 h"), ("to", "default: now"))
] + [
    {
        "name": "tz",
        "in": "query",
        "required": False,
        "description": f"IANA time zone of the hours (default {DEFAULT_ZONE})",
        "schema": {"type": "string"},
    }
]
_SUPERVISORS: dict[str, Any] = {"security": SESSION, "tags": ["supervisors"]}
OPENAPI: dict[str, Any] = {
    f"{API}/supervisor/wallboard": {
        "get": operation(
            "The room now: waiting by priority with the longest wait, offered, operators by "
            "state with time in state, SLA breaches (read fresh on every call); the last 12 h "
            "answer share and abandoned, keyword alerts, kiosks offline, units by status (a "
            "snapshot shared for 2 s). `?part=room` answers the fresh part alone",
            {"200": json_content({"type": "object"}), **error_responses(400, 401, 403)},
            parameters=[
                {
                    "name": "part",
                    "in": "query",
                    "required": False,
                    "description": "`room`: only what waits and who works now",
                    "schema": {"type": "string", "enum": [ROOM]},
                }
            ],
            **_SUPERVISORS,
        )
    },
    f"{API}/supervisor/stats": {
        "get": operation(
            "Figures of a period: contacts per local hour by channel, answer-time and "
            "response-time distributions against their targets, per district",
            {"200": json_content({"type": "object"}), **error_responses(400, 401, 403, 422)},
            parameters=PERIOD_PARAMS,
            **_SUPERVISORS,
        )
    },
    f"{API}/supervisor/report.csv": {
        "get": operation(
            "The shift report of a period as CSV rows (section, subject, item, value); audited",
            {
                "200": {"description": "CSV", "content": {"text/csv": {}}},
                **error_responses(400, 401, 403, 422),
            },
            parameters=PERIOD_PARAMS,
            **_SUPERVISORS,
        )
    },
    "/supervisor/report": {
        "get": operation(
            "The shift report of a period as a printable page (kk/ru); audited",
            {"200": {"description": "HTML"}, **error_responses(400, 401, 403, 422)},
            parameters=PERIOD_PARAMS,
            security=SESSION,
            tags=["pages"],
        )
    },
}


def setup(app: web.Application) -> None:
    app[SNAPSHOT] = _Snapshot()
    r = app.router
    r.add_get(f"{API}/supervisor/wallboard", wallboard)
    r.add_get(f"{API}/supervisor/stats", stats)
    r.add_get(f"{API}/supervisor/report.csv", report_csv)
    r.add_get("/supervisor/report", report_page)
