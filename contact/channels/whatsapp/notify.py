"""Tells a WhatsApp citizen the report number (and to call 102 when life is in danger), each
status change (accepted, unit dispatched, closed) and the operators' replies. Until the
citizen chose a language, texts come in both and the first one carries the language buttons
(an interactive message)."""

from __future__ import annotations

from typing import Any

from contact.channels.chat.notify import ChatNotifier
from contact.channels.chat.ports import Conversation
from contact.channels.chat.texts import LANGUAGE_BUTTONS, received_text
from contact.domain.model import ChannelKind


class WhatsAppNotifier(ChatNotifier):
    channel = ChannelKind.WHATSAPP

    def received_body(self, contact_id: str, conversation: Conversation) -> dict[str, Any]:
        if conversation.language_chosen:
            return {"text": received_text(contact_id, conversation.language)}
        return {"text": received_text(contact_id, None), "buttons": LANGUAGE_BUTTONS}
