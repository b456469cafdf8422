"""WhatsApp Cloud API webhooks → items to store, and each item → what to do. Pure.

A notification (`entry[].changes[].value`) may carry several messages and statuses; `split`
cuts it into one item per message (keyed on its `wamid`) and per status, each with what it
needs later (a message keeps its `contacts[]` entry). Citizens are keyed on the
business-scoped user id (`from_user_id` / `contacts[].user_id`) and only on the phone number
(`from` / `wa_id`) when the payload carries no user id (usernames may hide the number).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from contact.domain.model import Language, Location, LocationSource
from contact.errors import Forbidden, Unauthorized, Unprocessable
from contact.i18n import text as i18n

SIGNATURE_HEADER = "X-Hub-Signature-256"
CITIZEN_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}\Z")
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
DEFAULT_MEDIA_TYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}
LABELS = {
    "image": "chat.photo",
    "video": "chat.video",
    "audio": "chat.audio",
    "voice": "chat.voice",
    "document": "chat.document",
    "sticker": "chat.sticker",
}
STATUSES = frozenset({"sent", "delivered", "read", "failed"})
IGNORED_TYPES = frozenset({"reaction", "system", "ephemeral", "order", "request_welcome"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int = 4096


def check_signature(app_secret: str, body: bytes, header: str | None) -> None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`, compared in
    constant time on the raw bytes. Missing: Unauthorized; wrong: Forbidden."""
    if not header:
        raise Unauthorized(f"missing {SIGNATURE_HEADER}", error_id="missing_signature")
    expected = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header.strip().lower().encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(expected.encode(), given):
        raise Forbidden(f"wrong {SIGNATURE_HEADER}", error_id="bad_signature")


# --- tolerant accessors ---------------------------------------------------------------------


def _obj(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int = 256) -> str | None:
    if not isinstance(value, str):
        return None
    # no NUL (PostgreSQL refuses it), no lone surrogates (no UTF-8 for them)
    cleaned = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8").strip()
    return cleaned[:limit] or None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _key(value: Any) -> str | None:
    found = _str(value, 128)
    return found if found is not None and CITIZEN_KEY.match(found) else None


# --- splitting a notification into items ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # message | status
    external_id: str
    lane: str
    payload: dict[str, Any]
    citizen: str | None = None  # messages: whose (for the rate limit)


def _contact_for(message: Mapping[str, Any], contacts: list[Any]) -> Mapping[str, Any] | None:
    entries = [c for c in contacts if _obj(c)]
    for entry in entries:
        if (_key(entry.get("user_id")) and entry.get("user_id") == message.get("from_user_id")) or (
            _key(entry.get("wa_id")) and entry.get("wa_id") == message.get("from")
        ):
            return entry  # type: ignore[no-any-return]
    return entries[0] if len(entries) == 1 else None


def citizen_of(message: Mapping[str, Any], contact: Mapping[str, Any] | None) -> str | None:
    """The business-scoped user id when there is one, else the phone number."""
    contact = contact or {}
    return (
        _key(message.get("from_user_id"))
        or _key(contact.get("user_id"))
        or _key(message.get("from"))
        or _key(contact.get("wa_id"))
    )


def split(notification: Any) -> list[Item]:
    """One item per message and per status. Raises Unprocessable for a body that is not a
    notification at all; what is not for this channel yields no items."""
    if not isinstance(notification, Mapping):
        raise Unprocessable("a notification must be a JSON object", error_id="not_an_object")
    if notification.get("object") != "whatsapp_business_account":
        return []
    items: list[Item] = []
    for entry in _list(notification.get("entry")):
        for change in _list((_obj(entry) or {}).get("changes")):
            change = _obj(change) or {}
            value = _obj(change.get("value"))
            if change.get("field") != "messages" or value is None:
                continue
            metadata = _obj(value.get("metadata")) or {}
            phone_number_id = _str(metadata.get("phone_number_id"), 64)
            contacts = _list(value.get("contacts"))
            for message in _list(value.get("messages")):
                message = _obj(message)
                wamid = _str((message or {}).get("id"), 256)
                if message is None or wamid is None:
                    continue
                contact = _contact_for(message, contacts)
                citizen = citizen_of(message, contact)
                if citizen is None:
                    continue
                items.append(
                    Item(
                        kind="message",
                        external_id=wamid,
                        lane=citizen,
                        payload={
                            "message": message,
                            "contact": contact,
                            "phone_number_id": phone_number_id,
                        },
                        citizen=citizen,
                    )
                )
            for status in _list(value.get("statuses")):
                status = _obj(status)
                wamid = _str((status or {}).get("id"), 256)
                state = _str((status or {}).get("status"), 32)
                if status is None or wamid is None or state is None:
                    continue
                stamp = _str(status.get("timestamp"), 32) or ""
                items.append(
                    Item(
                        kind="status",
                        external_id=f"status:{wamid}:{state}:{stamp}",
                        lane=f"status:{wamid}",
                        payload={"status": status},
                    )
                )
    return items


# --- one item -------------------------------------------------------------------------------


class Kind(StrEnum):
    MESSAGE = "message"
    LANGUAGE = "language"  # the citizen pressed a language button


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # image | video | audio | document | sticker
    media_id: str
    media_type: str
    sha256: str | None = None  # as Meta sent it (hex or base64)
    file_name: str | None = None
    voice: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # wamid
    citizen: str
    kind: Kind
    user_id: str | None = None
    wa_id: str | None = None
    display_name: str | None = None
    text: str = ""
    location: Location | None = None
    media: tuple[Media, ...] = ()
    language: Language | None = None
    sent_at: datetime | None = None

    def display_text(self) -> str:
        parts = [i18n(LABELS["voice" if m.voice else m.kind], None) for m in self.media]
        if self.location is not None and not self.text:
            parts.append(i18n("chat.location", None))
        if self.text:
            parts.append(self.text)
        return " ".join(parts) or i18n("chat.unsupported", None)


@dataclass(frozen=True, slots=True)
class Status:
    id: str  # the wamid of our message
    status: str  # sent | delivered | read | failed
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


def _location(data: Mapping[str, Any]) -> Location | None:
    lat, lon = _float(data.get("latitude")), _float(data.get("longitude"))
    if lat is None or lon is None:
        return None
    address = ", ".join(p for p in (_str(data.get("name"), 200), _str(data.get("address"))) if p)
    try:
        return Location(lat=lat, lon=lon, source=LocationSource.SHARED, address=address or None)
    except ValueError:
        return None


def _timestamp(value: Any) -> datetime | None:
    seconds = _float(value)
    if seconds is None or not 0 < seconds < 2**33:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def message(payload: Any, limits: Limits = Limits()) -> Message | Ignored:
    data = _obj(payload) or {}
    raw = _obj(data.get("message"))
    contact = _obj(data.get("contact"))
    if raw is None:
        return Ignored("no message")
    wamid = _str(raw.get("id"), 256)
    citizen = citizen_of(raw, contact)
    if wamid is None or citizen is None:
        return Ignored("no message id or sender")
    contact = contact or {}
    profile = _obj(contact.get("profile")) or {}
    kind = _str(raw.get("type"), 32) or "unsupported"
    if kind in IGNORED_TYPES:
        return Ignored(f"{kind} message")
    base: dict[str, Any] = {
        "id": wamid,
        "citizen": citizen,
        "kind": Kind.MESSAGE,
        "user_id": _key(raw.get("from_user_id")) or _key(contact.get("user_id")),
        "wa_id": _key(raw.get("from")) or _key(contact.get("wa_id")),
        "display_name": _str(profile.get("name"), 128) or _str(profile.get("username"), 128),
        "sent_at": _timestamp(raw.get("timestamp")),
    }
    limit = limits.max_text_chars
    body = _obj(raw.get(kind)) or {}
    if kind == "text":
        found = _str(body.get("body"), limit)
        return Message(**base, text=found) if found else Ignored("empty text")
    if kind == "location":
        place = _location(body)
        return Message(**base, location=place) if place else Ignored("a location without place")
    if kind in MEDIA_KINDS:
        media_id = _str(body.get("id"), 256)
        if media_id is None:
            return Message(**base, text=i18n("chat.unsupported", None))
        media = Media(
            kind=kind,
            media_id=media_id,
            media_type=_str(body.get("mime_type"), 128) or DEFAULT_MEDIA_TYPES[kind],
            sha256=_str(body.get("sha256"), 128),
            file_name=_str(body.get("filename"), 200),
            voice=body.get("voice") is True,
        )
        return Message(**base, media=(media,), text=_str(body.get("caption"), limit) or "")
    if kind == "interactive":
        reply = _obj(body.get("button_reply")) or _obj(body.get("list_reply")) or {}
        reply_id = _str(reply.get("id"), 256)
        choice = {"lang:kk": Language.KK, "lang:ru": Language.RU}.get(reply_id or "")
        if choice is not None:
            return Message(**{**base, "kind": Kind.LANGUAGE}, language=choice)
        title = " — ".join(
            p for p in (_str(reply.get("title"), 200), _str(reply.get("description"), 200)) if p
        )
        return Message(**base, text=title) if title else Ignored("an empty interactive reply")
    if kind == "button":
        found = _str(body.get("text"), limit) or _str(body.get("payload"), limit)
        return Message(**base, text=found) if found else Ignored("an empty button reply")
    if kind == "contacts":
        shared = []
        for card in _list(raw.get("contacts"))[:10]:
            card = _obj(card) or {}
            name = _str((_obj(card.get("name")) or {}).get("formatted_name"), 100)
            phones = [_str((_obj(p) or {}).get("phone"), 32) for p in _list(card.get("phones"))[:5]]
            shared.append(", ".join(p for p in (name, *phones) if p))
        label = i18n("chat.contact", None)
        return Message(**base, text=" ".join(f"{label} {s}" for s in shared if s) or label)
    return Message(**base, text=i18n("chat.unsupported", None))


def status(payload: Any) -> Status | Ignored:
    raw = _obj((_obj(payload) or {}).get("status"))
    if raw is None:
        return Ignored("no status")
    wamid, state = _str(raw.get("id"), 256), _str(raw.get("status"), 32)
    if wamid is None or state not in STATUSES:
        return Ignored(f"status {state!r}")
    error = None
    errors = [e for e in _list(raw.get("errors")) if _obj(e)]
    if errors:
        first = errors[0]
        detail = _obj(first.get("error_data")) or {}
        code = first.get("code")
        error = " ".join(
            p
            for p in (
                f"{code}:" if isinstance(code, int) and not isinstance(code, bool) else None,
                _str(first.get("title"), 200),
                _str(first.get("message"), 200),
                _str(detail.get("details"), 300),
            )
            if p
        )
    return Status(id=wamid, status=state, error=error or ("failed" if state == "failed" else None))


def sha256_matches(data: bytes, expected: str) -> bool:
    """Meta's sha256 is documented loosely: accept the hex or the base64 form."""
    digest = hashlib.sha256(data).digest()
    given = expected.strip()
    return hmac.compare_digest(given.lower().encode(), digest.hex().encode()) or (
        hmac.compare_digest(given.encode(), base64.b64encode(digest))
    )
