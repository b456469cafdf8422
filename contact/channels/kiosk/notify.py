"""Kiosk events → the `supervisor` WebSocket topic (kiosks are not citizen data)."""

from __future__ import annotations

from typing import Any

from contact.bus import MessageBus
from contact.domain import events as ev
from contact.http.views import iso
from contact.ports import Broadcast, KioskRegistry


class KioskNotifier:
    def __init__(self, kiosks: KioskRegistry, broadcast: Broadcast) -> None:
        self._kiosks = kiosks
        self._broadcast = broadcast

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.KioskWentOffline, self._offline)
        bus.subscribe(ev.KioskCameOnline, self._changed)
        bus.subscribe(ev.KioskAlerted, self._alerted)

    async def _kiosk(self, kiosk_id: str) -> dict[str, Any]:
        kiosk = await self._kiosks.get(kiosk_id)
        if kiosk is None:
            return {"id": kiosk_id}
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

    async def _publish(self, event: ev.Event, kiosk_id: str, **body: Any) -> None:
        payload = {
            "type": event.name,
            "at": event.occurred_at.isoformat(),
            "kiosk": await self._kiosk(kiosk_id),
            **body,
        }
        await self._broadcast.publish("supervisor", payload)

    async def _offline(self, event: ev.KioskWentOffline) -> None:
        await self._publish(event, event.kiosk_id, silent_s=round(event.silent_s, 1))

    async def _changed(self, event: ev.KioskCameOnline) -> None:
        await self._publish(event, event.kiosk_id)

    async def _alerted(self, event: ev.KioskAlerted) -> None:
        await self._publish(
            event, event.kiosk_id, event_id=event.event_id, kind=event.kind, detail=event.detail
        )
