"""HTTP of dispatch: the operators' and supervisors' API (session + CSRF, like the rest of
/api/v1) and the units' API (a per-unit token in `Authorization: Bearer …`).

Operators: suggestions, cameras and dispatches of a contact they may see; one POST
dispatches. Snapshots come through the server (GET /api/v1/cameras/{id}/snapshot), so camera
credentials never reach a browser. Incidents: view, merge, split, state, EIDO export.
Units: their position, status, acknowledgement, current order, and a WebSocket on which their
orders arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from contact.dispatch import DISPATCH_PART
from contact.dispatch.commands import (
    AcknowledgeDispatch,
    CancelDispatch,
    DispatchUnit,
    MergeIncidents,
    ReportUnitStatus,
    SetIncidentState,
    SplitIncident,
)
from contact.dispatch.eido import build_eido
from contact.dispatch.panel import dispatch_with_unit, panel_json
from contact.dispatch.ports import DispatchRepository
from contact.dispatch.positions import PositionPush
from contact.dispatch.projection import dispatch_contacts, dispatch_json, order_json, unit_topic
from contact.dispatch.registry import token_hash
from contact.dispatch.snapshots import SnapshotProxy
from contact.dispatch.unit_json import unit_state
from contact.dispatch.units import UnitStatus
from contact.domain.model import Contact, IncidentState, Role
from contact.errors import (
    BadRequest,
    ContactError,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from contact.http.api import acting, json_body
from contact.http.auth import Principal
from contact.http.keys import CONTAINER, HUB
from contact.http.paging import encode_cursor, page_cursor, page_limit
from contact.http.views import iso
from contact.http.ws import Hub, Subscriber

if TYPE_CHECKING:
    from contact.dispatch.mqtt import MqttPositions
    from contact.dispatch.osrm import OsrmRouter
    from contact.dispatch.service import DispatchService

API = "/api/v1"
UNIT_TOKEN_RECHECK_S = 2.0
TOKEN_REVOKED = 4401  # close code of a unit socket whose token was rotated


@dataclass
class DispatchParts:
    """What the dispatch plugin shares with its routes (`DISPATCH_PART`)."""

    service: DispatchService
    repo: DispatchRepository
    snapshots: SnapshotProxy
    router: OsrmRouter | None
    mqtt: MqttPositions | None
    centre: str

    def health(self) -> dict[str, Any]:
        """/healthz: down while the units' MQTT feed is cut (positions go stale); a routing
        server in its back-off is only degraded service (ETAs fall back to straight lines)."""
        mqtt = "off" if self.mqtt is None else "up" if self.mqtt.connected else "down"
        routing = "straight_line" if self.router is None else "osrm"
        if self.router is not None and not self.router.healthy:
            routing = "osrm_backing_off"
        return {"status": "down" if mqtt == "down" else "up", "mqtt": mqtt, "routing": routing}


def parts(request: web.Request) -> DispatchParts:
    return request.app[CONTAINER].get(DISPATCH_PART)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


# --- who may see what -------------------------------------------------------------------------


async def _visible_contact(request: web.Request, principal: Principal, contact_id: str) -> Contact:
    """The contact, if this principal handles it (or is a supervisor)."""
    contact = await request.app[CONTAINER].db.contacts.get(contact_id)
    if contact.operator_id != principal.operator_id and not principal.role.at_least(
        Role.SUPERVISOR
    ):
        raise Forbidden("this contact is not yours", error_id="not_yours")
    return contact


async def _visible_incident(
    request: web.Request, principal: Principal, incident_id: str
) -> tuple[Any, list[Contact]]:
    c = request.app[CONTAINER]
    view = await parts(request).repo.incident(incident_id)
    contacts = []
    for contact_id in view.incident.contact_ids:
        try:
            contacts.append(await c.db.contacts.get(contact_id))
        except NotFound:
            continue
    mine = any(x.operator_id == principal.operator_id for x in contacts)
    if not mine and not principal.role.at_least(Role.SUPERVISOR):
        raise Forbidden("none of this incident's contacts is yours", error_id="not_yours")
    return view, contacts


# --- operators: suggestions, cameras, dispatch ------------------------------------------------


async def contact_dispatch(request: web.Request) -> web.Response:
    """Everything the operator's dispatch panel and its map show for one contact."""
    principal = acting(request)
    p = parts(request)
    contact = await _visible_contact(request, principal, request.match_info["contact_id"])
    incident_id = await p.repo.incident_of_contact(contact.id)
    dispatches = await p.repo.dispatches(contact_ids=[contact.id], incident_id=incident_id)
    target = request.app[CONTAINER].settings.dispatch.response_target_s
    body = await panel_json(p.service, contact, incident_id, dispatches, target)
    await request.app[CONTAINER].db.audit.append(principal.operator_id, "dispatch.view", contact.id)
    return _json(body)


async def dispatch_unit(request: web.Request) -> web.Response:
    principal = acting(request)
    contact = await _visible_contact(request, principal, request.match_info["contact_id"])
    body = await json_body(request)
    unit_id = body.get("unit_id")
    if not isinstance(unit_id, str) or not unit_id:
        raise Unprocessable("unit_id is required", error_id="missing_unit_id")
    record = await request.app[CONTAINER].bus.execute(
        DispatchUnit(contact_id=contact.id, unit_id=unit_id, operator_id=principal.operator_id)
    )
    return _json(dispatch_with_unit(parts(request).service, record), status=201)


async def cancel_dispatch(request: web.Request) -> web.Response:
    principal = acting(request)
    p = parts(request)
    dispatch = await p.repo.get_dispatch(request.match_info["dispatch_id"])
    await _visible_contact(request, principal, dispatch.contact_id)
    await request.app[CONTAINER].bus.execute(
        CancelDispatch(dispatch_id=dispatch.id, operator_id=principal.operator_id)
    )
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id, "dispatch.cancel", dispatch.contact_id, {"dispatch_id": dispatch.id}
    )
    return _json(dispatch_with_unit(p.service, await p.repo.get_dispatch(dispatch.id)))


async def list_units(request: web.Request) -> web.Response:
    acting(request)
    service = parts(request).service
    return _json({"units": [unit_state(u, None) for u in service.units()]})


async def snapshot(request: web.Request) -> web.StreamResponse:
    acting(request)
    p = parts(request)
    camera = p.service.cameras.get(request.match_info["camera_id"])
    if camera is None:
        raise NotFound("no such camera", error_id="camera_not_found")
    shot = await p.snapshots.fetch(camera)
    return web.Response(
        body=shot.content,
        content_type=shot.media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


# --- incidents --------------------------------------------------------------------------------


def _incident_json(view: Any, contacts: list[Contact], dispatches: list[Any]) -> dict[str, Any]:
    incident = view.incident
    return {
        "id": incident.id,
        "state": incident.state.value,
        "category": incident.category,
        "created_at": iso(incident.created_at),
        "updated_at": iso(view.updated_at),
        "closed_at": iso(view.closed_at),
        "merged_into": view.merged_into,
        "district_id": view.district_id,
        "department": view.department,
        "outside_districts": view.outside_districts,
        "location": None
        if incident.location is None
        else {"lat": incident.location.lat, "lon": incident.location.lon},
        "contacts": [
            {
                "id": m.contact_id,
                "category": m.category,
                "received_at": iso(m.received_at),
                "joined_at": iso(m.joined_at),
                "how": m.how,
                "state": next((c.state.value for c in contacts if c.id == m.contact_id), None),
                "channel": next((c.channel.value for c in contacts if c.id == m.contact_id), None),
            }
            for m in view.members
        ],
        "dispatches": [dispatch_json(d) for d in dispatches],
    }


async def get_incident(request: web.Request) -> web.Response:
    principal = acting(request)
    p = parts(request)
    view, contacts = await _visible_incident(request, principal, request.match_info["incident_id"])
    dispatches = await p.repo.dispatches(incident_id=view.incident.id)
    await request.app[CONTAINER].db.audit.append(
        principal.operator_id, "incident.view", view.incident.id
    )
    return _json(_incident_json(view, contacts, dispatches))


async def list_incidents(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    limit = page_limit(request)
    views = await parts(request).repo.open_incidents(limit + 1, page_cursor(request, _incident_key))
    last = views[limit - 1].incident if len(views) > limit else None
    return _json(
        {
            "next_cursor": encode_cursor(iso(last.created_at), last.id) if last else None,
            "incidents": [
                {
                    "id": v.incident.id,
                    "state": v.incident.state.value,
                    "category": v.incident.category,
                    "district_id": v.district_id,
                    "contacts": len(v.incident.contact_ids),
                    "created_at": iso(v.incident.created_at),
                    "last_contact_at": iso(v.last_contact_at),
                }
                for v in views[:limit]
            ],
        }
    )


def _incident_key(key: list[Any]) -> tuple[datetime, str]:
    created_at, incident_id = key
    if not isinstance(created_at, str) or not isinstance(incident_id, str):
        raise TypeError("not an incident key")
    at = datetime.fromisoformat(created_at)
    if at.tzinfo is None:
        raise ValueError("naive")
    return at, incident_id


async def merge_incidents(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    other = body.get("incident_id")
    if not isinstance(other, str) or not other:
        raise Unprocessable("incident_id (the one to merge in) is required", error_id="missing_id")
    target = request.match_info["incident_id"]
    await _visible_incident(request, principal, target)
    await _visible_incident(request, principal, other)
    moved = await request.app[CONTAINER].bus.execute(
        MergeIncidents(incident_id=target, other_id=other, operator_id=principal.operator_id)
    )
    return _json({"incident_id": target, "merged_id": other, "moved": list(moved)})


async def split_incident(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    ids = body.get("contact_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise Unprocessable("contact_ids must be a list of contact ids", error_id="missing_ids")
    incident_id = request.match_info["incident_id"]
    await _visible_incident(request, principal, incident_id)
    new_id = await request.app[CONTAINER].bus.execute(
        SplitIncident(
            incident_id=incident_id, contact_ids=tuple(ids), operator_id=principal.operator_id
        )
    )
    return _json({"incident_id": incident_id, "new_incident_id": new_id}, status=201)


async def set_incident_state(request: web.Request) -> web.Response:
    principal = acting(request)
    body = await json_body(request)
    try:
        state = IncidentState(str(body.get("state")))
    except ValueError:
        raise Unprocessable(
            "state must be open, dispatched or closed", error_id="invalid_state"
        ) from None
    incident_id = request.match_info["incident_id"]
    await _visible_incident(request, principal, incident_id)
    previous = await request.app[CONTAINER].bus.execute(
        SetIncidentState(incident_id=incident_id, state=state, operator_id=principal.operator_id)
    )
    return _json({"incident_id": incident_id, "state": state.value, "previous": previous.value})


async def incident_eido(request: web.Request) -> web.Response:
    principal = acting(request)
    p = parts(request)
    c = request.app[CONTAINER]
    view, contacts = await _visible_incident(request, principal, request.match_info["incident_id"])
    dispatches = await p.repo.dispatches(incident_id=view.incident.id)
    units = {u.id: u for u in p.service.units()}
    document = build_eido(
        view,
        contacts=contacts,
        dispatches=dispatches,
        units=units,
        district=p.service.district_record(view.district_id),
        centre=p.centre,
        now=p.service.now(),
    )
    await c.db.audit.append(principal.operator_id, "incident.export_eido", view.incident.id)
    return web.json_response(
        document,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
        headers={
            "Content-Disposition": f'attachment; filename="incident-{view.incident.id}.eido.json"'
        },
    )


# --- supervisors: response times and camera health -------------------------------------------


def _time_param(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 time", error_id="bad_time") from None
    if value.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone (…Z or +05:00)", error_id="bad_time")
    return value.astimezone(UTC)


async def response_times(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    service = parts(request).service
    now = service.now()
    until = _time_param(request, "until", now + timedelta(seconds=1))
    since = _time_param(request, "since", until - timedelta(hours=24))
    if since >= until:
        raise BadRequest("since must be before until", error_id="bad_time")
    return _json(await service.response_report(since, until))


async def camera_health(request: web.Request) -> web.Response:
    acting(request, Role.SUPERVISOR)
    p = parts(request)
    failing = await p.repo.camera_health()
    return _json(
        {
            "cameras": len(p.service.cameras),
            "districts": len(p.service.districts),
            "units": len(p.service.units()),
            "mqtt": None if p.mqtt is None else {"connected": p.mqtt.connected},
            "routing": None
            if p.router is None
            else {"healthy": p.router.healthy, "failures": p.router.failures},
            "failing": [
                {
                    "camera_id": h.camera_id,
                    "consecutive_failures": h.consecutive_failures,
                    "failure_count": h.failure_count,
                    "ok_count": h.ok_count,
                    "last_ok_at": iso(h.last_ok_at),
                    "last_failure_at": iso(h.last_failure_at),
                    "last_error": h.last_error,
                }
                for h in failing
            ],
        }
    )


# --- units (their own token) ------------------------------------------------------------------


async def authenticated_unit(request: web.Request) -> str:
    """The unit id of the path, if the request carries that unit's token. Checked against
    the database on every request (one primary-key read), never cached: a rotated token or a
    retired unit stops at once, on every node."""
    unit_id = request.match_info["unit_id"]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send Authorization: Bearer <the unit's token>", error_id="unit_token_required"
        )
    if not await _token_current(parts(request), unit_id, token_hash(token.strip())):
        raise Unauthorized("wrong unit or token", error_id="bad_unit_token")
    return unit_id


async def _token_current(p: DispatchParts, unit_id: str, digest: str) -> bool:
    stored = await p.repo.unit_token_hash(unit_id)
    return stored is not None and hmac.compare_digest(stored, digest)


async def _close_when_revoked(
    p: DispatchParts,
    hub: Hub,
    subscriber: Subscriber,
    unit_id: str,
    digest: str,
    done: asyncio.Event,
) -> None:
    """An open unit socket is re-checked every UNIT_TOKEN_RECHECK_S (and on each message):
    a token rotated by `contact units token` in another process closes it. Ends when `done`
    is set, never midway through a query (a cancelled query hands its connection back to the
    pool half-used, with a traceback)."""
    while not subscriber.closed:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), UNIT_TOKEN_RECHECK_S)
        if done.is_set():
            return
        try:
            current = await _token_current(p, unit_id, digest)
        except ContactError:
            continue  # the database is down: keep the unit's orders flowing
        if not current:
            hub.close(subscriber, TOKEN_REVOKED, b"token revoked")
            return


async def unit_position(request: web.Request) -> web.Response:
    unit_id = await authenticated_unit(request)
    body = await json_body(request)
    unit = await parts(request).service.position_from_payload(unit_id, body)
    return _json({"unit_id": unit.id, "status": unit.status.value}, status=202)


async def unit_status(request: web.Request) -> web.Response:
    unit_id = await authenticated_unit(request)
    body = await json_body(request)
    change = await request.app[CONTAINER].bus.execute(
        ReportUnitStatus(unit_id=unit_id, status=str(body.get("status")), source="unit")
    )
    return _json(
        {"unit_id": unit_id, "status": change.unit.status.value, "changed": change.changed}
    )


async def unit_ack(request: web.Request) -> web.Response:
    unit_id = await authenticated_unit(request)
    dispatch = await request.app[CONTAINER].bus.execute(
        AcknowledgeDispatch(unit_id=unit_id, dispatch_id=request.match_info["dispatch_id"])
    )
    return _json({"dispatch_id": dispatch.id, "acknowledged_at": iso(dispatch.acknowledged_at)})


async def _current_order(request: web.Request, unit_id: str) -> dict[str, Any] | None:
    p = parts(request)
    unit = await p.repo.get_unit(unit_id)
    if unit.dispatch_id is None:
        return None
    dispatch = await p.repo.get_dispatch(unit.dispatch_id)
    contact = await request.app[CONTAINER].db.contacts.get(dispatch.contact_id)
    return order_json(dispatch, contact)


async def unit_current(request: web.Request) -> web.Response:
    unit_id = await authenticated_unit(request)
    unit = await parts(request).repo.get_unit(unit_id)
    return _json(
        {
            "unit": unit_state(unit, None),
            "dispatch": await _current_order(request, unit_id),
        }
    )


async def unit_ws(request: web.Request) -> web.WebSocketResponse:
    """The unit's device: orders arrive as `unit.dispatched` on topic `unit:<id>`; the unit
    sends `{"op": "ack", "dispatch_id"}`, `{"op": "status", "status"}` and
    `{"op": "position", "lat", "lon"}`; each gets `{"ok": …}` or `{"error": …}`."""
    unit_id = await authenticated_unit(request)
    digest = token_hash(request.headers["Authorization"].partition(" ")[2].strip())
    c = request.app[CONTAINER]
    p = parts(request)
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    subscriber = Subscriber(ws, owner=f"unit {unit_id[:8]}")
    topic = unit_topic(unit_id)
    hub.subscribe(subscriber, topic)
    current = await _current_order(request, unit_id)
    if current is not None:  # an order given while the device was away is still its order
        subscriber.offer(
            json.dumps(
                {
                    "topic": topic,
                    "data": {
                        "type": "unit.dispatched",
                        "at": iso(p.service.now()),
                        "dispatch": current,
                        "replayed": True,
                    },
                },
                ensure_ascii=False,
            )
        )

    async def on_message(sub: Subscriber, data: dict[str, Any]) -> dict[str, Any] | None:
        op = data.get("op")
        try:
            if not await _token_current(p, unit_id, digest):
                hub.close(sub, TOKEN_REVOKED, b"token revoked")
                return None
            if op == "ack":
                dispatch = await c.bus.execute(
                    AcknowledgeDispatch(unit_id=unit_id, dispatch_id=str(data.get("dispatch_id")))
                )
                return {"ok": "ack", "dispatch_id": dispatch.id}
            if op == "status":
                change = await c.bus.execute(
                    ReportUnitStatus(unit_id=unit_id, status=str(data.get("status")), source="unit")
                )
                return {"ok": "status", "status": change.unit.status.value}
            if op == "position":
                await p.service.position_from_payload(unit_id, data)
                return None  # positions are fire and forget
        except ContactError as exc:
            return {**exc.as_json(), "op": op}
        return {"error": {"id": "bad_request", "message": "op must be ack, status or position"}}

    done = asyncio.Event()
    watch = asyncio.create_task(_close_when_revoked(p, hub, subscriber, unit_id, digest, done))
    try:
        return await hub.serve(request, subscriber, on_message)
    finally:
        done.set()
        try:
            await asyncio.shield(watch)
        except asyncio.CancelledError:  # the server is shutting down: do not wait
            watch.cancel()
            raise


def setup(app: web.Application) -> None:
    p = app[CONTAINER].get(DISPATCH_PART)
    # positions of dispatched units go straight to this app's sockets (see positions.py)
    p.service.on_assigned_position(
        PositionPush(
            deliver=app[HUB].deliver,
            audience=functools.partial(dispatch_contacts, p.repo),
            interval_s=app[CONTAINER].settings.dispatch.position_push_s,
        )
    )
    r = app.router
    r.add_get(f"{API}/units", list_units)
    r.add_post(f"{API}/units/{{unit_id}}/position", unit_position)
    r.add_post(f"{API}/units/{{unit_id}}/status", unit_status)
    r.add_post(f"{API}/units/{{unit_id}}/dispatches/{{dispatch_id}}/ack", unit_ack)
    r.add_get(f"{API}/units/{{unit_id}}/dispatch", unit_current)
    r.add_get(f"{API}/units/{{unit_id}}/ws", unit_ws)
    r.add_get(f"{API}/contacts/{{contact_id}}/dispatch", contact_dispatch)
    r.add_post(f"{API}/contacts/{{contact_id}}/dispatch", dispatch_unit)
    r.add_post(f"{API}/dispatches/{{dispatch_id}}/cancel", cancel_dispatch)
    r.add_get(f"{API}/cameras/{{camera_id}}/snapshot", snapshot)
    r.add_get(f"{API}/incidents", list_incidents)
    r.add_get(f"{API}/incidents/{{incident_id}}", get_incident)
    r.add_post(f"{API}/incidents/{{incident_id}}/merge", merge_incidents)
    r.add_post(f"{API}/incidents/{{incident_id}}/split", split_incident)
    r.add_post(f"{API}/incidents/{{incident_id}}/state", set_incident_state)
    r.add_get(f"{API}/incidents/{{incident_id}}/eido", incident_eido)
    r.add_get(f"{API}/supervisor/response-times", response_times)
    r.add_get(f"{API}/supervisor/cameras", camera_health)


__all__ = ["DispatchParts", "UnitStatus", "authenticated_unit", "setup", "token_hash"]
