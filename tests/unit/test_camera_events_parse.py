"""The camera alert parser: fields, dedupe key, the contact; fuzzed with hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.channels.camera import parse
from contact.config import CameraSettings
from contact.domain.model import ChannelKind, LocationSource, Priority
from contact.domain.triage import Verdict, priority_for
from contact.errors import ContactError, Unprocessable
from contact.ports import CameraInfo
from contact.triage import default_triage

CAMERA = CameraInfo(id="cam-1", lat=43.2, lon=76.9, name="Абая / Достык")
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def good(**extra: Any) -> dict[str, Any]:
    return {"camera_id": "cam-1", "kind": "weapon", "confidence": 0.91, **extra}


def test_alert_to_contact_at_the_camera() -> None:
    alert = parse.alert(
        good(snapshot_url="https://vms.example/snap/1.jpg", time="2027-01-01T10:00:00+05:00")
    )
    cmd = parse.contact_for(alert, CAMERA, "g1")
    assert cmd.channel is ChannelKind.CAMERA and cmd.external_id == "alert:g1"
    assert cmd.location is not None and cmd.location.source is LocationSource.CAMERA
    assert "https://vms.example/snap/1.jpg" in cmd.text and "0.91" in cmd.text
    # a weapon reads as danger: lifted to SOS; a crowd stays a chat-level alert
    assert priority_for(cmd.channel, triage(cmd.triage_text or "")) is Priority.SOS
    crowd = parse.contact_for(parse.alert(good(kind="crowd")), CAMERA, "g2")
    assert priority_for(crowd.channel, triage(crowd.triage_text or "")) is Priority.CHAT
    # triage reads what was seen, never the camera's id or its snapshot's address
    named = parse.alert(good(kind="crowd", snapshot_url="https://vms.example/snap/1.jpg"))
    named_cmd = parse.contact_for(named, CAMERA, "g4")
    assert "cam-1" in named_cmd.text and named_cmd.triage_text == "скопление людей"
    subject = parse.contact_for(parse.alert(good(kind="crowd", subject="драка")), CAMERA, "g5")
    assert subject.triage_text == "скопление людей драка"
    assert parse.contact_for(alert, None, "g3").location is None  # unknown camera


def test_dedupe_key_is_camera_kind_and_subject() -> None:
    a = parse.alert(good(subject="777ABC02", kind="wanted_plate"))
    b = parse.alert(good(subject="777ABC02", kind="wanted_plate", confidence=0.99))
    c = parse.alert(good(subject="111XYZ02", kind="wanted_plate"))
    d = parse.alert(good(camera_id="cam-2", subject="777ABC02", kind="wanted_plate"))
    assert a.dedupe_key == b.dedupe_key
    assert len({a.dedupe_key, c.dedupe_key, d.dedupe_key}) == 3


@pytest.mark.parametrize(
    ("extra", "error_id"),
    [
        ({"camera_id": None}, "invalid_camera_id"),
        ({"camera_id": "a b"}, "invalid_camera_id"),
        ({"kind": "fire"}, "invalid_kind"),
        ({"kind": ["weapon"]}, "invalid_kind"),
        ({"confidence": 1.5}, "invalid_confidence"),
        ({"confidence": "0.9"}, "invalid_confidence"),
        ({"confidence": True}, "invalid_confidence"),
        ({"confidence": float("nan")}, "invalid_confidence"),
        ({"snapshot_url": "ftp://x/y.jpg"}, "invalid_snapshot_url"),
        ({"snapshot_url": "javascript:alert(1)"}, "invalid_snapshot_url"),
        ({"subject": ""}, "invalid_subject"),
        ({"subject": "a\nb"}, "invalid_subject"),
        ({"event_id": "a b"}, "invalid_event_id"),
        ({"time": "noon"}, "invalid_time"),
        ({"time": 10**40}, "invalid_time"),
    ],
)
def test_rejections(extra: dict[str, Any], error_id: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse.alert(good(**extra))
    assert info.value.error_id == error_id


def test_thresholds_per_kind_from_config() -> None:
    settings_ = CameraSettings(threshold_crowd=0.95)
    assert settings_.threshold("crowd") == 0.95
    for kind in parse.KINDS:
        assert 0 <= settings_.threshold(kind) <= 1


@settings(max_examples=400, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["camera_id", "kind", "confidence", "snapshot_url", "time", "subject", "event_id"]
        ),
        JSONISH,
    )
)
def test_fuzzed_alerts_never_crash(fields: dict[str, Any]) -> None:
    try:
        alert = parse.alert(fields)
        parse.contact_for(alert, CAMERA, "g")
    except ContactError as exc:
        assert exc.status == 422


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
