"""cameras: the view cone, its edges, north, high latitudes, the antimeridian, ranking, and a
cross-check of the index against a plain Python loop."""

import math
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.dispatch.cameras import ANGLE_WEIGHT, DISTANCE_WEIGHT, Camera, CameraIndex
from contact.dispatch.geo import (
    LatLon,
    angle_diff_deg,
    destination,
    haversine_m,
    initial_bearing_deg,
)
from contact.domain.model import Location

ALMATY = LatLon(43.238, 76.945)


def cam(
    id: str = "c1",
    at: LatLon = ALMATY,
    heading: float = 90.0,
    fov: float = 60.0,
    range_m: float = 100.0,
) -> Camera:
    return Camera(id, at.lat, at.lon, heading, fov, range_m, f"rtsp://cams.example/{id}")


def seen(camera: Camera, bearing: float, distance: float) -> bool:
    """Whether the camera sees the point at this bearing and distance from it, asked of the
    index and of the camera itself (they must agree)."""
    point = destination(camera.lat, camera.lon, bearing, distance)
    by_index = bool(CameraIndex([camera]).cameras_seeing(point))
    assert by_index == camera.sees(point)
    return by_index


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "id"),
        ({"id": " c1"}, "id"),
        ({"lat": math.nan}, "lat"),
        ({"lat": 90.5}, "lat"),
        ({"lon": -180.5}, "lon"),
        ({"heading_deg": -1.0}, "heading"),
        ({"heading_deg": 360.1}, "heading"),
        ({"fov_deg": 0.0}, "fov"),
        ({"fov_deg": 361.0}, "fov"),
        ({"range_m": 0.0}, "range"),
        ({"range_m": math.inf}, "range"),
        ({"stream_url": "ftp://x/y"}, "stream_url"),
        ({"stream_url": "cams.example/c1"}, "stream_url"),
        ({"stream_url": "rtsp://cam 1"}, "stream_url"),
        ({"snapshot_url": "rtsp://x/y.jpg"}, "snapshot_url"),
    ],
)
def test_camera_rejects_bad_fields(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(cam(), **change)


def test_heading_360_is_north() -> None:
    assert cam(heading=360).heading_deg == 0


# --- the cone ------------------------------------------------------------------------------


def test_view_cone_edges_are_inclusive() -> None:
    c = cam(heading=90, fov=60, range_m=100)
    assert seen(c, 90, 50)
    assert seen(c, 60.01, 50) and seen(c, 119.99, 50)  # just inside heading ± fov/2
    assert not seen(c, 59.9, 50) and not seen(c, 120.1, 50)  # just outside
    assert seen(c, 90, 100)  # exactly at range
    assert seen(c, 90, 99.9)
    assert not seen(c, 90, 100.5)  # just beyond
    assert not seen(c, 270, 10)  # behind


def test_heading_across_north() -> None:
    c = cam(heading=350, fov=40)  # sees 330..10
    for bearing in (331, 335, 350, 359.9, 0, 5, 9):
        assert seen(c, bearing, 50), bearing
    for bearing in (329, 11, 90, 170, 180):
        assert not seen(c, bearing, 50), bearing


def test_heading_just_east_of_north_sees_west_of_north() -> None:
    c = cam(heading=10, fov=40)  # sees 350..30
    assert seen(c, 351, 50) and seen(c, 0, 50) and seen(c, 29, 50)
    assert not seen(c, 349, 50) and not seen(c, 31, 50)


def test_heading_north_with_a_wide_lens() -> None:
    c = cam(heading=0, fov=270)  # sees 225..135 through north
    assert seen(c, 226, 50) and seen(c, 0, 50) and seen(c, 134, 50)
    assert not seen(c, 180, 50)


def test_a_360_camera_sees_all_around_within_range() -> None:
    c = cam(heading=0, fov=360, range_m=60)
    for bearing in range(0, 360, 15):
        assert seen(c, bearing, 59)
    assert not seen(c, 180, 61)


def test_a_point_at_the_camera_is_seen() -> None:
    c = cam()
    assert CameraIndex([c]).cameras_seeing(ALMATY)[0].distance_m == 0


@pytest.mark.parametrize("lat", [69.6, 78.0, -77.8])
def test_cone_at_high_latitudes(lat: float) -> None:
    c = cam(at=LatLon(lat, 18.9), heading=350, fov=40, range_m=150)
    assert seen(c, 335, 140) and seen(c, 5, 140)
    assert not seen(c, 325, 100) and not seen(c, 15, 100)
    assert not seen(c, 0, 151)


def test_range_is_measured_in_metres_not_degrees_at_78_north() -> None:
    # 0.002 degrees of longitude is ~46 m at 78 N but ~162 m on the equator
    c = cam(at=LatLon(78.0, 15.6), heading=90, fov=20, range_m=60)
    assert CameraIndex([c]).cameras_seeing(LatLon(78.0, 15.602))
    assert not CameraIndex([c]).cameras_seeing(LatLon(78.0, 15.604))


def test_across_the_antimeridian() -> None:
    east_looking = cam("e", at=LatLon(65.0, 179.999), heading=90, fov=60, range_m=200)
    west_looking = cam("w", at=LatLon(65.0, -179.999), heading=270, fov=60, range_m=200)
    wrong_way = cam("x", at=LatLon(65.0, 179.9985), heading=270, fov=60, range_m=200)
    index = CameraIndex([east_looking, west_looking, wrong_way])
    on_the_other_side = LatLon(65.0, -179.9995)  # ~70 m east of "e", ~23 m west of "w"
    assert {s.camera.id for s in index.cameras_seeing(on_the_other_side)} == {"e", "w"}
    others = index.nearest_others(on_the_other_side, n=5)
    assert [s.camera.id for s in others] == ["x"]


# --- ranking -------------------------------------------------------------------------------


def test_ranking_follows_the_documented_score() -> None:
    point = ALMATY
    near_on_axis = cam("near", at=destination(*point, 270, 20), heading=90, fov=60, range_m=100)
    far_on_axis = cam("far", at=destination(*point, 270, 80), heading=90, fov=60, range_m=100)
    near_off_axis = cam("edge", at=destination(*point, 270, 20), heading=115, fov=60, range_m=100)
    dome = cam("dome", at=destination(*point, 0, 30), heading=0, fov=360, range_m=60)
    index = CameraIndex([far_on_axis, near_off_axis, dome, near_on_axis])
    ranked = index.cameras_seeing(point)
    expected = {
        "near": DISTANCE_WEIGHT * 0.2,
        "far": DISTANCE_WEIGHT * 0.8,
        "edge": DISTANCE_WEIGHT * 0.2 + ANGLE_WEIGHT * 25 / 30,
        "dome": DISTANCE_WEIGHT * 0.5,
    }
    assert [s.camera.id for s in ranked] == sorted(expected, key=expected.__getitem__)
    for s in ranked:
        assert s.sees and s.score == pytest.approx(expected[s.camera.id], abs=1e-4)
    edge = next(s for s in ranked if s.camera.id == "edge")
    assert edge.off_axis_deg == pytest.approx(-25, abs=1e-3)  # point is left of the axis
    assert edge.bearing_deg == pytest.approx(90, abs=1e-3)


def test_k_limits_the_answer_and_accepts_a_location() -> None:
    cameras = [cam(f"c{i}", at=destination(*ALMATY, 270, 10 + i), heading=90) for i in range(12)]
    index = CameraIndex(cameras)
    point = Location(ALMATY.lat, ALMATY.lon)
    assert [s.camera.id for s in index.cameras_seeing(point, k=3)] == ["c0", "c1", "c2"]
    assert len(index.cameras_seeing(point)) == 8
    assert index.cameras_seeing(point, k=0) == []


def test_nearest_others_are_those_that_do_not_see_nearest_first() -> None:
    point = ALMATY
    seeing = cam("sees", at=destination(*point, 270, 30), heading=90)
    looking_away = cam("away", at=destination(*point, 270, 10), heading=270)
    far = cam("far", at=destination(*point, 0, 5_000), heading=0)
    middle = cam("mid", at=destination(*point, 90, 400), heading=0)
    index = CameraIndex([seeing, looking_away, far, middle])
    others = index.nearest_others(point, n=5)
    assert [s.camera.id for s in others] == ["away", "mid", "far"]
    assert all(not s.sees and s.score is None for s in others)
    assert others[0].distance_m == pytest.approx(10, abs=1e-3)
    view = index.around(point, k=8, others=2)
    assert [s.camera.id for s in view.seeing] == ["sees"]
    assert [s.camera.id for s in view.others] == ["away", "mid"]


def test_empty_index_and_lookups() -> None:
    empty = CameraIndex([])
    assert empty.cameras_seeing(ALMATY) == [] and empty.nearest_others(ALMATY) == []
    index = CameraIndex([cam("a"), cam("b")])
    assert index.get("a") == cam("a") and index.get("zz") is None
    assert len(index) == 2 and index.max_range_m == 100
    with pytest.raises(ValueError, match="duplicate"):
        CameraIndex([cam("a"), cam("a")])
    with pytest.raises(ValueError, match="latitude"):
        index.cameras_seeing(LatLon(math.nan, 0))


# --- cross-check against a plain Python loop ----------------------------------------------


def loop_seeing(cameras: list[Camera], point: LatLon, k: int) -> list[str]:
    scored = []
    for c in cameras:
        d = haversine_m(c.lat, c.lon, point.lat, point.lon)
        if d > c.range_m:
            continue
        off = angle_diff_deg(initial_bearing_deg(c.lat, c.lon, point.lat, point.lon), c.heading_deg)
        if c.fov_deg < 360 and abs(off) > c.fov_deg / 2:
            continue
        angle_term = 0.0 if c.fov_deg >= 360 else abs(off) / (c.fov_deg / 2)
        scored.append((0.6 * d / c.range_m + 0.4 * angle_term, d, c.id))
    return [c_id for _, _, c_id in sorted(scored)[:k]]


def random_cameras(rng: random.Random, center: LatLon, n: int, spread_m: float) -> list[Camera]:
    cameras = []
    for i in range(n):
        at = destination(*center, rng.uniform(0, 360), spread_m * math.sqrt(rng.random()))
        fov = 360.0 if rng.random() < 0.1 else rng.uniform(10, 180)
        cameras.append(cam(f"c{i}", at, rng.uniform(0, 360), fov, rng.uniform(20, 300)))
    return cameras


@pytest.mark.parametrize(
    "center",
    [ALMATY, LatLon(69.6, 18.95), LatLon(78.0, 15.6), LatLon(-33.9, 18.4), LatLon(65.0, 179.995)],
)
def test_index_matches_a_plain_loop_on_random_cameras(center: LatLon) -> None:
    rng = random.Random(f"{center}")
    cameras = random_cameras(rng, center, 1_500, spread_m=1_500)
    index = CameraIndex(cameras)
    for _ in range(150):
        point = destination(*center, rng.uniform(0, 360), 1_500 * math.sqrt(rng.random()))
        want = loop_seeing(cameras, point, k=8)
        assert [s.camera.id for s in index.cameras_seeing(point, k=8)] == want
        assert [s.camera.id for s in index.scan_seeing(point, k=8)] == want
        every = {s.camera.id for s in index.cameras_seeing(point, k=len(cameras))}
        assert every == set(loop_seeing(cameras, point, k=len(cameras)))
        others = index.nearest_others(point, n=5)
        nearest = sorted(
            (haversine_m(c.lat, c.lon, point.lat, point.lon), c.id)
            for c in cameras
            if c.id not in every
        )
        assert [s.camera.id for s in others] == [c_id for _, c_id in nearest[:5]]


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-180, 180),
    heading=st.floats(0, 360),
    fov=st.floats(1, 360),
    range_m=st.floats(5, 2_000),
    bearing=st.floats(0, 360, exclude_max=True),
    fraction=st.floats(0, 1.5),
)
def test_one_camera_index_agrees_with_the_cone_rule(
    lat: float,
    lon: float,
    heading: float,
    fov: float,
    range_m: float,
    bearing: float,
    fraction: float,
) -> None:
    c = cam(at=LatLon(lat, lon), heading=heading, fov=fov, range_m=range_m)
    point = destination(lat, lon, bearing, fraction * range_m)
    d = haversine_m(lat, lon, point.lat, point.lon)
    off = abs(angle_diff_deg(initial_bearing_deg(lat, lon, point.lat, point.lon), heading))
    # away from the edges (where tolerances decide) the rule is unambiguous
    if abs(d - range_m) < 0.01 or 0 < d < 0.01 or (d > 0 and abs(off - fov / 2) < 1e-3):
        return
    expected = d <= range_m and (fov >= 360 or d == 0 or off <= fov / 2)
    assert bool(CameraIndex([c]).cameras_seeing(point)) == expected == c.sees(point)
