"""Helpers shared by the repositories' row <-> domain mapping."""

from __future__ import annotations

from typing import Any

from contact.domain.model import Location, LocationSource, plausible_accuracy


def location_columns(location: Location | None) -> dict[str, Any]:
    if location is None:
        return {
            "lat": None,
            "lon": None,
            "accuracy_m": None,
            "location_source": None,
            "address": None,
        }
    return {
        "lat": location.lat,
        "lon": location.lon,
        "accuracy_m": location.accuracy_m,
        "location_source": location.source.value,
        "address": location.address,
    }


def to_location(
    lat: float | None,
    lon: float | None,
    accuracy_m: float | None,
    source: str | None,
    address: str | None,
) -> Location | None:
    if lat is None or lon is None:
        return None
    return Location(
        lat=lat,
        lon=lon,
        accuracy_m=plausible_accuracy(accuracy_m),  # rows stored before the bound
        source=LocationSource(source) if source is not None else LocationSource.GPS,
        address=address,
    )
