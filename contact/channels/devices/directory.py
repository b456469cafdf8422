"""Where a camera is, for camera alerts and the sources of device contacts.

Dispatch owns the city's cameras. The database registry (`SqlCameraDirectory`) reads them from
dispatch's `cameras` table and falls back to the cameras of kiosks and alarm sites. A plugin
with a faster lookup (dispatch's in-memory index) may put any `CameraDirectory` under
`CAMERA_DIRECTORY_PART`: it is asked first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from contact.context import Key
from contact.ports import CameraDirectory, CameraInfo

if TYPE_CHECKING:
    from contact.context import Container

CAMERA_DIRECTORY_PART: Key[CameraDirectory] = Key("camera_directory")


class ChainedCameraDirectory:
    def __init__(self, directories: Sequence[CameraDirectory]) -> None:
        self._directories = tuple(directories)

    async def camera(self, camera_id: str) -> CameraInfo | None:
        for directory in self._directories:
            found = await directory.camera(camera_id)
            if found is not None:
                return found
        return None


def camera_directory(container: Container) -> CameraDirectory:
    sql = container.db.registries.cameras
    extra = container.find(CAMERA_DIRECTORY_PART)
    if extra is not None:
        return ChainedCameraDirectory([extra, sql])
    return sql
