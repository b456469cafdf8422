"""A unit's whole state as JSON (the internal topic between nodes and the REST API), and the
time a device reports, believed only when plausible."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contact.dispatch.model import UnitRecord
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.domain.model import plausible_time


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 string (with a zone) or epoch seconds; anything else: None (use now)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        try:
            at = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return at if plausible_time(at) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None or not plausible_time(parsed):
            return None
        return parsed.astimezone(UTC)
    return None


def unit_state(unit: UnitRecord, scene: tuple[float, float] | None) -> dict[str, Any]:
    """The whole state of a unit as JSON (the internal topic and the REST API)."""
    p = unit.position
    return {
        "id": unit.id,
        "callsign": unit.callsign,
        "kind": unit.kind.value,
        "status": unit.status.value,
        "status_at": unit.status_at.isoformat(),
        "district_id": unit.district_id,
        "department": unit.department,
        "crew": list(unit.crew),
        "dispatch_id": unit.dispatch_id,
        "active": unit.active,
        "position": None
        if p is None
        else {
            "lat": p.lat,
            "lon": p.lon,
            "accuracy_m": p.accuracy_m,
            "at": p.at.isoformat() if p.at else None,
        },
        "scene": None if scene is None else {"lat": scene[0], "lon": scene[1]},
    }


def unit_from_state(data: Mapping[str, Any]) -> tuple[UnitRecord, tuple[float, float] | None]:
    p = data.get("position")
    scene = data.get("scene")
    position = (
        UnitPosition(
            float(p["lat"]),
            float(p["lon"]),
            datetime.fromisoformat(p["at"]) if p.get("at") else None,
            p.get("accuracy_m"),
        )
        if isinstance(p, dict)
        else None
    )
    unit = UnitRecord(
        id=str(data["id"]),
        callsign=str(data["callsign"]),
        kind=UnitKind(data["kind"]),
        status=UnitStatus(data["status"]),
        status_at=datetime.fromisoformat(data["status_at"]),
        district_id=data.get("district_id"),
        department=data.get("department"),
        crew=tuple(data.get("crew") or ()),
        dispatch_id=data.get("dispatch_id"),
        position=position,
        active=bool(data.get("active", True)),
    )
    return unit, ((float(scene["lat"]), float(scene["lon"])) if isinstance(scene, dict) else None)


__all__ = ["parse_time", "unit_from_state", "unit_state"]
