"""Camera analytics alerts over HTTP: POST /api/v1/camera-events.

The analytics platform authenticates with one of CONTACT_CAMERA_API_KEYS in `X-Api-Key`
(401 without a valid one; 503 when none is configured). An alert under its kind's confidence
threshold is acknowledged and dropped (200, `ignored`). Alerts of one camera, kind and subject
within the dedupe window collapse into the first one's contact (200, `collapsed`, a message
with the new confidence and snapshot is added while it is open); otherwise a new contact at
the camera's position is stored and queued before the answer (202).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime

from aiohttp import web

from contact.channels.camera import parse
from contact.channels.camera.directory import camera_directory
from contact.channels.edge import RateLimiter, json_response, key_matches, read_json_object
from contact.domain.model import ChannelKind
from contact.errors import Conflict, ContactError, Unauthorized, Unavailable
from contact.http.keys import CONTAINER
from contact.ports import IntakeSource

log = logging.getLogger(__name__)

PATH = "/api/v1/camera-events"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("camera_limiter", RateLimiter)


def _check_key(request: web.Request) -> None:
    settings = request.app[CONTAINER].settings.camera
    keys = settings.keys()
    if not keys:
        raise Unavailable("camera alerts are not configured", error_id="channel_disabled")
    if not key_matches(request.headers.get("X-Api-Key", ""), keys):
        raise Unauthorized("missing or wrong X-Api-Key", error_id="bad_api_key")


async def post_event(request: web.Request) -> web.Response:
    _check_key(request)
    c = request.app[CONTAINER]
    settings = c.settings.camera
    alert = parse.alert(await read_json_object(request, settings.max_body_bytes))
    request.app[LIMITER].check(alert.camera_id)
    threshold = settings.threshold(alert.kind)
    if alert.confidence < threshold:
        return json_response(
            {"status": "ignored", "reason": "below_threshold", "threshold": threshold}
        )
    now = datetime.fromtimestamp(c.clock(), UTC)
    claim = await c.db.registries.camera_alerts.claim(
        alert.dedupe_key, alert.camera_id, alert.kind, now, settings.dedupe_window_s
    )
    if claim.repeat:
        contact_id = claim.contact_id
        if contact_id is None:  # stored by a node that died before binding it, or not at all
            known = await c.db.contacts.find_by_external_id(
                ChannelKind.CAMERA, f"alert:{claim.group_id}"
            )
            contact_id = known.id if known is not None else None
        if contact_id is not None:
            # closed meanwhile: the repeat is counted, the contact stays closed
            with contextlib.suppress(Conflict):
                await c.lifecycle.add_citizen_message(
                    contact_id, parse.describe_repeat(alert, claim.count)
                )
            return json_response({"id": contact_id, "status": "collapsed", "count": claim.count})
    camera = await camera_directory(c).camera(alert.camera_id)
    registered = await c.bus.execute(parse.contact_for(alert, camera, claim.group_id))
    await c.db.registries.camera_alerts.bind(claim.group_id, registered.contact_id)
    if registered.created:
        try:
            await c.db.registries.sources.add(
                IntakeSource(
                    contact_id=registered.contact_id,
                    kind="camera",
                    source_id=alert.camera_id,
                    camera_ids=(alert.camera_id,),
                    details={
                        "alert_kind": alert.kind,
                        "confidence": alert.confidence,
                        "snapshot_url": alert.snapshot_url,
                        "subject": alert.subject,
                        "event_id": alert.event_id,
                        "camera_time": alert.at.isoformat() if alert.at else None,
                        "camera_known": camera is not None,
                    },
                )
            )
        except ContactError as exc:
            log.warning(
                "camera source not stored: %s",
                exc.message,
                extra={"contact_id": registered.contact_id},
            )
    return json_response(
        {
            "id": registered.contact_id,
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
    app.router.add_post(PATH, post_event)
