"""Camera analytics alerts: the alert payload, its dedupe key and the contact it becomes.
Pure: every rejection is a ContactError with a stable id."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contact.address_guard import RefusedAddress, check_camera_url
from contact.channels.registry_import import CAMERA_ID
from contact.domain.commands import DeviceSource, OpenOrJoinContact, RegisterContact
from contact.domain.model import ChannelKind, Location, LocationSource, plausible_time
from contact.errors import Unprocessable
from contact.i18n import text
from contact.ports import CameraInfo

KINDS = ("wanted_face", "wanted_plate", "weapon", "aggression", "crowd")
EVENT_ID = re.compile(r"^[\x21-\x7e]{1,100}\Z")
URL = re.compile(r"^https?://[\x21-\x7e]{1,2000}\Z", re.IGNORECASE)
MAX_SUBJECT_CHARS = 100
USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Alert:
    camera_id: str
    kind: str
    confidence: float
    snapshot_url: str | None = None
    subject: str | None = None  # a plate number or watch-list entry: what repeats are about
    event_id: str | None = None
    at: datetime | None = None  # the analytics' own clock

    @property
    def dedupe_key(self) -> str:
        raw = f"{self.camera_id}\x00{self.kind}\x00{self.subject or ''}"
        return hashlib.sha256(raw.encode()).hexdigest()


def _time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            at = datetime.fromtimestamp(value, UTC)
            if plausible_time(at):
                return at
        elif isinstance(value, str) and len(value) <= 40:
            at = datetime.fromisoformat(value)
            if at.tzinfo is not None and plausible_time(at):
                return at.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise Unprocessable(
        "time must be ISO 8601 with its offset, or unix seconds", error_id="invalid_time"
    )


def alert(fields: Mapping[str, Any]) -> Alert:
    camera = fields.get("camera_id")
    if not isinstance(camera, str) or not CAMERA_ID.match(camera):
        raise Unprocessable("camera_id is required", error_id="invalid_camera_id")
    kind = fields.get("kind")
    if kind not in KINDS:
        raise Unprocessable(f"kind must be one of {', '.join(KINDS)}", error_id="invalid_kind")
    confidence = fields.get("confidence")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
        or not 0.0 <= confidence <= 1.0
    ):
        raise Unprocessable(
            "confidence must be a number from 0 to 1", error_id="invalid_confidence"
        )
    snapshot = fields.get("snapshot_url")
    if snapshot is not None and (not isinstance(snapshot, str) or not URL.match(snapshot)):
        raise Unprocessable("snapshot_url must be an http(s) URL", error_id="invalid_snapshot_url")
    if snapshot is not None:
        try:  # the server fetches it for operators: never towards metadata or link-local
            check_camera_url(snapshot, allow_loopback=True)  # loopback: decided at fetch
        except RefusedAddress as exc:
            raise Unprocessable(
                f"snapshot_url is refused: {exc}", error_id="invalid_snapshot_url"
            ) from None
    subject = fields.get("subject")
    if subject is not None and (
        not isinstance(subject, str)
        or not 0 < len(subject) <= MAX_SUBJECT_CHARS
        or not subject.isprintable()
    ):
        raise Unprocessable(
            f"subject must be a line of text up to {MAX_SUBJECT_CHARS} characters",
            error_id="invalid_subject",
        )
    event = fields.get("event_id")
    if event is not None and (not isinstance(event, str) or not EVENT_ID.match(event)):
        raise Unprocessable(
            "event_id must be 1-100 visible ASCII characters", error_id="invalid_event_id"
        )
    return Alert(
        camera_id=camera,
        kind=str(kind),
        confidence=float(confidence),
        snapshot_url=snapshot,
        subject=subject.strip() if subject else None,
        event_id=event,
        at=_time(fields.get("time", fields.get("at"))),
    )


def location_of(camera: CameraInfo | None) -> Location | None:
    if camera is None:
        return None
    try:
        return Location(
            lat=camera.lat, lon=camera.lon, source=LocationSource.CAMERA, address=camera.name
        )
    except ValueError:
        return None


def describe(a: Alert) -> str:
    words = text("camera.alert", None).format(
        kind=text(f"camera.kind.{a.kind}", None),
        camera=a.camera_id,
        confidence=f"{a.confidence:.2f}",
    )
    if a.subject:
        words += f" — {a.subject}"
    if a.snapshot_url:
        words += f"\n{without_login(a.snapshot_url)}"
    return words


def what_was_seen(a: Alert) -> str:
    """The words triage reads: the kind of alert and the analytics' own subject, never the
    camera's id or snapshot URL (names of places and hosts)."""
    kind = text(f"camera.kind.{a.kind}", None)
    return f"{kind} {a.subject}" if a.subject else kind


def describe_repeat(a: Alert, count: int) -> str:
    words = text("camera.repeat", None).format(confidence=f"{a.confidence:.2f}", count=count)
    return f"{words}\n{without_login(a.snapshot_url)}" if a.snapshot_url else words


def without_login(url: str) -> str:
    """A URL as operators may read it: without the user:password@ the server fetches with."""
    return USERINFO.sub(r"\1", url, count=1)


def citizen_of(camera_id: str) -> str:
    return f"camera:{camera_id}"


def contact_for(a: Alert, camera: CameraInfo | None, group_id: str) -> RegisterContact:
    """The alert contact at the camera's place; one per dedupe group (its external id)."""
    return RegisterContact(
        channel=ChannelKind.CAMERA,
        text=describe(a),
        triage_text=what_was_seen(a),
        citizen=citizen_of(a.camera_id),
        location=location_of(camera),
        external_id=f"alert:{group_id}",
    )


def intake(
    a: Alert, camera: CameraInfo | None, group_id: str, repeat_count: int | None = None
) -> OpenOrJoinContact:
    """An alert of a dedupe window (`group_id`): the window's contact takes its repeats (a line
    with the new confidence and snapshot while it is open; over, the repeat is only counted),
    else the alert contact is opened with the camera as its source."""
    return OpenOrJoinContact(
        source_key=f"camera-alert:{group_id}",
        source=DeviceSource(
            kind="camera",
            source_id=a.camera_id,
            camera_ids=(a.camera_id,),
            details={
                "alert_kind": a.kind,
                "confidence": a.confidence,
                "snapshot_url": a.snapshot_url,
                "subject": a.subject,
                "event_id": a.event_id,
                "camera_time": a.at.isoformat() if a.at else None,
                "camera_known": camera is not None,
            },
        ),
        open=contact_for(a, camera, group_id),
        join_text=None if repeat_count is None else describe_repeat(a, repeat_count),
        sticky=True,
    )
