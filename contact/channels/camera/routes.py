"""Camera analytics alerts over HTTP: POST /api/v1/camera-events.

The analytics platform authenticates with one of CONTACT_CAMERA_API_KEYS in `X-Api-Key`
(401 without a valid one; 503 when none is configured). An alert under its kind's confidence
threshold is acknowledged and dropped (200, `ignored`). Alerts of one camera, kind and subject
within the dedupe window collapse into the first one's contact (200, `collapsed`, a message
with the new confidence and snapshot is added while it is open); otherwise a new contact at
the camera's position is stored with its source and queued before the answer (202), by the one
device intake (contact.channels.devices). The key is checked by the sub-application's guard.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from contact.channels.camera import parse
from contact.channels.devices.directory import camera_directory
from contact.domain.commands import DeviceIntakeResult, Outcome
from contact.errors import Unauthorized, Unavailable
from contact.http.edge import (
    RateLimiter,
    guard,
    json_response,
    key_matches,
    read_json_object,
)
from contact.http.keys import CONTAINER, EDGE

PATH = "/api/v1/camera-events"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("camera_limiter", RateLimiter)


async def camera_key(request: web.Request) -> None:
    """The analytics platform's key (X-Api-Key): the guard of the channel's sub-application."""
    settings = request.config_dict[CONTAINER].settings.camera
    keys = settings.keys()
    if not keys:
        raise Unavailable("camera alerts are not configured", error_id="channel_disabled")
    if not key_matches(request.headers.get("X-Api-Key", ""), keys):
        raise Unauthorized("missing or wrong X-Api-Key", error_id="bad_api_key")


async def post_event(request: web.Request) -> web.Response:
    c = request.config_dict[CONTAINER]
    settings = c.settings.camera
    alert = parse.alert(await read_json_object(request, settings.max_body_bytes))
    request.config_dict[LIMITER].check(alert.camera_id)
    threshold = settings.threshold(alert.kind)
    if alert.confidence < threshold:
        return json_response(
            {"status": "ignored", "reason": "below_threshold", "threshold": threshold}
        )
    now = datetime.fromtimestamp(c.clock(), UTC)
    claim = await c.db.registries.camera_alerts.claim(
        alert.dedupe_key, alert.camera_id, alert.kind, now, settings.dedupe_window_s
    )
    camera = await camera_directory(c).camera(alert.camera_id)
    command = parse.intake(alert, camera, claim.group_id, claim.count if claim.repeat else None)
    result: DeviceIntakeResult = await c.bus.execute(command)
    if result.outcome in (Outcome.JOINED, Outcome.COLLAPSED):
        return json_response({"id": result.contact_id, "status": "collapsed", "count": claim.count})
    return json_response(
        {
            "id": result.contact_id,
            "status": "queued",
            "count": claim.count,
            "camera_known": camera is not None,
        },
        status=202,
    )


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.camera
    app[LIMITER] = RateLimiter(
        settings.events_per_minute_per_camera, 60.0, what="alerts from this camera"
    )
    channel = web.Application(middlewares=[guard(camera_key)])
    channel[EDGE] = True  # its own check; no staff session
    channel.router.add_post("", post_event)
    app.add_subapp(PATH, channel)
