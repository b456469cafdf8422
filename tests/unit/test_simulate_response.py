"""Response to the scene in the model (issue 13): the unit that can be there first goes, at
the scenario's speed over streets longer than the straight line; a busy unit is free again
where it last was; the report gives each district's times against the 7-minute target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from contact.cli import main
from contact.domain.geo import haversine_m as distance_m
from contact.simulate.des import Outcome
from contact.simulate.response import respond
from contact.simulate.scenario import District, Scenario, Units, load_scenario
from contact.simulate.traffic import Arrival

CENTRE = (43.25, 76.95)


def _scenario(units: Units) -> Scenario:
    # one district of (almost) no size: its one unit starts at the centre
    district = District(name="Центр", weight=1, lat=CENTRE[0], lon=CENTRE[1], radius_km=0.001)
    return load_scenario("almaty-weekday").model_copy(
        update={"districts": [district], "units": units}
    )


def _at(t: float, north_m: float, needs_unit: bool = True) -> Arrival:
    lat = CENTRE[0] + north_m / 111_320
    return Arrival(t, "voice", "emergency", "ru", "Центр", lat, CENTRE[1], 60, 1e9, needs_unit)


def _answered(*times: float) -> Outcome:
    return Outcome({}, [], [], 0, dict(enumerate(times)))


def test_the_nearest_unit_goes_and_a_busy_one_comes_when_it_is_free() -> None:
    units = Units(per_district=1, speed_kmh=36, road_factor=1.0, dispatch_s=60, on_scene_min=10)
    scenario = _scenario(units)
    one_km = _at(0.0, 1000)
    # answered at 5 s: sent at 65 s, 1 km at 10 m/s = 100 s, so on scene at 165 s
    got = respond(scenario, [one_km], _answered(5.0), seed=1)
    assert got is not None
    assert got.by_district["Центр"] == pytest.approx([165.0], abs=2)
    # a second incident at the same time: the one unit comes after 10 min on the first,
    # from the first scene (2 km further north)
    two = [one_km, _at(0.0, 3000)]
    got = respond(scenario, two, _answered(5.0, 5.0), seed=1)
    assert got is not None
    first, second = got.by_district["Центр"]
    assert first == pytest.approx(165.0, abs=2)
    assert second == pytest.approx(165.0 + 600 + 200, abs=3)
    assert got.figures()["within_target"] == 0.5  # 7 min: the first made it


def test_roads_are_longer_than_the_crow_flies() -> None:
    straight = respond(
        _scenario(Units(per_district=1, speed_kmh=36, road_factor=1.0, dispatch_s=0)),
        [_at(0.0, 1000)],
        _answered(0.0),
        seed=1,
    )
    streets = respond(
        _scenario(Units(per_district=1, speed_kmh=36, road_factor=1.5, dispatch_s=0)),
        [_at(0.0, 1000)],
        _answered(0.0),
        seed=1,
    )
    assert straight is not None and streets is not None
    assert streets.by_district["Центр"][0] == pytest.approx(
        1.5 * straight.by_district["Центр"][0], rel=0.01
    )


def test_only_answered_contacts_that_need_a_unit_get_one() -> None:
    scenario = _scenario(Units(per_district=2))
    arrivals = [_at(0.0, 100), _at(1.0, 100, needs_unit=False), _at(2.0, 100)]
    got = respond(scenario, arrivals, Outcome({}, [], [], 0, {0: 3.0, 1: 4.0}), seed=1)
    assert got is not None
    assert len(got.by_district["Центр"]) == 1 and got.unanswered == 1
    assert respond(scenario.model_copy(update={"units": None}), arrivals, _answered(), 1) is None


def test_distance_is_great_circle() -> None:
    assert distance_m(43.25, 76.95, 43.25 + 1 / 111.32, 76.95) == pytest.approx(1000, rel=0.01)


def test_units_in_an_unknown_district_are_refused() -> None:
    data = load_scenario("almaty-weekday").model_dump()
    data["units"] = {"counts": {"Нигде": 3}}
    with pytest.raises(ValidationError, match="unknown district: Нигде"):
        Scenario.model_validate(data)


def test_the_model_report_gives_each_district_its_response(tmp_path: Path) -> None:
    assert main(["simulate", "almaty-weekday", "--model", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    response = report["response"]
    assert response["target_min"] == 7
    districts = load_scenario("almaty-weekday").districts
    assert set(response["districts"]) == {d.name for d in districts}
    assert response["all"]["sent"] == sum(f["sent"] for f in response["districts"].values())
    assert response["all"]["sent"] > 500
    assert 0 < response["all"]["within_target"] < 1
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "Response to the scene (target 7 min)" in page and "Алмалинский" in page
