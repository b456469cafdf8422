"""The city's cameras in SQL: imported in one transaction, read as columns, their health."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from contact.dispatch.camera_table import CameraTable, CameraTableBuilder
from contact.dispatch.cameras import Camera
from contact.dispatch.model import CameraHealth
from contact.dispatch.sql._rows import SqlPart
from contact.dispatch.sql.tables import (
    CameraHealthRow,
    CameraRow,
)

CAMERA_BATCH = 5_000  # rows per INSERT … ON CONFLICT statement
CAMERA_READ_CHUNK = 50_000  # rows per fetch when a node loads every camera


class SqlCameras(SqlPart):
    # --- cameras ----------------------------------------------------------------------------

    async def import_cameras(
        self,
        cameras: Sequence[Camera],
        at: datetime,
        *,
        replace_all: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert or update cameras by id, all in ONE transaction: a failure anywhere (a
        database error, Ctrl-C) leaves the table as it was. `replace_all` also deletes the
        cameras not in `cameras`."""
        insert = sqlite_insert if self._store.is_sqlite else pg_insert
        columns = (
            "lat",
            "lon",
            "heading_deg",
            "fov_deg",
            "range_m",
            "stream_url",
            "snapshot_url",
            "district_id",
            "imported_at",
        )
        statement = insert(CameraRow)
        statement = statement.on_conflict_do_update(
            index_elements=[col(CameraRow.id)],
            set_={name: getattr(statement.excluded, name) for name in columns},
        )
        async with self._store.write() as session:
            conn = await session.connection()
            if replace_all:
                await conn.execute(delete(CameraRow))
            done = 0
            for start in range(0, len(cameras), CAMERA_BATCH):
                batch = cameras[start : start + CAMERA_BATCH]
                await conn.execute(
                    statement,
                    [
                        {
                            "id": c.id,
                            "lat": c.lat,
                            "lon": c.lon,
                            "heading_deg": c.heading_deg,
                            "fov_deg": c.fov_deg,
                            "range_m": c.range_m,
                            "stream_url": c.stream_url,
                            "snapshot_url": c.snapshot_url,
                            "district_id": c.district,
                            "imported_at": at,
                        }
                        for c in batch
                    ],
                )
                done += len(batch)
                if progress is not None:
                    progress(done)
        return len(cameras)

    async def cameras(self) -> list[Camera]:
        table = CameraRow.__table__  # type: ignore[attr-defined]
        names = ("id", "lat", "lon", "heading_deg", "fov_deg", "range_m", "stream_url")
        statement = sa_select(
            *(table.c[n] for n in names), table.c.snapshot_url, table.c.district_id
        ).order_by(table.c.id)
        async with self._store.read() as session:
            conn = await session.connection()
            rows = (await conn.execute(statement)).all()
        return [
            Camera(
                id=r[0],
                lat=r[1],
                lon=r[2],
                heading_deg=r[3],
                fov_deg=r[4],
                range_m=r[5],
                stream_url=r[6],
                snapshot_url=r[7],
                district=r[8],
            )
            for r in rows
        ]

    async def camera_table(self) -> CameraTable:
        """Every camera as columns, read in chunks from a cursor: no `Camera` object per
        camera is ever held (what a node loads at start). On SQLite the whole read runs in a
        worker thread; elsewhere the rows of each fetch become columns in a worker thread, so
        the event loop only waits for the fetches."""
        table = CameraRow.__table__  # type: ignore[attr-defined]
        names = ("id", "lat", "lon", "heading_deg", "fov_deg", "range_m", "stream_url")
        statement = sa_select(
            *(table.c[n] for n in names), table.c.snapshot_url, table.c.district_id
        ).order_by(table.c.id)
        builder = CameraTableBuilder()
        if self._store.reads_in_thread:

            def read(conn: Connection) -> CameraTable:
                # the driver's own cursor: plain tuples, no SQLAlchemy row per camera
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute(str(statement.compile(dialect=conn.dialect)))
                    while rows := cursor.fetchmany(CAMERA_READ_CHUNK):
                        builder.add(rows)
                finally:
                    cursor.close()
                return builder.build()

            return await self._store.read_in_thread(read)
        loop = asyncio.get_running_loop()
        async with self._store.read(snapshot=True) as session:
            conn = await session.connection()
            result = await conn.stream(statement)
            async for rows in result.partitions(CAMERA_READ_CHUNK):
                await loop.run_in_executor(None, builder.add, rows)
        return await loop.run_in_executor(None, builder.build)

    async def cameras_version(self) -> tuple[int, datetime | None]:
        """(count, newest import time): changes whenever an import changes the table."""
        async with self._store.read() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(CameraRow.imported_at)))
            ).one()
        if isinstance(newest, str):  # SQLite hands aggregate timestamps back as text
            newest = datetime.fromisoformat(newest)
        return int(count), newest

    async def record_snapshot(
        self, camera_id: str, ok: bool, at: datetime, error: str | None = None
    ) -> None:
        async with self._store.write() as session:
            row = await session.get(CameraHealthRow, camera_id)
            if row is None:
                row = CameraHealthRow(camera_id=camera_id)
            if ok:
                row.ok_count += 1
                row.consecutive_failures = 0
                row.last_ok_at = at
            else:
                row.failure_count += 1
                row.consecutive_failures += 1
                row.last_failure_at = at
                row.last_error = (error or "")[:300]
            session.add(row)

    async def camera_health(self, limit: int = 100) -> list[CameraHealth]:
        """Cameras whose last snapshots failed, the longest-failing first."""
        statement = (
            select(CameraHealthRow)
            .where(col(CameraHealthRow.consecutive_failures) > 0)
            .order_by(
                col(CameraHealthRow.consecutive_failures).desc(),
                col(CameraHealthRow.camera_id),
            )
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [
            CameraHealth(
                r.camera_id,
                r.ok_count,
                r.failure_count,
                r.consecutive_failures,
                r.last_ok_at,
                r.last_failure_at,
                r.last_error,
            )
            for r in rows
        ]
