"""Contacts, their messages and attachments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from contact.domain.model import (
    Attachment,
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Message,
    MessageDirection,
    Priority,
)
from contact.errors import Conflict, NotFound
from contact.persistence._mapping import location_columns, to_location
from contact.persistence.engine import Store
from contact.persistence.prepared import Prepared
from contact.persistence.tables import AttachmentBlobRow, AttachmentRow, ContactRow, MessageRow

IN_PROGRESS_STATES = frozenset({ContactState.CONNECTED, ContactState.WRAP_UP})
HELD_STATES = IN_PROGRESS_STATES | {ContactState.OFFERED}


class SqlContactRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(
        self,
        contact: Contact,
        message: Message | None = None,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        external_id: str | None = None,
        fingerprint: str | None = None,
        guard: Callable[[Connection], None] | None = None,
    ) -> str:
        work = intake_writer(contact, message, attachments, external_id, fingerprint, guard)

        try:
            existing = await self._store.write_sync(work)
            if existing is not None:
                return existing
        except IntegrityError as error:
            # Two deliveries of the same intake raced (PostgreSQL lets both pass the look-up
            # above); the loser's transaction is rolled back and it answers with the winner.
            if external_id is not None:
                async with self._store.read() as session:
                    existing = await _id_by_external_id(session, contact.channel, external_id)
                if existing is not None:
                    return existing
            raise Conflict(
                "the contact, its message or an attachment already exists",
                details={"contact_id": contact.id},
            ) from error
        return contact.id

    # get, save, messages and attachments run several times in every contact's life (offer,
    # accept, close, and each push that shows it): one hop each, on the driver's cursor

    async def get(self, contact_id: str) -> Contact:
        rows = await self._store.read_sync(lambda conn: _CONTACT.records(conn, {"id": contact_id}))
        if not rows:
            raise _not_found(contact_id)
        return _to_contact(rows[0])

    async def save(self, contact: Contact) -> None:
        values = {"b_id": contact.id, **_columns(contact)}
        if not await self._store.write_sync(lambda conn: _UPDATE_CONTACT.count(conn, values)):
            raise _not_found(contact.id)

    async def save_if(
        self,
        contact: Contact,
        *,
        state: ContactState,
        operator_id: str | None,
        only: frozenset[str] | None = None,
    ) -> bool:
        """save (the `only` columns, else all), only while the stored contact is still in
        `state` with `operator_id` (one conditional UPDATE): False when it changed meanwhile
        (another node, its operator)."""
        values = _columns(contact)
        if only is None:  # routing's offer and its return: the fast path, one hop
            values.update(b_id=contact.id, b_state=state.value, b_operator_id=operator_id)
            return bool(
                await self._store.write_sync(lambda conn: _UPDATE_CONTACT_IF.count(conn, values))
            )
        values = {k: v for k, v in values.items() if _FIELD_OF.get(k, k) in only}
        holder = col(ContactRow.operator_id)
        statement = (
            update(ContactRow)
            .where(
                col(ContactRow.id) == contact.id,
                col(ContactRow.state) == state.value,
                holder.is_(None) if operator_id is None else holder == operator_id,
            )
            .values(**values)
        )
        async with self._store.write() as session:
            result = await session.exec(statement)
        return bool(result.rowcount == 1)

    async def held_by(self, operator_id: str) -> list[Contact]:
        """What this operator is working on: offered to her, connected or in wrap-up; the
        oldest answered first."""
        statement = (
            select(ContactRow)
            .where(
                col(ContactRow.operator_id) == operator_id,
                col(ContactRow.state).in_(sorted(s.value for s in HELD_STATES)),
            )
            .order_by(col(ContactRow.answered_at).asc().nulls_last(), col(ContactRow.id).asc())
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_contact(row) for row in rows]

    async def in_progress(
        self, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Contact]:
        """Connected and wrap-up contacts, the longest answered first, a page of `limit` after
        the (answered_at, id) cursor."""
        answered = col(ContactRow.answered_at)
        statement = select(ContactRow).where(
            col(ContactRow.state).in_(sorted(s.value for s in IN_PROGRESS_STATES))
        )
        if after is not None:
            at, contact_id = after
            statement = statement.where(
                or_(answered > at, and_(answered == at, col(ContactRow.id) > contact_id))
            )
        statement = statement.order_by(answered.asc(), col(ContactRow.id).asc()).limit(limit)
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_contact(row) for row in rows]

    async def intake_fingerprint(
        self,
        channel: ChannelKind,
        external_id: str | None,
        guard: Callable[[Connection], None] | None = None,
    ) -> tuple[str, str | None] | None:
        def work(conn: Connection) -> tuple[str, str | None] | None:
            if guard is not None:
                guard(conn)
            if external_id is None:
                return None
            key = {"channel": channel.value, "external_id": external_id}
            rows = _BY_EXTERNAL_ID.rows(conn, key)
            return None if not rows else (rows[0][0], rows[0][1])

        return await self._store.read_sync(work)

    async def find_by_external_id(self, channel: ChannelKind, external_id: str) -> Contact | None:
        async with self._store.read() as session:
            row = (
                await session.exec(
                    select(ContactRow).where(
                        ContactRow.channel == channel.value,
                        ContactRow.external_id == external_id,
                    )
                )
            ).first()
        return None if row is None else _to_contact(row)

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]:
        if not states:
            return []
        # Contacts never queued (NEW) follow the queued ones; both backends order NULLs alike.
        statement = (
            select(ContactRow)
            .where(col(ContactRow.state).in_(sorted(s.value for s in states)))
            .order_by(
                col(ContactRow.queued_at).asc().nulls_last(),
                col(ContactRow.created_at).asc(),
                col(ContactRow.id).asc(),
            )
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_contact(row) for row in rows]

    async def recent(self, limit: int = 100) -> list[Contact]:
        statement = (
            select(ContactRow)
            .order_by(col(ContactRow.created_at).desc(), col(ContactRow.id).desc())
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_contact(row) for row in rows]

    async def add_message(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> None:
        """Store a message (with the attachments it carried, in the same transaction); a
        redelivery (same channel message id) is stored once."""
        try:
            async with self._store.write() as session:
                await _add_message_rows(session, message, attachments)
        except IntegrityError as error:
            async with self._store.read() as session:
                if message.external_id is not None:
                    duplicate = (
                        await session.exec(
                            select(MessageRow.id).where(
                                MessageRow.contact_id == message.contact_id,
                                MessageRow.external_id == message.external_id,
                            )
                        )
                    ).first()
                    if duplicate is not None:
                        return
                if await session.get(ContactRow, message.contact_id) is None:
                    raise _not_found(message.contact_id) from error
            raise Conflict(
                "the message already exists", details={"message_id": message.id}
            ) from error

    async def add_message_if_open(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> bool:
        """add_message in the same transaction as the look at the contact's state: False (and
        nothing stored) when the contact is closed, abandoned or unknown. A redelivery of a
        stored message is True (stored once)."""
        try:
            async with self._store.write() as session:
                state = (
                    await session.exec(
                        select(ContactRow.state).where(ContactRow.id == message.contact_id)
                    )
                ).first()
                if state is None or state in (
                    ContactState.CLOSED.value,
                    ContactState.ABANDONED.value,
                ):
                    return False
                await _add_message_rows(session, message, attachments)
        except IntegrityError:
            await self.add_message(message, attachments)  # tells a redelivery from a conflict
        return True

    async def messages(self, contact_id: str) -> list[Message]:
        rows = await self._store.read_sync(
            lambda conn: _MESSAGES.records(conn, {"contact_id": contact_id})
        )
        return [_to_message(row) for row in rows]

    async def attachments(self, contact_id: str) -> list[Attachment]:
        rows = await self._store.read_sync(
            lambda conn: _ATTACHMENTS.records(conn, {"contact_id": contact_id})
        )
        return [_to_attachment(row) for row in rows]

    async def attachment_content(self, attachment_id: str) -> tuple[Attachment, bytes]:
        statement = select(AttachmentRow, AttachmentBlobRow).where(
            AttachmentRow.id == attachment_id,
            AttachmentBlobRow.attachment_id == AttachmentRow.id,
        )
        async with self._store.read() as session:
            found = (await session.exec(statement)).first()
        if found is None:
            raise NotFound(
                f"attachment {attachment_id} not found", details={"attachment_id": attachment_id}
            )
        row, blob = found
        return _to_attachment(row), blob.content


def intake_writer(
    contact: Contact,
    message: Message | None = None,
    attachments: Sequence[tuple[Attachment, bytes]] = (),
    external_id: str | None = None,
    fingerprint: str | None = None,
    guard: Callable[[Connection], None] | None = None,
) -> Callable[[Connection], str | None]:
    """Every intake's writes as one unit of work for Store.write_sync: Core inserts, parents
    first as the foreign keys need (one hop to the driver, not one per statement). The unit
    returns the id of the contact already stored under `external_id` (writing nothing), else
    None; `guard(connection)` runs before that look-up (its error aborts the unit). A caller
    may compose it with more writes of the same transaction (the device intake stores the
    contact's source with it)."""
    _check_parts(contact, message, attachments)
    contact_values = {
        "id": contact.id,
        "external_id": external_id,
        "request_sha256": fingerprint,
        **_columns(contact),
    }
    message_values = None if message is None else _message_values(message)
    attachment_values = [_attachment_values(a, i) for i, (a, _) in enumerate(attachments)]
    blob_values = [{"attachment_id": a.id, "content": d} for a, d in attachments]

    def work(conn: Connection) -> str | None:
        if guard is not None:
            guard(conn)
        if external_id is not None:
            existing = _BY_EXTERNAL_ID.scalar(
                conn, {"channel": contact.channel.value, "external_id": external_id}
            )
            if existing is not None:
                return str(existing)
        _INSERT_CONTACT.run(conn, contact_values)
        if message_values is not None:
            _INSERT_MESSAGE.run(conn, message_values)
        if attachment_values:
            conn.execute(insert(AttachmentRow), attachment_values)
            conn.execute(insert(AttachmentBlobRow), blob_values)
        return None

    return work


def message_writer(message: Message) -> Callable[[Connection], None]:
    """One message's insert as a unit of work (or a part of one) for Store.write_sync."""
    values = _message_values(message)

    def work(conn: Connection) -> None:
        _INSERT_MESSAGE.run(conn, values)

    return work


async def _add_message_rows(
    session: AsyncSession, message: Message, attachments: Sequence[tuple[Attachment, bytes]]
) -> None:
    for attachment, _ in attachments:
        if attachment.contact_id != message.contact_id:
            raise ValueError(f"attachment {attachment.id} is not of {message.contact_id}")
    session.add(_message_row(message))
    if not attachments:
        return
    await session.flush()
    last = (
        await session.exec(
            select(func.max(AttachmentRow.position)).where(
                AttachmentRow.contact_id == message.contact_id
            )
        )
    ).first()
    first = 0 if last is None else last + 1  # after the contact's earlier ones
    for position, (attachment, _) in enumerate(attachments, start=first):
        session.add(_attachment_row(attachment, position))
    await session.flush()
    for attachment, content in attachments:
        session.add(AttachmentBlobRow(attachment_id=attachment.id, content=content))


def _check_parts(
    contact: Contact, message: Message | None, attachments: Sequence[tuple[Attachment, bytes]]
) -> None:
    # a part filed under another contact would be a silent mix-up of two emergencies
    if message is not None and message.contact_id != contact.id:
        raise ValueError(f"message {message.id} belongs to {message.contact_id}, not {contact.id}")
    for attachment, _ in attachments:
        if attachment.contact_id != contact.id:
            raise ValueError(
                f"attachment {attachment.id} belongs to {attachment.contact_id}, not {contact.id}"
            )


# every intake's statements, compiled once (see prepared.py)
_INSERT_CONTACT = Prepared(insert(ContactRow.__table__))  # type: ignore[attr-defined]
_INSERT_MESSAGE = Prepared(insert(MessageRow.__table__))  # type: ignore[attr-defined]
# the contact a channel's own id names, and the fingerprint of the request that stored it
_BY_EXTERNAL_ID = Prepared(
    sa_select(ContactRow.id, ContactRow.request_sha256).where(  # type: ignore[call-overload]
        col(ContactRow.channel) == bindparam("channel"),
        col(ContactRow.external_id) == bindparam("external_id"),
    )
)


_CONTACTS = ContactRow.__table__  # type: ignore[attr-defined]
_MESSAGE_ROWS = MessageRow.__table__  # type: ignore[attr-defined]
_ATTACHMENT_ROWS = AttachmentRow.__table__  # type: ignore[attr-defined]
_NEVER_SAVED = ("id", "external_id", "request_sha256")  # set once, by the intake
# the lifecycle's reads and its save, compiled once
_CONTACT = Prepared(sa_select(_CONTACTS).where(_CONTACTS.c.id == bindparam("id")))
_UPDATE_CONTACT = Prepared(
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("b_id"))
    .values({c.name: bindparam(c.name) for c in _CONTACTS.c if c.name not in _NEVER_SAVED})
)
_UPDATE_CONTACT_IF = Prepared(
    update(_CONTACTS)
    .where(
        _CONTACTS.c.id == bindparam("b_id"),
        _CONTACTS.c.state == bindparam("b_state"),
        _CONTACTS.c.operator_id.is_not_distinct_from(
            bindparam("b_operator_id", type_=_CONTACTS.c.operator_id.type)
        ),
    )
    .values({c.name: bindparam(c.name) for c in _CONTACTS.c if c.name not in _NEVER_SAVED})
)
_MESSAGES = Prepared(
    sa_select(_MESSAGE_ROWS)
    .where(_MESSAGE_ROWS.c.contact_id == bindparam("contact_id"))
    .order_by(_MESSAGE_ROWS.c.created_at.asc(), _MESSAGE_ROWS.c.id.asc())
)
_ATTACHMENTS = Prepared(
    sa_select(_ATTACHMENT_ROWS)
    .where(_ATTACHMENT_ROWS.c.contact_id == bindparam("contact_id"))
    .order_by(_ATTACHMENT_ROWS.c.position.asc(), _ATTACHMENT_ROWS.c.id.asc())
)


async def _id_by_external_id(
    session: AsyncSession, channel: ChannelKind, external_id: str
) -> str | None:
    statement = select(ContactRow.id).where(
        ContactRow.channel == channel.value, ContactRow.external_id == external_id
    )
    return (await session.exec(statement)).first()


def _not_found(contact_id: str) -> NotFound:
    return NotFound(f"contact {contact_id} not found", details={"contact_id": contact_id})


# save_if's `only` names the contact's fields; its location is these columns
_FIELD_OF = dict.fromkeys(location_columns(None), "location")


def _columns(contact: Contact) -> dict[str, Any]:
    """Every column `save` may change (all but _NEVER_SAVED)."""
    return {
        "channel": contact.channel.value,
        "state": contact.state.value,
        "priority": int(contact.priority),
        "language": contact.language.value if contact.language is not None else None,
        "citizen": contact.citizen,
        **location_columns(contact.location),
        "summary": contact.summary,
        "incident_id": contact.incident_id,
        "operator_id": contact.operator_id,
        "created_at": contact.created_at,
        "queued_at": contact.queued_at,
        "answered_at": contact.answered_at,
        "closed_at": contact.closed_at,
        "wrapped_up_at": contact.wrapped_up_at,
        "disposition": contact.disposition,
        "orphaned_at": contact.orphaned_at,
        "escalated_at": contact.escalated_at,
    }


def _to_contact(row: ContactRow | Any) -> Contact:  # an ORM row or a Core record
    return Contact(
        id=row.id,
        channel=ChannelKind(row.channel),
        priority=Priority(row.priority),
        created_at=row.created_at,
        state=ContactState(row.state),
        language=Language(row.language) if row.language is not None else None,
        citizen=row.citizen,
        location=to_location(row.lat, row.lon, row.accuracy_m, row.location_source, row.address),
        summary=row.summary,
        incident_id=row.incident_id,
        operator_id=row.operator_id,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        closed_at=row.closed_at,
        wrapped_up_at=row.wrapped_up_at,
        disposition=row.disposition,
        orphaned_at=row.orphaned_at,
        escalated_at=row.escalated_at,
    )


def _message_values(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "contact_id": message.contact_id,
        "direction": message.direction.value,
        "text": message.text,
        "author": message.author,
        "external_id": message.external_id,
        "created_at": message.created_at,
    }


def _message_row(message: Message) -> MessageRow:
    return MessageRow(**_message_values(message))


def _to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        contact_id=row.contact_id,
        direction=MessageDirection(row.direction),
        text=row.text,
        created_at=row.created_at,
        author=row.author,
        external_id=row.external_id,
    )


def _attachment_values(attachment: Attachment, position: int) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "contact_id": attachment.contact_id,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "filename": attachment.filename,
        "position": position,
    }


def _attachment_row(attachment: Attachment, position: int) -> AttachmentRow:
    return AttachmentRow(**_attachment_values(attachment, position))


def _to_attachment(row: AttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        contact_id=row.contact_id,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        filename=row.filename,
    )
