"""The app's device, SOS and location parsers; fuzzed with hypothesis."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.channels.app import parse
from contact.domain.model import ChannelKind, Language, Priority
from contact.domain.triage import Verdict, priority_for
from contact.errors import ContactError, Unauthorized, Unprocessable
from contact.triage import default_triage

LIMITS = parse.Limits(max_text_chars=4000, max_photo_bytes=5 * 1024 * 1024)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def test_sos_command() -> None:
    cmd = parse.sos(
        {
            "location": {"lat": 43.2, "lon": 76.9, "accuracy_m": 8},
            "language": "kk",
            "text": "көмек",
        },
        "device-0001",
        LIMITS,
        key="press-1",
    )
    assert cmd.channel is ChannelKind.APP_SOS and cmd.citizen == "device-0001"
    assert priority_for(cmd.channel, triage(cmd.text)) is Priority.SOS
    assert cmd.language is Language.KK and cmd.location is not None
    assert cmd.text.endswith(": көмек") and cmd.external_id == "device-0001/sos/press-1"
    bare = parse.sos({}, "device-0001", LIMITS)
    assert bare.location is None and bare.text and bare.external_id is None


def test_location_update_needs_a_position() -> None:
    update = parse.location_update({"lat": 43.2, "lon": 76.9, "accuracy_m": 5}, "c1")
    assert update.contact_id == "c1" and update.location.accuracy_m == 5
    with pytest.raises(Unprocessable) as info:
        parse.location_update({}, "c1")
    assert info.value.error_id == "invalid_location"


def test_huge_numbers_are_a_clear_error_not_a_crash() -> None:
    fields = json.loads('{"lat": 1' + "0" * 400 + ', "lon": 1}')
    with pytest.raises(Unprocessable) as info:
        parse.location_update(fields, "c1")
    assert info.value.error_id == "invalid_location"


def test_registration() -> None:
    reg = parse.registration({"device_id": "device-0001", "platform": "ios", "language": "ru"})
    assert (reg.device_id, reg.platform, reg.language) == ("device-0001", "ios", Language.RU)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"device_id": "x"}, "invalid_device_id"),
        ({"device_id": "device-0001", "platform": "symbian"}, "invalid_platform"),
        ({"device_id": "device-0001", "platform": ["ios"]}, "invalid_platform"),
    ]
    for fields, error_id in cases:
        with pytest.raises(Unprocessable) as info:
            parse.registration(fields)
        assert info.value.error_id == error_id


def test_device_token() -> None:
    assert parse.device_token(None) is None and parse.device_token("") is None
    token = "A" * 43
    assert parse.device_token(token) == token
    with pytest.raises(Unauthorized):
        parse.device_token("short")
    assert parse.token_hash(token) != token and len(parse.token_hash(token)) == 64


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["location", "lat", "lon", "accuracy_m", "language", "text", "device_id", "platform"]
        ),
        JSONISH,
    ),
    key=st.one_of(st.none(), st.text(max_size=20)),
)
def test_fuzzed_sos_payloads_never_crash(fields: dict[str, Any], key: str | None) -> None:
    for call in (
        lambda: parse.sos(fields, "device-0001", LIMITS, key),
        lambda: parse.location_update(fields, "c1"),
        lambda: parse.registration(fields),
    ):
        try:
            call()
        except ContactError as exc:
            assert exc.status == 422


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
