"""SQLModel table for call transcripts: one row per recognised utterance of a leg.

Migrated by revision 0012. Full-text search over `text` is the database's own (SQLite FTS5,
PostgreSQL tsvector); its structures are not SQLModel tables (contact/persistence/transcripts.py
creates them).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class TranscriptSegmentRow(Base, table=True):
    __tablename__ = "transcript_segments"

    id: str = Field(primary_key=True)
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)
    speaker: str  # caller | operator
    language: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    words: str = Field(sa_column=Column(Text, nullable=False))  # JSON: [[word, start, end, conf]]
    start_s: float  # from the start of the leg's tap
    end_s: float
    confidence: float
    leg_started_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)  # retention goes by it
