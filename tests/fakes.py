"""Fakes of our own ports for unit tests (persistence in dicts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

from contact.domain.model import (
    Attachment,
    ChannelKind,
    Contact,
    ContactState,
    Gender,
    Message,
    Operator,
    Presence,
    UiLanguage,
)
from contact.errors import Conflict, NotFound
from contact.ports import Credentials


class FakeContactRepository:
    """The ContactRepository port in dicts. tests/contract/test_contact_repository.py runs the
    same suite on it as on the SQL adapter (SQLite and PostgreSQL), so it cannot drift."""

    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.messages_by_contact: dict[str, list[Message]] = {}
        self.external: dict[tuple[ChannelKind, str], str] = {}
        self.fingerprints: dict[str, str | None] = {}
        self.attachments_by_contact: dict[str, list[Attachment]] = {}
        self.blobs: dict[str, bytes] = {}

    async def add(
        self,
        contact: Contact,
        message: Message | None = None,
        attachments: Sequence[tuple[Attachment, bytes]] = (),
        external_id: str | None = None,
        fingerprint: str | None = None,
        guard: Callable[[Any], None] | None = None,
    ) -> str:
        if guard is not None:
            guard(None)  # no transaction here: a guard that reads cannot run on the fake
        if message is not None and message.contact_id != contact.id:
            raise ValueError(f"message {message.id} belongs to {message.contact_id}")
        for attachment, _ in attachments:
            if attachment.contact_id != contact.id:
                raise ValueError(f"attachment {attachment.id} belongs to {attachment.contact_id}")
        contact = _utc(contact)
        if external_id is not None and (contact.channel, external_id) in self.external:
            return self.external[(contact.channel, external_id)]
        ids = [a.id for a, _ in attachments]
        if (
            contact.id in self.contacts
            or (message is not None and self._message(message.id) is not None)
            or len(set(ids)) != len(ids)
            or any(i in self.blobs for i in ids)
        ):
            raise Conflict("the contact, its message or an attachment already exists")
        self.contacts[contact.id] = replace(contact)
        self.messages_by_contact[contact.id] = [message] if message else []
        self._attach(contact.id, attachments)
        if external_id is not None:
            self.external[(contact.channel, external_id)] = contact.id
            self.fingerprints[contact.id] = fingerprint
        return contact.id

    async def intake_fingerprint(
        self,
        channel: ChannelKind,
        external_id: str | None,
        guard: Callable[[Any], None] | None = None,
    ) -> tuple[str, str | None] | None:
        if guard is not None:
            guard(None)
        if external_id is None:
            return None
        cid = self.external.get((channel, external_id))
        return None if cid is None else (cid, self.fingerprints.get(cid))

    async def get(self, contact_id: str) -> Contact:
        try:
            return replace(self.contacts[contact_id])
        except KeyError:
            raise NotFound(f"no contact {contact_id}") from None

    async def save(self, contact: Contact) -> None:
        if contact.id not in self.contacts:
            raise NotFound(f"no contact {contact.id}")
        self.contacts[contact.id] = _utc(contact)

    async def save_if(
        self,
        contact: Contact,
        *,
        state: ContactState,
        operator_id: str | None,
        only: frozenset[str] | None = None,
    ) -> bool:
        stored = self.contacts.get(contact.id)
        if stored is None or stored.state is not state or stored.operator_id != operator_id:
            return False
        if only is None:
            self.contacts[contact.id] = replace(contact)
        else:
            for name in only:
                setattr(stored, name, getattr(contact, name))
        return True

    async def held_by(self, operator_id: str) -> list[Contact]:
        held = (ContactState.OFFERED, ContactState.CONNECTED, ContactState.WRAP_UP)
        found = [
            replace(c)
            for c in self.contacts.values()
            if c.operator_id == operator_id and c.state in held
        ]
        return sorted(found, key=lambda c: (c.answered_at is None, c.answered_at or _EPOCH, c.id))

    async def in_progress(
        self, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Contact]:
        states = (ContactState.CONNECTED, ContactState.WRAP_UP)
        found = sorted(
            (c for c in self.contacts.values() if c.state in states and c.answered_at),
            key=lambda c: (c.answered_at or _EPOCH, c.id),
        )
        if after is not None:
            found = [c for c in found if (c.answered_at or _EPOCH, c.id) > after]
        return [replace(c) for c in found[:limit]]

    async def find_by_external_id(self, channel: ChannelKind, external_id: str) -> Contact | None:
        cid = self.external.get((channel, external_id))
        return await self.get(cid) if cid else None

    async def in_states(self, states: frozenset[ContactState]) -> list[Contact]:
        found = [replace(c) for c in self.contacts.values() if c.state in states]
        return sorted(
            found, key=lambda c: (c.queued_at is None, c.queued_at or _EPOCH, c.created_at, c.id)
        )

    async def recent(self, limit: int = 100) -> list[Contact]:
        newest = sorted(self.contacts.values(), key=lambda c: (c.created_at, c.id), reverse=True)
        return [replace(c) for c in newest[:limit]]

    async def add_message(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> None:
        for attachment, _ in attachments:
            if attachment.contact_id != message.contact_id:
                raise ValueError(f"attachment {attachment.id} is not of {message.contact_id}")
        if message.contact_id not in self.contacts:
            raise NotFound(f"no contact {message.contact_id}")
        stored = self.messages_by_contact.setdefault(message.contact_id, [])
        if message.external_id is not None and any(
            m.external_id == message.external_id for m in stored
        ):
            return  # a redelivery is stored once
        if self._message(message.id) is not None:
            raise Conflict("the message already exists")
        stored.append(message)
        self._attach(message.contact_id, attachments)

    async def add_message_if_open(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> bool:
        contact = self.contacts.get(message.contact_id)
        if contact is None or contact.state in (ContactState.CLOSED, ContactState.ABANDONED):
            return False
        await self.add_message(message, attachments)
        return True

    async def messages(self, contact_id: str) -> list[Message]:
        stored = self.messages_by_contact.get(contact_id, [])
        return sorted(stored, key=lambda m: (m.created_at, m.id))

    async def attachments(self, contact_id: str) -> list[Attachment]:
        return list(self.attachments_by_contact.get(contact_id, []))

    async def attachment_content(self, attachment_id: str) -> tuple[Attachment, bytes]:
        for attachments in self.attachments_by_contact.values():
            for attachment in attachments:
                if attachment.id == attachment_id:
                    return attachment, self.blobs[attachment_id]
        raise NotFound(f"attachment {attachment_id} not found")

    def _message(self, message_id: str) -> Message | None:
        for messages in self.messages_by_contact.values():
            for message in messages:
                if message.id == message_id:
                    return message
        return None

    def _attach(self, contact_id: str, attachments: Sequence[tuple[Attachment, bytes]]) -> None:
        for attachment, content in attachments:
            self.attachments_by_contact.setdefault(contact_id, []).append(attachment)
            self.blobs[attachment.id] = content


class FakeOperatorRepository:
    """The OperatorRepository port in dicts (the same contract suite as the SQL adapter)."""

    def __init__(self, *operators: Operator) -> None:
        self.operators = {o.id: o for o in operators}
        self.password_hashes: dict[str, str] = {}
        self.presence: dict[str, Presence] = {}

    async def add(self, operator: Operator, password_hash: str) -> None:
        if operator.id in self.operators or any(
            o.username == operator.username for o in self.operators.values()
        ):
            raise Conflict("taken")
        self.operators[operator.id] = operator
        self.password_hashes[operator.id] = password_hash

    async def get(self, operator_id: str) -> Operator:
        try:
            return self.operators[operator_id]
        except KeyError:
            raise NotFound("no operator") from None

    async def by_username(self, username: str) -> Credentials | None:
        for operator in self.operators.values():
            if operator.username == username and operator.id in self.password_hashes:
                return Credentials(operator, self.password_hashes[operator.id])
        return None

    async def all(self) -> list[Operator]:
        return sorted(self.operators.values(), key=lambda o: o.username)

    async def set_password(self, operator_id: str, password_hash: str) -> None:
        await self.get(operator_id)
        self.password_hashes[operator_id] = password_hash

    async def set_preferences(
        self, operator_id: str, ui_language: UiLanguage | None, gender: Gender
    ) -> None:
        operator = await self.get(operator_id)
        self.operators[operator_id] = replace(operator, ui_language=ui_language, gender=gender)

    async def set_presence(self, operator_id: str, presence: Presence) -> None:
        await self.get(operator_id)
        self.presence[operator_id] = presence

    async def presences(self) -> dict[str, Presence]:
        return dict(self.presence)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(contact: Contact) -> Contact:
    """As the SQL adapter stores it: naive datetimes refused (a caller's bug), every other one
    given back in UTC."""
    values: dict[str, Any] = {}
    for f in fields(contact):
        value = getattr(contact, f.name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value} on contact {contact.id}")
            values[f.name] = value.astimezone(UTC)
    return replace(contact, **values)


class ManualClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
