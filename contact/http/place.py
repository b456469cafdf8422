"""Where a caller is, in words, for the operator's page: an address from a reverse geocoder
(Nominatim's or Photon's /reverse, behind the `ReverseGeocoder` port), else the police district
and the nearest known place (a camera or an SOS kiosk of the registries).

The geocoder never holds the page up: one short timeout, answers cached (rounded to ~10 m), and
after a failure it is left alone for a while (the district and the nearest place still answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from contact.config import GeocoderSettings
from contact.context import Key
from contact.domain.geo import haversine_m

log = logging.getLogger(__name__)
FAILURE_BACKOFF_S = 30.0
MAX_ADDRESS_CHARS = 200
OUTLINE_POINTS = 400  # a district outline on the map: enough to see, little to send


class ReverseGeocoder(Protocol):
    async def reverse(self, lat: float, lon: float, language: str) -> str | None:
        """A short street address, or None (nothing there, or the geocoder did not answer)."""
        ...


class NoGeocoder:
    async def reverse(self, lat: float, lon: float, language: str) -> str | None:
        return None


def _nominatim(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    address = data.get("address")
    if isinstance(address, dict):
        street = address.get("road") or address.get("pedestrian") or address.get("footway")
        house = address.get("house_number")
        town = address.get("city") or address.get("town") or address.get("village")
        parts = [" ".join(str(p) for p in (street, house) if p), town]
        text = ", ".join(str(p) for p in parts if p)
        if text:
            return text
    name = data.get("display_name")
    return str(name) if isinstance(name, str) and name else None


def _photon(data: Any) -> str | None:
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features or not isinstance(features[0], dict):
        return None
    props = features[0].get("properties")
    if not isinstance(props, dict):
        return None
    street = props.get("street") or props.get("name")
    house = props.get("housenumber")
    parts = [" ".join(str(p) for p in (street, house) if p), props.get("city")]
    text = ", ".join(str(p) for p in parts if p)
    return text or None


class HttpReverseGeocoder:
    """Nominatim (`/reverse?format=jsonv2`) or Photon (`/reverse`) over HTTP."""

    def __init__(
        self, settings: GeocoderSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        assert settings.url is not None
        self._settings = settings
        self._base = settings.url.rstrip("/")
        self._clock = clock
        self._cache: OrderedDict[tuple[float, float, str], tuple[float, str | None]] = OrderedDict()
        self._resting_until = 0.0
        self._session: aiohttp.ClientSession | None = None
        self.asked = 0  # requests actually sent (tests, metrics)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _remember(self, key: tuple[float, float, str], value: str | None) -> None:
        self._cache[key] = (self._clock() + self._settings.cache_s, value)
        self._cache.move_to_end(key)
        while len(self._cache) > self._settings.cache_size:
            self._cache.popitem(last=False)

    async def reverse(self, lat: float, lon: float, language: str) -> str | None:
        key = (round(lat, 4), round(lon, 4), language)
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if now < self._resting_until:
            return None
        if self._session is None:
            self._session = aiohttp.ClientSession()
        s = self._settings
        if s.kind == "photon":
            params = {"lat": str(lat), "lon": str(lon), "lang": language, "limit": "1"}
        else:
            params = {
                "format": "jsonv2",
                "lat": str(lat),
                "lon": str(lon),
                "zoom": "18",
                "addressdetails": "1",
                "accept-language": language,
            }
        self.asked += 1
        try:
            async with asyncio.timeout(s.timeout_s):
                async with self._session.get(f"{self._base}/reverse", params=params) as r:
                    if r.status != 200:
                        raise aiohttp.ClientResponseError(
                            r.request_info, (), status=r.status, message="not 200"
                        )
                    data = await r.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            log.warning("geocoder: %s; the district stands in for %.0f s", error, FAILURE_BACKOFF_S)
            self._resting_until = now + FAILURE_BACKOFF_S
            return None
        found = _photon(data) if s.kind == "photon" else _nominatim(data)
        value = found[:MAX_ADDRESS_CHARS] if found else None
        self._remember(key, value)
        return value


def geocoder_from(settings: GeocoderSettings) -> ReverseGeocoder:
    return HttpReverseGeocoder(settings) if settings.url else NoGeocoder()


class CityMap(Protocol):
    """What the operator's page reads of the city: the district around a point (as
    `district_json` gives it) and the nearest camera that sees it (id, metres). Dispatch's
    map, provided by the composition root while dispatch runs."""

    def district(self, lat: float, lon: float, *, outline: bool) -> dict[str, Any] | None: ...

    def nearest_camera(self, lat: float, lon: float) -> tuple[str, float] | None: ...


CITY_MAP: Key[CityMap] = Key("city_map")


def district_json(district: Any, with_outline: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": district.id,
        "name_kk": district.name_kk,
        "name_ru": district.name_ru,
        "name_en": district.name_en or district.name_ru,
        "department": district.department,
    }
    if with_outline:
        rings = []
        for polygon in district.polygons:
            ring = polygon.exterior
            step = max(1, len(ring) // OUTLINE_POINTS)
            rings.append([[round(float(p[1]), 6), round(float(p[0]), 6)] for p in ring[::step]])
        body["outline"] = rings
    return body


def nearest_place(
    lat: float, lon: float, camera: tuple[str, float] | None, kiosks: list[Any]
) -> dict[str, Any] | None:
    """The nearest camera (id and distance, from the city map) or kiosk, with its distance."""
    best: dict[str, Any] | None = None
    if camera is not None:
        best = {
            "kind": "camera",
            "id": camera[0],
            "name": camera[0],
            "address": None,
            "distance_m": float(camera[1]),
        }
    for kiosk in kiosks:
        d = haversine_m(lat, lon, kiosk.lat, kiosk.lon)
        if best is None or d < best["distance_m"]:
            best = {
                "kind": "kiosk",
                "id": kiosk.id,
                "name": kiosk.name,
                "address": kiosk.address,
                "distance_m": d,
            }
    return best
