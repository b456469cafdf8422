"""A node's camera index and its memory bound: `CONTACT_DISPATCH_CAMERAS_MAX` keeps a node
from loading more cameras than it was sized for (the index it has stays in use), on SQLite
and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from contact.config import DispatchSettings
from contact.dispatch.cameras import Camera
from contact.dispatch.geo import LatLon
from contact.dispatch.service import DispatchService
from contact.dispatch.sql import SqlDispatchRepository
from contact.persistence.database import SqlDatabase


def cameras(n: int, prefix: str) -> list[Camera]:
    return [
        Camera(f"{prefix}{i:03d}", 43.2 + i * 1e-4, 76.9, 0.0, 360.0, 30.0, f"rtsp://x/{i}")
        for i in range(n)
    ]


async def test_a_node_loads_no_more_cameras_than_its_bound(
    db: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    none: Any = None
    repo = SqlDispatchRepository(db.store)
    service = DispatchService(
        repo=repo,
        contacts=none,
        bus=none,
        broadcast=none,
        settings=DispatchSettings(cameras_max=5),
    )
    await repo.import_cameras(cameras(5, "A"), datetime(2026, 1, 1, tzinfo=UTC))
    assert await service.reload_map(force=True)
    assert len(service.cameras) == 5
    assert service.cameras.cameras_seeing(LatLon(43.2, 76.9))[0].camera.id == "A000"

    await repo.import_cameras(cameras(6, "B"), datetime(2026, 1, 2, tzinfo=UTC))
    with caplog.at_level(logging.ERROR, logger="contact.dispatch.service"):
        assert not await service.reload_map()
    assert "exceed CONTACT_DISPATCH_CAMERAS_MAX=5" in caplog.text
    assert len(service.cameras) == 5 and service.cameras.get("B000") is None  # the old index

    await repo.import_cameras(cameras(5, "C"), datetime(2026, 1, 3, tzinfo=UTC), replace_all=True)
    assert await service.reload_map()
    assert cast(Camera, service.cameras.get("C004")).id == "C004" and len(service.cameras) == 5
