"""Tells the citizen's app what happens to its reports and SOS calls: operator replies and
status changes, on the app WebSocket topic `device:<device id>`, texts in the contact's
language. Reports push `report.reply` / `report.status` (with `report_id`), SOS calls
`sos.reply` / `sos.status` (with `sos_id`)."""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.domain.model import ChannelKind, Contact, ContactState
from contact.i18n import text
from contact.ports import Broadcast, ContactRepository

CITIZEN_STATUS: dict[ContactState, str] = {
    ContactState.NEW: "queued",
    ContactState.QUEUED: "queued",
    ContactState.OFFERED: "queued",
    ContactState.CONNECTED: "in_progress",
    ContactState.WRAP_UP: "in_progress",
    ContactState.CLOSED: "closed",
    ContactState.ABANDONED: "withdrawn",
}


def citizen_status(contact: Contact) -> dict[str, str]:
    status = CITIZEN_STATUS[contact.state]
    return {"status": status, "status_text": text(f"status.{status}", contact.language)}


def device_topic(device_id: str) -> str:
    return f"device:{device_id}"


class AppNotifier:
    def __init__(self, contacts: ContactRepository, broadcast: Broadcast) -> None:
        self._contacts = contacts
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ReplySent, self._reply)
        for event_type in (ev.ContactAccepted, ev.ContactClosed, ev.ContactAbandoned):
            bus.subscribe(event_type, self._status)

    async def _app_contact(self, contact_id: str) -> Contact | None:
        contact = await self._contacts.get(contact_id)
        ok = contact.channel in (ChannelKind.APP, ChannelKind.APP_SOS) and contact.citizen
        return contact if ok else None

    async def _send(self, contact: Contact, body: dict[str, Any]) -> None:
        assert contact.citizen is not None
        sos = contact.channel is ChannelKind.APP_SOS
        kind = "sos" if sos else "report"
        body["type"] = f"{kind}.{body['type']}"
        await self._broadcast.publish(
            device_topic(contact.citizen), {f"{kind}_id": contact.id, **body}
        )

    async def _reply(self, event: ev.ReplySent) -> None:
        contact = await self._app_contact(event.contact_id)
        if contact is not None:
            await self._send(
                contact,
                {
                    "type": "reply",
                    "message_id": event.message_id,
                    "text": event.text,
                    "at": event.occurred_at.isoformat(),
                },
            )

    async def _status(self, event: ev.Event) -> None:
        assert event.key is not None
        contact = await self._app_contact(event.key)
        if contact is not None:
            await self._send(
                contact,
                {
                    "type": "status",
                    **citizen_status(contact),
                    "at": event.occurred_at.isoformat(),
                },
            )
