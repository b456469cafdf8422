"""City cameras and the index that answers "which cameras can see this point?".

A camera sees a point when the point is within its range and the bearing from the camera to
the point lies inside its view cone, heading ± fov/2 (a 360° camera sees all around). Edges
are inclusive, with a millimetre / micro-degree tolerance so float noise never decides.

Ranking score (lower is better), each term in [0, 1]:

    score = DISTANCE_WEIGHT · distance / range + ANGLE_WEIGHT · |off-axis| / (fov / 2)

Distance weighs more because detail (pixels per metre) falls with distance, while a point
off the axis is still in frame. A 360° camera has no axis, so its angle term is 0. Ties go to
the nearer camera, then to index order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from contact.dispatch.geo import (
    FloatArray,
    HasLatLon,
    angle_diff_deg,
    angle_diff_deg_array,
    chord_for_distance,
    haversine_m,
    haversine_m_array,
    initial_bearing_deg,
    initial_bearing_deg_array,
    unit_vectors,
)

MAX_RANGE_M = 5_000.0  # beyond any street camera; bounds the index's search radius
RANGE_TOLERANCE_M = 1e-3
ANGLE_TOLERANCE_DEG = 1e-6
DISTANCE_WEIGHT = 0.6
ANGLE_WEIGHT = 0.4

STREAM_SCHEMES = frozenset({"http", "https", "rtsp", "rtsps"})
SNAPSHOT_SCHEMES = frozenset({"http", "https"})

IntArray = NDArray[np.intp]


_SPACE = re.compile(r"\s")


def check_url(url: str, schemes: frozenset[str], what: str) -> None:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or _SPACE.search(url):
        allowed = "/".join(sorted(schemes))
        raise ValueError(f"{what} must be an {allowed} URL: {url!r}")


@dataclass(frozen=True, slots=True)
class Camera:
    """A fixed city camera. Validated on construction (ValueError with a readable message).

    `heading_deg` is where the view axis points (0 = north, clockwise), normalised to [0, 360);
    `fov_deg` the full horizontal view angle in (0, 360]; `range_m` how far it usefully sees.
    """

    id: str
    lat: float
    lon: float
    heading_deg: float
    fov_deg: float
    range_m: float
    stream_url: str
    snapshot_url: str | None = None
    district: str | None = None

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip():
            raise ValueError(f"id must be non-empty without surrounding spaces: {self.id!r}")
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"lat must be within -90..90: {self.lat!r}")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"lon must be within -180..180: {self.lon!r}")
        if not (math.isfinite(self.heading_deg) and 0.0 <= self.heading_deg <= 360.0):
            raise ValueError(f"heading must be within 0..360: {self.heading_deg!r}")
        if not (math.isfinite(self.fov_deg) and 0.0 < self.fov_deg <= 360.0):
            raise ValueError(f"fov must be within (0, 360]: {self.fov_deg!r}")
        if not (math.isfinite(self.range_m) and 0.0 < self.range_m <= MAX_RANGE_M):
            raise ValueError(f"range must be within (0, {MAX_RANGE_M:g}] m: {self.range_m!r}")
        check_url(self.stream_url, STREAM_SCHEMES, "stream_url")
        if self.snapshot_url is not None:
            check_url(self.snapshot_url, SNAPSHOT_SCHEMES, "snapshot_url")
        if self.heading_deg == 360.0:
            object.__setattr__(self, "heading_deg", 0.0)

    def sees(self, point: HasLatLon) -> bool:
        """The index's rule for one camera, in plain Python (single checks, no index)."""
        lat, lon = _checked(point)
        distance = haversine_m(self.lat, self.lon, lat, lon)
        if distance > self.range_m + RANGE_TOLERANCE_M:
            return False
        if self.fov_deg >= 360.0 or distance == 0.0:
            return True
        off_axis = angle_diff_deg(
            initial_bearing_deg(self.lat, self.lon, lat, lon), self.heading_deg
        )
        return abs(off_axis) <= self.fov_deg / 2.0 + ANGLE_TOLERANCE_DEG


@dataclass(frozen=True, slots=True)
class CameraSighting:
    """A camera relative to a point. `off_axis_deg` is signed: positive when the point is
    clockwise (to the right) of the view axis. `score` is None for a camera that does not see
    the point."""

    camera: Camera
    distance_m: float
    bearing_deg: float  # from the camera to the point
    off_axis_deg: float
    sees: bool
    score: float | None


@dataclass(frozen=True, slots=True)
class CameraView:
    seeing: list[CameraSighting]  # best first
    others: list[CameraSighting]  # nearest first; cameras that do not see the point


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Candidate cameras measured against one point (parallel arrays)."""

    idx: IntArray
    distance: FloatArray
    bearing: FloatArray
    off_axis: FloatArray


class CameraIndex:
    """Immutable spatial index over many cameras (numpy columns + a k-d tree on the sphere).

    The tree holds unit-sphere (ECEF) vectors, so neighbourhoods are correct at any latitude
    and across the antimeridian. A query takes every camera within the largest range in the
    index, then filters range and view cone vectorised. Rebuild the index to change cameras.
    """

    def __init__(self, cameras: Iterable[Camera]) -> None:
        self._cameras: tuple[Camera, ...] = tuple(cameras)
        self._by_id: dict[str, int] = {}
        for i, camera in enumerate(self._cameras):
            if self._by_id.setdefault(camera.id, i) != i:
                raise ValueError(f"duplicate camera id {camera.id!r}")
        n = len(self._cameras)
        cams = self._cameras
        self._lat = np.fromiter((c.lat for c in cams), np.float64, n)
        self._lon = np.fromiter((c.lon for c in cams), np.float64, n)
        self._heading = np.fromiter((c.heading_deg for c in cams), np.float64, n)
        fov = np.fromiter((c.fov_deg for c in cams), np.float64, n)
        self._half_fov = fov / 2.0
        self._all_round = fov >= 360.0
        self._range = np.fromiter((c.range_m for c in cams), np.float64, n)
        self._max_range = float(self._range.max()) if n else 0.0
        # widened a little so a camera exactly at its range is never lost to rounding
        self._radius = chord_for_distance(self._max_range + 1.0) * (1.0 + 1e-9)
        self._tree = cKDTree(unit_vectors(self._lat, self._lon)) if n else None

    def __len__(self) -> int:
        return len(self._cameras)

    @property
    def cameras(self) -> tuple[Camera, ...]:
        return self._cameras

    @property
    def max_range_m(self) -> float:
        return self._max_range

    def get(self, camera_id: str) -> Camera | None:
        i = self._by_id.get(camera_id)
        return None if i is None else self._cameras[i]

    def cameras_seeing(self, point: HasLatLon, k: int = 8) -> list[CameraSighting]:
        """Up to `k` cameras that can see `point`, best score first."""
        lat, lon = _checked(point)
        return self._rank_seeing(self._measure(self._candidates(lat, lon), lat, lon), k)

    def nearest_others(self, point: HasLatLon, n: int = 5) -> list[CameraSighting]:
        """The `n` nearest cameras that can NOT see `point`, nearest first."""
        lat, lon = _checked(point)
        return self._others(lat, lon, self._measure(self._candidates(lat, lon), lat, lon), n)

    def around(self, point: HasLatLon, k: int = 8, others: int = 5) -> CameraView:
        """Both answers from one search: what an operator's map shows for a contact."""
        lat, lon = _checked(point)
        geometry = self._measure(self._candidates(lat, lon), lat, lon)
        return CameraView(self._rank_seeing(geometry, k), self._others(lat, lon, geometry, others))

    def scan_seeing(self, point: HasLatLon, k: int = 8) -> list[CameraSighting]:
        """`cameras_seeing` by brute force over every camera: the reference and benchmark
        baseline for the tree search."""
        lat, lon = _checked(point)
        return self._rank_seeing(self._measure(np.arange(len(self), dtype=np.intp), lat, lon), k)

    # --- internals ----------------------------------------------------------------------------

    def _candidates(self, lat: float, lon: float) -> IntArray:
        if self._tree is None:
            return np.empty(0, dtype=np.intp)
        found = self._tree.query_ball_point(unit_vectors(lat, lon), r=self._radius)
        return np.asarray(found, dtype=np.intp)

    def _measure(self, idx: IntArray, lat: float, lon: float) -> _Geometry:
        distance = haversine_m_array(self._lat[idx], self._lon[idx], lat, lon)
        near = distance <= self._range[idx] + RANGE_TOLERANCE_M
        idx, distance = idx[near], distance[near]
        bearing = initial_bearing_deg_array(self._lat[idx], self._lon[idx], lat, lon)
        # at the camera itself the bearing is undefined: call the point on axis
        off_axis = np.where(distance > 0.0, angle_diff_deg_array(bearing, self._heading[idx]), 0.0)
        sees = self._all_round[idx] | (
            np.abs(off_axis) <= self._half_fov[idx] + ANGLE_TOLERANCE_DEG
        )
        return _Geometry(idx[sees], distance[sees], bearing[sees], off_axis[sees])

    def _rank_seeing(self, g: _Geometry, k: int) -> list[CameraSighting]:
        if k <= 0 or len(g.idx) == 0:
            return []
        angle_term = np.where(
            self._all_round[g.idx], 0.0, np.abs(g.off_axis) / self._half_fov[g.idx]
        )
        score = DISTANCE_WEIGHT * np.minimum(
            g.distance / self._range[g.idx], 1.0
        ) + ANGLE_WEIGHT * np.minimum(angle_term, 1.0)
        order = np.lexsort((g.idx, g.distance, score))[:k]
        return [
            CameraSighting(
                camera=self._cameras[int(g.idx[j])],
                distance_m=float(g.distance[j]),
                bearing_deg=float(g.bearing[j]),
                off_axis_deg=float(g.off_axis[j]),
                sees=True,
                score=float(score[j]),
            )
            for j in order
        ]

    def _others(self, lat: float, lon: float, seeing: _Geometry, n: int) -> list[CameraSighting]:
        if n <= 0 or self._tree is None:
            return []
        # the n + |seeing| nearest cameras contain the n nearest that do not see the point
        want = min(len(self), n + len(seeing.idx))
        _, found = self._tree.query(unit_vectors(lat, lon), k=want)
        idx = np.atleast_1d(np.asarray(found, dtype=np.intp))
        idx = idx[~np.isin(idx, seeing.idx)]
        distance = haversine_m_array(self._lat[idx], self._lon[idx], lat, lon)
        order = np.lexsort((idx, distance))[:n]
        idx, distance = idx[order], distance[order]
        bearing = initial_bearing_deg_array(self._lat[idx], self._lon[idx], lat, lon)
        off_axis = angle_diff_deg_array(bearing, self._heading[idx])
        return [
            CameraSighting(
                camera=self._cameras[int(i)],
                distance_m=float(d),
                bearing_deg=float(b),
                off_axis_deg=float(o),
                sees=False,
                score=None,
            )
            for i, d, b, o in zip(idx, distance, bearing, off_axis, strict=True)
        ]


def _checked(point: HasLatLon) -> tuple[float, float]:
    lat, lon = float(point.lat), float(point.lon)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude out of range: {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude out of range: {lon!r}")
    return lat, lon


__all__ = [
    "ANGLE_TOLERANCE_DEG",
    "ANGLE_WEIGHT",
    "DISTANCE_WEIGHT",
    "MAX_RANGE_M",
    "RANGE_TOLERANCE_M",
    "SNAPSHOT_SCHEMES",
    "STREAM_SCHEMES",
    "Camera",
    "CameraIndex",
    "CameraSighting",
    "CameraView",
    "check_url",
]
