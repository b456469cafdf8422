"""School panic buttons over HTTP: POST /api/v1/alarms, authenticated per site.

`Authorization: Bearer <site key>` (each site has its own; the server keeps only its sha256).
401: no key, or a key no site has. 403: the key is another site's than `site_id`, or the site
is disabled. The alarm becomes a top-priority contact at the site's place with the site's
cameras attached, and a unit suggestion is requested (dispatch.suggestion_requested). A second
alarm of the same site while its contact is open joins that contact (200).
"""

from __future__ import annotations

import logging

from aiohttp import web

from contact.bus import KeyedLocks
from contact.channels.alarm import parse
from contact.channels.edge import RateLimiter, json_response, read_json_object
from contact.domain import events as ev
from contact.domain.model import ChannelKind
from contact.errors import ContactError, Forbidden, Unauthorized
from contact.http.keys import CONTAINER
from contact.ports import AlarmSite, IntakeSource

log = logging.getLogger(__name__)

PATH = "/api/v1/alarms"
LIMITER: web.AppKey[RateLimiter] = web.AppKey("alarm_limiter", RateLimiter)
LOCKS: web.AppKey[KeyedLocks] = web.AppKey("alarm_locks", KeyedLocks)


async def post_alarm(request: web.Request) -> web.Response:
    c = request.app[CONTAINER]
    key = parse.bearer_key(request.headers.get("Authorization"))
    fields = await read_json_object(request, c.settings.alarm.max_body_bytes)
    sites = c.db.registries.sites
    site = await sites.by_key_hash(parse.key_hash(key))
    if site is None:
        raise Unauthorized("no site has this key", error_id="bad_site_key")
    if parse.site_id(fields) != site.id:
        raise Forbidden("this key belongs to another site", error_id="site_mismatch")
    if not site.enabled:
        raise Forbidden("this site is disabled", error_id="site_disabled")
    request.app[LIMITER].check(site.id)
    alarm = parse.alarm(fields)
    citizen = parse.citizen_of(site.id)
    async with request.app[LOCKS].hold(citizen):
        open_contact = await c.db.registries.sources.open_contact(ChannelKind.SCHOOL_ALARM, citizen)
        if open_contact is not None:
            await c.lifecycle.add_citizen_message(
                open_contact.id,
                parse.describe(alarm, site, repeat=True),
                external_id=parse.external_id(alarm),
            )
            return json_response({"id": open_contact.id, "status": "queued", "joined": True})
        registered = await c.bus.execute(parse.contact_for(alarm, site))
    if registered.created:
        await _after_intake(request, site, alarm, registered.contact_id)
    return json_response(
        {"id": registered.contact_id, "status": "queued", "cameras": list(site.camera_ids)},
        status=202,
    )


async def _after_intake(
    request: web.Request, site: AlarmSite, alarm: parse.Alarm, contact_id: str
) -> None:
    c = request.app[CONTAINER]
    try:
        await c.db.registries.sources.add(
            IntakeSource(
                contact_id=contact_id,
                kind="site",
                source_id=site.id,
                camera_ids=site.camera_ids,
                details={
                    "name": site.name,
                    "site_kind": site.kind,
                    "address": site.address,
                    "zone": alarm.zone,
                    "alarm_kind": alarm.kind,
                },
            )
        )
    except ContactError as exc:
        log.warning("alarm source not stored: %s", exc.message, extra={"contact_id": contact_id})
    await c.bus.publish(
        ev.SuggestionRequested(
            contact_id=contact_id,
            location=parse.location_of(site),
            camera_ids=site.camera_ids,
            reason="school_alarm",
        )
    )


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.alarm
    app[LIMITER] = RateLimiter(
        settings.alarms_per_minute_per_site, 60.0, what="alarms from this site"
    )
    app[LOCKS] = KeyedLocks()
    app.router.add_post(PATH, post_alarm)
