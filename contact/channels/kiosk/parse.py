"""SOS kiosks: request signatures, heartbeat / event / button-press payloads and registry rows.
Pure: every rejection is a ContactError with a stable id (or a RowError for import rows).

Signature scheme (every kiosk request):

    X-Timestamp: <unix seconds>
    X-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>\\n<METHOD>\\n<path>\\n" + body)>

The key is the kiosk's key string (its UTF-8 bytes). Method and path are signed, so a captured
heartbeat cannot be replayed as a button press; the timestamp must be within the window of the
server's clock, and the server accepts each signature once.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contact.channels import registry_import as ri
from contact.domain.commands import DeviceSource, OpenOrJoinContact, RegisterContact
from contact.domain.model import (
    ChannelKind,
    Language,
    Location,
    LocationSource,
    new_id,
    plausible_time,
)
from contact.errors import Unauthorized, Unprocessable
from contact.i18n import text
from contact.ports import Kiosk, KioskEvent

SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})\Z")
TIMESTAMP = re.compile(r"^[0-9]{1,12}\Z")
KIOSK_ID = ri.ID
PRESS_ID = re.compile(r"^[\x21-\x7e]{1,100}\Z")
EVENT_KINDS = frozenset({"tamper", "door_open", "door_closed", "power_lost", "power_restored"})
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True, slots=True)
class Signed:
    timestamp: int
    signature: str  # lower-case hex


def signing_base(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body


def sign(key: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The X-Signature header value a kiosk sends."""
    base = signing_base(timestamp, method, path, body)
    return "sha256=" + hmac.new(key.encode(), base, hashlib.sha256).hexdigest()


def kiosk_id(value: str) -> str:
    if not KIOSK_ID.match(value):
        raise Unauthorized("unknown kiosk", error_id="unknown_kiosk")
    return value


def signed_headers(timestamp: str | None, signature: str | None) -> Signed:
    if not timestamp or not signature:
        raise Unauthorized(
            "sign the request: X-Timestamp and X-Signature", error_id="signature_required"
        )
    match = SIGNATURE.match(signature)
    if not TIMESTAMP.match(timestamp) or match is None:
        raise Unauthorized(
            "X-Timestamp must be unix seconds and X-Signature sha256=<64 hex>",
            error_id="malformed_signature",
        )
    return Signed(int(timestamp), match.group(1).lower())


def verify(
    key: str,
    signed: Signed,
    method: str,
    path: str,
    body: bytes,
    *,
    now: float,
    window_s: float,
) -> None:
    expected = sign(key, str(signed.timestamp), method, path, body).removeprefix("sha256=")
    if not hmac.compare_digest(expected, signed.signature):
        raise Unauthorized("the signature does not match", error_id="bad_signature")
    if abs(now - signed.timestamp) > window_s:
        raise Unauthorized(
            f"X-Timestamp is more than {window_s:g} s from the server's clock",
            error_id="stale_timestamp",
        )


def replay_digest(kiosk: str, signed: Signed) -> str:
    return hashlib.sha256(f"kiosk:{kiosk}:{signed.signature}".encode()).hexdigest()


def _language(value: object) -> Language | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unprocessable("language must be kk or ru", error_id="invalid_language")
    try:
        return Language(value.lower())
    except ValueError:
        raise Unprocessable("language must be kk or ru", error_id="invalid_language") from None


def location_of(kiosk: Kiosk) -> Location:
    return Location(
        lat=kiosk.lat,
        lon=kiosk.lon,
        accuracy_m=None,
        source=LocationSource.FIXED,
        address=kiosk.address or kiosk.name,
    )


def citizen_of(kiosk_id: str) -> str:
    return f"kiosk:{kiosk_id}"


def sos(fields: Mapping[str, Any], kiosk: Kiosk) -> RegisterContact:
    """A button press over HTTP → the SOS contact at the kiosk's place."""
    press = fields.get("press_id")
    if press is not None and (not isinstance(press, str) or not PRESS_ID.match(press)):
        raise Unprocessable(
            "press_id must be 1-100 visible ASCII characters", error_id="invalid_press_id"
        )
    language = _language(fields.get("language"))
    words = text("kiosk.sos", language).format(name=kiosk.name)
    if kiosk.partner:
        words += f" ({kiosk.partner})"
    if kiosk.address:
        words += f", {kiosk.address}"
    return RegisterContact(
        channel=ChannelKind.KIOSK,
        text=words,
        triage_text="",  # our label and the kiosk's address
        language=language,
        citizen=citizen_of(kiosk.id),
        location=location_of(kiosk),
        external_id=f"{kiosk.id}/{press}" if press else None,
    )


def _reported_at(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unprocessable("at must be a time", error_id="invalid_time")
    try:
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise ValueError
            at = datetime.fromtimestamp(value, UTC)
            if plausible_time(at):
                return at
        elif isinstance(value, str) and len(value) <= 40:
            at = datetime.fromisoformat(value)
            if at.tzinfo is None:
                raise ValueError
            if plausible_time(at):
                return at.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise Unprocessable(
        "at must be an ISO 8601 time with its offset, or unix seconds", error_id="invalid_time"
    )


def event(fields: Mapping[str, Any], kiosk: Kiosk, received_at: datetime) -> KioskEvent:
    kind = fields.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        raise Unprocessable(
            f"kind must be one of {', '.join(sorted(EVENT_KINDS))}", error_id="invalid_kind"
        )
    detail = fields.get("detail")
    if detail is not None:
        if not isinstance(detail, str) or "\x00" in detail:
            raise Unprocessable("detail must be text", error_id="invalid_detail")
        if len(detail) > MAX_DETAIL_CHARS:
            raise Unprocessable(
                f"detail is longer than {MAX_DETAIL_CHARS} characters", error_id="invalid_detail"
            )
        detail = detail.strip() or None
    return KioskEvent(
        id=new_id(),
        kiosk_id=kiosk.id,
        kind=kind,
        received_at=received_at,
        reported_at=_reported_at(fields.get("at")),
        detail=detail,
    )


# --- registry import ----------------------------------------------------------------------

COLUMN_ALIASES: dict[str, str] = {
    alias: column
    for column, aliases in {
        "id": ("id", "kiosk_id", "kiosk"),
        "name": ("name", "title"),
        "lat": ("lat", "latitude"),
        "lon": ("lon", "lng", "long", "longitude"),
        "partner": ("partner", "owner", "host", "operator"),
        "address": ("address", "addr"),
        "sip_account": ("sip_account", "sip", "sip_endpoint", "endpoint"),
        "camera_id": ("camera_id", "camera", "cam_id"),
        "key": ("key", "hmac_key", "secret"),
        "enabled": ("enabled", "active"),
    }.items()
    for alias in aliases
}
REQUIRED_COLUMNS = frozenset({"id", "name", "lat", "lon"})
SIP_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@:/-]{0,127}\Z")


def kiosk_row(fields: Mapping[str, Any]) -> tuple[Kiosk, str | None]:
    """One registry row → the kiosk and its key (None: keep the stored one / generate)."""
    sip = ri.text(fields, "sip_account", max_len=128)
    if sip is not None and not SIP_ACCOUNT.match(sip):
        raise ri.RowError(f"sip_account {sip!r} is not a SIP account name")
    camera = ri.text(fields, "camera_id", max_len=128)
    if camera is not None and not ri.CAMERA_ID.match(camera):
        raise ri.RowError(f"camera_id {camera!r} is not a camera id")
    name = ri.text(fields, "name", required=True)
    assert name is not None
    kiosk = Kiosk(
        id=ri.identifier(fields),
        name=name,
        lat=ri.number(fields, "lat", -90, 90),
        lon=ri.number(fields, "lon", -180, 180),
        partner=ri.text(fields, "partner"),
        address=ri.text(fields, "address", max_len=300),
        sip_account=sip,
        camera_id=camera,
        enabled=ri.flag(fields, "enabled"),
    )
    return kiosk, ri.secret(fields, "key")


def intake(command: RegisterContact, kiosk: Kiosk) -> OpenOrJoinContact:
    """A press: joins the kiosk's open contact (its text added), else opens `command` with the
    kiosk as its source and asks for units near it."""
    return OpenOrJoinContact(
        source_key=citizen_of(kiosk.id),
        source=DeviceSource(
            kind="kiosk",
            source_id=kiosk.id,
            camera_ids=(kiosk.camera_id,) if kiosk.camera_id else (),
            details={
                "name": kiosk.name,
                "partner": kiosk.partner,
                "address": kiosk.address,
                "sip_account": kiosk.sip_account,
            },
        ),
        open=command,
        join_text=command.text,
        suggest="kiosk_sos",
    )
