"""Districts in SQL: a district file replaces the whole table at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select

from contact.dispatch.model import DistrictRecord
from contact.dispatch.sql._rows import SqlPart
from contact.dispatch.sql.tables import DistrictRow


class SqlDistricts(SqlPart):
    # --- districts --------------------------------------------------------------------------

    async def replace_districts(self, districts: Sequence[DistrictRecord], at: datetime) -> None:
        """A district file is the whole city: the table becomes exactly these, at once."""
        async with self._store.write() as session:
            await session.exec(delete(DistrictRow))
            for d in districts:
                session.add(
                    DistrictRow(
                        id=d.id,
                        name_kk=d.name_kk,
                        name_ru=d.name_ru,
                        name_en=d.name_en,
                        department=d.department,
                        geometry=json.dumps(d.geometry, ensure_ascii=False),
                        position=d.position,
                        imported_at=at,
                    )
                )

    async def districts(self) -> list[DistrictRecord]:
        statement = select(DistrictRow).order_by(col(DistrictRow.position), col(DistrictRow.id))
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [
            DistrictRecord(
                r.id,
                r.name_kk,
                r.name_ru,
                r.department,
                json.loads(r.geometry),
                r.position,
                name_en=r.name_en,
            )
            for r in rows
        ]

    async def districts_version(self) -> tuple[int, datetime | None]:
        async with self._store.read() as session:
            count, newest = (
                await session.exec(select(func.count(), func.max(DistrictRow.imported_at)))
            ).one()
        if isinstance(newest, str):
            newest = datetime.fromisoformat(newest)
        return int(count), newest
