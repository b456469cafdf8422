"""Patrol units and "who gets there first": available units ranked by estimated travel time.

ETA = great-circle distance * road factor / speed of the unit's kind. No road graph: the
estimate orders candidates for the operator, who picks; it does not promise an arrival time.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from contact.dispatch.geo import HasLatLon, haversine_m_array


class UnitKind(StrEnum):
    CAR = "car"
    FOOT = "foot"
    BIKE = "bike"


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    OUT_OF_SERVICE = "out_of_service"


_KINDS = tuple(UnitKind)
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}


@dataclass(frozen=True, slots=True)
class UnitPosition:
    lat: float
    lon: float
    at: datetime | None = None  # when the unit reported it
    accuracy_m: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"latitude out of range: {self.lat!r}")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"longitude out of range: {self.lon!r}")


@dataclass(frozen=True, slots=True)
class Unit:
    id: str
    kind: UnitKind
    status: UnitStatus
    position: UnitPosition | None = None  # None until the unit first reports
    callsign: str | None = None
    department: str | None = None


@dataclass(frozen=True, slots=True)
class EtaModel:
    """Travel-time estimate from straight-line distance.

    road_factor 1.35: urban detour index (road distance / great-circle distance), typically
    1.2-1.4 in grid cities; Almaty's grid with rivers and ravines sits near the top.
    Speeds are door-to-door averages in km/h, not top speeds: a car under lights in city
    traffic 40, a patrol bicycle 15, an officer on foot 5 (a brisk walk; running is not
    sustained over a kilometre with equipment).
    """

    road_factor: float = 1.35
    car_kmh: float = 40.0
    bike_kmh: float = 15.0
    foot_kmh: float = 5.0

    def __post_init__(self) -> None:
        for name in ("road_factor", "car_kmh", "bike_kmh", "foot_kmh"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number: {value!r}")

    def speed_kmh(self, kind: UnitKind) -> float:
        return {UnitKind.CAR: self.car_kmh, UnitKind.BIKE: self.bike_kmh}.get(kind, self.foot_kmh)

    def eta_s(self, distance_m: float, kind: UnitKind) -> float:
        return distance_m * self.road_factor / (self.speed_kmh(kind) / 3.6)


DEFAULT_ETA_MODEL = EtaModel()


class UnitEta(NamedTuple):
    unit_id: str
    distance_m: float  # great-circle
    eta_s: float


class UnitTable:
    """Units as numpy columns, for ranking thousands per query; rows are updated in place
    as positions and statuses arrive, so a query never rebuilds arrays."""

    def __init__(self, units: Iterable[Unit] = ()) -> None:
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        capacity = 64
        self._lat = np.zeros(capacity)
        self._lon = np.zeros(capacity)
        self._kind = np.zeros(capacity, dtype=np.int8)
        self._rankable = np.zeros(capacity, dtype=np.bool_)  # available and positioned
        for unit in units:
            self.upsert(unit)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._row

    def upsert(self, unit: Unit) -> None:
        row = self._row.get(unit.id)
        if row is None:
            row = len(self._ids)
            if row == len(self._lat):
                self._grow()
            self._ids.append(unit.id)
            self._row[unit.id] = row
        pos = unit.position
        self._lat[row] = pos.lat if pos else 0.0
        self._lon[row] = pos.lon if pos else 0.0
        self._kind[row] = _KIND_CODE[unit.kind]
        self._rankable[row] = pos is not None and unit.status is UnitStatus.AVAILABLE

    def remove(self, unit_id: str) -> None:
        row = self._row.pop(unit_id)
        last = len(self._ids) - 1
        if row != last:  # move the last row into the gap to stay compact
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
            for column in (self._lat, self._lon, self._kind, self._rankable):
                column[row] = column[last]
        self._ids.pop()
        self._rankable[last] = False

    def rank(
        self,
        point: HasLatLon,
        top_n: int = 5,
        eta_model: EtaModel = DEFAULT_ETA_MODEL,
        kinds: Collection[UnitKind] | None = None,
    ) -> list[UnitEta]:
        """The `top_n` available units by ETA to `point` (ties: nearer, then table order)."""
        n = len(self._ids)
        mask = self._rankable[:n]
        if kinds is not None:
            mask = mask & np.isin(self._kind[:n], [_KIND_CODE[k] for k in kinds])
        idx = np.flatnonzero(mask)
        if top_n <= 0 or len(idx) == 0:
            return []
        distance = haversine_m_array(self._lat[idx], self._lon[idx], point.lat, point.lon)
        speed_ms = np.array([eta_model.speed_kmh(k) for k in _KINDS]) / 3.6
        eta = distance * eta_model.road_factor / speed_ms[self._kind[idx]]
        if len(idx) > top_n:
            keep = np.argpartition(eta, top_n - 1)[:top_n]
            # argpartition may cut among equal ETAs: keep every tie at the boundary
            keep = np.flatnonzero(eta <= eta[keep].max())
            idx, distance, eta = idx[keep], distance[keep], eta[keep]
        order = np.lexsort((idx, distance, eta))[:top_n]
        return [UnitEta(self._ids[int(idx[j])], float(distance[j]), float(eta[j])) for j in order]

    def _grow(self) -> None:
        size = 2 * len(self._lat)
        self._lat = np.resize(self._lat, size)
        self._lon = np.resize(self._lon, size)
        self._kind = np.resize(self._kind, size)
        self._rankable = np.resize(self._rankable, size)
        self._rankable[len(self._ids) :] = False


def rank_units(
    units: UnitTable | Iterable[Unit],
    point: HasLatLon,
    top_n: int = 5,
    eta_model: EtaModel = DEFAULT_ETA_MODEL,
    kinds: Collection[UnitKind] | None = None,
) -> list[UnitEta]:
    """Available units with a position, nearest by ETA first: (unit id, distance m, eta s).

    Pass a `UnitTable` on the hot path; a plain iterable of units is converted first.
    """
    table = units if isinstance(units, UnitTable) else UnitTable(units)
    return table.rank(point, top_n, eta_model, kinds)


__all__ = [
    "DEFAULT_ETA_MODEL",
    "EtaModel",
    "Unit",
    "UnitEta",
    "UnitKind",
    "UnitPosition",
    "UnitStatus",
    "UnitTable",
    "rank_units",
]
