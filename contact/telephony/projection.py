"""Telephony events → WebSocket topics (through the Broadcast port) and the audit log.

`contact:<id>` (whoever may see the contact), `operator:<id>` (the operator on the call),
`supervisor` (the room). No event here carries citizen data; the number and location stay on
the contact (its offer and detail, for the operator it is offered to).
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.ports import AuditLog, Broadcast

CALL_EVENTS: tuple[type[ev.Event], ...] = (
    ev.CallRinging,
    ev.CallConnected,
    ev.CallHeld,
    ev.CallEnded,
    ev.CallLanguageChosen,
    ev.CallTransferred,
    ev.RecordingStored,
    ev.CallbackRequested,
    ev.CallbackDialed,
)
# what operators did on calls and what the system did to them; a caller's own arrival and
# hang-up while waiting are the contact's record, not audit entries (no audit write per call)
AUDITED: tuple[type[ev.Event], ...] = (
    ev.CallConnected,
    ev.CallHeld,
    ev.CallEnded,
    ev.CallTransferred,
    ev.CallbackDialed,
    ev.TelephonyLinkChanged,
)


def payload(event: ev.Event) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event.name, "at": event.occurred_at.isoformat()}
    for f in fields(event):
        if f.name == "occurred_at":
            continue
        value = getattr(event, f.name)
        body[f.name] = value.value if isinstance(value, Enum) else value
    return body


class TelephonyProjection:
    def __init__(self, broadcast: Broadcast, audit: AuditLog) -> None:
        self._broadcast = broadcast
        self._audit = audit

    def register(self, bus: MessageBus) -> None:
        for event_type in CALL_EVENTS:
            bus.subscribe(event_type, self._call_event)
        bus.subscribe(ev.CallSpied, self._supervisor_only)
        bus.subscribe(ev.TelephonyLinkChanged, self._supervisor_only)
        for event_type in AUDITED:
            bus.subscribe(event_type, self._audited)

    async def _call_event(self, event: ev.Event) -> None:
        body = payload(event)
        contact_id = body.get("contact_id")
        await self._broadcast.publish(f"contact:{contact_id}", body)
        await self._broadcast.publish("supervisor", body)
        operator_id = body.get("operator_id")
        if operator_id:
            await self._broadcast.publish(f"operator:{operator_id}", body)

    async def _supervisor_only(self, event: ev.Event) -> None:
        await self._broadcast.publish("supervisor", payload(event))

    async def _audited(self, event: ev.Event) -> None:
        if isinstance(event, ev.CallEnded) and event.operator_id is None and not event.dropped:
            return  # ended while waiting: the contact says it (abandoned)
        body = payload(event)
        body.pop("type", None)
        body.pop("at", None)
        subject = body.pop("contact_id", None)
        actor = body.get("operator_id") or "system:telephony"
        if isinstance(event, ev.CallEnded) and event.reason != "operator_hangup":
            actor = "system:telephony"  # the caller or the system ended it, not the operator
        await self._audit.append(str(actor), event.name, subject, body)
