"""GET /api/v1/contacts/{contact_id}/source: what a device contact came from (the kiosk, alarm
site, camera or app device) and the cameras attached to it, with their positions, for the
operator handling it and supervisors (each view audited, like the contact itself)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from contact.channels.camera.directory import camera_directory
from contact.channels.edge import json_response
from contact.config import Settings
from contact.domain.model import Role
from contact.errors import Forbidden, NotFound
from contact.http.api import acting
from contact.http.keys import CONTAINER
from contact.http.openapi import CONTACT_ID, OBJ, SESSION, error_responses, json_content, operation
from contact.plugins import Plugin

PATH = "/api/v1/contacts/{contact_id}/source"


async def get_source(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.app[CONTAINER]
    contact = await c.db.contacts.get(request.match_info["contact_id"])
    if contact.operator_id != principal.operator_id and not principal.role.at_least(
        Role.SUPERVISOR
    ):
        raise Forbidden("this contact is not yours", error_id="not_yours")
    source = await c.db.registries.sources.get(contact.id)
    if source is None:
        raise NotFound("this contact has no device source", error_id="no_source")
    await c.db.audit.append(principal.operator_id, "contact.source_view", contact.id)
    directory = camera_directory(c)
    cameras: list[dict[str, Any]] = []
    for camera_id in source.camera_ids:
        info = await directory.camera(camera_id)
        cameras.append(
            {"id": camera_id, "known": False}
            if info is None
            else {
                "id": camera_id,
                "known": True,
                "lat": info.lat,
                "lon": info.lon,
                "name": info.name,
                "snapshot_url": info.snapshot_url,
            }
        )
    return json_response(
        {
            "contact_id": contact.id,
            "kind": source.kind,
            "source_id": source.source_id,
            "details": dict(source.details),
            "cameras": cameras,
        }
    )


def _routes(app: web.Application) -> None:
    app.router.add_get(PATH, get_source)


PATHS: dict[str, Any] = {
    PATH: {
        "get": operation(
            "Where a device contact came from (kiosk, alarm site, camera, app device) and the "
            "cameras attached to it (audited)",
            {"200": json_content(OBJ), **error_responses(401, 403, 404)},
            security=SESSION,
            parameters=[CONTACT_ID],
            tags=["operators"],
        )
    }
}


def _enabled(settings: Settings) -> bool:
    return (
        settings.kiosk.enabled
        or settings.alarm.enabled
        or settings.camera.enabled
        or (settings.app.enabled)
    )


PLUGIN = Plugin(name="sources", enabled=_enabled, routes=_routes, openapi=PATHS)
