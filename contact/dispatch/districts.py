"""Police districts: which district, and so which department, is responsible for a place.

Loaded from a GeoJSON FeatureCollection of Polygon / MultiPolygon features (holes allowed)
with properties `id` (or the feature id), `name_kk`, `name_ru`, `department` and optionally
`name_en` (the English pages' name; without it they show the Russian one). A point on a
border belongs to a district (see `geo.Polygon`); where districts share a border or overlap,
the first district in file order wins, so the answer is always the same. A point outside
every district gets None, which callers flag for an operator to resolve.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contact.dispatch.geo import OUTSIDE, BBox, FloatArray, Polygon, ring_position
from contact.errors import Unprocessable

REQUIRED_PROPERTIES = ("name_kk", "name_ru", "department")


class DistrictDataError(Unprocessable):
    """A district file that cannot be used; the message names the feature and the fault."""

    error_id = "district_invalid"


@dataclass(frozen=True, slots=True, eq=False)
class District:
    id: str
    name_kk: str
    name_ru: str
    department: str  # the responsible police department (УП / РУП)
    polygons: tuple[Polygon, ...]
    name_en: str | None = None  # for the English pages; None: they show name_ru

    @property
    def bbox(self) -> BBox:
        boxes = [p.bbox for p in self.polygons]
        box = boxes[0]
        for other in boxes[1:]:
            box = box.union(other)
        return box

    def contains(self, lat: float, lon: float) -> bool:
        return any(p.contains(lat, lon) for p in self.polygons)


class DistrictIndex:
    """Locates the district of a point: a vectorised bbox prefilter, then exact polygon tests."""

    def __init__(self, districts: Iterable[District]) -> None:
        self._districts = tuple(districts)
        seen: set[str] = set()
        for d in self._districts:
            if d.id in seen:
                raise DistrictDataError(f"district id {d.id!r} appears twice")
            seen.add(d.id)
        parts = [(i, p) for i, d in enumerate(self._districts) for p in d.polygons]
        self._owner = np.array([i for i, _ in parts], dtype=np.intp)
        self._polygons = [p for _, p in parts]
        self._box = np.array(
            [
                (p.bbox.min_lat, p.bbox.min_lon, p.bbox.max_lat, p.bbox.max_lon)
                for p in self._polygons
            ],
            dtype=np.float64,
        ).reshape(-1, 4)

    @classmethod
    def from_geojson(cls, data: Mapping[str, Any]) -> DistrictIndex:
        return cls(load_districts(data))

    def __len__(self) -> int:
        return len(self._districts)

    @property
    def districts(self) -> tuple[District, ...]:
        return self._districts

    def get(self, district_id: str) -> District | None:
        return next((d for d in self._districts if d.id == district_id), None)

    def locate(self, lat: float, lon: float) -> District | None:
        """The district containing the point, or None when it is outside every district."""
        box = self._box
        hits = np.flatnonzero(
            (box[:, 0] <= lat) & (lat <= box[:, 2]) & (box[:, 1] <= lon) & (lon <= box[:, 3])
        )
        for j in hits:  # ascending, so file order decides shared borders
            if self._polygons[j].contains(lat, lon):
                return self._districts[int(self._owner[j])]
        return None


# --- loading ------------------------------------------------------------------------------


def load_districts_file(path: str | os.PathLike[str]) -> list[District]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise DistrictDataError(
            f"district file is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    return load_districts(data)


def load_districts(data: Any) -> list[District]:
    """Districts from a parsed GeoJSON FeatureCollection; DistrictDataError on any fault."""
    if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
        raise DistrictDataError("districts must be a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise DistrictDataError("the FeatureCollection has no features")
    districts = [_district(i, f) for i, f in enumerate(features)]
    DistrictIndex(districts)  # rejects duplicate ids
    return districts


def _district(index: int, feature: Any) -> District:
    where = f"feature #{index}"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise DistrictDataError(f"{where}: not a GeoJSON Feature")
    props = feature.get("properties")
    props = props if isinstance(props, Mapping) else {}
    raw_id = feature.get("id", props.get("id"))
    if raw_id is None or not str(raw_id).strip():
        raise DistrictDataError(f"{where}: no district id (feature id or property 'id')")
    district_id = str(raw_id).strip()
    where = f"feature #{index} (district {district_id!r})"
    missing = [
        name
        for name in REQUIRED_PROPERTIES
        if not isinstance(props.get(name), str) or not props[name].strip()
    ]
    if missing:
        raise DistrictDataError(f"{where}: missing or empty properties: {', '.join(missing)}")
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    coordinates = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
    if kind == "Polygon":
        polygons: tuple[Polygon, ...] = (_polygon(where, coordinates),)
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise DistrictDataError(f"{where}: MultiPolygon needs a list of polygons")
        polygons = tuple(
            _polygon(f"{where} polygon #{i}", part) for i, part in enumerate(coordinates)
        )
    else:
        raise DistrictDataError(
            f"{where}: geometry must be a Polygon or MultiPolygon, got {kind!r}"
        )
    return District(
        id=district_id,
        name_kk=props["name_kk"].strip(),
        name_ru=props["name_ru"].strip(),
        department=props["department"].strip(),
        polygons=polygons,
        name_en=_optional_name(where, props, "name_en"),
    )


def _optional_name(where: str, props: Mapping[str, Any], name: str) -> str | None:
    value = props.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DistrictDataError(f"{where}: {name} must be a non-empty string when given")
    return value.strip()


def _polygon(where: str, rings: Any) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise DistrictDataError(f"{where}: a Polygon needs at least an exterior ring")
    exterior = _ring(f"{where} exterior ring", rings[0])
    holes = [_ring(f"{where} hole #{i}", r) for i, r in enumerate(rings[1:], start=1)]
    for i, hole in enumerate(holes, start=1):
        if any(ring_position(exterior, float(lat), float(lon)) == OUTSIDE for lon, lat in hole):
            raise DistrictDataError(f"{where} hole #{i}: lies outside the exterior ring")
    return Polygon.from_rings(exterior, holes)


def _ring(where: str, positions: Any) -> FloatArray:
    if not isinstance(positions, list) or len(positions) < 4:
        raise DistrictDataError(f"{where}: a linear ring needs at least 4 positions")
    for n, position in enumerate(positions):
        if not _is_position(position):
            raise DistrictDataError(f"{where} position #{n}: not a [lon, lat] pair: {position!r}")
    ring = np.array([p[:2] for p in positions], dtype=np.float64)
    if not np.array_equal(ring[0], ring[-1]):
        raise DistrictDataError(f"{where}: not closed (the last position must equal the first)")
    ring = ring[:-1]
    if len(np.unique(ring, axis=0)) < 3:
        raise DistrictDataError(f"{where}: fewer than 3 distinct positions")
    if _area(ring) == 0.0:
        raise DistrictDataError(f"{where}: has no area (all positions on one line)")
    return ring


def _is_position(position: Any) -> bool:
    if not isinstance(position, Sequence) or isinstance(position, str) or len(position) < 2:
        return False
    lon, lat = position[0], position[1]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        return False
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def _area(ring: FloatArray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


__all__ = [
    "REQUIRED_PROPERTIES",
    "District",
    "DistrictDataError",
    "DistrictIndex",
    "load_districts",
    "load_districts_file",
]
