"""districts: loading GeoJSON (Polygon, MultiPolygon, holes), locating points, clear errors."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from contact.dispatch.districts import (
    DistrictDataError,
    DistrictIndex,
    load_districts,
    load_districts_file,
)


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def district(id: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": id,
        "properties": {
            "name_kk": f"{id} ауданы",
            "name_ru": f"{id} район",
            "department": f"УП {id}",
        },
        "geometry": geometry,
    }


# west: lon 76.0-76.5; east: lon 76.5-77.0, with a hole 76.7-76.8 filled by "enclave";
# "split" is a MultiPolygon of the enclave and a strip to the south. Latitudes 43.0-43.5.
CITY: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        district("west", {"type": "Polygon", "coordinates": [square(76.0, 43.0, 76.5, 43.5)]}),
        district(
            "east",
            {
                "type": "Polygon",
                "coordinates": [square(76.5, 43.0, 77.0, 43.5), square(76.7, 43.2, 76.8, 43.3)],
            },
        ),
        district(
            "split",
            {
                "type": "MultiPolygon",
                "coordinates": [
                    [square(76.7, 43.2, 76.8, 43.3)],
                    [square(76.0, 42.8, 77.0, 43.0)],
                ],
            },
        ),
        district(
            "lake",  # a hole nobody fills
            {
                "type": "Polygon",
                "coordinates": [square(77.0, 43.0, 77.5, 43.5), square(77.2, 43.2, 77.3, 43.3)],
            },
        ),
    ],
}


@pytest.fixture(scope="module")
def index() -> DistrictIndex:
    return DistrictIndex.from_geojson(CITY)


def located(index: DistrictIndex, lat: float, lon: float) -> str | None:
    found = index.locate(lat, lon)
    return None if found is None else found.id


def test_locates_points_inside_districts(index: DistrictIndex) -> None:
    assert located(index, 43.25, 76.25) == "west"
    assert located(index, 43.1, 76.9) == "east"
    assert located(index, 42.9, 76.3) == "split"
    found = index.locate(43.25, 76.25)
    assert found is not None and found.department == "УП west" and found.name_kk == "west ауданы"


def test_a_hole_belongs_to_whoever_fills_it(index: DistrictIndex) -> None:
    assert located(index, 43.25, 76.75) == "split"  # the enclave, a second polygon
    assert located(index, 43.25, 77.25) is None  # the lake: outside every district


def test_outside_every_district_is_none(index: DistrictIndex) -> None:
    assert located(index, 44.0, 76.5) is None
    assert located(index, 43.25, 75.9) is None


def test_borders_and_vertices_belong_to_the_first_district_in_file_order(
    index: DistrictIndex,
) -> None:
    assert located(index, 43.25, 76.5) == "west"  # shared edge of west and east
    assert located(index, 43.5, 76.5) == "west"  # shared vertex
    assert located(index, 43.5, 76.9) == "east"  # outer edge
    assert located(index, 43.0, 76.9) == "east"  # shared with the southern strip
    assert located(index, 43.2, 76.75) == "east"  # the hole's border belongs to east
    assert located(index, 43.25, 77.3) == "lake"  # the lake's shore belongs to the district
    assert located(index, 43.0, 77.0) == "east"  # corner of east, split and lake


def test_districts_at_78_north() -> None:
    ring = square(15.5, 78.2, 15.7, 78.25)
    idx = DistrictIndex(
        load_districts(
            {
                "type": "FeatureCollection",
                "features": [district("lyb", {"type": "Polygon", "coordinates": [ring]})],
            }
        )
    )
    assert located(idx, 78.22, 15.6) == "lyb"
    assert located(idx, 78.26, 15.6) is None


def test_lookup_helpers(index: DistrictIndex) -> None:
    assert len(index) == 4
    west = index.get("west")
    assert west is not None and west.bbox.min_lon == 76.0
    assert index.get("nowhere") is None
    assert west.contains(43.25, 76.25)


def broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(CITY)
    change(data["features"][1])
    return data


def geometry(kind: str, coordinates: Any) -> dict[str, Any]:
    return broken(lambda f: f.update(geometry={"type": kind, "coordinates": coordinates}))


OPEN_RING = [[76, 43], [77, 43], [77, 44], [76, 43.1]]
SHORT_RING = [[76, 43], [77, 43], [76, 43]]
FLAT_RING = [[76, 43], [77, 43], [78, 43], [76, 43]]
TEXT_IN_RING = [[76, 43], ["77", 43], [77, 44], [76, 43]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Feature"}, "must be a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "has no features"),
        (
            geometry("Point", [76, 43]),
            "feature #1 (district 'east'): geometry must be a Polygon or MultiPolygon, got 'Point'",
        ),
        (geometry("Polygon", [OPEN_RING]), "exterior ring: not closed"),
        (geometry("Polygon", [SHORT_RING]), "at least 4 positions"),
        (geometry("Polygon", [FLAT_RING]), "has no area"),
        (geometry("Polygon", [TEXT_IN_RING]), "position #1: not a [lon, lat] pair"),
        (geometry("Polygon", [square(76, 89, 77, 91)]), "not a [lon, lat] pair"),
        (geometry("Polygon", []), "needs at least an exterior ring"),
        (
            geometry("Polygon", [square(76, 43, 77, 44), square(78, 43, 79, 44)]),
            "hole #1: lies outside the exterior ring",
        ),
        (
            geometry("MultiPolygon", [[square(76, 43, 77, 44)], [[[1, 2]]]]),
            "polygon #1 exterior ring: a linear ring needs at least 4 positions",
        ),
        (broken(lambda f: f.update(id="west")), "district id 'west' appears twice"),
        (
            broken(lambda f: f["properties"].pop("department")),
            "missing or empty properties: department",
        ),
        (broken(lambda f: f.pop("id")), "feature #1: no district id"),
        (broken(lambda f: f.update(type="Thing")), "feature #1: not a GeoJSON Feature"),
    ],
)
def test_malformed_districts_are_rejected_clearly(data: dict[str, Any], message: str) -> None:
    with pytest.raises(DistrictDataError) as caught:
        load_districts(data)
    assert message in caught.value.message
    assert caught.value.error_id == "district_invalid" and caught.value.status == 422


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "districts.geojson"
    path.write_text(json.dumps(CITY, ensure_ascii=False), encoding="utf-8")
    assert [d.id for d in load_districts_file(path)] == ["west", "east", "split", "lake"]
    path.write_text('{"type": ', encoding="utf-8")
    with pytest.raises(DistrictDataError, match="not valid JSON"):
        load_districts_file(path)


def test_an_english_name_is_optional_and_checked() -> None:
    city = copy.deepcopy(CITY)
    city["features"][0]["properties"]["name_en"] = "  West District "
    found = {d.id: d for d in load_districts(city)}
    assert found["west"].name_en == "West District" and found["east"].name_en is None
    for wrong in ("", "   ", 5):
        city["features"][0]["properties"]["name_en"] = wrong
        with pytest.raises(DistrictDataError, match="name_en"):
            load_districts(city)
