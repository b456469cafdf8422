"""The city as a node holds it in memory: the camera index and the districts, re-read from
the store when an import (on this node, another one, or the CLI) changed them, within the
memory bound of `cameras_max`."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Protocol

from contact.config import DispatchSettings
from contact.dispatch.camera_table import return_freed_memory
from contact.dispatch.cameras import CAMERA_MB_PER_MILLION, CameraIndex, CameraView
from contact.dispatch.districts import District, DistrictIndex, load_districts
from contact.dispatch.geo import LatLon
from contact.dispatch.model import DistrictRecord
from contact.dispatch.ports import CameraStore, DistrictStore

log = logging.getLogger(__name__)


class MapStore(CameraStore, DistrictStore, Protocol):
    """What the map reads."""


class CityMap:
    def __init__(self, repo: MapStore, settings: DispatchSettings) -> None:
        self._repo = repo
        self._settings = settings
        self._cameras = CameraIndex(())
        self._cameras_version: tuple[int, datetime | None] = (0, None)
        self._districts = DistrictIndex(())
        self._district_records: dict[str, DistrictRecord] = {}
        self._districts_version: tuple[int, datetime | None] = (0, None)

    @property
    def cameras(self) -> CameraIndex:
        return self._cameras

    @property
    def districts(self) -> DistrictIndex:
        return self._districts

    def district_record(self, district_id: str | None) -> DistrictRecord | None:
        return self._district_records.get(district_id) if district_id else None

    def locate(self, lat: float, lon: float) -> District | None:
        return self._districts.locate(lat, lon)

    def cameras_around(self, lat: float, lon: float) -> CameraView:
        return self._cameras.around(
            LatLon(lat, lon), self._settings.cameras_seeing, self._settings.cameras_others
        )

    def _cameras_fit(self, count: int) -> bool:
        """The memory bound: a node never loads more cameras than `cameras_max` (the index
        it has stays in use, and the refusal is logged at every reload until it fits)."""
        if count <= self._settings.cameras_max:
            return True
        log.error(
            "camera index not reloaded: %d cameras exceed CONTACT_DISPATCH_CAMERAS_MAX=%d "
            "(about %d MB a million, see docs/dispatch.md); keeping %d cameras",
            count,
            self._settings.cameras_max,
            CAMERA_MB_PER_MILLION,
            len(self._cameras),
        )
        return False

    async def reload(self, *, force: bool = False) -> bool:
        """Re-read cameras and districts when an import (here or on another node, or the CLI)
        changed them. True when something was reloaded."""
        changed = False
        version = await self._repo.cameras_version()
        if (force or version != self._cameras_version) and self._cameras_fit(version[0]):
            started = time.perf_counter()
            table = await self._repo.camera_table()
            index = await asyncio.get_running_loop().run_in_executor(None, CameraIndex, table)
            self._cameras, self._cameras_version = index, version
            return_freed_memory()
            log.info(
                "camera index: %d cameras in %.1f s, %.0f MB",
                len(index),
                time.perf_counter() - started,
                index.nbytes / 1e6,
            )
            changed = True
        version = await self._repo.districts_version()
        if force or version != self._districts_version:
            records = await self._repo.districts()
            districts = (
                load_districts(
                    {
                        "type": "FeatureCollection",
                        "features": [
                            {
                                "type": "Feature",
                                "id": r.id,
                                "properties": {
                                    "name_kk": r.name_kk,
                                    "name_ru": r.name_ru,
                                    **({"name_en": r.name_en} if r.name_en else {}),
                                    "department": r.department,
                                },
                                "geometry": r.geometry,
                            }
                            for r in records
                        ],
                    }
                )
                if records
                else []
            )
            self._districts = DistrictIndex(districts)
            self._district_records = {r.id: r for r in records}
            self._districts_version = version
            changed = True
        return changed


__all__ = ["CityMap"]
