"""Telegram Bot API updates (plain JSON) → what the bot does with them. Pure: no aiogram, no
I/O, so the webhook can decide in microseconds and any bytes can be fuzzed through it.

Handled in private chats only: messages (text, location or venue, photo, video, voice, audio,
document, video note, sticker, animation, a shared contact), `/start` (language choice),
the language buttons, and live-location edits. Everything else is `Ignored` (answered 200,
nothing stored). A body that is not an update at all raises a ContactError (4xx).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from contact.domain.model import Language, Location, LocationSource, plausible_accuracy
from contact.errors import Unprocessable
from contact.i18n import text as i18n

MAX_ID = 2**63 - 1
MEDIA_KINDS = ("photo", "video", "voice", "audio", "document", "video_note", "sticker", "animation")
DEFAULT_MEDIA_TYPES = {
    "photo": "image/jpeg",
    "video": "video/mp4",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
    "video_note": "video/mp4",
    "sticker": "image/webp",
    "animation": "video/mp4",
}
LANGUAGE_WORDS = {
    "/kk": Language.KK,
    "/kz": Language.KK,
    "/ru": Language.RU,
    "қазақша": Language.KK,
    "қазақ тілі": Language.KK,
    "русский": Language.RU,
    "русский язык": Language.RU,
}
START_COMMANDS = frozenset({"/start", "/lang", "/language", "/help", "/til", "/язык"})


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int = 4096


@dataclass(frozen=True, slots=True)
class Media:
    kind: str  # one of MEDIA_KINDS
    file_id: str
    media_type: str  # as declared (or the kind's default)
    file_name: str | None = None
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class Citizen:
    chat_id: int
    username: str | None = None
    display_name: str | None = None
    language_hint: Language | None = None  # from the Telegram app's language


class Kind(StrEnum):
    MESSAGE = "message"  # a citizen's message: text, location, media
    START = "start"  # /start: greet and offer the languages
    LANGUAGE = "language"  # the citizen chose a language
    LIVE_LOCATION = "live_location"  # an update of a shared live location


@dataclass(frozen=True, slots=True)
class Inbound:
    update_id: int
    kind: Kind
    citizen: Citizen
    message_id: int | None = None
    text: str = ""  # what the citizen typed (a media caption), possibly empty
    location: Location | None = None
    media: tuple[Media, ...] = ()
    shared_contact: str | None = None  # a phone number the citizen shared
    language: Language | None = None  # LANGUAGE: the choice
    callback_id: str | None = None  # LANGUAGE by button: the query to answer

    @property
    def key(self) -> str:
        """The conversation: one per private chat."""
        return str(self.citizen.chat_id)

    @property
    def external_id(self) -> str:
        """The message's own id (unique per chat); the update id for others."""
        if self.message_id is not None and self.kind is Kind.MESSAGE:
            return f"{self.citizen.chat_id}:{self.message_id}"
        return f"update:{self.update_id}"

    def display_text(self) -> str:
        """The message as the operator reads it: labels for what is not text, then the text."""
        parts = [i18n(f"chat.{m.kind}", None) for m in self.media]
        if self.shared_contact:
            parts.append(f"{i18n('chat.contact', None)} {self.shared_contact}")
        if self.location is not None and not self.text and not self.media:
            parts.append(i18n("chat.location", None))
        if self.text:
            parts.append(self.text)
        return " ".join(parts) or i18n("chat.unsupported", None)


@dataclass(frozen=True, slots=True)
class Ignored:
    update_id: int
    reason: str


# --- helpers: every accessor tolerates any JSON value --------------------------------------


def _obj(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_ID:
        return None
    return value


def _str(value: Any, limit: int = 256) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:limit] or None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def update_id(raw: Any) -> int:
    """The update's id, or Unprocessable when this is no Telegram update at all."""
    if not isinstance(raw, Mapping):
        raise Unprocessable("an update must be a JSON object", error_id="not_an_object")
    found = _int(raw.get("update_id"))
    if found is None or found < 0:
        raise Unprocessable("update_id must be a non-negative integer", error_id="bad_update")
    return found


def location(raw: Any, *, address: str | None = None) -> Location | None:
    data = _obj(raw)
    if data is None:
        return None
    lat, lon = _float(data.get("latitude")), _float(data.get("longitude"))
    if lat is None or lon is None:
        return None
    accuracy = _float(data.get("horizontal_accuracy"))
    try:
        return Location(
            lat=lat,
            lon=lon,
            accuracy_m=plausible_accuracy(accuracy),  # a bad radius does not lose the point
            source=LocationSource.SHARED,
            address=address,
        )
    except ValueError:
        return None


def _citizen(message: Mapping[str, Any]) -> Citizen | Ignored | None:
    chat = _obj(message.get("chat"))
    if chat is None:
        return None
    chat_id = _int(chat.get("id"))
    if chat_id is None:
        return None
    if chat.get("type") != "private":
        return Ignored(0, "not a private chat")
    sender = _obj(message.get("from")) or {}
    if sender.get("is_bot") is True:
        return Ignored(0, "from a bot")
    first, last = _str(sender.get("first_name"), 64), _str(sender.get("last_name"), 64)
    name = " ".join(p for p in (first, last) if p) or None
    code = _str(sender.get("language_code"), 16)
    hint = {"kk": Language.KK, "ru": Language.RU}.get((code or "")[:2].lower())
    return Citizen(
        chat_id=chat_id,
        username=_str(sender.get("username"), 64),
        display_name=name,
        language_hint=hint,
    )


def _media(message: Mapping[str, Any]) -> tuple[Media, ...]:
    found: list[Media] = []
    for kind in MEDIA_KINDS:
        value = message.get(kind)
        if kind == "photo":
            sizes = [s for s in value if _obj(s)] if isinstance(value, list) else []
            if not sizes:
                continue

            def area(size: Mapping[str, Any]) -> int:
                return (_int(size.get("width")) or 0) * (_int(size.get("height")) or 0)

            data: Mapping[str, Any] | None = max(sizes, key=area)  # the largest size
        else:
            data = _obj(value)
        if data is None:
            continue
        file_id = _str(data.get("file_id"), 512)
        if file_id is None:
            continue
        declared = _str(data.get("mime_type"), 128)
        if kind == "sticker":
            declared = (
                "video/webm"
                if data.get("is_video") is True
                else "application/x-tgsticker"
                if data.get("is_animated") is True
                else "image/webp"
            )
        size = _int(data.get("file_size"))
        found.append(
            Media(
                kind=kind,
                file_id=file_id,
                media_type=declared or DEFAULT_MEDIA_TYPES[kind],
                file_name=_str(data.get("file_name"), 200),
                file_size=size if size is not None and size >= 0 else None,
            )
        )
    return tuple(found)


def _shared_contact(message: Mapping[str, Any]) -> str | None:
    data = _obj(message.get("contact"))
    if data is None:
        return None
    phone = _str(data.get("phone_number"), 32)
    name = " ".join(
        p for p in (_str(data.get("first_name"), 64), _str(data.get("last_name"), 64)) if p
    )
    return ", ".join(p for p in (phone, name) if p) or None


def _language_choice(text: str) -> Language | None:
    return LANGUAGE_WORDS.get(text.strip().lower().split("@", 1)[0])


def _command(text: str) -> str | None:
    if not text.startswith("/"):
        return None
    return text.split(maxsplit=1)[0].split("@", 1)[0].lower()


# --- the parser --------------------------------------------------------------------------


def parse_update(raw: Any, limits: Limits = Limits()) -> Inbound | Ignored:
    """A Bot API update → what to do with it. Raises Unprocessable for a non-update."""
    uid = update_id(raw)
    if (callback := _obj(raw.get("callback_query"))) is not None:
        return _callback(uid, callback)
    if (edited := _obj(raw.get("edited_message"))) is not None:
        citizen = _citizen(edited)
        if not isinstance(citizen, Citizen):
            return Ignored(uid, "edited message outside a private chat")
        moved = location(edited.get("location"))
        if moved is None:
            return Ignored(uid, "edited message")  # the operator keeps what was sent first
        return Inbound(
            uid, Kind.LIVE_LOCATION, citizen, _int(edited.get("message_id")), location=moved
        )
    message = _obj(raw.get("message"))
    if message is None:
        return Ignored(uid, "not a message")
    citizen = _citizen(message)
    if citizen is None:
        return Ignored(uid, "message without a chat")
    if isinstance(citizen, Ignored):
        return Ignored(uid, citizen.reason)
    message_id = _int(message.get("message_id"))
    if message_id is None:
        return Ignored(uid, "message without an id")
    body = _str(message.get("text"), limits.max_text_chars) or _str(
        message.get("caption"), limits.max_text_chars
    )
    text = body or ""
    command = _command(text)
    if command in START_COMMANDS:
        return Inbound(uid, Kind.START, citizen, message_id)
    if (choice := _language_choice(text)) is not None:
        return Inbound(uid, Kind.LANGUAGE, citizen, message_id, language=choice)
    venue = _obj(message.get("venue"))
    place = None
    if venue is not None:
        address = ", ".join(
            p for p in (_str(venue.get("title"), 200), _str(venue.get("address"), 300)) if p
        )
        place = location(venue.get("location"), address=address or None)
    found = place or location(message.get("location"))
    media = _media(message)
    contact = _shared_contact(message)
    if not text and found is None and not media and contact is None:
        return Ignored(uid, "nothing the bot handles in this message")
    return Inbound(
        uid,
        Kind.MESSAGE,
        citizen,
        message_id,
        text=text,
        location=found,
        media=media,
        shared_contact=contact,
    )


def _callback(uid: int, callback: Mapping[str, Any]) -> Inbound | Ignored:
    query_id = _str(callback.get("id"), 128)
    data = _str(callback.get("data"), 64)
    message = _obj(callback.get("message"))
    sender = _obj(callback.get("from"))
    if query_id is None or data is None or message is None or sender is None:
        return Ignored(uid, "callback without what the bot needs")
    citizen = _citizen({**message, "from": sender})
    if not isinstance(citizen, Citizen):
        return Ignored(uid, "callback outside a private chat")
    choice = {"lang:kk": Language.KK, "lang:ru": Language.RU}.get(data)
    if choice is None:
        return Ignored(uid, "unknown button")
    return Inbound(uid, Kind.LANGUAGE, citizen, language=choice, callback_id=query_id)
