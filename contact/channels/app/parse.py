"""Citizen app reports: raw fields → RegisterContact. Pure; every rejection is a ContactError
with a stable id, so the HTTP layer answers with a clear JSON error and stores nothing."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from contact.domain.commands import (
    DeviceSource,
    OpenOrJoinContact,
    RegisterContact,
    UpdateLocation,
)
from contact.domain.model import (
    Attachment,
    ChannelKind,
    Language,
    Location,
    LocationSource,
    new_id,
)
from contact.errors import PayloadTooLarge, Unauthorized, Unprocessable, UnsupportedMediaType
from contact.i18n import text as i18n_text

DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}\Z")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}\Z")  # visible ASCII, as in the IETF draft

# sniffed from the bytes, never taken from the client's Content-Type
PHOTO_SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/webp", b"WEBP", 8),
    ("image/heic", b"ftypheic", 4),
    ("image/heic", b"ftypheix", 4),
    ("image/heif", b"ftypmif1", 4),
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int
    max_photo_bytes: int


@dataclass(frozen=True, slots=True)
class Photo:
    data: bytes
    filename: str | None = None


def sniff_photo(data: bytes) -> str:
    for media_type, magic, offset in PHOTO_SIGNATURES:
        if data[offset : offset + len(magic)] == magic and (
            media_type != "image/webp" or data[:4] == b"RIFF"
        ):
            return media_type
    raise UnsupportedMediaType(
        "the photo must be JPEG, PNG, WebP or HEIC", error_id="unsupported_photo"
    )


def device_id(value: object) -> str:
    if not isinstance(value, str) or not DEVICE_ID.match(value):
        raise Unprocessable(
            "device_id must be 8-128 letters, digits or . _ : -",
            error_id="invalid_device_id",
        )
    return value


def fingerprint(command: RegisterContact) -> str:
    """What a request said, as the center took it (the IETF idempotency-key draft's request
    fingerprint): the same report sent again as JSON or as a form, with keys in any order,
    has the same fingerprint; another text, kind, language, place or photo has another."""
    where = command.location
    meaning = {
        "channel": command.channel.value,
        "text": command.text,
        "info": command.information_only,
        "language": command.language.value if command.language is not None else None,
        "location": None if where is None else [where.lat, where.lon, where.accuracy_m],
        "photos": [att.sha256 for att, _ in command.attachments],
    }
    canonical = json.dumps(meaning, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_fingerprint(command: RegisterContact) -> RegisterContact:
    """The command carrying its fingerprint when it carries an idempotency key."""
    if command.external_id is None:
        return command
    return replace(command, fingerprint=fingerprint(command))


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.match(value):
        raise Unprocessable(
            "Idempotency-Key must be 1-100 visible ASCII characters",
            error_id="invalid_idempotency_key",
        )
    return value


def _number(fields: Mapping[str, Any], name: str) -> float | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise Unprocessable(f"{name} must be a number", error_id="invalid_location")
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise Unprocessable(f"{name} must be a number", error_id="invalid_location") from None
    if not math.isfinite(value):
        raise Unprocessable(f"{name} must be finite", error_id="invalid_location")
    return value


def location(fields: Mapping[str, Any]) -> Location | None:
    """From flat fields (lat, lon, accuracy_m) or a nested {"location": {...}} object."""
    nested = fields.get("location")
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise Unprocessable("location must be an object", error_id="invalid_location")
        fields = nested
    lat, lon = _number(fields, "lat"), _number(fields, "lon")
    accuracy = _number(fields, "accuracy_m")
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise Unprocessable("location needs both lat and lon", error_id="invalid_location")
    try:
        return Location(lat=lat, lon=lon, accuracy_m=accuracy, source=LocationSource.GPS)
    except ValueError as exc:
        raise Unprocessable(str(exc), error_id="invalid_location") from None


def language(value: object) -> Language | None:
    if value is None or value == "":
        return None
    try:
        return Language(str(value).lower())
    except ValueError:
        raise Unprocessable("language must be kk or ru", error_id="invalid_language") from None


def report(
    fields: Mapping[str, Any],
    photo: Photo | None,
    limits: Limits,
    key: str | None = None,
) -> RegisterContact:
    """A report from the app → the command that stores and queues it."""
    text = fields.get("text")
    if not isinstance(text, str) or not text.strip():
        raise Unprocessable("text is required", error_id="missing_text")
    text = text.strip()
    if len(text) > limits.max_text_chars:
        raise Unprocessable(
            f"text is longer than {limits.max_text_chars} characters", error_id="text_too_long"
        )
    if "\x00" in text:
        raise Unprocessable("text contains a NUL character", error_id="invalid_text")
    device = device_id(fields.get("device_id"))
    kind = fields.get("kind", "report")
    if kind not in ("report", "info"):
        raise Unprocessable("kind must be report or info", error_id="invalid_kind")
    attachments: tuple[tuple[Attachment, bytes], ...] = ()
    if photo is not None:
        if len(photo.data) > limits.max_photo_bytes:
            raise PayloadTooLarge(
                f"the photo is larger than {limits.max_photo_bytes} bytes",
                error_id="photo_too_large",
            )
        media_type = sniff_photo(photo.data)
        attachment = Attachment(
            id=new_id(),
            contact_id="",
            media_type=media_type,
            size=len(photo.data),
            sha256=hashlib.sha256(photo.data).hexdigest(),
            filename=(photo.filename or "")[:200] or None,
        )
        attachments = ((attachment, photo.data),)
    idem = idempotency_key(key)
    command = RegisterContact(
        channel=ChannelKind.APP,
        text=text,
        language=language(fields.get("language")),
        citizen=device,
        location=location(fields),
        attachments=attachments,
        external_id=f"{device}/{idem}" if idem else None,
        information_only=kind == "info",
    )
    return with_fingerprint(command)


# --- devices and SOS ----------------------------------------------------------------------

DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,128}\Z")
PLATFORMS = frozenset({"android", "ios", "web", "other"})


@dataclass(frozen=True, slots=True)
class Registration:
    device_id: str
    platform: str | None
    language: Language | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_token(value: str | None) -> str | None:
    """The X-Device-Token a registered app sends; None when absent."""
    if value is None or value == "":
        return None
    if not DEVICE_TOKEN.match(value):
        raise Unauthorized("X-Device-Token is not a device token", error_id="bad_device_token")
    return value


def registration(fields: Mapping[str, Any]) -> Registration:
    platform = fields.get("platform")
    if platform is not None and (not isinstance(platform, str) or platform not in PLATFORMS):
        raise Unprocessable(
            f"platform must be one of {', '.join(sorted(PLATFORMS))}", error_id="invalid_platform"
        )
    return Registration(
        device_id=device_id(fields.get("device_id")),
        platform=platform,
        language=language(fields.get("language")),
    )


def _optional_text(fields: Mapping[str, Any], limits: Limits) -> str | None:
    value = fields.get("text")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unprocessable("text must be text", error_id="invalid_text")
    value = value.strip()
    if len(value) > limits.max_text_chars:
        raise Unprocessable(
            f"text is longer than {limits.max_text_chars} characters", error_id="text_too_long"
        )
    if "\x00" in value:
        raise Unprocessable("text contains a NUL character", error_id="invalid_text")
    return value or None


def sos(
    fields: Mapping[str, Any], device: str, limits: Limits, key: str | None = None
) -> RegisterContact:
    """The SOS button → an SOS-priority contact. The location is what matters most, but an SOS
    without one (no GPS fix yet) is still taken: live updates follow."""
    lang = language(fields.get("language"))
    words = i18n_text("sos.app", lang)
    extra = _optional_text(fields, limits)
    idem = idempotency_key(key)
    command = RegisterContact(
        channel=ChannelKind.APP_SOS,
        text=f"{words}: {extra}" if extra else words,
        triage_text=extra or "",
        language=lang,
        citizen=device,
        location=location(fields),
        external_id=f"{device}/sos/{idem}" if idem else None,
    )
    return with_fingerprint(command)


def location_update(fields: Mapping[str, Any], contact_id: str) -> UpdateLocation:
    found = location(fields)
    if found is None:
        raise Unprocessable("lat and lon are required", error_id="invalid_location")
    return UpdateLocation(contact_id=contact_id, location=found)


def sos_intake(command: RegisterContact, device_id: str, platform: str | None) -> OpenOrJoinContact:
    """An SOS: joins the device's open SOS (moved to where the phone is now), else opens
    `command` with the device as its source and, located, asks for units near it."""
    return OpenOrJoinContact(
        source_key=f"device:{device_id}",
        source=DeviceSource(kind="device", source_id=device_id, details={"platform": platform}),
        open=command,
        relocate=True,
        suggest="app_sos",
    )
