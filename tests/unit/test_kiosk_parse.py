"""The kiosk parser: signatures, payloads and registry rows; pure, fuzzed with hypothesis."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.channels import registry_import as ri
from contact.channels.kiosk import parse
from contact.domain.model import ChannelKind, LocationSource, Priority
from contact.domain.triage import Verdict, priority_for
from contact.errors import ContactError, Unauthorized, Unprocessable
from contact.ports import Kiosk
from contact.triage import default_triage

KEY = "k" * 64
KIOSK = Kiosk(
    id="park-01",
    name="Парк Горького, вход",
    lat=43.2567,
    lon=76.9286,
    partner="Parks of Almaty",
    address="ул. Гоголя, 1",
    camera_id="cam-park-01",
)
NOW = 1_800_000_000.0
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def test_signature_vector_matches_a_plain_hmac() -> None:
    body = b'{"kind":"tamper"}'
    base = b"1800000000\nPOST\n/api/v1/kiosks/park-01/events\n" + body
    expected = hmac.new(KEY.encode(), base, hashlib.sha256).hexdigest()
    assert parse.sign(KEY, "1800000000", "post", "/api/v1/kiosks/park-01/events", body) == (
        f"sha256={expected}"
    )


def test_a_good_signature_verifies() -> None:
    path = "/api/v1/kiosks/park-01/heartbeat"
    header = parse.sign(KEY, "1800000000", "POST", path, b"")
    signed = parse.signed_headers("1800000000", header)
    parse.verify(KEY, signed, "POST", path, b"", now=NOW + 10, window_s=300)


@pytest.mark.parametrize(
    ("change", "error_id"),
    [
        ({"key": "x" * 64}, "bad_signature"),
        ({"path": "/api/v1/kiosks/park-01/sos"}, "bad_signature"),  # a heartbeat is no press
        ({"method": "GET"}, "bad_signature"),
        ({"body": b"{}"}, "bad_signature"),
        ({"now": NOW + 301}, "stale_timestamp"),
        ({"now": NOW - 301}, "stale_timestamp"),
    ],
)
def test_a_changed_request_is_refused(change: dict[str, Any], error_id: str) -> None:
    path = "/api/v1/kiosks/park-01/heartbeat"
    signed = parse.signed_headers("1800000000", parse.sign(KEY, "1800000000", "POST", path, b""))
    args: dict[str, Any] = {"key": KEY, "method": "POST", "path": path, "body": b"", "now": NOW}
    args.update(change)
    with pytest.raises(Unauthorized) as info:
        parse.verify(
            args["key"],
            signed,
            args["method"],
            args["path"],
            args["body"],
            now=args["now"],
            window_s=300,
        )
    assert info.value.error_id == error_id and info.value.status == 401


@pytest.mark.parametrize(
    ("timestamp", "signature", "error_id"),
    [
        (None, None, "signature_required"),
        ("1800000000", None, "signature_required"),
        ("", "sha256=" + "0" * 64, "signature_required"),
        ("soon", "sha256=" + "0" * 64, "malformed_signature"),
        ("-5", "sha256=" + "0" * 64, "malformed_signature"),
        ("1800000000", "md5=abc", "malformed_signature"),
        ("1800000000", "sha256=" + "0" * 63, "malformed_signature"),
    ],
)
def test_signature_headers(timestamp: str | None, signature: str | None, error_id: str) -> None:
    with pytest.raises(Unauthorized) as info:
        parse.signed_headers(timestamp, signature)
    assert info.value.error_id == error_id


def test_replay_digest_is_per_kiosk_and_signature() -> None:
    a = parse.Signed(1, "a" * 64)
    assert parse.replay_digest("k1", a) != parse.replay_digest("k2", a)
    assert parse.replay_digest("k1", a) == parse.replay_digest("k1", parse.Signed(1, "a" * 64))


def test_sos_is_an_sos_contact_at_the_kiosk() -> None:
    cmd = parse.sos({"press_id": "p-1", "language": "kk"}, KIOSK)
    assert cmd.channel is ChannelKind.KIOSK
    assert priority_for(cmd.channel, triage(cmd.text)) is Priority.SOS
    assert cmd.citizen == "kiosk:park-01" and cmd.external_id == "park-01/p-1"
    assert cmd.location is not None and cmd.location.source is LocationSource.FIXED
    assert (cmd.location.lat, cmd.location.lon) == (KIOSK.lat, KIOSK.lon)
    assert "Парк Горького" in cmd.text and "Parks of Almaty" in cmd.text
    assert parse.sos({}, KIOSK).external_id is None


@pytest.mark.parametrize(
    ("fields", "error_id"),
    [
        ({"press_id": "a b"}, "invalid_press_id"),
        ({"press_id": 5}, "invalid_press_id"),
        ({"language": "en"}, "invalid_language"),
        ({"language": ["kk"]}, "invalid_language"),
    ],
)
def test_sos_rejections(fields: dict[str, Any], error_id: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse.sos(fields, KIOSK)
    assert info.value.error_id == error_id


def test_event() -> None:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    e = parse.event(
        {"kind": "door_open", "at": "2027-01-01T06:00:00+06:00", "detail": " x "}, KIOSK, at
    )
    assert (e.kind, e.kiosk_id, e.detail, e.received_at) == ("door_open", "park-01", "x", at)
    assert e.reported_at == at
    assert parse.event({"kind": "tamper", "at": 1_800_000_000}, KIOSK, at).reported_at is not None


@pytest.mark.parametrize(
    ("fields", "error_id"),
    [
        ({}, "invalid_kind"),
        ({"kind": "explosion"}, "invalid_kind"),
        ({"kind": ["tamper"]}, "invalid_kind"),
        ({"kind": "tamper", "at": "yesterday"}, "invalid_time"),
        ({"kind": "tamper", "at": "2027-01-01T00:00:00"}, "invalid_time"),  # no offset
        ({"kind": "tamper", "at": 10**30}, "invalid_time"),
        ({"kind": "tamper", "at": True}, "invalid_time"),
        ({"kind": "tamper", "detail": "x" * 501}, "invalid_detail"),
        ({"kind": "tamper", "detail": 5}, "invalid_detail"),
    ],
)
def test_event_rejections(fields: dict[str, Any], error_id: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse.event(fields, KIOSK, datetime.now(UTC))
    assert info.value.error_id == error_id


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["press_id", "language", "kind", "at", "detail", "x"]), JSONISH
    )
)
def test_fuzzed_payloads_never_crash(fields: dict[str, Any]) -> None:
    for call in (
        lambda: parse.sos(fields, KIOSK),
        lambda: parse.event(fields, KIOSK, datetime.now(UTC)),
    ):
        try:
            call()
        except ContactError as exc:
            assert 400 <= exc.status < 500


@settings(max_examples=300, deadline=None)
@given(
    timestamp=st.one_of(st.none(), st.text(max_size=20)),
    signature=st.one_of(st.none(), st.text(max_size=80)),
    body=st.binary(max_size=64),
)
def test_fuzzed_signatures_never_crash(
    timestamp: str | None, signature: str | None, body: bytes
) -> None:
    try:
        signed = parse.signed_headers(timestamp, signature)
        parse.verify(KEY, signed, "POST", "/p", body, now=NOW, window_s=300)
    except Unauthorized:
        pass


# --- registry rows ------------------------------------------------------------------------

CSV = (
    "id;name;lat;lon;partner;address;sip_account;camera_id;key;colour\n"
    "park-01;Парк Горького;43,2567;76.9286;Parks;ул. Гоголя, 1;kiosk-park-01;cam-1;;green\n"
    f"atm-07;Halyk ATM;43.24;76.95;Halyk Bank;;;;{'s' * 40};red\n"
)


def _rows(data: str | bytes, name: str = "kiosks.csv") -> ri.Outcome:
    raw = data.encode() if isinstance(data, str) else data
    return ri.read_rows(raw, name, parse.COLUMN_ALIASES, parse.REQUIRED_COLUMNS)


def test_csv_rows_become_kiosks() -> None:
    outcome = _rows(CSV)
    assert not outcome.problems and outcome.ignored_columns == ["colour"]
    (park, no_key), (atm, key) = (parse.kiosk_row(r.fields) for r in outcome.rows)
    assert [r.line for r in outcome.rows] == [2, 3]
    assert park.lat == 43.2567 and park.sip_account == "kiosk-park-01" and no_key is None
    assert atm.partner == "Halyk Bank" and atm.camera_id is None and key == "s" * 40


def test_geojson_rows_with_their_lines() -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": "park-01",
                "geometry": {"type": "Point", "coordinates": [76.9, 43.2]},
                "properties": {"name": "A"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [76.9, 43.3]},
                "properties": {"id": "atm-1", "name": "B", "partner": "Bank"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": []},
                "properties": {},
            },
        ],
    }
    text = json.dumps(doc, indent=1)
    outcome = _rows(text, "kiosks.geojson")
    assert [parse.kiosk_row(r.fields)[0].id for r in outcome.rows] == ["park-01", "atm-1"]
    assert outcome.problems and "Point" in outcome.problems[0].message
    lines = text.split("\n")
    for row in outcome.rows:
        assert lines[row.line - 1].strip() == "{"
    assert (
        outcome.problems[0].line is not None and lines[outcome.problems[0].line - 1].strip() == "{"
    )


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("name;lat;lon\nx;1;2\n", "missing column(s): id"),
        ("id,name,lat,lon,latitude\n", "both mean lat"),
        ("", "header"),
        (b"id,name,lat,lon\n\xff\xfe,1,2,3\n", "UTF-8"),
        ('{"type": "Feature"}', "FeatureCollection"),
        ("{not json", "not valid JSON"),
    ],
)
def test_file_problems(data: str | bytes, fragment: str) -> None:
    outcome = _rows(data, "f.txt")
    assert not outcome.rows and any(fragment in str(p) for p in outcome.problems), outcome


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"id": "a b", "name": "x", "lat": "1", "lon": "2"}, "id"),
        ({"id": "a", "name": "", "lat": "1", "lon": "2"}, "name is required"),
        ({"id": "a", "name": "x", "lat": "91", "lon": "2"}, "lat must be within"),
        ({"id": "a", "name": "x", "lat": "nan", "lon": "2"}, "lat must be within"),
        ({"id": "a", "name": "x", "lat": "1", "lon": "east"}, "lon must be a number"),
        ({"id": "a", "name": "x", "lat": "1", "lon": "2", "key": "short"}, "key must be"),
        ({"id": "a", "name": "x", "lat": "1", "lon": "2", "sip_account": "a b"}, "sip_account"),
        ({"id": "a", "name": "x", "lat": "1", "lon": "2", "enabled": "maybe"}, "enabled"),
    ],
)
def test_row_problems(row: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ri.RowError) as info:
        parse.kiosk_row(row)
    assert fragment in str(info.value)


def test_a_field_spanning_lines_is_reported_on_its_line() -> None:
    outcome = _rows('id,name,lat,lon\na,"broken,1,2\nb,fine,1,2\n')
    assert outcome.problems and outcome.problems[0].line == 2


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), geo=st.booleans())
def test_fuzzed_files_never_crash(data: bytes, geo: bool) -> None:
    outcome = _rows(data, "x.geojson" if geo else "x.csv")
    for row in outcome.rows:
        with contextlib.suppress(ri.RowError):
            parse.kiosk_row(row.fields)


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
