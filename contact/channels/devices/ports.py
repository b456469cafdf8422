"""The device intake's port: where the open contact of each source is decided and stored.

Implemented by SqlDeviceIntake (store.py, SQLite and PostgreSQL) and, for unit tests, by a
fake that runs the same contract suite (tests/contract/device_intake.py)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from contact.domain.commands import DeviceSource
from contact.domain.model import Attachment, Contact, Message


class Joining(StrEnum):
    JOINED = "joined"  # the message is stored on the contact (or there was none to store)
    DUPLICATE = "duplicate"  # this message (its external id) was already stored: once
    MOVED = "moved"  # the contact is over, or no longer the source's open one: decide again


class DeviceIntakeStore(Protocol):
    async def current(self, source_key: str) -> str | None:
        """The id of the source's open contact, as last opened (it may be over since)."""
        ...

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
        """Store `contact` (its message, attachments and source) as the source's open contact,
        in one transaction, only while the source's open contact is still `expected` (None:
        it has none): the id stored, which is another contact's when `external_id` was already
        stored (an idempotent retry, nothing written), or None when another intake moved the
        source's contact first (nothing written; decide again)."""
        ...

    async def join(self, source_key: str, contact_id: str, message: Message | None) -> Joining:
        """Store `message` on `contact_id` in one transaction with the check that it is still
        the source's open contact and is not closed or abandoned."""
        ...
