"""geo: distances, bearings, angle differences, local projection, point-in-polygon."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contact.dispatch.geo import (
    EARTH_RADIUS_M,
    INSIDE,
    ON_BORDER,
    OUTSIDE,
    BBox,
    LocalProjection,
    Polygon,
    angle_diff_deg,
    angle_diff_deg_array,
    destination,
    haversine_m,
    haversine_m_array,
    initial_bearing_deg,
    initial_bearing_deg_array,
    point_in_polygon,
    ring_position,
)

ONE_DEGREE_M = EARTH_RADIUS_M * math.pi / 180

lats = st.floats(-89.0, 89.0)
lons = st.floats(-180.0, 180.0)


def test_haversine_one_degree_on_the_equator_and_a_meridian() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(ONE_DEGREE_M)
    assert haversine_m(43, 77, 44, 77) == pytest.approx(ONE_DEGREE_M)


def test_a_degree_of_longitude_shrinks_with_latitude() -> None:
    assert haversine_m(60, 10, 60, 11) == pytest.approx(ONE_DEGREE_M / 2, rel=1e-4)
    assert haversine_m(78, 10, 78, 11) == pytest.approx(
        ONE_DEGREE_M * math.cos(math.radians(78)), rel=1e-3
    )


def test_haversine_across_the_antimeridian_is_short() -> None:
    assert haversine_m(0, 179.9, 0, -179.9) == pytest.approx(0.2 * ONE_DEGREE_M)


def test_bearings_of_the_cardinal_directions() -> None:
    assert initial_bearing_deg(0, 0, 1, 0) == pytest.approx(0)
    assert initial_bearing_deg(0, 0, 0, 1) == pytest.approx(90)
    assert initial_bearing_deg(0, 0, -1, 0) == pytest.approx(180)
    assert initial_bearing_deg(0, 0, 0, -1) == pytest.approx(270)


def test_bearing_just_west_of_north_is_near_360_not_negative() -> None:
    b = initial_bearing_deg(43, 77, 43.01, 76.9999)
    assert 359 < b < 360


def test_bearing_across_the_antimeridian_points_east() -> None:
    assert initial_bearing_deg(0, 179.9, 0, -179.9) == pytest.approx(90)
    assert initial_bearing_deg(0, -179.9, 0, 179.9) == pytest.approx(270)


def test_same_point_has_zero_distance_and_bearing() -> None:
    assert haversine_m(43.2, 76.9, 43.2, 76.9) == 0
    assert initial_bearing_deg(43.2, 76.9, 43.2, 76.9) == 0


@pytest.mark.parametrize(
    ("a", "b", "diff"),
    [(350, 10, -20), (10, 350, 20), (0, 0, 0), (90, 270, -180), (359.5, 0.5, -1), (180, 0, -180)],
)
def test_angle_diff_is_the_signed_smallest_difference(a: float, b: float, diff: float) -> None:
    assert angle_diff_deg(a, b) == pytest.approx(diff)


@given(st.floats(-720, 720), st.floats(-720, 720))
def test_angle_diff_stays_in_half_open_range_and_matches_array(a: float, b: float) -> None:
    d = angle_diff_deg(a, b)
    assert -180 <= d < 180
    assert math.isclose(math.cos(math.radians(d)), math.cos(math.radians(a - b)), abs_tol=1e-9)
    assert float(angle_diff_deg_array(a, b)) == pytest.approx(d)


@given(lats, lons, st.floats(0, 359.99), st.floats(1, 5_000))
def test_destination_is_at_the_distance_and_bearing_asked(
    lat: float, lon: float, bearing: float, distance: float
) -> None:
    p = destination(lat, lon, bearing, distance)
    assert haversine_m(lat, lon, p.lat, p.lon) == pytest.approx(distance, rel=1e-6, abs=1e-6)
    assert abs(angle_diff_deg(initial_bearing_deg(lat, lon, p.lat, p.lon), bearing)) < 1e-5
    assert -180 <= p.lon <= 180


@given(lats, lons, lats, lons)
def test_array_forms_agree_with_scalar_forms(a: float, b: float, c: float, d: float) -> None:
    assert float(haversine_m_array(a, b, c, d)) == pytest.approx(haversine_m(a, b, c, d), abs=1e-6)
    if haversine_m(a, b, c, d) > 1:
        got = float(initial_bearing_deg_array(a, b, c, d))
        assert abs(angle_diff_deg(got, initial_bearing_deg(a, b, c, d))) < 1e-6


def test_local_projection_round_trips_and_measures_metres() -> None:
    proj = LocalProjection(43.238, 76.945)
    p = proj.to_latlon(1_000, -2_000)
    x, y = proj.to_xy(p.lat, p.lon)
    assert (x, y) == pytest.approx((1_000, -2_000))
    assert haversine_m(43.238, 76.945, p.lat, p.lon) == pytest.approx(
        math.hypot(1_000, 2_000), rel=2e-3
    )
    lat, lon = proj.to_latlon_array(np.array([1_000.0]), np.array([-2_000.0]))
    assert (float(lat[0]), float(lon[0])) == pytest.approx((p.lat, p.lon))


def test_local_projection_is_continuous_across_the_antimeridian() -> None:
    proj = LocalProjection(65.0, 179.99)
    x, _ = proj.to_xy(65.0, -179.99)
    assert x == pytest.approx(haversine_m(65.0, 179.99, 65.0, -179.99), rel=1e-3)
    assert proj.to_latlon(x, 0).lon == pytest.approx(-179.99)


# --- polygons ------------------------------------------------------------------------------

SQUARE = np.array([(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)])  # (lon, lat)
HOLE = np.array([(4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0)])


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (5, 5, INSIDE),
        (5, 11, OUTSIDE),
        (-0.1, 5, OUTSIDE),
        (0, 5, ON_BORDER),  # bottom edge
        (5, 10, ON_BORDER),  # right edge
        (10, 10, ON_BORDER),  # vertex
        (0, 0, ON_BORDER),  # first vertex
        (0, 12, OUTSIDE),  # on the edge's line, beyond the edge
        (10, -3, OUTSIDE),  # ray along the top edge
    ],
)
def test_ring_position_of_a_square(lat: float, lon: float, where: int) -> None:
    assert ring_position(SQUARE, lat, lon) == where


def test_ring_position_when_the_ray_passes_through_vertices() -> None:
    diamond = np.array([(0.0, 5.0), (5.0, 0.0), (10.0, 5.0), (5.0, 10.0)])
    assert ring_position(diamond, 5, 5) == INSIDE  # ray through the vertex at (10, 5)
    assert ring_position(diamond, 5, -1) == OUTSIDE  # ray through both side vertices
    assert ring_position(diamond, 0, 4) == OUTSIDE  # level with the bottom vertex
    assert ring_position(diamond, 2.5, 2.5) == ON_BORDER  # middle of a diagonal edge


def test_ring_position_of_a_concave_ring() -> None:
    u_shape = np.array(
        [
            (0.0, 0.0),
            (9.0, 0.0),
            (9.0, 9.0),
            (6.0, 9.0),
            (6.0, 3.0),
            (3.0, 3.0),
            (3.0, 9.0),
            (0.0, 9.0),
        ]
    )
    assert ring_position(u_shape, 6, 1.5) == INSIDE  # left arm
    assert ring_position(u_shape, 6, 4.5) == OUTSIDE  # the notch
    assert ring_position(u_shape, 6, 7.5) == INSIDE  # right arm
    assert ring_position(u_shape, 3, 4.5) == ON_BORDER  # bottom of the notch


def test_polygon_with_a_hole() -> None:
    polygon = Polygon.from_rings(SQUARE, [HOLE])
    assert polygon.contains(2, 2)
    assert not polygon.contains(5, 5)  # in the hole
    assert polygon.contains(4, 5)  # on the hole's border: belongs to the polygon
    assert polygon.contains(6, 6)  # on a hole vertex
    assert polygon.contains(10, 3)  # on the exterior border
    assert not polygon.contains(20, 20)


def test_point_on_a_border_within_float_noise_counts_as_on_it() -> None:
    edge = np.array([(76.9, 43.2), (77.0, 43.3), (76.9, 43.3)])
    lat = 43.2 + 0.1 / 3
    lon = 76.9 + 0.1 / 3
    assert ring_position(edge, lat, lon) == ON_BORDER


def test_point_in_polygon_accepts_closed_geojson_rings() -> None:
    exterior = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    assert point_in_polygon(2, 2, exterior, [hole])
    assert not point_in_polygon(5, 5, exterior, [hole])


def test_polygons_at_high_latitude() -> None:
    # a district in Longyearbyen, 78 N: the ring is read in the lon/lat plane like anywhere else
    ring = np.array([(15.50, 78.20), (15.70, 78.20), (15.70, 78.25), (15.50, 78.25)])
    polygon = Polygon.from_rings(ring)
    assert polygon.contains(78.22, 15.6)
    assert not polygon.contains(78.22, 15.71)
    assert polygon.contains(78.25, 15.6)


@given(st.floats(-1, 11), st.floats(-1, 11))
def test_square_with_hole_matches_the_obvious_rule(lat: float, lon: float) -> None:
    # within the border tolerance of a line the answer is "on the border", tested above
    assume(all(abs(v - line) > 1e-6 or v == line for v in (lat, lon) for line in (0, 4, 6, 10)))
    expected_in_square = 0 <= lat <= 10 and 0 <= lon <= 10
    strictly_in_hole = 4 < lat < 6 and 4 < lon < 6
    polygon = Polygon.from_rings(SQUARE, [HOLE])
    assert polygon.contains(lat, lon) == (expected_in_square and not strictly_in_hole)


def test_bbox() -> None:
    box = BBox.of_ring(SQUARE)
    assert box == BBox(0, 0, 10, 10)
    assert box.contains(10, 0) and not box.contains(10.1, 0)
    assert box.union(BBox(-1, 2, 3, 20)) == BBox(-1, 0, 10, 20)
