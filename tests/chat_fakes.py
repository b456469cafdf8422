"""A fake of the chat feature's Conversations port for unit tests, held to the same contract
suite as SqlChatStore and its node cache (tests/contract/test_chat_conversations.py), so it
cannot drift from them. It also records what was asked, saved and forgotten."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from contact.channels.chat.ports import Conversation
from contact.domain.model import ChannelKind

EARLIEST = datetime.min.replace(tzinfo=UTC)  # when the conversations given at the start were saved


class FakeConversations:
    def __init__(self, *known: Conversation) -> None:
        self._rows: dict[tuple[ChannelKind, str], tuple[Conversation, datetime]] = {
            (c.channel, c.citizen): (c, EARLIEST) for c in known
        }
        self.saved: list[Conversation] = []
        self.asked: list[tuple[ChannelKind, str]] = []
        self.forgotten: list[tuple[ChannelKind, str]] = []

    async def conversation(self, channel: ChannelKind, citizen: str) -> Conversation | None:
        self.asked.append((channel, citizen))
        found = self._rows.get((channel, citizen))
        return None if found is None else found[0]

    async def conversation_by_wa_id(self, wa_id: str) -> Conversation | None:
        """The WhatsApp conversation with this phone number, the latest saved first."""
        matching = [
            (saved_at, c)
            for c, saved_at in self._rows.values()
            if c.channel is ChannelKind.WHATSAPP and c.wa_id == wa_id
        ]
        if not matching:
            return None
        return max(matching, key=lambda m: m[0])[1]

    async def save_conversation(self, conversation: Conversation, at: datetime) -> None:
        key = (conversation.channel, conversation.citizen)
        if conversation.contact_id is None and key in self._rows:  # never taken away (sql.py)
            conversation = replace(conversation, contact_id=self._rows[key][0].contact_id)
        self._rows[key] = (conversation, at)
        self.saved.append(conversation)

    def forget(self, channel: ChannelKind, citizen: str) -> None:
        """What the node's cache offers (ChatIntake drops a stale entry before a re-read)."""
        self.forgotten.append((channel, citizen))
