"""Kiosk events → the `supervisor` WebSocket topic (kiosks are not citizen data).

Each event carries the kiosk as it left it (`KioskView`, made here by `view`), so the room is
told without reading the kiosk back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.http.views import iso
from contact.ports import Broadcast, Kiosk


def view(
    kiosk: Kiosk, *, state: str | None = None, heartbeat_at: datetime | None = None
) -> ev.KioskView:
    """The kiosk for its event; `state` and `heartbeat_at`: what the event just changed."""
    seen = ev.KioskView(
        id=kiosk.id,
        name=kiosk.name,
        lat=kiosk.lat,
        lon=kiosk.lon,
        state=kiosk.state,
        partner=kiosk.partner,
        address=kiosk.address,
        camera_id=kiosk.camera_id,
        last_heartbeat_at=kiosk.last_heartbeat_at,
    )
    if state is not None:
        seen = replace(seen, state=state)
    if heartbeat_at is not None:
        seen = replace(seen, last_heartbeat_at=heartbeat_at)
    return seen


class KioskNotifier:
    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.KioskWentOffline, self._offline)
        bus.subscribe(ev.KioskCameOnline, self._changed)
        bus.subscribe(ev.KioskAlerted, self._alerted)

    @staticmethod
    def _kiosk(kiosk_id: str, kiosk_name: str, kiosk: ev.KioskView | None) -> dict[str, Any]:
        if kiosk is None:  # an event made without its view (by hand, in a test)
            return {"id": kiosk_id, "name": kiosk_name}
        return {
            "id": kiosk.id,
            "name": kiosk.name,
            "partner": kiosk.partner,
            "address": kiosk.address,
            "lat": kiosk.lat,
            "lon": kiosk.lon,
            "state": kiosk.state,
            "camera_id": kiosk.camera_id,
            "last_heartbeat_at": iso(kiosk.last_heartbeat_at),
        }

    async def _publish(
        self, event: ev.KioskWentOffline | ev.KioskCameOnline | ev.KioskAlerted, **body: Any
    ) -> None:
        payload = {
            "type": event.name,
            "at": event.occurred_at.isoformat(),
            "kiosk": self._kiosk(event.kiosk_id, event.kiosk_name, event.kiosk),
            **body,
        }
        await self._broadcast.publish("supervisor", payload)

    async def _offline(self, event: ev.KioskWentOffline) -> None:
        await self._publish(event, silent_s=round(event.silent_s, 1))

    async def _changed(self, event: ev.KioskCameOnline) -> None:
        await self._publish(event)

    async def _alerted(self, event: ev.KioskAlerted) -> None:
        await self._publish(event, event_id=event.event_id, kind=event.kind, detail=event.detail)
