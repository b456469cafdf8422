"""Tells the citizen's app what happens to its reports and SOS calls: operator replies and
status changes, on the app WebSocket topic `device:<device id>`, texts in the contact's
language. Reports push `report.reply` / `report.status` (with `report_id`), SOS calls
`sos.reply` / `sos.status` (with `sos_id`).

Everything it needs rides on the events (the contact's channel, the device id as its citizen,
its language), so a status change of any contact costs no read of it."""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Contact, ContactState, Language
from contact.i18n import text
from contact.ports import Broadcast

CITIZEN_STATUS: dict[ContactState, str] = {
    ContactState.NEW: "queued",
    ContactState.QUEUED: "queued",
    ContactState.OFFERED: "queued",
    ContactState.CONNECTED: "in_progress",
    ContactState.WRAP_UP: "in_progress",
    ContactState.CLOSED: "closed",
    ContactState.ABANDONED: "withdrawn",
}
APP_CHANNELS = frozenset({ChannelKind.APP, ChannelKind.APP_SOS})


def status_of(state: ContactState, language: Language | None) -> dict[str, str]:
    status = CITIZEN_STATUS[state]
    return {"status": status, "status_text": text(f"status.{status}", language)}


def citizen_status(contact: Contact) -> dict[str, str]:
    return status_of(contact.state, contact.language)


def device_topic(device_id: str) -> str:
    return f"device:{device_id}"


class AppNotifier:
    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ReplySent, self._reply)
        bus.subscribe(ev.ContactAccepted, self._accepted)
        bus.subscribe(ev.ContactClosed, self._closed)
        bus.subscribe(ev.ContactAbandoned, self._abandoned)

    async def _send(
        self,
        channel: ChannelKind | None,
        citizen: str | None,
        contact_id: str,
        body: dict[str, Any],
    ) -> None:
        if channel not in APP_CHANNELS or not citizen:
            return
        kind = "sos" if channel is ChannelKind.APP_SOS else "report"
        body["type"] = f"{kind}.{body['type']}"
        await self._broadcast.publish(device_topic(citizen), {f"{kind}_id": contact_id, **body})

    async def _reply(self, event: ev.ReplySent) -> None:
        body = {
            "type": "reply",
            "message_id": event.message_id,
            "text": event.text,
            "at": event.occurred_at.isoformat(),
        }
        await self._send(event.channel, event.citizen, event.contact_id, body)

    async def _status(
        self,
        event: ev.Event,
        contact_id: str,
        channel: ChannelKind | None,
        citizen: str | None,
        state: ContactState,
        language: Language | None,
    ) -> None:
        body = {"type": "status", **status_of(state, language), "at": event.occurred_at.isoformat()}
        await self._send(channel, citizen, contact_id, body)

    async def _accepted(self, event: ev.ContactAccepted) -> None:
        await self._status(
            event,
            event.contact_id,
            event.channel,
            event.citizen,
            ContactState.CONNECTED,
            event.language,
        )

    async def _closed(self, event: ev.ContactClosed) -> None:
        await self._status(
            event,
            event.contact_id,
            event.channel,
            event.citizen,
            ContactState.CLOSED,
            event.language,
        )

    async def _abandoned(self, event: ev.ContactAbandoned) -> None:
        await self._status(
            event,
            event.contact_id,
            event.channel,
            event.citizen,
            ContactState.ABANDONED,
            event.language,
        )
