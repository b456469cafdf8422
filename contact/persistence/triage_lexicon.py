"""The triage lexicon in the database: every entry after the first edit, and a version that
each edit bumps in the same transaction (nodes compare it with the copy they run)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import select

from contact.domain.triage import Category
from contact.persistence.engine import Store
from contact.persistence.tables_triage import TriageLexiconRow, TriageLexiconStateRow
from contact.triage.lexicon import Entry

_STATE = 1


class SqlTriageLexicon:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def version(self) -> int:
        """0: never edited (the packaged lexicon is the one)."""
        async with self._store.read() as tx:
            state = await tx.get(TriageLexiconStateRow, _STATE)
        return 0 if state is None else state.version

    async def load(self) -> tuple[int, list[Entry] | None]:
        """(version, entries); entries None when never edited."""
        async with self._store.read(snapshot=True) as tx:
            state = await tx.get(TriageLexiconStateRow, _STATE)
            if state is None:
                return 0, None
            rows = (await tx.exec(select(TriageLexiconRow))).all()
        entries = [Entry(r.term, r.lang, Category(r.category), r.weight) for r in rows]
        return state.version, entries

    async def save(
        self, entries: Iterable[Entry], *, expected: int, by: str, at: datetime
    ) -> int | None:
        """Replace the lexicon when it is still at version `expected`; the new version, or
        None when another edit came first (the caller reloads and tries again)."""
        async with self._store.write() as tx:
            state = await tx.get(TriageLexiconStateRow, _STATE, with_for_update=True)
            current = 0 if state is None else state.version
            if current != expected:
                return None
            await tx.exec(delete(TriageLexiconRow))
            tx.add_all(
                TriageLexiconRow(
                    lang=e.lang, category=e.category.value, term=e.term, weight=e.weight
                )
                for e in entries
            )
            if state is None:
                state = TriageLexiconStateRow(id=_STATE, version=0, edited_at=at, edited_by=by)
            state.version, state.edited_at, state.edited_by = current + 1, at, by
            tx.add(state)
            return current + 1
