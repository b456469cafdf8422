"""A fake of the device intake's port (contact.channels.devices.ports.DeviceIntakeStore) in
dicts, over FakeContactRepository. It runs the same contract suite as SqlDeviceIntake
(tests/contract/test_device_intake_store.py), so the two cannot drift."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contact.channels.devices.ports import Joining
from contact.domain.commands import DeviceSource
from contact.domain.model import Attachment, Contact, ContactState, Message
from tests.fakes import FakeContactRepository

OVER = (ContactState.CLOSED, ContactState.ABANDONED)


class FakeDeviceIntake:
    def __init__(self, contacts: FakeContactRepository | None = None) -> None:
        self.contacts = contacts or FakeContactRepository()
        self.claims: dict[str, str] = {}
        self.sources: dict[str, DeviceSource] = {}
        # awaited between a decision's read and its write: a test lets another node run there
        self.between: asyncio.Event | None = None

    async def current(self, source_key: str) -> str | None:
        return self.claims.get(source_key)

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
        if self.between is not None:
            await self.between.wait()
        if external_id is not None:
            known = self.contacts.external.get((contact.channel, external_id))
            if known is not None:
                return known
        if self.claims.get(source_key) != expected:
            return None
        await self.contacts.add(contact, message, attachments, external_id, fingerprint)
        self.sources[contact.id] = source
        self.claims[source_key] = contact.id
        return contact.id

    async def join(self, source_key: str, contact_id: str, message: Message | None) -> Joining:
        contact = self.contacts.contacts.get(contact_id)
        if self.claims.get(source_key) != contact_id or contact is None or contact.state in OVER:
            return Joining.MOVED
        if message is None:
            return Joining.JOINED
        stored = self.contacts.messages_by_contact.setdefault(contact_id, [])
        if message.external_id is not None and any(
            m.external_id == message.external_id for m in stored
        ):
            return Joining.DUPLICATE
        stored.append(message)
        return Joining.JOINED

    # what the contract suite reads back (the SQL adapter's twin reads its tables)
    async def source_of(self, contact_id: str) -> DeviceSource | None:
        return self.sources.get(contact_id)
