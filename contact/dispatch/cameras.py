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
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree  # type: ignore[import-untyped]

from contact.dispatch.camera_table import CameraTable
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

MAX_RANGE_M = 5_000.0  # beyond any street camera (masts and towers see 1-3 km)
# a node's memory for its cameras, measured (RSS) by bench/bench_camera_scale.py
CAMERA_MB_PER_MILLION = 300  # 378 MB of RSS for 1.3 million
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


# Range classes: class c holds the cameras whose range is in (BASE·2^(c-1), BASE·2^c], class 0
# those up to BASE. Each class has its own tree, searched with its own largest range, so a
# search reaches no further than the cameras that could see the point: a few 3 km cameras on
# masts no longer make every search gather everything within 3 km.
RANGE_CLASS_BASE_M = 25.0


@dataclass(frozen=True, slots=True)
class _RangeClass:
    members: NDArray[np.int32]  # positions in the table of the cameras of the tree
    tree: Any  # scipy's cKDTree over their unit vectors
    radius: float  # chord of the class's largest range, widened a little


class CameraIndex:
    """Immutable spatial index over many cameras (numpy columns + k-d trees on the sphere).

    The trees hold unit-sphere (ECEF) vectors, so neighbourhoods are correct at any latitude
    and across the antimeridian. A query takes, from each range class, the cameras within
    that class's largest range, then filters range and view cone vectorised. The cameras
    themselves are columns (`CameraTable`): about 180 bytes a camera plus the trees, see
    docs/dispatch.md. Rebuild the index to change cameras.
    """

    def __init__(self, cameras: Iterable[Camera] | CameraTable) -> None:
        table = cameras if isinstance(cameras, CameraTable) else CameraTable.from_cameras(cameras)
        self._table = table
        self._lat, self._lon, self._heading = table.lat, table.lon, table.heading
        self._half_fov = table.fov / 2.0
        self._all_round = table.fov >= 360.0
        self._range = table.range_m
        self._max_range = float(self._range.max()) if len(table) else 0.0
        # cameras in class order share one array of unit vectors: each class's tree is over
        # its slice, and one tree over all of them answers "the nearest" in a single query
        self._order, vectors, self._classes = _range_classes(self._lat, self._lon, self._range)
        self._all: Any = _tree(vectors) if len(table) else None

    def __len__(self) -> int:
        return len(self._table)

    @property
    def cameras(self) -> CameraTable:
        """Every camera, in index order (a `Camera` is made for each one read)."""
        return self._table

    @property
    def max_range_m(self) -> float:
        return self._max_range

    @property
    def nbytes(self) -> int:
        """Bytes held by the cameras' columns and the trees (what a node holds for them)."""
        trees: int = sum(len(c.tree.indices) * 8 + _node_bytes(c.tree) for c in self._classes)
        if self._all is not None:
            trees += self._all.data.nbytes + len(self._all.indices) * 8 + _node_bytes(self._all)
        arrays = (self._half_fov, self._all_round, self._order)
        return self._table.nbytes + sum(a.nbytes for a in arrays) + trees

    def get(self, camera_id: str) -> Camera | None:
        i = self._table.find(camera_id)
        return None if i is None else self._table[i]

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
        here = unit_vectors(lat, lon)
        found = [
            c.members[np.asarray(c.tree.query_ball_point(here, r=c.radius), dtype=np.intp)]
            for c in self._classes
        ]
        if not found:
            return np.empty(0, dtype=np.intp)
        return np.concatenate(found).astype(np.intp, copy=False)

    def _nearest(self, lat: float, lon: float, want: int) -> IntArray:
        """The `want` nearest cameras (by chord)."""
        _, j = self._all.query(unit_vectors(lat, lon), k=want)
        return self._order[np.atleast_1d(np.asarray(j, dtype=np.intp))].astype(np.intp)

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
            CameraSighting(camera, distance, bearing, off_axis, True, s)
            for camera, distance, bearing, off_axis, s in zip(
                self._table.cameras_at(g.idx[order]),
                g.distance[order].tolist(),
                g.bearing[order].tolist(),
                g.off_axis[order].tolist(),
                score[order].tolist(),
                strict=True,
            )
        ]

    def _others(self, lat: float, lon: float, seeing: _Geometry, n: int) -> list[CameraSighting]:
        if n <= 0 or self._all is None:
            return []
        # the n + |seeing| nearest cameras contain the n nearest that do not see the point
        idx = self._nearest(lat, lon, min(len(self), n + len(seeing.idx)))
        seen = set(seeing.idx.tolist())
        idx = idx[np.fromiter((i not in seen for i in idx.tolist()), np.bool_, len(idx))]
        distance = haversine_m_array(self._lat[idx], self._lon[idx], lat, lon)
        order = np.lexsort((idx, distance))[:n]
        idx, distance = idx[order], distance[order]
        bearing = initial_bearing_deg_array(self._lat[idx], self._lon[idx], lat, lon)
        off_axis = angle_diff_deg_array(bearing, self._heading[idx])
        return [
            CameraSighting(camera, d, b, o, False, None)
            for camera, d, b, o in zip(
                self._table.cameras_at(idx),
                distance.tolist(),
                bearing.tolist(),
                off_axis.tolist(),
                strict=True,
            )
        ]


def _range_classes(
    lat: FloatArray, lon: FloatArray, range_m: FloatArray
) -> tuple[NDArray[np.int32], FloatArray, list[_RangeClass]]:
    """(cameras in class order, their unit vectors, the classes: slices of those)."""
    if len(lat) == 0:
        return np.empty(0, dtype=np.int32), np.empty((0, 3)), []
    which = np.maximum(np.ceil(np.log2(range_m / RANGE_CLASS_BASE_M)), 0.0).astype(np.int32)
    order = np.argsort(which, kind="stable").astype(np.int32)
    vectors = unit_vectors(lat[order], lon[order])
    starts = np.flatnonzero(np.diff(which[order], prepend=-1))
    classes = []
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
        members = order[start:stop]
        classes.append(
            _RangeClass(
                members=members,
                tree=_tree(vectors[start:stop]),
                # widened so a camera exactly at its range is never lost to rounding
                radius=chord_for_distance(float(range_m[members].max()) + 1.0) * (1.0 + 1e-9),
            )
        )
    return order, vectors, classes


def _tree(vectors: FloatArray) -> Any:
    """A k-d tree on these vectors, without a copy of them. Sliding-midpoint splits: 40 %
    less CPU to build than median splits at 1.3 million cameras, queries as fast."""
    return cKDTree(vectors, copy_data=False, balanced_tree=False)


def _node_bytes(tree: Any) -> int:
    """A rough size of a cKDTree's nodes (scipy does not say): ~ 2 nodes per leaf."""
    return int(2 * len(tree.indices) / max(tree.leafsize, 1) * 72)


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
    "CAMERA_MB_PER_MILLION",
    "DISTANCE_WEIGHT",
    "MAX_RANGE_M",
    "RANGE_CLASS_BASE_M",
    "RANGE_TOLERANCE_M",
    "SNAPSHOT_SCHEMES",
    "STREAM_SCHEMES",
    "Camera",
    "CameraIndex",
    "CameraSighting",
    "CameraTable",
    "CameraView",
    "check_url",
]
