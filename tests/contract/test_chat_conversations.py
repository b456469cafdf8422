"""The chat feature's Conversations port, one contract for every implementation: SqlChatStore
on SQLite and PostgreSQL, the node's cache in front of it, and the unit tests' fake. A
conversation is found by its channel and citizen as last saved, a WhatsApp one also by its
phone number (the latest saved), and channels never mix."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contact.channels.chat.cache import CachedChatStore
from contact.channels.chat.ports import Conversation, Conversations
from contact.channels.chat.sql import SqlChatStore
from contact.config import DatabaseSettings
from contact.domain.model import ChannelKind, Language
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from tests.chat_fakes import FakeConversations

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "sql-sqlite", "sql-postgres", "cached-sqlite"])
def implementation(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """Which implementation, and its database (resolved here: the PostgreSQL fixture is sync)."""
    kind: str = request.param
    if kind == "fake":
        return kind, None
    database = "postgres_database_url" if "postgres" in kind else "sqlite_url"
    url: str = request.getfixturevalue(database)
    return kind, url


@pytest.fixture
async def conversations(
    implementation: tuple[str, str | None],
) -> AsyncIterator[Conversations]:
    kind, url = implementation
    if url is None:
        yield FakeConversations()
        return
    await upgrade(url)
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    store = SqlChatStore(db.store)
    try:
        yield CachedChatStore(store) if kind.startswith("cached") else store
    finally:
        await db.close()


def telegram(citizen: str = "1001", contact_id: str | None = None) -> Conversation:
    return Conversation(
        channel=ChannelKind.TELEGRAM,
        citizen=citizen,
        address=citizen,
        created_at=T0,
        contact_id=contact_id,
    )


def whatsapp(
    citizen: str, wa_id: str | None, contact_id: str | None = None, user_id: str | None = None
) -> Conversation:
    return Conversation(
        channel=ChannelKind.WHATSAPP,
        citizen=citizen,
        address=citizen,
        created_at=T0,
        wa_id=wa_id,
        contact_id=contact_id,
        user_id=user_id,
    )


async def test_unknown_is_none(conversations: Conversations) -> None:
    assert await conversations.conversation(ChannelKind.TELEGRAM, "1001") is None
    assert await conversations.conversation_by_wa_id("77011234567") is None


async def test_found_as_last_saved(conversations: Conversations) -> None:
    first = replace(telegram(), language=Language.KK, display_name="Айгерим")
    await conversations.save_conversation(first, T0)
    assert await conversations.conversation(ChannelKind.TELEGRAM, "1001") == first

    later = replace(
        first,
        language=Language.RU,
        language_chosen=True,
        contact_id="c1",
        last_inbound_at=T0 + timedelta(minutes=5),
    )
    await conversations.save_conversation(later, T0 + timedelta(minutes=5))
    assert await conversations.conversation(ChannelKind.TELEGRAM, "1001") == later


async def test_channels_never_mix(conversations: Conversations) -> None:
    await conversations.save_conversation(telegram("42", contact_id="tg"), T0)
    await conversations.save_conversation(whatsapp("42", None, contact_id="wa"), T0)
    tg = await conversations.conversation(ChannelKind.TELEGRAM, "42")
    wa = await conversations.conversation(ChannelKind.WHATSAPP, "42")
    assert tg is not None and wa is not None
    assert (tg.contact_id, wa.contact_id) == ("tg", "wa")


async def test_a_whatsapp_citizen_is_found_by_phone_number_latest_first(
    conversations: Conversations,
) -> None:
    await conversations.save_conversation(telegram("77011234567"), T0)  # not WhatsApp
    assert await conversations.conversation_by_wa_id("77011234567") is None
    await conversations.save_conversation(whatsapp("77011234567", "77011234567"), T0)
    await conversations.save_conversation(
        whatsapp("KZ.1", "77011234567", user_id="KZ.1"), T0 + timedelta(minutes=1)
    )
    found = await conversations.conversation_by_wa_id("77011234567")
    assert found is not None and found.citizen == "KZ.1"


async def test_a_save_from_a_copy_without_the_contact_never_takes_it_away(
    conversations: Conversations,
) -> None:
    """A new conversation is saved before its first message is taken; another node may have
    opened the citizen's contact meanwhile: that save keeps the contact (it used to clear it,
    and the first message opened a second contact)."""
    await conversations.save_conversation(telegram(contact_id="c1"), T0)
    await conversations.save_conversation(replace(telegram(), language=Language.KK), T0)
    found = await conversations.conversation(ChannelKind.TELEGRAM, "1001")
    assert found is not None and (found.contact_id, found.language) == ("c1", Language.KK)
    await conversations.save_conversation(telegram(contact_id="c2"), T0)
    found = await conversations.conversation(ChannelKind.TELEGRAM, "1001")
    assert found is not None and found.contact_id == "c2"
