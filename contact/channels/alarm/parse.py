"""School panic buttons: the per-site key, the alarm payload and registry rows. Pure: every
rejection is a ContactError with a stable id (or a RowError for import rows)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contact.channels import registry_import as ri
from contact.domain.commands import DeviceSource, OpenOrJoinContact, RegisterContact
from contact.domain.model import ChannelKind, Location, LocationSource
from contact.errors import Unauthorized, Unprocessable
from contact.i18n import text
from contact.ports import AlarmSite

ALARM_KINDS = ("panic", "intruder", "weapon", "fire", "medical", "other")
EVENT_ID = re.compile(r"^[\x21-\x7e]{1,100}\Z")
BEARER = re.compile(r"^Bearer +([\x21-\x7e]{1,512})\Z", re.IGNORECASE)
SITE_KIND = re.compile(r"^[a-z][a-z_]{0,39}\Z")
MAX_ZONE_CHARS = 100


@dataclass(frozen=True, slots=True)
class Alarm:
    site_id: str
    zone: str
    kind: str
    event_id: str | None


def bearer_key(header: str | None) -> str:
    if not header:
        raise Unauthorized(
            "send the site's key: Authorization: Bearer <key>", error_id="site_key_required"
        )
    match = BEARER.match(header.strip())
    if match is None:
        raise Unauthorized("expected Authorization: Bearer <key>", error_id="bad_site_key")
    return match.group(1)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def site_id(fields: Mapping[str, Any]) -> str:
    value = fields.get("site_id")
    if not isinstance(value, str) or not ri.ID.match(value):
        raise Unprocessable("site_id is required", error_id="invalid_site_id")
    return value


def alarm(fields: Mapping[str, Any]) -> Alarm:
    sid = site_id(fields)
    zone = fields.get("zone")
    if zone is None or zone == "":
        zone = "?"
    if not isinstance(zone, str) or len(zone) > MAX_ZONE_CHARS or not zone.isprintable():
        raise Unprocessable(
            f"zone must be a line of text up to {MAX_ZONE_CHARS} characters",
            error_id="invalid_zone",
        )
    kind = fields.get("kind", "panic")
    if kind not in ALARM_KINDS:
        raise Unprocessable(
            f"kind must be one of {', '.join(ALARM_KINDS)}", error_id="invalid_kind"
        )
    event = fields.get("event_id")
    if event is not None and (not isinstance(event, str) or not EVENT_ID.match(event)):
        raise Unprocessable(
            "event_id must be 1-100 visible ASCII characters", error_id="invalid_event_id"
        )
    return Alarm(site_id=sid, zone=zone.strip() or "?", kind=str(kind), event_id=event)


def location_of(site: AlarmSite) -> Location:
    return Location(
        lat=site.lat,
        lon=site.lon,
        accuracy_m=None,
        source=LocationSource.FIXED,
        address=site.address or site.name,
    )


def citizen_of(site_id: str) -> str:
    return f"site:{site_id}"


def external_id(a: Alarm) -> str | None:
    return f"{a.site_id}/{a.event_id}" if a.event_id else None


def describe(a: Alarm, site: AlarmSite, *, repeat: bool = False) -> str:
    kind = text(f"alarm.kind.{a.kind}", None)
    if repeat:
        return text("alarm.repeat", None).format(zone=a.zone, kind=kind)
    words = text("alarm.text", None).format(site=site.name, zone=a.zone, kind=kind)
    return f"{words}, {site.address}" if site.address else words


def contact_for(a: Alarm, site: AlarmSite) -> RegisterContact:
    """The top-priority contact at the site's place."""
    return RegisterContact(
        channel=ChannelKind.SCHOOL_ALARM,
        text=describe(a, site),
        triage_text="",  # our label, the zone and the site's address
        citizen=citizen_of(site.id),
        location=location_of(site),
        external_id=external_id(a),
    )


# --- registry import ----------------------------------------------------------------------

COLUMN_ALIASES: dict[str, str] = {
    alias: column
    for column, aliases in {
        "id": ("id", "site_id", "site", "school_id"),
        "name": ("name", "title", "school"),
        "kind": ("kind", "type", "site_kind"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
        "address": ("address", "addr"),
        "camera_ids": ("camera_ids", "cameras", "camera_id", "camera"),
        "key": ("key", "site_key", "secret"),
        "enabled": ("enabled", "active"),
    }.items()
    for alias in aliases
}
REQUIRED_COLUMNS = frozenset({"id", "name", "lat", "lon"})


def site_row(fields: Mapping[str, Any]) -> tuple[AlarmSite, str | None]:
    name = ri.text(fields, "name", required=True)
    assert name is not None
    kind = ri.text(fields, "kind", max_len=40) or "school"
    if not SITE_KIND.match(kind):
        raise ri.RowError(f"kind {kind!r}: a lower-case word such as school or kindergarten")
    site = AlarmSite(
        id=ri.identifier(fields),
        name=name,
        kind=kind,
        lat=ri.number(fields, "lat", -90, 90),
        lon=ri.number(fields, "lon", -180, 180),
        address=ri.text(fields, "address", max_len=300),
        camera_ids=ri.camera_ids(fields),
        enabled=ri.flag(fields, "enabled"),
    )
    return site, ri.secret(fields, "key")


def intake(a: Alarm, site: AlarmSite) -> OpenOrJoinContact:
    """An alarm: joins the site's open contact (a repeat line with the zone), else opens the
    top-priority contact with the site as its source and asks for units near it."""
    return OpenOrJoinContact(
        source_key=citizen_of(site.id),
        source=DeviceSource(
            kind="site",
            source_id=site.id,
            camera_ids=site.camera_ids,
            details={
                "name": site.name,
                "site_kind": site.kind,
                "address": site.address,
                "zone": a.zone,
                "alarm_kind": a.kind,
            },
        ),
        open=contact_for(a, site),
        join_text=describe(a, site, repeat=True),
        join_external_id=external_id(a),
        suggest="school_alarm",
    )
