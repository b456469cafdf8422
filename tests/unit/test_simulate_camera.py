"""The camera edge's alerts: sure enough for the center's thresholds, never dropped below them,
their kind following the contact's; its cameras in the layout the administrators' import reads."""

from __future__ import annotations

import pytest

from contact.channels.camera.parse import KINDS
from contact.config import CameraSettings
from contact.dispatch.camera_import import parse_cameras_csv
from contact.simulate.edges.camera import ALERT_KINDS, cameras_csv, confidence


@pytest.mark.parametrize("threshold", [0.0, 0.6, 0.8, 0.9, 0.999, 1.0])
def test_an_alert_is_as_sure_as_the_center_asks(threshold: float) -> None:
    assert threshold <= confidence(threshold) <= 1.0


def test_every_kind_of_contact_is_a_kind_of_alert_the_center_knows() -> None:
    settings = CameraSettings()
    for kinds in ALERT_KINDS.values():
        for kind in kinds:
            assert kind in KINDS
            assert confidence(settings.threshold(kind)) >= settings.threshold(kind)


def test_the_cameras_are_what_the_import_reads() -> None:
    text = cameras_csv([("sim1-abc-c0", 43.252, 76.912), ("sim1-abc-c1", 43.2, 76.8)])
    report = parse_cameras_csv(text.splitlines(keepends=True))
    assert report.errors == []
    assert [(c.id, c.lat, c.lon) for c in report.cameras] == [
        ("sim1-abc-c0", 43.252, 76.912),
        ("sim1-abc-c1", 43.2, 76.8),
    ]
