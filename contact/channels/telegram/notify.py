"""Tells a Telegram citizen the report number (and to call 102 when life is in danger), each
status change (accepted, unit dispatched, closed) and the operators' replies, in the language
they chose at /start (both languages until they chose)."""

from __future__ import annotations

from contact.channels.chat.notify import ChatNotifier
from contact.domain.model import ChannelKind


class TelegramNotifier(ChatNotifier):
    channel = ChannelKind.TELEGRAM
