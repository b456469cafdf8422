"""The school alarm parser: the per-site key, the alarm payload, site rows; fuzzed."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.channels import registry_import as ri
from contact.channels.alarm import parse
from contact.domain.model import ChannelKind, LocationSource, Priority
from contact.domain.triage import Verdict, priority_for
from contact.errors import ContactError, Unauthorized, Unprocessable
from contact.ports import AlarmSite
from contact.triage import default_triage

SITE = AlarmSite(
    id="school-12",
    name="Школа-гимназия №12",
    lat=43.25,
    lon=76.91,
    address="мкр. Самал-2, 5",
    camera_ids=("cam-s12-gate", "cam-s12-hall"),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def test_bearer_key() -> None:
    assert parse.bearer_key("Bearer abc") == "abc"
    assert parse.bearer_key("bearer  abc ") == "abc"
    for header, error_id in [
        (None, "site_key_required"),
        ("", "site_key_required"),
        ("Basic abc", "bad_site_key"),
        ("Bearer", "bad_site_key"),
        ("Bearer a b", "bad_site_key"),
    ]:
        with pytest.raises(Unauthorized) as info:
            parse.bearer_key(header)
        assert info.value.error_id == error_id


def test_alarm_is_a_top_priority_contact_at_the_site() -> None:
    alarm = parse.alarm(
        {"site_id": "school-12", "zone": "2 этаж", "kind": "intruder", "event_id": "e-1"}
    )
    cmd = parse.contact_for(alarm, SITE)
    assert cmd.channel is ChannelKind.SCHOOL_ALARM
    assert priority_for(cmd.channel, triage(cmd.text)) is Priority.ALARM
    assert cmd.citizen == "site:school-12" and cmd.external_id == "school-12/e-1"
    assert cmd.location is not None and cmd.location.source is LocationSource.FIXED
    assert "Школа-гимназия №12" in cmd.text and "2 этаж" in cmd.text and "посторонний" in cmd.text
    assert "ещё" in parse.describe(alarm, SITE, repeat=True).lower()


def test_defaults() -> None:
    alarm = parse.alarm({"site_id": "school-12"})
    assert (alarm.kind, alarm.zone, alarm.event_id) == ("panic", "?", None)
    assert parse.external_id(alarm) is None


@pytest.mark.parametrize(
    ("fields", "error_id"),
    [
        ({}, "invalid_site_id"),
        ({"site_id": 12}, "invalid_site_id"),
        ({"site_id": "a b"}, "invalid_site_id"),
        ({"site_id": "s", "kind": "drill"}, "invalid_kind"),
        ({"site_id": "s", "kind": {"a": 1}}, "invalid_kind"),
        ({"site_id": "s", "zone": "x" * 101}, "invalid_zone"),
        ({"site_id": "s", "zone": "a\nb"}, "invalid_zone"),
        ({"site_id": "s", "zone": 3}, "invalid_zone"),
        ({"site_id": "s", "event_id": "a b"}, "invalid_event_id"),
    ],
)
def test_rejections(fields: dict[str, Any], error_id: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse.alarm(fields)
    assert info.value.error_id == error_id


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(st.sampled_from(["site_id", "zone", "kind", "event_id", "x"]), JSONISH),
    header=st.one_of(st.none(), st.text(max_size=40)),
)
def test_fuzzed_alarms_never_crash(fields: dict[str, Any], header: str | None) -> None:
    try:
        alarm = parse.alarm(fields)
        parse.contact_for(alarm, SITE)
    except ContactError as exc:
        assert exc.status == 422
    with contextlib.suppress(Unauthorized):
        parse.bearer_key(header)


def test_site_rows() -> None:
    csv = (
        "site_id,name,type,latitude,longitude,address,cameras,key\n"
        'school-12,Школа №12,school,43.25,76.91,"мкр. Самал-2, 5",cam-a;cam-b cam-a,\n'
        f"kg-3,Детсад №3,kindergarten,43.2,76.8,,,{'k' * 32}\n"
    )
    outcome = ri.read_rows(csv.encode(), "sites.csv", parse.COLUMN_ALIASES, parse.REQUIRED_COLUMNS)
    assert not outcome.problems
    (school, none), (kg, key) = (parse.site_row(r.fields) for r in outcome.rows)
    assert school.camera_ids == ("cam-a", "cam-b") and school.address == "мкр. Самал-2, 5"
    assert none is None and kg.kind == "kindergarten" and key == "k" * 32


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"id": "s", "name": "x", "lat": "1", "lon": "2", "kind": "School!"}, "kind"),
        ({"id": "s", "name": "x", "lat": "1", "lon": "2", "camera_ids": "a;b c;d$"}, "camera id"),
        ({"id": "s", "name": "x", "lat": "1", "lon": "2", "camera_ids": 5}, "list"),
    ],
)
def test_site_row_problems(row: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ri.RowError) as info:
        parse.site_row(row)
    assert fragment in str(info.value)


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
