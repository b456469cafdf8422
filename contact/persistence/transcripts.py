"""Transcripts in the database (`transcript_segments`) and their full-text search.

Search is the database's own: SQLite FTS5 (an external-content index over the table, kept by
triggers; `unicode61` folds Cyrillic and Latin case) and PostgreSQL's tsvector (a GIN index on
`to_tsvector('simple', text)`: no stemming, Kazakh has no dictionary there). Neither is a table
Alembic can compare with the models, so `prepare` creates them, idempotently, at start.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, text
from sqlmodel import col, select

from contact.persistence.engine import Store
from contact.persistence.tables_transcripts import TranscriptSegmentRow
from contact.ports import AuditLog

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS transcript_search USING fts5("
    "text, content='transcript_segments', content_rowid='rowid', tokenize='unicode61')",
    "CREATE TRIGGER IF NOT EXISTS transcript_search_ai AFTER INSERT ON transcript_segments "
    "BEGIN INSERT INTO transcript_search(rowid, text) VALUES (new.rowid, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS transcript_search_ad AFTER DELETE ON transcript_segments "
    "BEGIN INSERT INTO transcript_search(transcript_search, rowid, text) "
    "VALUES ('delete', old.rowid, old.text); END",
)
_POSTGRES_SEARCH = (
    "CREATE INDEX IF NOT EXISTS ix_transcript_segments_search ON transcript_segments "
    "USING gin (to_tsvector('simple', text))",
)
_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TOKENS = 16


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    contact_id: str
    speaker: str
    language: str
    text: str
    words: tuple[tuple[str, float, float, float], ...]  # word, start_s, end_s, confidence
    start_s: float
    end_s: float
    confidence: float
    leg_started_at: datetime
    created_at: datetime


def _row(s: Segment) -> TranscriptSegmentRow:
    return TranscriptSegmentRow(
        id=s.id,
        contact_id=s.contact_id,
        speaker=s.speaker,
        language=s.language,
        text=s.text,
        words=json.dumps([list(w) for w in s.words], ensure_ascii=False),
        start_s=s.start_s,
        end_s=s.end_s,
        confidence=s.confidence,
        leg_started_at=s.leg_started_at,
        created_at=s.created_at,
    )


def _segment(r: TranscriptSegmentRow) -> Segment:
    words = tuple((str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in json.loads(r.words))
    return Segment(
        id=r.id,
        contact_id=r.contact_id,
        speaker=r.speaker,
        language=r.language,
        text=r.text,
        words=words,
        start_s=r.start_s,
        end_s=r.end_s,
        confidence=r.confidence,
        leg_started_at=r.leg_started_at,
        created_at=r.created_at,
    )


def tokens(query: str) -> list[str]:
    """The words of a search, lower case, at most MAX_QUERY_TOKENS (nothing else of the query
    reaches the database's query language)."""
    return [t.lower() for t in _TOKEN.findall(query)][:MAX_QUERY_TOKENS]


class SqlTranscriptStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def prepare(self) -> None:
        statements = _SQLITE_SEARCH if self._store.is_sqlite else _POSTGRES_SEARCH
        async with self._store.write() as session:
            conn = await session.connection()
            for statement in statements:
                await conn.execute(text(statement))

    async def add(self, segment: Segment) -> None:
        async with self._store.write() as session:
            session.add(_row(segment))

    async def for_contact(self, contact_id: str) -> list[Segment]:
        async with self._store.read() as session:
            rows = await session.exec(
                select(TranscriptSegmentRow)
                .where(TranscriptSegmentRow.contact_id == contact_id)
                .order_by(col(TranscriptSegmentRow.created_at), col(TranscriptSegmentRow.id))
            )
            return [_segment(r) for r in rows.all()]

    async def search(self, query: str, limit: int = 50) -> list[Segment]:
        """Segments holding every word of `query`, newest first."""
        words = tokens(query)
        if not words:
            return []
        async with self._store.read() as session:
            conn = await session.connection()
            if self._store.is_sqlite:
                match = " ".join('"' + w.replace('"', "") + '"' for w in words)
                ids = await conn.execute(
                    text(
                        "SELECT s.id FROM transcript_search f JOIN transcript_segments s "
                        "ON s.rowid = f.rowid WHERE transcript_search MATCH :q "
                        "ORDER BY s.created_at DESC LIMIT :n"
                    ),
                    {"q": match, "n": limit},
                )
            else:
                ids = await conn.execute(
                    text(
                        "SELECT id FROM transcript_segments WHERE to_tsvector('simple', text) "
                        "@@ plainto_tsquery('simple', :q) ORDER BY created_at DESC LIMIT :n"
                    ),
                    {"q": " ".join(words), "n": limit},
                )
            found = [row[0] for row in ids]
            if not found:
                return []
            rows = await session.exec(
                select(TranscriptSegmentRow).where(col(TranscriptSegmentRow.id).in_(found))
            )
            by_id = {r.id: _segment(r) for r in rows.all()}
        return [by_id[i] for i in found if i in by_id]

    async def count_before(self, before: datetime) -> int:
        async with self._store.read() as session:
            found = await session.exec(
                select(func.count())
                .select_from(TranscriptSegmentRow)
                .where(col(TranscriptSegmentRow.created_at) < before)
            )
            return int(found.one())

    async def purge_before(self, before: datetime) -> int:
        """Delete the segments stored before `before` (the recordings' retention)."""
        async with self._store.write() as session:
            result: Any = await session.exec(
                delete(TranscriptSegmentRow).where(col(TranscriptSegmentRow.created_at) < before)
            )
            return int(result.rowcount or 0)


async def purge_transcripts(
    store: SqlTranscriptStore, audit: AuditLog, *, days: int, now: datetime, dry_run: bool
) -> int:
    """Transcripts follow the recordings' retention (CONTACT_ASTERISK_RETENTION_DAYS): `contact
    retention purge` deletes the segments stored before it and writes one audit entry saying
    how many (no text)."""
    before = now - timedelta(days=days)
    if dry_run:
        return await store.count_before(before)
    purged = await store.purge_before(before)
    if purged:
        await audit.append(
            "system:retention",
            "transcript.purge",
            None,
            {"segments": purged, "before": before.isoformat(), "retention_days": days},
        )
    return purged
