"""The heartbeat monitor: a kiosk silent for `missed_heartbeats` intervals raises kiosk.offline.

Runs on every node; the state change is one conditional UPDATE, so exactly one node raises the
event for each kiosk that fell silent. It also forgets accepted signatures past their window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from contact.bus import MessageBus
from contact.channels.kiosk.notify import view
from contact.config import KioskSettings
from contact.domain import events as ev
from contact.errors import ContactError
from contact.ports import KioskRegistry, ReplayGuard

log = logging.getLogger(__name__)


class HeartbeatMonitor:
    def __init__(
        self,
        *,
        kiosks: KioskRegistry,
        replays: ReplayGuard,
        bus: MessageBus,
        settings: KioskSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kiosks = kiosks
        self._replays = replays
        self._bus = bus
        self._settings = settings
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def silence_s(self) -> float:
        return self._settings.heartbeat_interval_s * self._settings.missed_heartbeats

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kiosk-heartbeat-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except ContactError as exc:  # the database is down: try again on the next tick
                log.warning("kiosk heartbeat check failed: %s", exc.message)
            except Exception:
                log.exception("kiosk heartbeat check failed")
            await asyncio.sleep(self._settings.monitor_tick_s)

    async def check(self) -> list[str]:
        """One pass: the ids of the kiosks that went offline now."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        silent_since = now - timedelta(seconds=self.silence_s)
        gone = await self._kiosks.mark_offline(silent_since, at=now)
        for kiosk in gone:
            last = kiosk.last_heartbeat_at
            log.warning("kiosk %s is offline", kiosk.id)
            await self._bus.publish(
                ev.KioskWentOffline(
                    kiosk_id=kiosk.id,
                    kiosk_name=kiosk.name,
                    last_heartbeat_at=last,
                    silent_s=(now - last).total_seconds() if last else self.silence_s,
                    kiosk=view(kiosk),
                    occurred_at=now,
                )
            )
        await self._replays.purge(now)
        return [k.id for k in gone]
