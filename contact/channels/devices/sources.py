"""GET /api/v1/contacts/{contact_id}/source: what a device contact came from (the kiosk, alarm
site, camera or app device) and the cameras attached to it, with their positions, for the
operator handling it and supervisors (each view audited, like the contact itself). A camera's
still is given as the server's snapshot proxy path, never the camera's own URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web
from yarl import URL

from contact.channels.devices.directory import camera_directory
from contact.dispatch import DISPATCH_PART
from contact.domain.model import Role
from contact.errors import Forbidden, NotFound
from contact.http.api import acting
from contact.http.auth import Principal
from contact.http.edge import json_response
from contact.http.keys import CONTAINER
from contact.http.openapi import CONTACT_ID, OBJ, SESSION, error_responses, json_content, operation
from contact.ports import IntakeSource

PATH = "/api/v1/contacts/{contact_id}/source"


SNAPSHOT_PATH = f"{PATH}/snapshot"


async def _visible_source(request: web.Request, principal: Principal) -> IntakeSource:
    c = request.config_dict[CONTAINER]
    contact = await c.db.contacts.get(request.match_info["contact_id"])
    if contact.operator_id != principal.operator_id and not principal.role.at_least(
        Role.SUPERVISOR
    ):
        raise Forbidden("this contact is not yours", error_id="not_yours")
    source = await c.db.registries.sources.get(contact.id)
    if source is None:
        raise NotFound("this contact has no device source", error_id="no_source")
    return source


async def get_source(request: web.Request) -> web.Response:
    principal = acting(request)
    c = request.config_dict[CONTAINER]
    source = await _visible_source(request, principal)
    contact_id = source.contact_id
    await c.db.audit.append(principal.operator_id, "contact.source_view", contact_id)
    directory = camera_directory(c)
    cameras: list[dict[str, Any]] = []
    has_proxy = DISPATCH_PART in c  # GET /api/v1/cameras/{id}/snapshot
    for camera_id in source.camera_ids:
        info = await directory.camera(camera_id)
        proxied = f"/api/v1/cameras/{quote(camera_id, safe='')}/snapshot" if has_proxy else None
        cameras.append(
            {"id": camera_id, "known": False}
            if info is None
            else {
                "id": camera_id,
                "known": True,
                "lat": info.lat,
                "lon": info.lon,
                "name": info.name,
                # never the camera's own URL (it may carry its credentials): the proxy's
                "snapshot": proxied if info.snapshot_url and proxied else None,
            }
        )
    details = without_credentials(source.details)
    if details.pop("snapshot_url", None):  # an alert's still: through the server only
        path = SNAPSHOT_PATH.replace("{contact_id}", quote(contact_id, safe=""))
        details["snapshot"] = path if has_proxy else None
    return json_response(
        {
            "contact_id": contact_id,
            "kind": source.kind,
            "source_id": source.source_id,
            "details": details,
            "cameras": cameras,
        }
    )


async def get_source_snapshot(request: web.Request) -> web.Response:
    """An analytics alert's still, fetched by the server (with the URL's own credentials,
    through the snapshot proxy's address checks): the browser never sees the URL."""
    principal = acting(request)
    c = request.config_dict[CONTAINER]
    source = await _visible_source(request, principal)
    url = source.details.get("snapshot_url")
    dispatch = c.find(DISPATCH_PART)
    if not isinstance(url, str) or dispatch is None:
        raise NotFound("this contact has no still to show", error_id="no_snapshot")
    await c.db.audit.append(principal.operator_id, "contact.source_snapshot", source.contact_id)
    shot = await dispatch.snapshots.fetch_url(f"source:{source.contact_id}", url)
    return web.Response(
        body=shot.content,
        content_type=shot.media_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


def without_credentials(details: Mapping[str, Any]) -> dict[str, Any]:
    """A device's details with any user:password@ taken out of URLs (an analytics system's
    snapshot link may carry its login)."""
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, str) and "@" in value and "://" in value:
            try:
                url = URL(value)
            except ValueError:
                value = None
            else:
                value = str(url.with_user(None)) if url.user or url.password else value
        cleaned[key] = value
    return cleaned


def routes(app: web.Application) -> None:
    app.router.add_get(PATH, get_source)
    app.router.add_get(SNAPSHOT_PATH, get_source_snapshot)


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
    },
    SNAPSHOT_PATH: {
        "get": operation(
            "The still of a camera analytics alert, fetched by the server (the camera's URL "
            "and credentials never reach the browser; audited)",
            {
                "200": {"description": "a raster image", "content": {"image/*": {}}},
                **error_responses(401, 403, 404, 502, 504),
            },
            security=SESSION,
            parameters=[CONTACT_ID],
            tags=["operators"],
        )
    },
}
