"""Fakes of our own ports for unit tests (persistence in dicts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from contact.domain.model import (
    Attachment,
    ChannelKind,
    Contact,
    ContactState,
    Message,
    Operator,
    Presence,
)
from contact.errors import Conflict, NotFound
from contact.ports import Credentials


class FakeContactRepository:
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.messages_by_contact: dict[str, list[Message]] = {}
        self.external: dict[tuple[ChannelKind, str], str] = {}

    async def add(
        self,
        contact: Contact,
        message: Message | None = None,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        external_id: str | None = None,
    ) -> str:
        if external_id is not None and (contact.channel, external_id) in self.external:
            return self.external[(contact.channel, external_id)]
        self.contacts[contact.id] = replace(contact)
        self.messages_by_contact[contact.id] = [message] if message else []
        if external_id is not None:
            self.external[(contact.channel, external_id)] = contact.id
        return contact.id

    async def get(self, contact_id: str) -> Contact:
        try:
            return replace(self.contacts[contact_id])
        except KeyError:
            raise NotFound(f"no contact {contact_id}") from None

    async def save(self, contact: Contact) -> None:
        self.contacts[contact.id] = replace(contact)

    async def find_by_external_id(self, channel: ChannelKind, external_id: str) -> Contact | None:
        cid = self.external.get((channel, external_id))
        return await self.get(cid) if cid else None

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]:
        found = [replace(c) for c in self.contacts.values() if c.state in states]
        return sorted(found, key=lambda c: (c.queued_at or c.created_at, c.created_at))

    async def recent(self, limit: int = 100) -> list[Contact]:
        return list(self.contacts.values())[-limit:]

    async def add_message(self, message: Message) -> None:
        self.messages_by_contact.setdefault(message.contact_id, []).append(message)

    async def messages(self, contact_id: str) -> list[Message]:
        return list(self.messages_by_contact.get(contact_id, []))

    async def attachments(self, contact_id: str) -> list[Attachment]:
        return []

    async def attachment_content(self, attachment_id: str) -> tuple[Attachment, bytes]:
        raise NotFound("no attachments in the fake")


class FakeOperatorRepository:
    def __init__(self, *operators: Operator) -> None:
        self.operators = {o.id: o for o in operators}
        self.presence: dict[str, Presence] = {}

    async def add(self, operator: Operator, password_hash: str) -> None:
        if any(o.username == operator.username for o in self.operators.values()):
            raise Conflict("taken")
        self.operators[operator.id] = operator

    async def get(self, operator_id: str) -> Operator:
        try:
            return self.operators[operator_id]
        except KeyError:
            raise NotFound("no operator") from None

    async def by_username(self, username: str) -> Credentials | None:
        return None

    async def all(self) -> list[Operator]:
        return list(self.operators.values())

    async def set_password(self, operator_id: str, password_hash: str) -> None:
        return None

    async def set_presence(self, operator_id: str, presence: Presence) -> None:
        self.presence[operator_id] = presence

    async def presences(self) -> dict[str, Presence]:
        return dict(self.presence)


class ManualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
