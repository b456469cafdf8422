"""The supervisor's figures of a period, read through the indexes that bound them: contacts
by `created_at` (ix_contacts_created_at), first arrivals on scene by `arrived_at`
(ix_dispatches_arrived_at), kiosks by `state` (ix_kiosks_state). Only the columns a figure
needs are read, never a citizen's words or number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from contact.persistence.engine import Store
from contact.persistence.tables import ContactRow
from contact.persistence.tables_registries import KioskRow


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the figures need of one contact: no personal data."""

    channel: str
    state: str
    priority: int
    created_at: datetime
    queued_at: datetime | None
    answered_at: datetime | None


class SqlStats:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def contacts(self, since: datetime, until: datetime) -> list[ContactFacts]:
        """Contacts created within [since, until); the caller bounds the period."""
        table = ContactRow.__table__.c  # type: ignore[attr-defined]
        statement = sa_select(
            table.channel,
            table.state,
            table.priority,
            table.created_at,
            table.queued_at,
            table.answered_at,
        ).where(table.created_at >= since, table.created_at < until)
        async with self._store.read() as session:
            conn = await session.connection()
            rows = (await conn.execute(statement)).all()
        return [ContactFacts(*row) for row in rows]

    async def kiosks_by_state(self) -> dict[str, int]:
        statement = (
            select(KioskRow.state, func.count())
            .where(col(KioskRow.enabled) == True)  # noqa: E712 - SQL, not Python truth
            .group_by(col(KioskRow.state))
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return {state: int(n) for state, n in rows}
