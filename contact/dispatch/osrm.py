"""Road travel times from an OSRM-compatible routing server (its `table` service).

One request gives the road duration and distance from every candidate unit to the scene.
The estimate (great-circle distance x road factor / speed) stays the fallback: a timeout, an
error or an answer we cannot read returns None, and after a failure the router is left alone
for `backoff_s`, so a dead routing server costs one timeout, not one per suggestion.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from contact.dispatch.geo import HasLatLon

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoadLeg:
    duration_s: float | None  # by the server's profile (a car for `driving`)
    distance_m: float | None  # along the roads


class OsrmRouter:
    def __init__(
        self,
        base_url: str,
        *,
        profile: str = "driving",
        timeout_s: float = 0.8,
        backoff_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._profile = profile
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._down_until = 0.0
        self.requests = 0
        self.failures = 0

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def healthy(self) -> bool:
        return self._clock() >= self._down_until

    async def legs(
        self, origins: Sequence[HasLatLon], destination: HasLatLon
    ) -> list[RoadLeg] | None:
        """Road legs from each origin to the destination, or None (use the estimate)."""
        if not origins or self._session is None or not self.healthy:
            return None
        points = [*origins, destination]
        coordinates = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in points)
        n = len(origins)
        url = f"{self._base}/table/v1/{self._profile}/{coordinates}"
        params = {
            "sources": ";".join(str(i) for i in range(n)),
            "destinations": str(n),
            "annotations": "duration,distance",
        }
        self.requests += 1
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._session.get(url, params=params) as response:
                    if response.status != 200:
                        raise ValueError(f"status {response.status}")
                    body = await response.json(content_type=None)
            return _parse(body, n)
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            self.failures += 1
            self._down_until = self._clock() + self._backoff_s
            log.warning(
                "routing server failed (%s); estimating for %.0f s",
                type(exc).__name__ if isinstance(exc, TimeoutError) else exc,
                self._backoff_s,
            )
            return None


def _parse(body: Any, n: int) -> list[RoadLeg]:
    if not isinstance(body, dict) or body.get("code") != "Ok":
        code = body.get("code") if isinstance(body, dict) else None
        raise ValueError(f"answer code {code!r}")
    durations = body.get("durations")
    distances = body.get("distances")
    if not isinstance(durations, list) or len(durations) != n:
        raise ValueError("durations missing or of the wrong size")
    legs = []
    for i in range(n):
        duration = _cell(durations, i)
        distance = _cell(distances, i) if isinstance(distances, list) else None
        legs.append(RoadLeg(duration, distance))
    return legs


def _cell(matrix: list[Any], i: int) -> float | None:
    row = matrix[i] if i < len(matrix) else None
    value = row[0] if isinstance(row, list) and row else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) if value >= 0 else None
    return None  # null: no route (an island, a closed road)


__all__ = ["OsrmRouter", "RoadLeg"]
