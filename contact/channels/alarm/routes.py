"""School panic buttons over HTTP: POST /api/v1/alarms, authenticated per site.

`Authorization: Bearer <site key>` (each site has its own; the server keeps only its sha256).
401: no key, or a key no site has. 403: the key is another site's than `site_id`, or the site
is disabled. The alarm becomes a top-priority contact at the site's place with the site's
cameras attached, and a unit suggestion is requested (dispatch.suggestion_requested). A second
alarm of the same site while its contact is open joins that contact (200), unless the operator
holding it is not there: then it goes back to the queue (`requeued`), or, its conversation over,
a new contact is opened. Which, is decided by the one device intake (contact.channels.devices),
on every node at once; the site's key, site and rate are checked by the sub-application's guard
before the handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from contact.channels.alarm import parse
from contact.domain.commands import DeviceIntakeResult, Outcome
from contact.errors import Forbidden, Unauthorized
from contact.http.edge import RateLimiter, guard, json_response, read_json_object
from contact.http.keys import CONTAINER, EDGE
from contact.ports import AlarmSite

PATH = "/api/v1/alarms"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("alarm_limiter", RateLimiter)


@dataclass(frozen=True, slots=True)
class SiteRequest:
    """The site whose key signed an alarm, and the alarm's JSON (what the guard read)."""

    site: AlarmSite
    fields: dict[str, Any]


SITE: web.RequestKey[SiteRequest] = web.RequestKey("alarm_site", SiteRequest)


async def site_key(request: web.Request) -> None:
    """The guard of the alarms' sub-application: the site's own key, for its own site_id,
    the site enabled, within its rate."""
    c = request.config_dict[CONTAINER]
    key = parse.bearer_key(request.headers.get("Authorization"))
    fields = await read_json_object(request, c.settings.alarm.max_body_bytes)
    site = await c.db.registries.sites.by_key_hash(parse.key_hash(key))
    if site is None:
        raise Unauthorized("no site has this key", error_id="bad_site_key")
    if parse.site_id(fields) != site.id:
        raise Forbidden("this key belongs to another site", error_id="site_mismatch")
    if not site.enabled:
        raise Forbidden("this site is disabled", error_id="site_disabled")
    request.config_dict[LIMITER].check(site.id)
    request[SITE] = SiteRequest(site, fields)


async def post_alarm(request: web.Request) -> web.Response:
    c = request.config_dict[CONTAINER]
    site, fields = request[SITE].site, request[SITE].fields
    result: DeviceIntakeResult = await c.bus.execute(parse.intake(parse.alarm(fields), site))
    if result.outcome is Outcome.JOINED:
        return json_response(_joined(result))
    return json_response(
        {"id": result.contact_id, "status": "queued", "cameras": list(site.camera_ids)},
        status=202,
    )


def _joined(joined: DeviceIntakeResult) -> dict[str, object]:
    """200: the alarm joined its site's open contact. `requeued`: its operator was not there
    (logged out, session expired, away), so it went back to its place in the queue."""
    return {
        "id": joined.contact_id,
        "status": "queued",
        "joined": True,
        "requeued": joined.requeued,
    }


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.alarm
    app[LIMITER] = RateLimiter(
        settings.alarms_per_minute_per_site, 60.0, what="alarms from this site"
    )
    alarms = web.Application(middlewares=[guard(site_key)])
    alarms[EDGE] = True  # its own check; no staff session
    alarms.router.add_post("", post_alarm)
    app.add_subapp(PATH, alarms)
