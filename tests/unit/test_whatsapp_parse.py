"""contact.channels.whatsapp.parse on recorded Cloud API payloads, the signature check, and
hypothesis fuzzing: any JSON gives items (or a ContactError, a clear 4xx), never a crash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact.channels.whatsapp import parse
from contact.domain.model import Language
from contact.errors import ContactError, Forbidden, Unauthorized

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "whatsapp"
USER_ID = "KZ.1349865317592640"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data


def items(name: str) -> list[parse.Item]:
    return parse.split(load(name))


def message(name: str) -> parse.Message:
    [item] = items(name)
    assert item.kind == "message"
    found = parse.message(item.payload)
    assert isinstance(found, parse.Message), found
    return found


# --- the signature ---------------------------------------------------------------------------


def test_signature_test_vector() -> None:
    digest = hmac.new(b"secret", b"test", hashlib.sha256).hexdigest()
    assert digest == "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    parse.check_signature("secret", b"test", f"sha256={digest}")
    parse.check_signature("secret", b"test", f"sha256={digest.upper()}")


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, Unauthorized),
        ("", Unauthorized),
        ("sha256=" + "0" * 64, Forbidden),
        ("0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914", Forbidden),
        ("sha1=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914", Forbidden),
        ("sha256=ÿ\udcff", Forbidden),
    ],
)
def test_bad_signatures(header: str | None, error: type[ContactError]) -> None:
    with pytest.raises(error):
        parse.check_signature("secret", b"test", header)


def test_the_signature_covers_the_raw_bytes() -> None:
    body = json.dumps(load("text")).encode()
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    parse.check_signature("k", body, good)
    with pytest.raises(Forbidden):
        parse.check_signature("k", json.dumps(json.loads(body), indent=1).encode(), good)


# --- messages --------------------------------------------------------------------------------


def test_text_keyed_on_the_user_id() -> None:
    [item] = items("text")
    assert (item.kind, item.citizen, item.lane) == ("message", USER_ID, USER_ID)
    assert item.external_id.startswith("wamid.")
    found = message("text")
    assert found.citizen == USER_ID and found.user_id == USER_ID
    assert found.wa_id == "77011234567"
    assert found.display_name == "Айгерим"
    assert found.text == "Добрый вечер, у подъезда дерутся"
    assert found.sent_at is not None and found.sent_at.year == 2025


def test_phone_only_and_username_only_senders() -> None:
    legacy = message("text_legacy_phone_only")
    assert (legacy.citizen, legacy.user_id, legacy.wa_id) == ("77779876543", None, "77779876543")
    hidden = message("text_username_only")
    assert hidden.citizen == "KZ.2288441100993377"
    assert hidden.wa_id is None and hidden.display_name == "night_owl"


def test_location() -> None:
    found = message("location")
    assert found.location is not None
    assert (found.location.lat, found.location.lon) == (43.238949, 76.889709)
    assert found.location.address == "ТРЦ Dostyk Plaza, мкр. Самал-2, 111"
    assert found.display_text() == "[геопозиция]"


@pytest.mark.parametrize(
    ("name", "kind", "media_type", "text", "voice"),
    [
        ("image", "image", "image/jpeg", "[фото] номер машины", False),
        ("audio_voice", "audio", "audio/ogg; codecs=opus", "[голосовое сообщение]", True),
        ("video", "video", "video/mp4", "[видео]", False),
        ("document", "document", "application/pdf", "[документ] Заявление", False),
        ("sticker", "sticker", "image/webp", "[стикер]", False),
    ],
)
def test_media(name: str, kind: str, media_type: str, text: str, voice: bool) -> None:
    found = message(name)
    [media] = found.media
    assert (media.kind, media.media_type, media.voice) == (kind, media_type, voice)
    assert media.sha256 and media.media_id
    assert found.display_text() == text


def test_interactive_replies() -> None:
    chosen = message("interactive_button_reply")
    assert (chosen.kind, chosen.language) == (parse.Kind.LANGUAGE, Language.KK)
    listed = message("interactive_list_reply")
    assert (listed.kind, listed.text) == (parse.Kind.MESSAGE, "Кража — Украли вещи")
    assert message("button_template_reply").text == "Да, нужна помощь"


def test_shared_contacts_and_unsupported() -> None:
    assert message("contacts_shared").text == "[контакт] Ерлан Б., +7 701 555 1122"
    assert message("unsupported").text == "[сообщение неподдерживаемого типа]"
    [reaction] = items("reaction")
    assert isinstance(parse.message(reaction.payload), parse.Ignored)


def test_a_batch_is_split_per_message_with_its_own_contact() -> None:
    first, second = items("batch_two_citizens")
    assert (first.citizen, second.citizen) == (USER_ID, "KZ.5551112223334445")
    found = parse.message(second.payload)
    assert isinstance(found, parse.Message)
    assert (found.text, found.display_name) == ("Второй", "Бекзат")


# --- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["sent", "delivered", "read"])
def test_statuses(state: str) -> None:
    [item] = items(f"status_{state}")
    assert item.kind == "status" and item.citizen is None
    assert item.lane == "status:wamid.outbound1"
    found = parse.status(item.payload)
    assert found == parse.Status(id="wamid.outbound1", status=state)


def test_failed_status_carries_the_reason() -> None:
    [item] = items("status_failed")
    found = parse.status(item.payload)
    assert isinstance(found, parse.Status) and found.status == "failed"
    assert found.error is not None
    assert found.error.startswith("131047: Re-engagement message")
    assert "24 hours" in found.error


def test_other_objects_and_non_notifications() -> None:
    assert parse.split(load("other_object")) == []
    with pytest.raises(ContactError) as caught:
        parse.split([1, 2])
    assert caught.value.status == 422


def test_sha256_in_hex_or_base64() -> None:
    data = b"photo bytes"
    digest = hashlib.sha256(data).digest()
    assert parse.sha256_matches(data, digest.hex())
    assert parse.sha256_matches(data, digest.hex().upper())
    assert parse.sha256_matches(data, base64.b64encode(digest).decode())
    assert not parse.sha256_matches(data + b"!", digest.hex())


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
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "metadata",
    "contacts",
    "messages",
    "statuses",
    "id",
    "from",
    "from_user_id",
    "user_id",
    "wa_id",
    "type",
    "text",
    "body",
    "location",
    "latitude",
    "longitude",
    "image",
    "audio",
    "sha256",
    "interactive",
    "button_reply",
    "status",
    "errors",
    "code",
    "timestamp",
    "profile",
    "name",
]
SHAPED = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(
        ["whatsapp_business_account", "messages", "text", "image", "interactive", "failed", ""]
    )
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
        found = parse.split(raw)
    except ContactError as error:
        assert 400 <= error.status < 500
        return
    for item in found:
        json.dumps(item.payload, ensure_ascii=True)  # storable
        item.external_id.encode("utf-8")
        outcome = (
            parse.status(item.payload) if item.kind == "status" else parse.message(item.payload)
        )
        if isinstance(outcome, parse.Message):
            outcome.display_text().encode("utf-8")
            assert outcome.citizen == item.citizen


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_handled(raw: Any) -> None:
    check(raw)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(SHAPED)
def test_notification_shaped_json_is_handled(value: Any) -> None:
    check(
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": value}]}],
        }
    )


def _mutate(data: Any, path: list[int], replacement: Any) -> Any:
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
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=9),
    JSON,
)
def test_mutated_recorded_payloads_are_handled(name: str, path: list[int], value: Any) -> None:
    check(_mutate(load(name), path, value))


@settings(max_examples=300)
@given(st.binary(max_size=200), st.text(max_size=80) | st.none())
def test_any_signature_header_is_a_clear_refusal(body: bytes, header: str | None) -> None:
    try:
        parse.check_signature("app-secret", body, header)
    except (Unauthorized, Forbidden):
        return
    raise AssertionError("a random header passed the signature check")
