"""The published staffing rota in the database (tables_rota.RotaRow): written by `contact
simulate … --recommend --publish` (which audits who published it), read by the supervisor
page (GET /api/v1/supervisor/rota)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select

from contact.persistence.engine import Store
from contact.persistence.tables_rota import RotaRow

HOURS_OF_WEEK = 168


@dataclass(frozen=True, slots=True)
class RotaEntry:
    """Operators one skill group needs on the lines in one hour of the week."""

    hour_of_week: int  # 0 = Monday 00:00 on the centre's clock
    group: str
    position: int
    needed: int
    languages: tuple[str, ...]
    capabilities: tuple[str, ...]
    scenario: str
    service_level: float
    published_at: datetime
    published_by: str


def _entry(row: RotaRow) -> RotaEntry:
    return RotaEntry(
        row.hour_of_week,
        row.skill_group,
        row.position,
        row.needed,
        tuple(x for x in row.languages.split(",") if x),
        tuple(x for x in row.capabilities.split(",") if x),
        row.scenario,
        row.service_level,
        row.published_at,
        row.published_by,
    )


class SqlRota:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def publish(self, entries: Sequence[RotaEntry]) -> None:
        """The entries replace whatever was published for their hours, in one transaction."""
        hours = sorted({e.hour_of_week for e in entries})
        if any(not 0 <= h < HOURS_OF_WEEK for h in hours):
            raise ValueError("an hour of the week is 0..167")
        async with self._store.write() as tx:
            await tx.exec(delete(RotaRow).where(col(RotaRow.hour_of_week).in_(hours)))
            for e in entries:
                tx.add(
                    RotaRow(
                        hour_of_week=e.hour_of_week,
                        skill_group=e.group,
                        position=e.position,
                        needed=e.needed,
                        languages=",".join(e.languages),
                        capabilities=",".join(e.capabilities),
                        scenario=e.scenario,
                        service_level=e.service_level,
                        published_at=e.published_at,
                        published_by=e.published_by,
                    )
                )

    async def hours(self, hours: Sequence[int]) -> list[RotaEntry]:
        """What is published for these hours of the week (bounded: at most a week of them),
        by hour in the order given, then by the group's position."""
        wanted = list(dict.fromkeys(h % HOURS_OF_WEEK for h in hours))[:HOURS_OF_WEEK]
        statement = select(RotaRow).where(col(RotaRow.hour_of_week).in_(wanted))
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        order = {h: i for i, h in enumerate(wanted)}
        return sorted(
            (_entry(r) for r in rows), key=lambda e: (order[e.hour_of_week], e.position, e.group)
        )
