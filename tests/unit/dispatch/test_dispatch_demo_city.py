"""demo_city: deterministic, well-formed, and its CSV imports back unchanged."""

from pathlib import Path

import pytest

from contact.dispatch.camera_import import import_cameras
from contact.dispatch.demo_city import DemoCity, generate_city


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return generate_city(seed=7, cameras=3_000, units=200)


def test_same_seed_same_city(city: DemoCity) -> None:
    again = generate_city(seed=7, cameras=3_000, units=200)
    assert again.cameras == city.cameras and again.units == city.units
    assert again.districts_geojson == city.districts_geojson
    other = generate_city(seed=8, cameras=3_000, units=200)
    assert other.cameras != city.cameras


def test_sizes_and_defaults(city: DemoCity) -> None:
    assert len(city.cameras) == 3_000 and len(city.units) == 200
    assert len({c.id for c in city.cameras}) == 3_000
    assert 0 < sum(c.fov_deg == 360 for c in city.cameras) < 600


def test_districts_include_a_hole_and_a_multipolygon(city: DemoCity) -> None:
    assert len(city.districts) == 7
    assert any(p.holes for d in city.districts for p in d.polygons)
    assert any(len(d.polygons) > 1 for d in city.districts)
    index = city.district_index()
    airport = city.projection.to_latlon(7_000, 5_000)
    assert index.locate(*airport) is None  # the hole in Turksib nobody fills
    enclave = city.projection.to_latlon(0, -2_000)
    found = index.locate(*enclave)
    assert found is not None and found.id == "bostandyq"


def test_camera_districts_agree_with_the_index(city: DemoCity) -> None:
    index = city.district_index()
    for camera in city.cameras[:500]:
        found = index.locate(camera.lat, camera.lon)
        assert (found.id if found else None) == camera.district


def test_cameras_see_points_in_the_city(city: DemoCity) -> None:
    cameras = city.camera_index()
    seen = sum(bool(cameras.cameras_seeing(p)) for p in city.random_points(200, seed=1))
    assert seen > 0


def test_cameras_csv_imports_back_unchanged(city: DemoCity, tmp_path: Path) -> None:
    path = tmp_path / "cameras.csv"
    assert city.write_cameras_csv(path) == 3_000
    report = import_cameras(path)
    assert report.ok and report.cameras == city.cameras
