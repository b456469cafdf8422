"""A deterministic demo city around Almaty: districts, street cameras and patrol units.

Same seed, same city. Layout in local metres around (43.238, 76.945), 20 by 16 km:

    y  8 km ┌───────────┬───────────┬───────────┐
            │  Alatau   │  Zhetysu  │ Turksib ▢ │   ▢ airport: a hole in Turksib that no
    y  1 km ├───────────┼───────────┼───────────┤     district covers (transport police)
            │  Auezov   │ Almaly ▣  │   Medeu   │   ▣ a hole in Almaly filled by a second
    y -5 km ├───────────┴───────────┴───────────┤     polygon of Bostandyq (MultiPolygon)
            │             Bostandyq             │
    y -8 km └───────────────────────────────────┘
           x -10        -3           4          10

Streets run every 250 m both ways; cameras stand on them looking along the street (some are
360° domes), units patrol them. Rectangles stay rectangles in lon/lat because the local
projection is linear, so shared borders are exactly shared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contact.dispatch.camera_import import write_cameras_csv
from contact.dispatch.cameras import Camera, CameraIndex
from contact.dispatch.districts import District, DistrictIndex, load_districts
from contact.dispatch.geo import FloatArray, LatLon, LocalProjection
from contact.dispatch.units import Unit, UnitKind, UnitPosition, UnitStatus

ALMATY = LatLon(43.238, 76.945)
BOUNDS_M = (-10_000.0, -8_000.0, 10_000.0, 8_000.0)  # x0, y0, x1, y1
STREET_SPACING_M = 250.0

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in metres


@dataclass(frozen=True, slots=True)
class _DistrictPlan:
    id: str
    name_kk: str
    name_ru: str
    name_en: str
    department: str
    parts: tuple[tuple[Rect, tuple[Rect, ...]], ...]  # (exterior, holes) per polygon


_AIRPORT: Rect = (6_000.0, 4_000.0, 8_000.0, 6_000.0)
_ALMALY_HOLE: Rect = (-1_500.0, -3_000.0, 1_500.0, -1_000.0)

_PLANS = (
    _DistrictPlan(
        "alatau", "Алатау ауданы", "Алатауский район", "Alatau District",
        "УП Алатауского района",
        (((-10_000.0, 1_000.0, -3_000.0, 8_000.0), ()),),
    ),
    _DistrictPlan(
        "zhetysu", "Жетісу ауданы", "Жетысуский район", "Zhetysu District",
        "УП Жетысуского района",
        (((-3_000.0, 1_000.0, 4_000.0, 8_000.0), ()),),
    ),
    _DistrictPlan(
        "turksib", "Түрксіб ауданы", "Турксибский район", "Turksib District",
        "УП Турксибского района",
        (((4_000.0, 1_000.0, 10_000.0, 8_000.0), (_AIRPORT,)),),
    ),
    _DistrictPlan(
        "auezov", "Әуезов ауданы", "Ауэзовский район", "Auezov District",
        "УП Ауэзовского района",
        (((-10_000.0, -5_000.0, -3_000.0, 1_000.0), ()),),
    ),
    _DistrictPlan(
        "almaly", "Алмалы ауданы", "Алмалинский район", "Almaly District",
        "УП Алмалинского района",
        (((-3_000.0, -5_000.0, 4_000.0, 1_000.0), (_ALMALY_HOLE,)),),
    ),
    _DistrictPlan(
        "medeu", "Медеу ауданы", "Медеуский район", "Medeu District",
        "УП Медеуского района",
        (((4_000.0, -5_000.0, 10_000.0, 1_000.0), ()),),
    ),
    _DistrictPlan(
        "bostandyq", "Бостандық ауданы", "Бостандыкский район", "Bostandyq District",
        "УП Бостандыкского района",
        (((-10_000.0, -8_000.0, 10_000.0, -5_000.0), ()), (_ALMALY_HOLE, ())),
    ),
)  # fmt: skip


@dataclass(slots=True)
class DemoCity:
    projection: LocalProjection
    districts_geojson: dict[str, Any]
    districts: list[District]
    cameras: list[Camera]
    units: list[Unit]
    seed: int
    _district_index: DistrictIndex | None = field(default=None, repr=False)

    def district_index(self) -> DistrictIndex:
        if self._district_index is None:
            self._district_index = DistrictIndex(self.districts)
        return self._district_index

    def camera_index(self) -> CameraIndex:
        return CameraIndex(self.cameras)

    def write_cameras_csv(self, path: str | os.PathLike[str]) -> int:
        return write_cameras_csv(self.cameras, path)

    def random_points(self, n: int, seed: int = 0) -> list[LatLon]:
        """Uniform points over the city's bounds, e.g. incident locations for a benchmark."""
        rng = np.random.default_rng(seed)
        x0, y0, x1, y1 = BOUNDS_M
        lat, lon = self.projection.to_latlon_array(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
        return [LatLon(float(a), float(o)) for a, o in zip(lat, lon, strict=True)]


def generate_city(seed: int = 102, cameras: int = 68_000, units: int = 400) -> DemoCity:
    rng = np.random.default_rng(seed)
    projection = LocalProjection(ALMATY.lat, ALMATY.lon)
    geojson = _districts_geojson(projection)
    return DemoCity(
        projection=projection,
        districts_geojson=geojson,
        districts=load_districts(geojson),
        cameras=_cameras(rng, projection, cameras),
        units=_units(rng, projection, units),
        seed=seed,
    )


def _districts_geojson(projection: LocalProjection) -> dict[str, Any]:
    def ring(rect: Rect) -> list[list[float]]:
        x0, y0, x1, y1 = rect
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        return [[p.lon, p.lat] for p in (projection.to_latlon(x, y) for x, y in corners)]

    features = []
    for plan in _PLANS:
        polygons = [[ring(outer), *(ring(h) for h in holes)] for outer, holes in plan.parts]
        geometry = (
            {"type": "Polygon", "coordinates": polygons[0]}
            if len(polygons) == 1
            else {"type": "MultiPolygon", "coordinates": polygons}
        )
        features.append(
            {
                "type": "Feature",
                "id": plan.id,
                "properties": {
                    "name_kk": plan.name_kk,
                    "name_ru": plan.name_ru,
                    "name_en": plan.name_en,
                    "department": plan.department,
                },
                "geometry": geometry,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _district_of(x: FloatArray, y: FloatArray) -> list[str | None]:
    """Vectorised district lookup on the plan (first district wins, like DistrictIndex)."""

    def inside(rect: Rect, strict: bool) -> np.ndarray[Any, np.dtype[np.bool_]]:
        x0, y0, x1, y1 = rect
        if strict:
            return (x0 < x) & (x < x1) & (y0 < y) & (y < y1)
        return (x0 <= x) & (x <= x1) & (y0 <= y) & (y <= y1)

    result: list[str | None] = [None] * len(x)
    unassigned = np.ones(len(x), dtype=np.bool_)
    for plan in _PLANS:
        mask = np.zeros(len(x), dtype=np.bool_)
        for outer, holes in plan.parts:
            part = inside(outer, strict=False)
            for hole in holes:
                part &= ~inside(hole, strict=True)
            mask |= part
        for i in np.flatnonzero(mask & unassigned):
            result[i] = plan.id
        unassigned &= ~mask
    return result


def _on_streets(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """n points on the street grid and each one's street direction (0 = north-south)."""
    x0, y0, x1, y1 = BOUNDS_M
    along_x = rng.random(n) < 0.5  # an east-west street
    # streets sit half a block off the district borders, so no camera stands on a border
    xs = np.arange(x0 + STREET_SPACING_M / 2, x1, STREET_SPACING_M)
    ys = np.arange(y0 + STREET_SPACING_M / 2, y1, STREET_SPACING_M)
    x = np.where(along_x, rng.uniform(x0, x1, n), rng.choice(xs, n))
    y = np.where(along_x, rng.choice(ys, n), rng.uniform(y0, y1, n))
    return x, y, np.where(along_x, 90.0, 0.0)


def _cameras(rng: np.random.Generator, projection: LocalProjection, n: int) -> list[Camera]:
    x, y, street = _on_streets(rng, n)
    # look one way or the other along the street, mounted a little askew
    heading = (street + rng.choice([0.0, 180.0], n) + rng.uniform(-20.0, 20.0, n)) % 360.0
    dome = rng.random(n) < 0.1
    fov = np.where(dome, 360.0, rng.choice([50.0, 60.0, 75.0, 90.0, 110.0], n))
    range_m = np.where(
        dome, rng.choice([40.0, 60.0, 80.0], n), rng.choice([60.0, 80.0, 100.0, 150.0, 200.0], n)
    )
    lat, lon = projection.to_latlon_array(x, y)
    lat, lon, heading = np.round(lat, 7), np.round(lon, 7), np.round(heading, 1)
    districts = _district_of(x, y)
    cameras = []
    for i in range(n):
        camera_id = f"ALA-{i + 1:06d}"
        cameras.append(
            Camera(
                id=camera_id,
                lat=float(lat[i]),
                lon=float(lon[i]),
                heading_deg=float(heading[i]),
                fov_deg=float(fov[i]),
                range_m=float(range_m[i]),
                stream_url=f"rtsp://video.demo.invalid/{camera_id}",
                snapshot_url=f"https://video.demo.invalid/snapshots/{camera_id}.jpg",
                district=districts[i],
            )
        )
    return cameras


_UNIT_KINDS = (UnitKind.CAR, UnitKind.FOOT, UnitKind.BIKE)
_UNIT_KIND_SHARE = (0.6, 0.25, 0.15)
_UNIT_STATUSES = tuple(UnitStatus)
_UNIT_STATUS_SHARE = (0.65, 0.08, 0.08, 0.1, 0.04, 0.05)  # in UnitStatus order


def _units(rng: np.random.Generator, projection: LocalProjection, n: int) -> list[Unit]:
    x, y, _ = _on_streets(rng, n)
    lat, lon = projection.to_latlon_array(x, y)
    kinds = rng.choice(len(_UNIT_KINDS), n, p=_UNIT_KIND_SHARE)
    statuses = rng.choice(len(_UNIT_STATUSES), n, p=_UNIT_STATUS_SHARE)
    districts = _district_of(x, y)
    departments = {plan.id: plan.department for plan in _PLANS}
    units = []
    for i in range(n):
        district = districts[i]
        units.append(
            Unit(
                id=f"U-{i + 1:05d}",
                kind=_UNIT_KINDS[kinds[i]],
                status=_UNIT_STATUSES[statuses[i]],
                position=UnitPosition(round(float(lat[i]), 7), round(float(lon[i]), 7)),
                callsign=f"{(district or 'ala')[:3].upper()}-{i + 1:04d}",
                department=departments.get(district) if district else None,
            )
        )
    return units


__all__ = ["ALMATY", "BOUNDS_M", "STREET_SPACING_M", "DemoCity", "generate_city"]
