"""The kiosk notifier tells the supervisors' room from the event alone: the kiosk as its event
left it (no registry is given to it, so nothing can be read back)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contact.bus import MessageBus
from contact.channels.kiosk.notify import KioskNotifier, view
from contact.domain import events as ev
from contact.ports import BroadcastListener, Kiosk, KioskState

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
PARK = Kiosk(
    id="park-01",
    name="Киоск park-01",
    lat=43.2567,
    lon=76.9286,
    partner="Парк",
    address="пр. Абая, 1",
    camera_id="cam-park-01",
    state=KioskState.OFFLINE,
    last_heartbeat_at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC),
)


class Broadcast:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.published.append((topic, dict(payload)))

    def listen(self, listener: BroadcastListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def test_the_room_sees_the_kiosk_as_each_event_left_it() -> None:
    bus = MessageBus()
    broadcast = Broadcast()
    KioskNotifier(broadcast).register(bus)
    await bus.publish(
        ev.KioskCameOnline(
            kiosk_id=PARK.id,
            kiosk_name=PARK.name,
            kiosk=view(PARK, state=KioskState.ONLINE, heartbeat_at=NOW),
            occurred_at=NOW,
        )
    )
    await bus.publish(
        ev.KioskAlerted(
            kiosk_id=PARK.id,
            kiosk_name=PARK.name,
            event_id="e1",
            kind="door_open",
            detail="дверца",
            kiosk=view(PARK),
        )
    )
    [(topic, online), (_, alerted)] = broadcast.published
    assert topic == "supervisor"
    assert online["type"] == "kiosk.online"
    assert online["kiosk"] == {
        "id": "park-01",
        "name": "Киоск park-01",
        "partner": "Парк",
        "address": "пр. Абая, 1",
        "lat": 43.2567,
        "lon": 76.9286,
        "state": "online",
        "camera_id": "cam-park-01",
        "last_heartbeat_at": NOW.isoformat(),
    }
    assert alerted["kiosk"]["state"] == "offline"
    assert (alerted["kind"], alerted["event_id"], alerted["detail"]) == (
        "door_open",
        "e1",
        "дверца",
    )
