"""The app report parser: pure, every rejection a clear error, fuzzed with hypothesis."""

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.channels.app import parse
from contact.domain.model import ChannelKind, Language, Priority
from contact.domain.triage import Verdict, priority_for
from contact.errors import ContactError, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from contact.triage import default_triage

LIMITS = parse.Limits(max_text_chars=4000, max_photo_bytes=5 * 1024 * 1024)
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def fields(**extra: Any) -> dict[str, Any]:
    return {"text": "Украли велосипед", "device_id": "device-123456", **extra}


def test_minimal_report() -> None:
    cmd = parse.report(fields(), None, LIMITS)
    assert cmd.channel is ChannelKind.APP
    assert cmd.citizen == "device-123456"
    assert cmd.location is None and cmd.language is None and cmd.external_id is None


def test_full_report_with_nested_location_and_photo() -> None:
    cmd = parse.report(
        fields(language="KK", location={"lat": 43.2, "lon": 76.9, "accuracy_m": 12}),
        parse.Photo(JPEG, "p.jpg"),
        LIMITS,
        key="abc-1",
    )
    assert cmd.language is Language.KK
    assert cmd.location is not None and cmd.location.accuracy_m == 12
    ((attachment, data),) = cmd.attachments
    assert attachment.media_type == "image/jpeg" and attachment.size == len(JPEG) and data == JPEG
    assert cmd.external_id == "device-123456/abc-1"


def test_flat_location_strings_from_multipart() -> None:
    cmd = parse.report(fields(lat="43.25", lon="76.95"), None, LIMITS)
    assert cmd.location is not None and cmd.location.lat == 43.25


@pytest.mark.parametrize(
    ("extra", "error_id"),
    [
        ({"text": ""}, "missing_text"),
        ({"text": "   "}, "missing_text"),
        ({"text": 5}, "missing_text"),
        ({"text": "x" * 4001}, "text_too_long"),
        ({"text": "a\x00b"}, "invalid_text"),
        ({"device_id": "short"}, "invalid_device_id"),
        ({"device_id": "bad id with spaces"}, "invalid_device_id"),
        ({"device_id": None}, "invalid_device_id"),
        ({"language": "en"}, "invalid_language"),
        ({"lat": 43.2}, "invalid_location"),
        ({"lat": 91, "lon": 0}, "invalid_location"),
        ({"lat": "abc", "lon": 0}, "invalid_location"),
        ({"lat": "nan", "lon": 0}, "invalid_location"),
        ({"lat": True, "lon": 0}, "invalid_location"),
        ({"location": [1, 2]}, "invalid_location"),
        ({"kind": "joke"}, "invalid_kind"),
    ],
)
def test_rejections_are_clear(extra: dict[str, Any], error_id: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse.report(fields(**extra), None, LIMITS)
    assert info.value.error_id == error_id
    assert info.value.status == 422


def test_photo_limits_and_types() -> None:
    with pytest.raises(PayloadTooLarge):
        parse.report(fields(), parse.Photo(JPEG + b"\0" * LIMITS.max_photo_bytes), LIMITS)
    with pytest.raises(UnsupportedMediaType):
        parse.report(fields(), parse.Photo(b"GIF89a" + b"\0" * 10), LIMITS)
    assert parse.sniff_photo(PNG) == "image/png"
    assert parse.sniff_photo(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"


def test_bad_idempotency_key() -> None:
    with pytest.raises(Unprocessable):
        parse.report(fields(), None, LIMITS, key="has space")
    with pytest.raises(Unprocessable):
        parse.report(fields(), None, LIMITS, key="k" * 101)


def test_danger_words_make_an_app_report_sos() -> None:
    cmd = parse.report(fields(text="Помогите! У него пистолет"), None, LIMITS)
    assert priority_for(cmd.channel, triage(cmd.text)) is Priority.SOS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["text", "device_id", "language", "lat", "lon", "accuracy_m", "location", "kind", "x"]
        ),
        json_values,
    ),
    st.one_of(st.none(), st.binary(max_size=64)),
    st.one_of(st.none(), st.text(max_size=20)),
)
def test_fuzz_never_crashes(raw: dict[str, Any], photo: bytes | None, key: str | None) -> None:
    try:
        cmd = parse.report(raw, parse.Photo(photo) if photo is not None else None, LIMITS, key)
    except ContactError as exc:
        assert 400 <= exc.status < 500
        return
    assert cmd.text.strip()
    if cmd.location is not None:
        assert math.isfinite(cmd.location.lat) and math.isfinite(cmd.location.lon)


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
