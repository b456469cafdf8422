"""An operator whose browser is gone should not be offered contacts nobody will see: when the
last operator WebSocket of a READY operator closes and stays closed for a grace period (a page
reload reconnects well within it), the operator is set AWAY."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from contact.bus import MessageBus
from contact.domain.commands import SetPresence
from contact.domain.model import Presence
from contact.errors import ContactError
from contact.http.ws import Hub
from contact.ports import QueueStore

log = logging.getLogger(__name__)


def operator_topic(operator_id: str) -> str:
    return f"operator:{operator_id}"


class DisconnectWatch:
    def __init__(self, hub: Hub, store: QueueStore, bus: MessageBus, grace_s: float) -> None:
        self._hub = hub
        self._store = store
        self._bus = bus
        self._grace_s = grace_s
        self._pending: dict[str, asyncio.Task[None]] = {}

    def disconnected(self, operator_id: str) -> None:
        if self._hub.listeners(operator_topic(operator_id)) or operator_id in self._pending:
            return
        self._pending[operator_id] = asyncio.create_task(
            self._away_if_gone(operator_id), name=f"disconnect-watch-{operator_id}"
        )

    async def _away_if_gone(self, operator_id: str) -> None:
        try:
            await asyncio.sleep(self._grace_s)
            if self._hub.listeners(operator_topic(operator_id)):
                return  # came back (a reload)
            statuses = {s.operator_id: s.presence for s in await self._store.operators()}
            if statuses.get(operator_id) is Presence.READY:
                await self._bus.execute(
                    SetPresence(operator_id=operator_id, presence=Presence.AWAY)
                )
                log.info("operator set away: browser gone", extra={"operator_id": operator_id})
        except ContactError as exc:  # the store is down or an offer is held: timers cover it
            log.warning("could not set a disconnected operator away: %s", exc.message)
        finally:
            self._pending.pop(operator_id, None)

    async def close(self) -> None:
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
