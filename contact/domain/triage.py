"""Priority rules as pure functions.

Queue order is one number per contact, lowest first: `queue_score`. It is the arrival time
plus a fixed offset per priority, so within a priority the oldest goes first and a lower
priority contact that has waited longer than the gap between two offsets overtakes newer
urgent ones: aging without ever re-scoring what waits (a Redis ZSET keeps it as is).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from contact.domain.model import ChannelKind, Priority

CHANNEL_PRIORITY: dict[ChannelKind, Priority] = {
    ChannelKind.SCHOOL_ALARM: Priority.ALARM,
    ChannelKind.KIOSK: Priority.SOS,
    ChannelKind.APP_SOS: Priority.SOS,
    ChannelKind.VOICE: Priority.VOICE,
    ChannelKind.VIDEO: Priority.VIDEO,
    ChannelKind.APP: Priority.CHAT,
    ChannelKind.TELEGRAM: Priority.CHAT,
    ChannelKind.WHATSAPP: Priority.CHAT,
    ChannelKind.CAMERA: Priority.CHAT,
    ChannelKind.CALLBACK: Priority.INFO,
}

# Seconds a contact of this priority is placed behind an ALARM that arrived at the same
# moment. A chat overtakes a new 102 call after waiting 4 minutes, a new alarm after 30.
DEFAULT_AGING_OFFSETS: dict[Priority, float] = {
    Priority.ALARM: 0.0,
    Priority.SOS: 600.0,
    Priority.VOICE: 1200.0,
    Priority.VIDEO: 1260.0,
    Priority.CHAT: 1440.0,
    Priority.INFO: 1800.0,
}

# Words that lift a chat to SOS priority (kk and ru stems, lower case).
SOS_KEYWORDS: tuple[str, ...] = (
    "помогите",
    "спасите",
    "убива",
    "нож",
    "пистолет",
    "оружи",
    "стреля",
    "насил",
    "похит",
    "тонет",
    "пожар",
    "көмектесіңдер",
    "көмек",
    "құтқарыңдар",
    "өлтір",
    "пышақ",
    "қару",
    "атыс",
    "зорла",
    "ұрла",
    "өрт",
)


def priority_for(
    channel: ChannelKind, text: str = "", *, information_only: bool = False
) -> Priority:
    """The priority a new contact gets from its channel and first words."""
    base = CHANNEL_PRIORITY[channel]
    if information_only and base >= Priority.CHAT:
        return Priority.INFO
    if base > Priority.SOS and mentions_danger(text):
        return Priority.SOS
    return base


def mentions_danger(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SOS_KEYWORDS)


def queue_score(
    priority: Priority,
    queued_at: datetime,
    offsets: Mapping[Priority, float] = DEFAULT_AGING_OFFSETS,
) -> float:
    return queued_at.timestamp() + offsets[priority]
