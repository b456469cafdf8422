"""contact.channels.chat.intake against fakes of its ports (contacts, conversations) on the
real in-process bus: a chat message joins the conversation's open contact, or a newer one
another node opened, or opens a new contact; a shared location moves the contact."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from contact.bus import MessageBus
from contact.channels.chat.intake import ChatIntake, language_hint
from contact.channels.chat.opening import LocalOpening
from contact.channels.chat.ports import ChatMessage, Conversation
from contact.domain import events as ev
from contact.domain.commands import AddCitizenMessage, RegisterContact, Registered, UpdateLocation
from contact.domain.model import (
    OPEN_STATES,
    Attachment,
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Location,
    Message,
    Priority,
)
from contact.errors import Conflict, NotFound
from tests.chat_fakes import FakeConversations

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
CITIZEN = "5551"


class FakeContacts:
    def __init__(self) -> None:
        self.contacts: dict[str, Contact] = {}
        self.messages: list[tuple[Message, tuple[tuple[Attachment, bytes], ...]]] = []

    def add(self, contact_id: str, state: ContactState = ContactState.QUEUED) -> None:
        self.contacts[contact_id] = Contact(
            id=contact_id,
            channel=ChannelKind.TELEGRAM,
            priority=Priority.CHAT,
            created_at=NOW,
            state=state,
            citizen=CITIZEN,
        )

    async def get(self, contact_id: str) -> Contact:
        if contact_id not in self.contacts:
            raise NotFound("no such contact")
        return self.contacts[contact_id]

    async def save(self, contact: Contact) -> None:
        self.contacts[contact.id] = contact

    async def add_message_if_open(
        self, message: Message, attachments: Sequence[tuple[Attachment, bytes]] = ()
    ) -> bool:
        contact = self.contacts.get(message.contact_id)
        if contact is None or contact.state not in OPEN_STATES:
            return False
        self.messages.append((message, tuple(attachments)))
        return True


class Center:
    def __init__(self, shared: Center | None = None, *, register_s: float = 0.0) -> None:
        """`shared`: another node of the same centre (its database, its opening lock)."""
        self.bus = MessageBus()
        self.contacts: FakeContacts = shared.contacts if shared else FakeContacts()
        self.conversations: FakeConversations = (
            shared.conversations if shared else FakeConversations()
        )
        self.opening: LocalOpening = shared.opening if shared else LocalOpening()
        self.register_s = register_s
        self.intake = ChatIntake(
            bus=self.bus,
            contacts=self.contacts,
            store=self.conversations,
            clock=NOW.timestamp,
            opening=self.opening,
        )
        self.intake.register(self.bus)
        self.registered: list[RegisterContact] = []
        self.moved: list[UpdateLocation] = []
        self.events: list[ev.Event] = []
        self.bus.register(RegisterContact, self._register)
        self.bus.register(UpdateLocation, self._move)
        self.bus.subscribe_all(self._seen)

    async def _register(self, command: RegisterContact) -> Registered:
        self.registered.append(command)
        await asyncio.sleep(self.register_s)  # stored and queued: a few ms on a real node
        contact_id = f"new{len(self.registered)}" if self.register_s == 0 else f"new-{id(self)}"
        self.contacts.add(contact_id)
        return Registered(contact_id, created=True)

    async def _move(self, command: UpdateLocation) -> None:
        self.moved.append(command)

    async def _seen(self, event: ev.Event) -> None:
        self.events.append(event)

    def of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def conversation(contact_id: str | None = None, **fields: Any) -> Conversation:
    return Conversation(
        channel=ChannelKind.TELEGRAM,
        citizen=CITIZEN,
        address=CITIZEN,
        created_at=NOW,
        contact_id=contact_id,
        **fields,
    )


def message(text: str = "Во дворе драка", **fields: Any) -> ChatMessage:
    return ChatMessage(channel=ChannelKind.TELEGRAM, external_id="m1", text=text, **fields)


async def test_a_first_message_opens_a_contact_with_the_conversation_s_citizen_and_language() -> (
    None
):
    center = Center()
    taken = await center.intake.take(conversation(language=Language.RU), message())
    assert (taken.contact_id, taken.created) == ("new1", True)
    [command] = center.registered
    assert (command.channel, command.citizen, command.language) == (
        ChannelKind.TELEGRAM,
        CITIZEN,
        Language.RU,
    )
    assert (command.text, command.external_id) == ("Во дворе драка", "m1")


async def test_a_message_joins_the_open_contact_of_its_conversation() -> None:
    center = Center()
    center.contacts.add("c1", ContactState.CONNECTED)
    taken = await center.intake.take(conversation("c1"), message("они ушли"))
    assert (taken.contact_id, taken.created) == ("c1", False)
    assert center.registered == []
    [(stored, _)] = center.contacts.messages
    assert (stored.contact_id, stored.text, stored.external_id) == ("c1", "они ушли", "m1")
    [received] = center.of(ev.MessageReceived)
    assert (received.contact_id, received.message_id) == ("c1", stored.id)


async def test_after_a_close_a_newer_contact_another_node_opened_is_joined() -> None:
    center = Center()
    center.contacts.add("old", ContactState.CLOSED)
    center.contacts.add("newer", ContactState.QUEUED)
    await center.conversations.save_conversation(conversation("newer"), NOW)
    taken = await center.intake.take(conversation("old"), message())
    assert (taken.contact_id, taken.created) == ("newer", False)
    assert center.conversations.forgotten == [(ChannelKind.TELEGRAM, CITIZEN)]  # read afresh
    assert center.registered == []


async def test_after_a_close_with_nothing_newer_a_new_contact_is_opened() -> None:
    center = Center()
    center.contacts.add("old", ContactState.CLOSED)
    await center.conversations.save_conversation(conversation("old"), NOW)
    taken = await center.intake.take(conversation("old"), message())
    assert (taken.contact_id, taken.created) == ("new1", True)
    assert center.contacts.messages == []


async def test_a_gone_contact_is_treated_as_over() -> None:
    center = Center()
    taken = await center.intake.take(conversation("vanished"), message())
    assert taken.created and len(center.registered) == 1


async def test_a_shared_location_moves_the_open_contact() -> None:
    center = Center()
    center.contacts.add("c1", ContactState.CONNECTED)
    place = Location(lat=43.2389, lon=76.8897, accuracy_m=12)
    await center.intake.take(conversation("c1"), message("я здесь", location=place))
    # moved by the one command that moves a contact (its conditional save: routing/lifecycle)
    assert [(m.contact_id, m.location) for m in center.moved] == [("c1", place)]


async def test_a_message_on_a_closed_contact_is_a_conflict_for_the_command() -> None:
    center = Center()
    center.contacts.add("c1", ContactState.CLOSED)
    with pytest.raises(Conflict) as raised:
        await center.intake.add_citizen_message(AddCitizenMessage(contact_id="c1", text="ещё"))
    assert raised.value.error_id == "contact_closed"


async def test_a_live_location_moves_only_an_open_contact() -> None:
    center = Center()
    place = Location(lat=43.2, lon=76.9)
    center.contacts.add("c1", ContactState.QUEUED)
    assert await center.intake.relocate(conversation("c1"), place) == "c1"
    assert [m.contact_id for m in center.moved] == ["c1"]
    center.contacts.add("c2", ContactState.CLOSED)
    assert await center.intake.relocate(conversation("c2"), place) is None
    assert await center.intake.relocate(conversation(None), place) is None
    assert len(center.moved) == 1


def test_the_language_hint_reads_the_letters() -> None:
    assert language_hint("Сәлеметсіз бе") is Language.KK
    assert language_hint("Здравствуйте") is Language.RU
    assert language_hint("hello 123") is None


async def test_two_nodes_taking_a_citizen_s_first_messages_at_once_open_one_contact() -> None:
    """The text on one node, the location the citizen shared after it on another (the
    messenger's retries after a database cut land anywhere): one contact, both messages in it
    (each node used to find no open contact and open one)."""
    a = Center(register_s=0.05)
    b = Center(a, register_s=0.05)
    fresh = conversation()
    here = Location(lat=43.238, lon=76.945, accuracy_m=10.0)
    text, place = await asyncio.gather(
        a.intake.take(fresh, message("У подъезда лежит человек")),
        b.intake.take(fresh, message("", location=here)),
    )
    assert len(a.registered) + len(b.registered) == 1
    assert {text.contact_id, place.contact_id} == {text.contact_id}
    assert sorted([text.created, place.created]) == [False, True]
    [(joined, _)] = a.contacts.messages  # the second message, in the first one's contact
    assert joined.contact_id == text.contact_id
    saved = await a.conversations.conversation(ChannelKind.TELEGRAM, CITIZEN)
    assert saved is not None and saved.contact_id == text.contact_id
