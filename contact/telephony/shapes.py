"""PIDF-LO GML shapes (RFC 5491) → one point and a radius that covers the whole shape, which is
what an operator's map and the nearest-unit search take. Pure arithmetic, total: a shape that
cannot be placed (too few vertices, out of range, wider than MAX_RADIUS_M) gives None.

Cell sectors arrive as ArcBands or Polygons, indoor positioning as Polygons or Prisms; the point
is the shape's centroid (area centroid for a polygon and an arc band), the radius the greatest
great-circle distance from it to the shape's boundary, rounded up to a whole metre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
# wider than this, a shape says nothing a unit can drive to (an Almaty district is ~20 km,
# a rural cell ~35 km): it gives no location rather than a circle over half a country
MAX_RADIUS_M = 100_000.0
_ARC_STEP_DEG = 1.0  # the arcs of an arc band are walked in steps this fine …
# … and a point of an arc between two steps is at most this share of the radius further out
_ARC_SLACK = 1.0 - math.cos(math.radians(_ARC_STEP_DEG / 2))


@dataclass(frozen=True, slots=True)
class Placed:
    lat: float
    lon: float
    radius_m: float | None  # None: a point


def _wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _valid(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class _Plane:
    """A local east/north plane in metres around a reference point (equirectangular): exact
    enough within MAX_RADIUS_M; the final radius is measured on the sphere anyway."""

    def __init__(self, lat: float, lon: float) -> None:
        self.lat, self.lon = lat, lon
        self.k = math.radians(1.0) * EARTH_RADIUS_M  # metres per degree of latitude
        self.cos = math.cos(math.radians(lat))

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        return _wrap_lon(lon - self.lon) * self.k * self.cos, (lat - self.lat) * self.k

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat + y / self.k, _wrap_lon(self.lon + x / (self.k * self.cos))


def _covering(
    lat: float, lon: float, boundary: Sequence[tuple[float, float]], slack_m: float = 0.0
) -> Placed | None:
    if not _valid(lat, lon) or not all(_valid(*p) for p in boundary):
        return None
    reach = max((distance_m(lat, lon, b_lat, b_lon) for b_lat, b_lon in boundary), default=0.0)
    radius = math.ceil(reach + slack_m)
    if not math.isfinite(radius) or radius > MAX_RADIUS_M:
        return None
    return Placed(lat, lon, float(radius))


def circle(lat: float, lon: float, radius_m: float | None) -> Placed | None:
    """Point (no radius), Circle, Sphere; an Ellipse or Ellipsoid by its semi-major axis."""
    if not _valid(lat, lon):
        return None
    if radius_m is None or not math.isfinite(radius_m) or radius_m < 0:
        return Placed(lat, lon, None)
    if radius_m > MAX_RADIUS_M:
        return None
    return Placed(lat, lon, radius_m)


def polygon(vertices: Sequence[tuple[float, float]]) -> Placed | None:
    """A Polygon's (or a Prism's base's) vertices, the closing repeat of the first optional:
    its area centroid (the mean of its vertices when it has no area) and the farthest vertex,
    which is the farthest point of a polygon from any point."""
    if len(vertices) < 3 or not all(_valid(*v) for v in vertices):
        return None
    plane = _Plane(*vertices[0])
    points = [plane.to_xy(*v) for v in vertices]
    if points[0] == points[-1]:
        points = points[:-1]
    if not points:
        return None
    area2 = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area2 += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    extent = max(max(abs(x), abs(y)) for x, y in points)
    xs, ys = [x for x, _ in points], [y for _, y in points]
    if abs(area2) > 1e-9 * max(extent, 1.0) ** 2:
        cx, cy = cx / (3 * area2), cy / (3 * area2)
    else:  # a line or a point: no area to weigh
        cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    placed = _covering(*plane.to_latlon(cx, cy), vertices)
    mean = plane.to_latlon(sum(xs) / len(xs), sum(ys) / len(ys))
    # a self-crossing polygon's signed-area centroid can fall far outside it: then the
    # vertices' mean, which lies inside their hull (so its reach is at most their diameter)
    diameter = max(distance_m(*a, *b) for a in vertices for b in vertices)
    if placed is None or (placed.radius_m or 0.0) > diameter:
        return _covering(*mean, vertices)
    return placed


def arc_band(
    lat: float,
    lon: float,
    inner_m: float,
    outer_m: float,
    start_deg: float,
    opening_deg: float,
) -> Placed | None:
    """An ArcBand: the ring between two radii around a point, from a start angle (clockwise from
    north) through an opening angle: a cell sector. Its area centroid lies on the bisector."""
    values = (lat, lon, inner_m, outer_m, start_deg, opening_deg)
    if not all(math.isfinite(v) for v in values) or not _valid(lat, lon):
        return None
    if not 0 <= inner_m <= outer_m or outer_m > MAX_RADIUS_M or opening_deg <= 0:
        return None
    if abs(lat) > 89.9:  # no east and west to speak of
        return None
    opening = min(opening_deg, 360.0)
    half = math.radians(opening) / 2
    # the band's mean distance from the mast, weighed by area: ⅔ (R³ - r³) / (R² - r²)
    total = inner_m + outer_m
    mean = (2 / 3) * (outer_m**2 + outer_m * inner_m + inner_m**2) / total if total > 0 else 0.0
    reach = mean * (math.sin(half) / half if half > 0 else 1.0)
    bisector = math.radians(start_deg) + half
    plane = _Plane(lat, lon)
    c_lat, c_lon = plane.to_latlon(reach * math.sin(bisector), reach * math.cos(bisector))
    steps = max(1, math.ceil(opening / _ARC_STEP_DEG))
    boundary = []
    for i in range(steps + 1):
        angle = math.radians(start_deg + opening * i / steps)
        for r in (inner_m, outer_m):
            boundary.append(plane.to_latlon(r * math.sin(angle), r * math.cos(angle)))
    return _covering(c_lat, c_lon, boundary, slack_m=outer_m * _ARC_SLACK + 1.0)
