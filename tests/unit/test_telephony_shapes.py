"""PIDF-LO shapes that are not a point or a circle still place the caller: a Polygon (cell
sectors, indoor positioning), a Prism, an ArcBand, an Ellipse give their centroid with a radius
that covers the whole shape. The recorded values are what Asterisk 22.10's GEOLOC_PROFILE gave
for sipp's PIDF-LO bodies through [contact-caller] (tests/integration/test_voice_location.py)."""

from __future__ import annotations

import base64
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contact.domain.model import Location, LocationSource
from contact.telephony import parse, shapes

RECORDED = {
    "polygon": 'format="GML",shape="Polygon",crs="2d",pos="43.311 76.910",pos="43.313 76.915",'
    'pos="43.309 76.918",pos="43.311 76.910"',
    "poslist": 'format="GML",shape="Polygon",crs="2d",'
    'posList="43.311 76.910 43.313 76.915 43.309 76.918 43.311 76.910"',
    "prism": 'format="GML",shape="Prism",crs="3d",'
    'posList="43.311 76.910 10 43.313 76.915 10 43.309 76.918 10 43.311 76.910 10",height="3"',
    "arcband": 'format="GML",shape="ArcBand",crs="2d",pos="43.311 76.910",innerRadius="1000",'
    'outerRadius="2500",startAngle="30 degrees",openingAngle="120 degrees"',
    "ellipse": 'format="GML",shape="Ellipse",crs="2d",pos="43.311 76.910",semiMajorAxis="120",'
    'semiMinorAxis="50",orientation="45 degrees"',
}
TRIANGLE = [(43.311, 76.910), (43.313, 76.915), (43.309, 76.918)]


def _geo(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def _located(text: str | bytes) -> Location:
    location = parse.parse_geo(_geo(text)).location
    assert location is not None
    return location


def _covers(location: Location, points: list[tuple[float, float]]) -> None:
    assert location.accuracy_m is not None
    for lat, lon in points:
        assert shapes.distance_m(location.lat, location.lon, lat, lon) <= location.accuracy_m


@pytest.mark.parametrize("name", ["polygon", "poslist", "prism"])
def test_a_polygon_gives_its_centroid_and_a_radius_over_every_vertex(name: str) -> None:
    location = _located(RECORDED[name])
    assert location.source is LocationSource.PIDF_LO
    # the triangle's centroid is the mean of its three corners
    assert location.lat == pytest.approx(43.311, abs=1e-5)
    assert location.lon == pytest.approx((76.910 + 76.915 + 76.918) / 3, abs=1e-5)
    _covers(location, TRIANGLE)
    farthest = max(shapes.distance_m(location.lat, location.lon, *v) for v in TRIANGLE)
    assert location.accuracy_m is not None and location.accuracy_m <= farthest + 1.5


def test_an_arc_band_gives_the_sectors_centroid_and_covers_the_sector() -> None:
    location = _located(RECORDED["arcband"])
    # on the bisector (30° + 120°/2 = 90°: due east of the mast), between the radii
    north, east = (
        shapes.distance_m(43.311, 76.910, location.lat, 76.910),
        shapes.distance_m(43.311, 76.910, 43.311, location.lon),
    )
    assert north < 5 and 1000 < east < 2500 and location.lon > 76.910
    assert location.accuracy_m is not None and location.accuracy_m < 2500  # tighter than the mast
    ring = []
    for deg in range(30, 151, 5):
        for r in (1000, 1750, 2500):
            a = math.radians(deg)
            d_lat = r * math.cos(a) / shapes.EARTH_RADIUS_M
            d_lon = r * math.sin(a) / (shapes.EARTH_RADIUS_M * math.cos(math.radians(43.311)))
            ring.append((43.311 + math.degrees(d_lat), 76.910 + math.degrees(d_lon)))
    _covers(location, ring)


def test_angles_in_radians_and_a_full_ring() -> None:
    degrees = _located(RECORDED["arcband"])
    radians = _located(
        RECORDED["arcband"]
        .replace('"30 degrees"', f'"{math.radians(30)} radians"')
        .replace('"120 degrees"', f'"{math.radians(120)} radians"')
    )
    assert (radians.lat, radians.lon) == pytest.approx((degrees.lat, degrees.lon), abs=1e-6)
    ring = _located(RECORDED["arcband"].replace('"120 degrees"', '"360 degrees"'))
    assert (ring.lat, ring.lon) == pytest.approx((43.311, 76.910), abs=1e-6)
    assert ring.accuracy_m is not None and 2500 <= ring.accuracy_m <= 2502


def test_an_ellipse_is_within_its_semi_major_axis() -> None:
    location = _located(RECORDED["ellipse"])
    assert (location.lat, location.lon, location.accuracy_m) == (43.311, 76.910, 120)


@pytest.mark.parametrize(
    "text",
    [
        'format="GML",shape="Polygon",pos="1 2"',  # fewer than three positions
        'format="GML",shape="Polygon",pos="43.3 76.9",pos="43.3 76.9",pos="x y"',
        'format="GML",shape="Polygon",posList="43.3 76.9 43.4"',
        'format="GML",shape="Polygon",posList="91 0 92 0 93 1"',  # out of range
        # a polygon over half the country locates nothing a unit can go to
        'format="GML",shape="Polygon",posList="43 51 43 87 50 70"',
        'format="GML",shape="Circle",pos="43.2 76.9",radius="1e308"',
        'format="GML",shape="ArcBand",pos="43.3 76.9",innerRadius="5",outerRadius="1",'
        'startAngle="0",openingAngle="90"',
        'format="GML",shape="ArcBand",pos="43.3 76.9",innerRadius="0",outerRadius="10",'
        'startAngle="0 grads",openingAngle="90"',
        'format="GML",shape="ArcBand",pos="43.3 76.9",innerRadius="0",outerRadius="10"',
        'format="GML",shape="Torus",pos="43.3 76.9"',
    ],
)
def test_shapes_that_cannot_be_placed_give_no_location(text: str) -> None:
    assert parse.parse_geo(_geo(text)).location is None


def test_a_polygon_cut_by_the_dialplans_byte_cap_is_placed_from_its_whole_positions() -> None:
    vertices = [
        (43.30 + 0.01 * math.sin(i / 10), 76.90 + 0.01 * math.cos(i / 10)) for i in range(60)
    ]
    full = 'format="GML",shape="Polygon",crs="2d",' + ",".join(
        f'pos="{lat:.6f} {lon:.6f}"' for lat, lon in vertices
    )
    raw = full.encode()
    assert len(raw) > parse.GEO_RAW_MAX
    for cut in (parse.GEO_RAW_MAX, parse.GEO_RAW_MAX - 4, parse.GEO_RAW_MAX - 9):
        location = _located(raw[:cut])
        # never a vertex made of a cut number (`pos="43.31 7` would be 70 degrees away)
        assert location.accuracy_m is not None and location.accuracy_m < 2000
    as_list = 'format="GML",shape="Polygon",crs="2d",posList="' + " ".join(
        f"{lat:.6f} {lon:.6f}" for lat, lon in vertices
    )
    location = _located(as_list.encode()[: parse.GEO_RAW_MAX])
    assert location.accuracy_m is not None and location.accuracy_m < 2000


COORD = st.tuples(
    st.floats(min_value=42.0, max_value=44.0), st.floats(min_value=75.0, max_value=78.0)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(COORD, min_size=3, max_size=15), st.booleans())
def test_any_polygon_that_is_placed_covers_all_its_vertices(
    vertices: list[tuple[float, float]], as_list: bool
) -> None:
    if as_list:
        body = 'posList="' + " ".join(f"{lat!r} {lon!r}" for lat, lon in vertices) + '"'
    else:
        body = ",".join(f'pos="{lat!r} {lon!r}"' for lat, lon in vertices)
    location = parse.parse_geo(_geo(f'format="GML",shape="Polygon",crs="2d",{body}')).location
    if location is None:  # wider than shapes.MAX_RADIUS_M
        farthest = max(shapes.distance_m(*a, *b) for a in vertices for b in vertices)
        assert farthest > shapes.MAX_RADIUS_M
        return
    _covers(location, vertices)


ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-400.0, 40_000.0)


@settings(max_examples=400, deadline=None)
@given(st.tuples(ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, ANY_FLOAT, ANY_FLOAT))
def test_an_arc_band_of_any_numbers_never_raises(
    numbers: tuple[float, float, float, float, float, float],
) -> None:
    placed = shapes.arc_band(*numbers)
    if placed is not None:
        Location(lat=placed.lat, lon=placed.lon, accuracy_m=placed.radius_m)
        # a band is never inside a circle narrower than half its depth
        assert placed.radius_m is not None and placed.radius_m >= (numbers[3] - numbers[2]) / 2


@settings(max_examples=300, deadline=None)
@given(
    COORD,
    st.floats(0.0, 20_000.0),
    st.floats(0.0, 20_000.0),
    st.floats(-360.0, 720.0),
    st.floats(0.5, 400.0),
    st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=20),
)
def test_an_arc_band_covers_every_point_of_its_sector(
    mast: tuple[float, float],
    inner: float,
    depth: float,
    start: float,
    opening: float,
    inside: list[tuple[float, float]],
) -> None:
    placed = shapes.arc_band(*mast, inner, inner + depth, start, opening)
    assert placed is not None and placed.radius_m is not None
    k = math.cos(math.radians(mast[0]))
    for along, across in inside:
        r = inner + depth * along
        a = math.radians(start + min(opening, 360.0) * across)
        lat = mast[0] + math.degrees(r * math.cos(a) / shapes.EARTH_RADIUS_M)
        lon = mast[1] + math.degrees(r * math.sin(a) / (shapes.EARTH_RADIUS_M * k))
        assert shapes.distance_m(placed.lat, placed.lon, lat, lon) <= placed.radius_m
