"""contact.channels.telegram.parse on recorded Bot API payloads, and fuzzed with hypothesis:
any JSON gives an Inbound, an Ignored or a ContactError (a clear 4xx), never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact.channels.telegram import parse
from contact.domain.model import Language, LocationSource
from contact.errors import ContactError

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "telegram"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def inbound(name: str) -> parse.Inbound:
    found = parse.parse_update(load(name))
    assert isinstance(found, parse.Inbound), found
    return found


def test_text_message() -> None:
    found = inbound("text_message")
    assert found.kind is parse.Kind.MESSAGE
    assert found.key == "415093761"
    assert found.external_id == "415093761:1201"
    assert found.text == "Здравствуйте, у соседей драка, кричат"
    assert found.display_text() == found.text
    assert found.citizen.language_hint is Language.KK
    assert found.citizen.display_name == "Айдос Серікбаев"


def test_start_and_language_words() -> None:
    assert inbound("start_command").kind is parse.Kind.START
    chosen = inbound("language_text_kk")
    assert (chosen.kind, chosen.language) == (parse.Kind.LANGUAGE, Language.KK)


def test_language_button() -> None:
    found = inbound("callback_language")
    assert found.kind is parse.Kind.LANGUAGE
    assert found.language is Language.KK
    assert found.callback_id == "1782771245331200251"
    assert found.key == "415093761"


def test_location_and_venue() -> None:
    place = inbound("location")
    assert place.location is not None
    assert (place.location.lat, place.location.lon) == (43.238949, 76.889709)
    assert place.location.accuracy_m == 21.5
    assert place.location.source is LocationSource.SHARED
    assert place.display_text() == "[геопозиция]"
    venue = inbound("venue")
    assert venue.location is not None
    assert venue.location.address == "Парк 28 панфиловцев, Гоголя 1"


def test_live_location_edit() -> None:
    moved = inbound("edited_live_location")
    assert moved.kind is parse.Kind.LIVE_LOCATION
    assert moved.location is not None and moved.location.lat == 43.2391


@pytest.mark.parametrize(
    ("name", "kind", "media_type", "text"),
    [
        ("photo_caption", "photo", "image/jpeg", "[фото] Вот машина, номер видно"),
        ("voice", "voice", "audio/ogg", "[голосовое сообщение]"),
        ("video", "video", "video/mp4", "[видео]"),
        ("document", "document", "application/pdf", "[документ] Заявление"),
        ("video_note", "video_note", "video/mp4", "[видеосообщение]"),
        ("sticker", "sticker", "image/webp", "[стикер]"),
    ],
)
def test_media(name: str, kind: str, media_type: str, text: str) -> None:
    found = inbound(name)
    [media] = found.media
    assert (media.kind, media.media_type) == (kind, media_type)
    assert found.display_text() == text


def test_photo_takes_the_largest_size() -> None:
    [media] = inbound("photo_caption").media
    assert media.file_id == "AgACAgIAAxkBAAIBbGZ0aWxhcmdl" and media.file_size == 96102


def test_shared_contact() -> None:
    assert inbound("contact_shared").display_text() == "[контакт] +77011234567, Айдос"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("edited_text", "edited message"),
        ("group_message", "not a private chat"),
        ("channel_post", "not a message"),
        ("my_chat_member_blocked", "not a message"),
        ("from_bot", "from a bot"),
        ("unsupported_poll", "nothing the bot handles in this message"),
    ],
)
def test_ignored(name: str, reason: str) -> None:
    found = parse.parse_update(load(name))
    assert isinstance(found, parse.Ignored) and found.reason == reason


@pytest.mark.parametrize(
    ("raw", "error_id"),
    [
        ([], "not_an_object"),
        ("update", "not_an_object"),
        ({}, "bad_update"),
        ({"update_id": "1"}, "bad_update"),
        ({"update_id": -1}, "bad_update"),
        ({"update_id": True}, "bad_update"),
        ({"update_id": 2**70}, "bad_update"),
    ],
)
def test_not_an_update(raw: Any, error_id: str) -> None:
    with pytest.raises(ContactError) as caught:
        parse.parse_update(raw)
    assert caught.value.error_id == error_id and caught.value.status == 422


def test_text_is_bounded_and_cleaned() -> None:
    update = load("text_message")
    update["message"]["text"] = "a\x00b" + "x" * 10_000 + "\ud800"
    found = parse.parse_update(update, parse.Limits(max_text_chars=100))
    assert isinstance(found, parse.Inbound)
    assert len(found.text) == 100 and "\x00" not in found.text
    found.text.encode("utf-8")  # storable


def test_bad_coordinates_are_not_a_location() -> None:
    update = load("location")
    update["message"]["location"] = {"latitude": 91.0, "longitude": float("inf")}
    assert isinstance(parse.parse_update(update), parse.Ignored)


# --- fuzzing ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)
KEYS = [
    "update_id",
    "message",
    "edited_message",
    "callback_query",
    "chat",
    "from",
    "id",
    "type",
    "text",
    "caption",
    "location",
    "latitude",
    "longitude",
    "venue",
    "photo",
    "voice",
    "document",
    "file_id",
    "file_size",
    "data",
    "message_id",
    "contact",
    "is_bot",
]
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()
    | st.sampled_from(["private", "group", "/start", "lang:kk", "lang:ru", "Қазақша", ""])
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS), children, max_size=8)
    ),
    max_leaves=60,
)
RECORDED = sorted(p.stem for p in PAYLOADS.glob("*.json"))


def check(raw: Any) -> None:
    try:
        found = parse.parse_update(raw)
    except ContactError as error:
        assert 400 <= error.status < 500
        return
    assert isinstance(found, parse.Inbound | parse.Ignored)
    if isinstance(found, parse.Inbound):
        found.display_text().encode("utf-8")
        found.external_id.encode("utf-8")
        assert found.key.lstrip("-").isdigit()


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_handled(raw: Any) -> None:
    check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**40), SHAPED, SHAPED)
def test_update_shaped_json_is_handled(update_id: int, message: Any, callback: Any) -> None:
    check({"update_id": update_id, "message": message})
    check({"update_id": update_id, "callback_query": callback, "edited_message": message})


def _mutate(data: Any, path: list[int], replacement: Any) -> Any:
    """Replace the node that `path` walks to (indexes modulo each container's size)."""
    if not path or not isinstance(data, dict | list) or not data:
        return replacement
    if isinstance(data, dict):
        key = sorted(data)[path[0] % len(data)]
        return {**data, key: _mutate(data[key], path[1:], replacement)}
    index = path[0] % len(data)
    return [*data[:index], _mutate(data[index], path[1:], replacement), *data[index + 1 :]]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(RECORDED),
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    JSON,
)
def test_mutated_recorded_payloads_are_handled(name: str, path: list[int], value: Any) -> None:
    check(_mutate(load(name), path, value))
