"""SQLModel tables: the one description of the schema (migrations are written to match it).

Enums are stored as their string values and sets as comma strings, so rows stay readable from
psql / sqlite3 and portable between SQLite and PostgreSQL. Mapping to the domain lives in each
repository module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

# Stable constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH_LENGTH = 64  # sha256 hex digest
GENESIS_HASH = "0" * HASH_LENGTH


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out.

    SQLite keeps no offset and hands back naive values; PostgreSQL's timestamptz returns the
    session time zone. Both come back as aware UTC. Naive input is refused: guessing its zone
    would silently shift an emergency's timeline.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused (use aware UTC): {value!r}")
        value = value.astimezone(UTC)
        # SQLite stores text; a fixed UTC form keeps ORDER BY on it chronological
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(SQLModel, registry=registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))):
    """Base of our tables: its own MetaData, so nothing else registered with SQLModel leaks in."""


metadata = Base.metadata


class ContactRow(Base, table=True):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: str = Field(primary_key=True)
    channel: str
    state: str = Field(index=True)
    priority: int
    language: str | None = None
    citizen: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    location_source: str | None = None
    address: str | None = None
    summary: str = Field(default="", sa_type=Text)
    incident_id: str | None = Field(default=None, index=True)
    operator_id: str | None = None
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)
    queued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    wrapped_up_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    disposition: str | None = None
    orphaned_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # the channel's own id of the intake (Telegram update, app report id): idempotent intake
    external_id: str | None = None
    # what the request with that id said (sha256 of its meaning): a reused Idempotency-Key
    # with another body is refused instead of being folded into this contact
    request_sha256: str | None = None


class MessageRow(Base, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "contact_id", "created_at"),
        # a channel redelivering the same message is stored once
        UniqueConstraint("contact_id", "external_id"),
    )

    id: str = Field(primary_key=True)
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE")
    direction: str
    text: str = Field(sa_type=Text)
    author: str | None = None
    external_id: str | None = None
    created_at: datetime = Field(sa_type=UtcDateTime)


class AttachmentRow(Base, table=True):
    __tablename__ = "attachments"

    id: str = Field(primary_key=True)
    contact_id: str = Field(foreign_key="contacts.id", ondelete="CASCADE", index=True)
    media_type: str
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(sa_type=String(HASH_LENGTH))
    filename: str | None = None
    position: int = 0  # order in which the channel delivered them


class AttachmentBlobRow(Base, table=True):
    """The bytes, apart from the metadata so listing attachments never loads megabytes."""

    __tablename__ = "attachment_blobs"

    attachment_id: str = Field(primary_key=True, foreign_key="attachments.id", ondelete="CASCADE")
    content: bytes = Field(sa_type=LargeBinary)


class IncidentRow(Base, table=True):
    __tablename__ = "incidents"
    # the supervisor's list: the newest incidents of a state, a page at a time
    __table_args__ = (Index(None, "state", "created_at", "id"),)

    id: str = Field(primary_key=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    state: str
    category: str | None = None
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    location_source: str | None = None
    address: str | None = None
    contact_ids: str = Field(default="[]", sa_type=Text)  # JSON list, in grouping order


class OperatorRow(Base, table=True):
    __tablename__ = "operators"

    id: str = Field(primary_key=True)
    username: str = Field(unique=True)
    display_name: str
    role: str
    languages: str  # comma separated, sorted
    capabilities: str  # comma separated, sorted
    endpoint: str | None = None
    active: bool = True
    password_hash: str
    presence: str | None = None  # None: never signed in
    created_at: datetime = Field(sa_type=UtcDateTime)
    ui_language: str | None = None  # kk | ru | en; None: the browser's choice
    gender: str | None = None  # female | male; None: neutral wording


class SessionRow(Base, table=True):
    __tablename__ = "sessions"

    token_hash: str = Field(primary_key=True, sa_type=String(HASH_LENGTH))
    operator_id: str = Field(foreign_key="operators.id", ondelete="CASCADE", index=True)
    role: str
    csrf_token: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    last_seen_at: datetime = Field(sa_type=UtcDateTime)


class AuditRow(Base, table=True):
    __tablename__ = "audit_log"

    # assigned under the head lock, never by a sequence: a gap means a deleted row
    seq: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str
    action: str
    subject: str | None = Field(default=None, index=True)
    details: str = Field(sa_type=Text)  # canonical JSON, exactly what was hashed
    prev_hash: str = Field(sa_type=String(HASH_LENGTH))
    hash: str = Field(sa_type=String(HASH_LENGTH))


class AuditHeadRow(Base, table=True):
    """The last appended (seq, hash): a truncated tail no longer matches it. Also the row
    appenders lock to serialise across processes."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    hash: str = Field(sa_type=String(HASH_LENGTH))


__all__ = [
    "GENESIS_HASH",
    "AttachmentBlobRow",
    "AttachmentRow",
    "AuditHeadRow",
    "AuditRow",
    "Base",
    "ContactRow",
    "IncidentRow",
    "MessageRow",
    "OperatorRow",
    "SessionRow",
    "UtcDateTime",
    "metadata",
]

# Tables of later capabilities live in their own modules; importing them here registers them
# on `metadata`. A feature's own tables (dispatch: contact/dispatch/sql/tables.py) register
# when their package is imported; contact/schema.py gathers all of them for Alembic and the
# schema test.
from contact.persistence import (  # noqa: E402 - they subclass Base, defined above
    tables_channels,
    tables_leases,
    tables_registries,
    tables_rota,
    tables_telephony,
    tables_transcripts,
    tables_triage,
    tables_workspace,
)

__all__ += [
    "tables_channels",
    "tables_leases",
    "tables_registries",
    "tables_rota",
    "tables_telephony",
    "tables_transcripts",
    "tables_triage",
    "tables_workspace",
]
