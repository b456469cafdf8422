"""Spherical geometry for dispatch: distances, bearings, angles, local projection, polygons.

Conventions: public functions take (lat, lon) in degrees; polygon rings store GeoJSON order
(lon, lat). Distances are great-circle metres on a sphere of the mean Earth radius, which is
within 0.5 % of the ellipsoid: plenty for "which camera, which patrol".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from contact.domain.geo import EARTH_RADIUS_M, haversine_m

FloatArray = NDArray[np.float64]


class HasLatLon(Protocol):
    """Anything with a position: `contact.domain.model.Location`, `LatLon`, a unit position."""

    @property
    def lat(self) -> float: ...

    @property
    def lon(self) -> float: ...


class LatLon(NamedTuple):
    lat: float
    lon: float


# --- distances and bearings ----------------------------------------------------------------


def haversine_m_array(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> FloatArray:
    """Vectorised `haversine_m`; arguments broadcast."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    return out


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Bearing at point 1 towards point 2: degrees in [0, 360), 0 = north, clockwise.

    Identical points give 0 (the bearing is undefined there).
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def initial_bearing_deg_array(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> FloatArray:
    """Vectorised `initial_bearing_deg`; arguments broadcast."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    cos_p2 = np.cos(p2)
    y = np.sin(dl) * cos_p2
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * cos_p2 * np.cos(dl)
    out: FloatArray = np.degrees(np.arctan2(y, x)) % 360.0
    return out


def angle_diff_deg(a: float, b: float) -> float:
    """Signed smallest difference a - b in degrees, in [-180, 180). 350 vs 10 gives -20."""
    return (a - b + 180.0) % 360.0 - 180.0


def angle_diff_deg_array(a: ArrayLike, b: ArrayLike) -> FloatArray:
    """Vectorised `angle_diff_deg`."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    out: FloatArray = (diff + 180.0) % 360.0 - 180.0
    return out


def destination(lat: float, lon: float, bearing_deg: float, distance_m: float) -> LatLon:
    """The point reached going `distance_m` along the great circle with `bearing_deg`."""
    p1 = math.radians(lat)
    l1 = math.radians(lon)
    theta = math.radians(bearing_deg)
    delta = distance_m / EARTH_RADIUS_M
    p2 = math.asin(
        math.sin(p1) * math.cos(delta) + math.cos(p1) * math.sin(delta) * math.cos(theta)
    )
    l2 = l1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(p1),
        math.cos(delta) - math.sin(p1) * math.sin(p2),
    )
    return LatLon(math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0)


def unit_vectors(lat: ArrayLike, lon: ArrayLike) -> FloatArray:
    """Points on the unit sphere (ECEF directions), shape (n, 3).

    Euclidean (chord) distance between them is monotonic in great-circle distance at every
    latitude and across the antimeridian, which is why spatial trees index these.
    """
    p = np.radians(np.asarray(lat, dtype=np.float64))
    la = np.radians(np.asarray(lon, dtype=np.float64))
    cos_p = np.cos(p)
    return np.stack([cos_p * np.cos(la), cos_p * np.sin(la), np.sin(p)], axis=-1)


def chord_for_distance(distance_m: float) -> float:
    """Chord length on the unit sphere for a great-circle distance."""
    return 2.0 * math.sin(min(math.pi, distance_m / EARTH_RADIUS_M) / 2.0)


# --- local projection ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection around an origin, in metres east (x) and north (y).

    Accurate to ~0.1 % within a few tens of kilometres of the origin at city latitudes: meant
    for laying out and reasoning about a single city, not for distances (use haversine).
    Longitude differences wrap, so a city on the antimeridian projects continuously.
    """

    lat0: float
    lon0: float

    @property
    def _kx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def _ky(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        dlon = (lon - self.lon0 + 180.0) % 360.0 - 180.0
        return dlon * self._kx, (lat - self.lat0) * self._ky

    def to_latlon(self, x: float, y: float) -> LatLon:
        lon = self.lon0 + x / self._kx
        return LatLon(self.lat0 + y / self._ky, (lon + 180.0) % 360.0 - 180.0)

    def to_latlon_array(self, x: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        lat = self.lat0 + np.asarray(y, dtype=np.float64) / self._ky
        lon = (self.lon0 + np.asarray(x, dtype=np.float64) / self._kx + 180.0) % 360.0 - 180.0
        return lat, lon


# --- bounding boxes and polygons -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BBox:
    """Axis-aligned box in degrees. Not antimeridian-aware: GeoJSON (RFC 7946 §3.1.9) splits
    geometries that cross it, so each part has an ordinary box."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    @classmethod
    def of_ring(cls, ring: FloatArray) -> BBox:
        lons, lats = ring[:, 0], ring[:, 1]
        return cls(float(lats.min()), float(lons.min()), float(lats.max()), float(lons.max()))

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon

    def union(self, other: BBox) -> BBox:
        return BBox(
            min(self.min_lat, other.min_lat),
            min(self.min_lon, other.min_lon),
            max(self.max_lat, other.max_lat),
            max(self.max_lon, other.max_lon),
        )


# A point this close to a border (in degrees, ~0.1 mm) is on it: float noise must not decide.
BORDER_TOLERANCE_DEG = 1e-9

INSIDE, ON_BORDER, OUTSIDE = 1, 0, -1


def ring_position(ring: FloatArray, lat: float, lon: float) -> int:
    """Where a point lies relative to a ring: INSIDE, ON_BORDER or OUTSIDE.

    `ring` is an (n, 2) array of (lon, lat) vertices, open (no repeated closing vertex).
    Ray casting (crossing number) in the lon/lat plane, with edges as straight lines in that
    plane, as GeoJSON specifies.
    """
    x, y = ring[:, 0], ring[:, 1]
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    dx, dy = x2 - x, y2 - y
    # On an edge: collinear (small cross product relative to edge length) and within its box.
    cross = dx * (lat - y) - dy * (lon - x)
    length = np.hypot(dx, dy)
    tol = BORDER_TOLERANCE_DEG
    on_edge = (
        (np.abs(cross) <= tol * np.maximum(length, tol))
        & (lon >= np.minimum(x, x2) - tol)
        & (lon <= np.maximum(x, x2) + tol)
        & (lat >= np.minimum(y, y2) - tol)
        & (lat <= np.maximum(y, y2) + tol)
    )
    if bool(on_edge.any()):
        return ON_BORDER
    straddles = (y > lat) != (y2 > lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x + dx * (lat - y) / dy
    crossings = int(np.count_nonzero(straddles & (lon < x_cross)))
    return INSIDE if crossings % 2 == 1 else OUTSIDE


@dataclass(frozen=True, slots=True, eq=False)
class Polygon:
    """One polygon: an exterior ring and any holes, each an open (n, 2) (lon, lat) array.

    Border rule: a point exactly on any border (within BORDER_TOLERANCE_DEG), the exterior's or
    a hole's, counts as INSIDE the polygon. Dispatch would rather give a point on a street
    that is a district border to one of the two districts than to neither.
    """

    exterior: FloatArray
    holes: tuple[FloatArray, ...]
    bbox: BBox

    @classmethod
    def from_rings(cls, exterior: FloatArray, holes: Sequence[FloatArray] = ()) -> Polygon:
        return cls(exterior, tuple(holes), BBox.of_ring(exterior))

    def contains(self, lat: float, lon: float) -> bool:
        if not self.bbox.contains(lat, lon):
            return False
        where = ring_position(self.exterior, lat, lon)
        if where == OUTSIDE:
            return False
        if where == ON_BORDER:
            return True
        # strictly inside a hole is outside the polygon; the hole's border belongs to it
        return all(ring_position(hole, lat, lon) != INSIDE for hole in self.holes)


def point_in_polygon(
    lat: float,
    lon: float,
    exterior: Sequence[Sequence[float]],
    holes: Sequence[Sequence[Sequence[float]]] = (),
) -> bool:
    """Convenience form of `Polygon.contains` for (lon, lat) vertex lists, open or closed."""

    def ring(coords: Sequence[Sequence[float]]) -> FloatArray:
        arr = np.asarray(coords, dtype=np.float64)
        if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
            arr = arr[:-1]
        return arr

    return Polygon.from_rings(ring(exterior), [ring(h) for h in holes]).contains(lat, lon)


__all__ = [
    "BORDER_TOLERANCE_DEG",
    "EARTH_RADIUS_M",
    "INSIDE",
    "ON_BORDER",
    "OUTSIDE",
    "BBox",
    "FloatArray",
    "HasLatLon",
    "LatLon",
    "LocalProjection",
    "Polygon",
    "angle_diff_deg",
    "angle_diff_deg_array",
    "chord_for_distance",
    "destination",
    "haversine_m",
    "haversine_m_array",
    "initial_bearing_deg",
    "initial_bearing_deg_array",
    "point_in_polygon",
    "ring_position",
    "unit_vectors",
]
