"""SQLModel tables for calls, recordings, callbacks (contact/telephony).

Migrated by revision 0004. A call's row is what lets a restarted node (or a node after an
Asterisk restart) rebuild the live picture: which channel belongs to which contact, which
operator leg is bridged to it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from contact.persistence.tables import Base, UtcDateTime


class CallRow(Base, table=True):
    __tablename__ = "calls"
    __table_args__ = (Index(None, "state", "started_at"),)

    id: str = Field(primary_key=True)
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)
    uniqueid: str = Field(unique=True)  # the channel contact steers (Asterisk's Uniqueid)
    channel: str
    direction: str  # in | out
    kind: str  # voice | kiosk | video | callback
    state: str
    endpoint: str | None = None
    number: str | None = None
    citizen_leg: str | None = None
    operator_id: str | None = None
    operator_leg: str | None = None
    consult_leg: str | None = None
    transfer_target: str | None = None
    language: str | None = None
    civic_address: str | None = None
    recording: str | None = None
    started_at: datetime = Field(sa_type=UtcDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    bridged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str | None = None
    hangup_cause: int | None = None
    dropped: bool = False


class RecordingRow(Base, table=True):
    __tablename__ = "recordings"
    __table_args__ = (Index(None, "purged_at", "started_at"),)

    id: str = Field(primary_key=True)
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)
    call_id: str = Field(foreign_key="calls.id", ondelete="CASCADE")
    path: str = Field(unique=True)
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    size_bytes: int | None = None
    purged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class CallbackRow(Base, table=True):
    __tablename__ = "callbacks"
    __table_args__ = (UniqueConstraint("source_contact_id"), Index(None, "state"))

    id: str = Field(primary_key=True)
    source_contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE")
    target: str
    reason: str
    state: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    attempts: int = 0
    task_contact_id: str | None = Field(default=None, unique=True)
    leg_uniqueid: str | None = None
    answered_contact_id: str | None = None
    last_result: str | None = None
