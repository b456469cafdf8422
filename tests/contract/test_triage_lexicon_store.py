"""The triage lexicon store on SQLite, PostgreSQL and the unit tests' fake alike: never edited
until the first save, every save bumps the version, and a save made on a stale version changes
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Protocol

import pytest

from contact.config import DatabaseSettings
from contact.domain.triage import Category
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from contact.triage.lexicon import Entry
from tests.unit.test_triage_lexicon import FakeStore


class LexiconStore(Protocol):
    """What LexiconEditor uses of its store (SqlTriageLexicon; the unit tests' FakeStore)."""

    async def version(self) -> int: ...

    async def load(self) -> tuple[int, list[Entry] | None]: ...

    async def save(
        self, entries: Iterable[Entry], *, expected: int, by: str, at: datetime
    ) -> int | None: ...


AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
KNIFE = Entry("нож", "ru", Category.WEAPON, 1.0)
FIRE = Entry("өрт", "kk", Category.FIRE, 1.0)
SMOKE = Entry("түтін", "kk", Category.FIRE, 0.6)


@pytest.fixture
async def store(backend: str | None) -> AsyncIterator[LexiconStore]:
    if backend is None:
        yield FakeStore()
        return
    await upgrade(backend)
    db = await SqlDatabase.open(DatabaseSettings(url=backend))
    yield db.triage_lexicon
    await db.close()


async def test_versions_and_stale_saves(store: LexiconStore) -> None:
    assert await store.load() == (0, None)
    assert await store.version() == 0
    assert await store.save([KNIFE, FIRE], expected=0, by="admin-1", at=AT) == 1
    assert await store.save([SMOKE], expected=0, by="admin-2", at=AT) is None  # stale
    version, entries = await store.load()
    assert version == 1 and sorted(entries or [], key=lambda e: e.term) == [KNIFE, FIRE]
    assert await store.save([SMOKE], expected=1, by="admin-2", at=AT) == 2
    assert await store.load() == (2, [SMOKE])
    assert await store.save([], expected=2, by="admin-1", at=AT) == 3
    assert await store.load() == (3, [])  # edited to nothing is not "never edited"
