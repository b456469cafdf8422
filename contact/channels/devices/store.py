"""SqlDeviceIntake: join-or-open decided by the database, on every node at once.

The row of `device_open_contacts` for a source (its primary key `source_key`) names the
source's open contact. Opening a new contact writes, in ONE transaction: the contact, its first
message and attachments, its source (`intake_sources`) and that row, inserted when the source
had none, else updated only where it still names the contact the caller saw
(compare-and-set). Two nodes opening for the same source at the same instant:

- PostgreSQL: the second INSERT of the same key waits for the first transaction and then fails
  on the primary key; the second conditional UPDATE waits on the row's lock and then matches
  nothing (READ COMMITTED re-reads the row it waited for). Its transaction is rolled back whole
  (no contact, no source) and the use case decides again: it joins the winner's contact.
- SQLite: every write transaction takes the database's write lock first (BEGIN IMMEDIATE), so
  the two transactions run one after the other, in one process or several; the second sees the
  first's row and fails the same check.

A join stores its message in one transaction with the check that the row still names the
contact (read with FOR SHARE on PostgreSQL, so an opening waits for it) and that the contact is
not over. Nothing is ever half-written: the contact and its source are one commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from contact.channels.devices.ports import Joining
from contact.domain.commands import DeviceSource
from contact.domain.model import Attachment, ChannelKind, Contact, ContactState, Message
from contact.persistence.contacts import intake_writer, message_writer
from contact.persistence.engine import Store
from contact.persistence.tables import ContactRow, MessageRow
from contact.persistence.tables_registries import IntakeSourceRow, OpenSourceContactRow

OVER = (ContactState.CLOSED.value, ContactState.ABANDONED.value)
_CLAIMS = OpenSourceContactRow.__table__  # type: ignore[attr-defined]
_SOURCES = IntakeSourceRow.__table__  # type: ignore[attr-defined]


class _Moved(Exception):
    """The source's open contact changed under this transaction: roll it back whole."""


class SqlDeviceIntake:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def current(self, source_key: str) -> str | None:
        def work(conn: Connection) -> str | None:
            found = conn.execute(
                select(_CLAIMS.c.contact_id).where(_CLAIMS.c.source_key == source_key)
            ).scalar()
            return None if found is None else str(found)

        return await self._store.read_sync(work)

    async def open(
        self,
        source_key: str,
        expected: str | None,
        contact: Contact,
        message: Message | None,
        attachments: Sequence[tuple[Attachment, bytes]],
        source: DeviceSource,
        *,
        external_id: str | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        write_contact = intake_writer(contact, message, attachments, external_id, fingerprint)
        source_values = {
            "contact_id": contact.id,
            "kind": source.kind,
            "source_id": source.source_id,
            "camera_ids": json.dumps(list(source.camera_ids)),
            "details": json.dumps(dict(source.details), ensure_ascii=False),
        }

        def work(conn: Connection) -> str:
            stored = write_contact(conn)
            if stored is not None:
                return stored  # an idempotent retry of a stored intake: nothing written
            write_source(conn, source_values)
            if expected is None:
                # fails on the primary key when another intake opened one first
                conn.execute(insert(_CLAIMS).values(source_key=source_key, contact_id=contact.id))
            else:
                moved = conn.execute(
                    update(_CLAIMS)
                    .where(_CLAIMS.c.source_key == source_key, _CLAIMS.c.contact_id == expected)
                    .values(contact_id=contact.id)
                )
                if moved.rowcount != 1:
                    raise _Moved
            return contact.id

        try:
            return await self._store.write_sync(work)
        except _Moved:
            return None
        except IntegrityError:
            if external_id is not None:  # the same intake stored meanwhile (another node)
                known = await self._by_external_id(contact.channel, external_id)
                if known is not None:
                    return known
            if await self.current(source_key) != expected:
                return None  # another intake opened the source's contact first
            raise

    async def join(self, source_key: str, contact_id: str, message: Message | None) -> Joining:
        write_message = None if message is None else message_writer(message)

        def work(conn: Connection) -> Joining:
            claimed = conn.execute(
                select(_CLAIMS.c.contact_id)
                .where(_CLAIMS.c.source_key == source_key)
                .with_for_update(read=True)  # FOR SHARE on PostgreSQL; SQLite holds the db
            ).scalar()
            state = conn.execute(
                select(col(ContactRow.state)).where(col(ContactRow.id) == contact_id)
            ).scalar()
            if claimed != contact_id or state is None or state in OVER:
                return Joining.MOVED
            if message is None or write_message is None:
                return Joining.JOINED
            if message.external_id is not None and _has_message(conn, message):
                return Joining.DUPLICATE
            write_message(conn)
            return Joining.JOINED

        try:
            return await self._store.write_sync(work)
        except IntegrityError:
            # the same message (its external id) raced in from another node: stored once
            if message is not None and message.external_id is not None:
                return Joining.DUPLICATE
            raise

    async def _by_external_id(self, channel: ChannelKind, external_id: str) -> str | None:
        def work(conn: Connection) -> str | None:
            found = conn.execute(
                select(col(ContactRow.id)).where(
                    col(ContactRow.channel) == channel.value,
                    col(ContactRow.external_id) == external_id,
                )
            ).scalar()
            return None if found is None else str(found)

        return await self._store.read_sync(work)


def write_source(conn: Connection, values: Mapping[str, object]) -> None:
    """The contact's source, in the contact's transaction (a module function: the fault test
    breaks it to show that the contact is then not stored either)."""
    conn.execute(insert(_SOURCES).values(**values))


def _has_message(conn: Connection, message: Message) -> bool:
    found = conn.execute(
        select(col(MessageRow.id)).where(
            col(MessageRow.contact_id) == message.contact_id,
            col(MessageRow.external_id) == message.external_id,
        )
    ).first()
    return found is not None
