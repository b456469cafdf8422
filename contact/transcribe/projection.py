"""Transcript events → WebSocket topics: partials and segments to `contact:<id>` (whoever may
see the contact: its views are audited), trouble that needs a person also to `supervisor`. The
words are the caller's and the operator's: never on the `queue` topic, never in logs."""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.i18n import text
from contact.ports import Broadcast
from contact.telephony.projection import payload


def degraded_message(level: str) -> dict[str, str]:
    """What the operator reads about a leg's transcript, in both languages."""
    key = f"transcript.{level}"
    return {lang: text(key, lang) for lang in ("kk", "ru", "en")}


# what the room should know of (a missing model is on /healthz, not on every call's news)
SUPERVISOR_LEVELS = frozenset({"stopped", "refused", "failed", "tap_failed", "not_stored"})


class TranscriptProjection:
    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.TranscriptPartial, self._contact_only)
        bus.subscribe(ev.TranscriptSegmentStored, self._contact_only)
        bus.subscribe(ev.TranscriptDegraded, self._degraded)

    async def _contact_only(self, event: ev.TranscriptPartial | ev.TranscriptSegmentStored) -> None:
        await self._broadcast.publish(f"contact:{event.contact_id}", payload(event))

    async def _degraded(self, event: ev.TranscriptDegraded) -> None:
        body: dict[str, Any] = {**payload(event), "message": degraded_message(event.level)}
        await self._broadcast.publish(f"contact:{event.contact_id}", body)
        if event.level in SUPERVISOR_LEVELS:
            await self._broadcast.publish("supervisor", body)
