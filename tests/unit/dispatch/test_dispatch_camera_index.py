"""The camera index at scale: range classes (a search reaches only as far as the cameras that
could see the point), long-range cameras far away, the index against a brute-force reference
on random cameras of every range, and the column storage a node keeps them in."""

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.dispatch import camera_table
from contact.dispatch.camera_table import CameraTable, CameraTableBuilder
from contact.dispatch.cameras import (
    MAX_RANGE_M,
    RANGE_CLASS_BASE_M,
    Camera,
    CameraIndex,
)
from contact.dispatch.geo import LatLon, destination, haversine_m
from tests.unit.dispatch.test_dispatch_cameras import loop_seeing

ALMATY = LatLon(43.238, 76.945)


def cam(
    id: str,
    at: LatLon,
    heading: float = 90.0,
    fov: float = 60.0,
    range_m: float = 100.0,
    snapshot: str | None = None,
    district: str | None = None,
) -> Camera:
    return Camera(
        id, at.lat, at.lon, heading, fov, range_m, f"rtsp://cams.example/{id}", snapshot, district
    )


def street_cameras(rng: random.Random, n: int, spread_m: float) -> list[Camera]:
    return [
        cam(
            f"s{i}",
            destination(*ALMATY, rng.uniform(0, 360), spread_m * math.sqrt(rng.random())),
            rng.uniform(0, 360),
            rng.choice([60.0, 90.0, 360.0]),
            rng.choice([40.0, 80.0, 150.0]),
        )
        for i in range(n)
    ]


# --- long-range cameras --------------------------------------------------------------------


def test_long_range_cameras_far_away_are_found_among_many_short_ones() -> None:
    rng = random.Random(9)
    point = ALMATY
    mast = cam("mast", destination(*point, 200, 2_900), heading=20, fov=30, range_m=3_000)
    tower = cam("tower", destination(*point, 90, 1_800), heading=0, fov=360, range_m=2_000)
    short_of_it = cam("short", destination(*point, 0, 3_050), heading=180, range_m=3_000)
    looking_away = cam("away", destination(*point, 270, 1_000), heading=270, range_m=2_500)
    near = cam("near", destination(*point, 270, 30), heading=90, range_m=60)
    cameras = [*street_cameras(rng, 3_000, 4_000), mast, tower, short_of_it, looking_away, near]
    index = CameraIndex(cameras)
    seeing = {s.camera.id for s in index.cameras_seeing(point, k=len(cameras))}
    assert {"mast", "tower", "near"} <= seeing
    assert not {"short", "away"} & seeing
    assert seeing == set(loop_seeing(cameras, point, k=len(cameras)))
    assert index.max_range_m == 3_000


def test_a_long_range_camera_alone_in_its_class_and_at_the_largest_range() -> None:
    point = LatLon(51.13, 71.43)
    far = cam("far", destination(*point, 45, MAX_RANGE_M - 0.5), heading=225, range_m=MAX_RANGE_M)
    index = CameraIndex([far, cam("here", point, range_m=10)])
    assert [s.camera.id for s in index.cameras_seeing(point)] == ["here", "far"]
    beyond = destination(*point, 225, 1.0)  # 1 m further from "far" than its range
    assert [s.camera.id for s in index.cameras_seeing(beyond)] == []
    assert [s.camera.id for s in index.nearest_others(beyond)] == ["here", "far"]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 5])
def test_ranges_at_class_edges_see_exactly_their_range(k: int) -> None:
    edge = RANGE_CLASS_BASE_M * 2**k  # the largest range of class k
    point = ALMATY
    cameras = [
        cam("at-edge", destination(*point, 270, edge), heading=90, range_m=edge),
        cam("just-over", destination(*point, 0, edge * 1.001), heading=180, range_m=edge * 1.001),
        cam("too-far", destination(*point, 90, edge + 0.5), heading=270, range_m=edge),
    ]
    index = CameraIndex(cameras)
    assert {s.camera.id for s in index.cameras_seeing(point)} == {"at-edge", "just-over"}


# --- the index against brute force --------------------------------------------------------


def mixed_cameras(rng: random.Random, center: LatLon, n: int, spread_m: float) -> list[Camera]:
    """Ranges log-uniform from 5 m to the largest allowed, so every class has members."""
    cameras = []
    for i in range(n):
        at = destination(*center, rng.uniform(0, 360), spread_m * math.sqrt(rng.random()))
        fov = 360.0 if rng.random() < 0.1 else rng.uniform(5, 200)
        range_m = math.exp(rng.uniform(math.log(5.0), math.log(MAX_RANGE_M)))
        cameras.append(cam(f"m{i}", at, rng.uniform(0, 360), fov, range_m))
    return cameras


@pytest.mark.parametrize(
    "center", [ALMATY, LatLon(69.6, 18.95), LatLon(-33.9, 18.4), LatLon(65.0, 179.99)]
)
def test_index_matches_brute_force_with_every_range_class(center: LatLon) -> None:
    rng = random.Random(f"classes {center}")
    cameras = mixed_cameras(rng, center, 2_000, spread_m=6_000)
    index = CameraIndex(cameras)
    for _ in range(120):
        point = destination(*center, rng.uniform(0, 360), 6_000 * math.sqrt(rng.random()))
        want = loop_seeing(cameras, point, k=8)
        assert [s.camera.id for s in index.cameras_seeing(point, k=8)] == want
        assert [s.camera.id for s in index.scan_seeing(point, k=8)] == want
        every = {s.camera.id for s in index.cameras_seeing(point, k=len(cameras))}
        assert every == set(loop_seeing(cameras, point, k=len(cameras)))
        nearest = sorted(
            (haversine_m(c.lat, c.lon, point.lat, point.lon), c.id)
            for c in cameras
            if c.id not in every
        )
        others = index.nearest_others(point, n=5)
        assert [s.camera.id for s in others] == [c_id for _, c_id in nearest[:5]]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    ranges=st.lists(st.floats(1.0, MAX_RANGE_M), min_size=1, max_size=40),
)
def test_index_agrees_with_brute_force_for_any_ranges(seed: int, ranges: list[float]) -> None:
    rng = random.Random(seed)
    cameras = [
        cam(
            f"h{i}",
            destination(*ALMATY, rng.uniform(0, 360), rng.uniform(0, 6_000)),
            rng.uniform(0, 360),
            rng.choice([30.0, 120.0, 360.0]),
            r,
        )
        for i, r in enumerate(ranges)
    ]
    index = CameraIndex(cameras)
    for _ in range(10):
        point = destination(*ALMATY, rng.uniform(0, 360), rng.uniform(0, 6_000))
        got = [s.camera.id for s in index.cameras_seeing(point, k=len(cameras))]
        assert got == [s.camera.id for s in index.scan_seeing(point, k=len(cameras))]


# --- columns -------------------------------------------------------------------------------


def test_the_table_gives_back_every_camera_unchanged() -> None:
    cameras = [
        cam("a", ALMATY, snapshot="https://cams.example/a.jpg", district="almaly"),
        cam("Алматы-2", ALMATY, heading=360.0, district="медеу"),  # non-ASCII, north as 360
        cam("c", LatLon(-90.0, -180.0), fov=360.0, range_m=MAX_RANGE_M, district="almaly"),
        cam("d", LatLon(90.0, 180.0), snapshot="http://ü.example/d.jpg"),
    ]
    table = CameraTable.from_cameras(cameras)
    assert list(table) == cameras and len(table) == 4
    assert table[1].heading_deg == 0.0 and table[-1] == cameras[-1]
    assert table[1:3] == cameras[1:3] and table[::-1] == cameras[::-1]
    with pytest.raises(IndexError):
        table[4]
    assert [table.find(c.id) for c in cameras] == [0, 1, 2, 3]
    assert table.find("zz") is None and table.find("") is None
    index = CameraIndex(table)
    assert index.get("Алматы-2") == cameras[1] and index.cameras is table


def test_the_table_is_built_from_chunks_of_rows_as_the_database_gives_them() -> None:
    rng = random.Random(3)
    cameras = street_cameras(rng, 1_000, 2_000)
    rows = [
        (c.id, c.lat, c.lon, c.heading_deg, c.fov_deg, c.range_m, c.stream_url, None, None)
        for c in cameras
    ]
    builder = CameraTableBuilder()
    for start in range(0, len(rows), 333):
        builder.add(rows[start : start + 333])
    table = builder.build()
    assert list(table) == cameras
    assert [table.find(c.id) for c in cameras[::97]] == list(range(0, 1_000, 97))
    assert len(CameraTableBuilder().build()) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({1: math.nan}, "lat"),
        ({2: 180.5}, "lon"),
        ({3: -0.1}, "heading"),
        ({4: 0.0}, "fov"),
        ({5: math.inf}, "range"),
        ({5: MAX_RANGE_M + 1}, "range"),
        ({0: " c"}, "id"),
        ({0: ""}, "id"),
    ],
)
def test_the_table_refuses_rows_a_camera_would_refuse(
    change: dict[int, object], message: str
) -> None:
    good = ("c", 43.2, 76.9, 90.0, 60.0, 100.0, "rtsp://x/c", None, None)
    bad = tuple(change.get(i, v) for i, v in enumerate(good))
    builder = CameraTableBuilder()
    with pytest.raises(ValueError, match=message):
        builder.add([("ok", *good[1:]), bad])


def test_duplicate_ids_are_refused_across_chunks() -> None:
    builder = CameraTableBuilder()
    builder.add_cameras([cam("a", ALMATY), cam("b", ALMATY)])
    builder.add_cameras([cam("c", ALMATY), cam("a", ALMATY)])
    with pytest.raises(ValueError, match="duplicate camera id 'a'"):
        builder.build()


def test_an_empty_district_name_keeps_its_own_code() -> None:
    cameras = [cam("a", ALMATY, district=""), cam("b", ALMATY, district="x"), cam("c", ALMATY)]
    assert list(CameraTable.from_cameras(cameras)) == cameras


def test_memory_per_camera_is_bounded() -> None:
    """What docs/dispatch.md promises a node: the columns and trees of a camera with the
    demo city's URLs stay under 300 bytes (one object per camera cost ~900 bytes)."""
    rng = np.random.default_rng(1)
    n = 20_000
    cameras = [
        Camera(
            f"ALA-{i:06d}",
            43.2 + float(rng.uniform(0, 0.1)),
            76.9 + float(rng.uniform(0, 0.1)),
            90.0,
            60.0,
            float(rng.choice([40.0, 100.0, 200.0, 2_500.0])),
            f"rtsp://video.demo.invalid/ALA-{i:06d}",
            f"https://video.demo.invalid/snapshots/ALA-{i:06d}.jpg",
            "almaly",
        )
        for i in range(n)
    ]
    index = CameraIndex(cameras)
    text = sum(len(c.id) + len(c.stream_url) + len(c.snapshot_url or "") for c in cameras)
    assert index.nbytes / n < 300
    assert (index.nbytes - text) / n < 200  # what is not the text itself


def test_ids_whose_hashes_collide_are_still_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(camera_table, "_id_hash", len)  # every one-letter id collides
    table = CameraTable.from_cameras([cam(i, ALMATY) for i in ("a", "b", "cc", "c")])
    assert [table.find(i) for i in ("a", "b", "cc", "c", "d", "ccc")] == [0, 1, 2, 3, None, None]
    builder = CameraTableBuilder()
    builder.add_cameras([cam("a", ALMATY), cam("b", ALMATY), cam("c", ALMATY)])
    builder.add_cameras([cam("a", ALMATY)])  # a, b, c, a: equal hashes, the a's not neighbours
    with pytest.raises(ValueError, match="duplicate camera id 'a'"):
        builder.build()
