"""What every voice flow works with: the ports (bus, stores, call control, routing), the call
book, the per-call locks and the service's tasks and timers."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from contact.bus import KeyedLocks, MessageBus
from contact.config import AsteriskSettings, Settings
from contact.domain.model import ChannelKind, ContactState
from contact.ports import (
    CallControl,
    CallRepository,
    ContactRepository,
    OperatorRepository,
    Recording,
)
from contact.routing.lifecycle import Joined
from contact.routing.service import RoutingService
from contact.telephony.voice.book import CallBook

VOICE_CHANNELS = frozenset({ChannelKind.VOICE, ChannelKind.KIOSK, ChannelKind.VIDEO})
NOT_ANSWERED = frozenset({ContactState.NEW, ContactState.QUEUED, ContactState.OFFERED})
# app contacts a video call of the citizen app may join (X-Contact-Id: an SOS it reported)
ATTACHABLE = frozenset({ChannelKind.APP_SOS, ChannelKind.APP, ChannelKind.VIDEO})
CALL_READY_WAIT_S = 2.0
RING_GUARD_EXTRA_S = 5.0
LOCAL_ZONE = "Asia/Almaty"

Join = Callable[[str, str | None], Coroutine[Any, Any, Joined | None]]
RecordingClosed = Callable[[Recording], None]


def local_zone() -> Any:
    try:
        return ZoneInfo(LOCAL_ZONE)
    except Exception:  # no tz database on this machine
        return UTC


class Kit:
    def __init__(
        self,
        *,
        settings: Settings,
        bus: MessageBus,
        contacts: ContactRepository,
        operators: OperatorRepository,
        calls: CallRepository,
        control: CallControl,
        routing: RoutingService,
        clock: Callable[[], float] = time.time,
        on_recording_closed: RecordingClosed | None = None,
        join: Join | None = None,
    ) -> None:
        self.settings = settings
        self.asterisk: AsteriskSettings = settings.asterisk
        self.bus = bus
        self.contacts = contacts
        self.operators = operators
        self.repo = calls
        self.control = control
        self.routing = routing
        self.clock = clock
        self.on_recording_closed = on_recording_closed
        # ContactLifecycle.join: an SOS's video call goes to its operator only if they are there
        self.join = join
        self.book = CallBook()
        self.locks = KeyedLocks()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.timers: set[asyncio.TimerHandle] = set()
        # bookkeeping after the fact runs a few at a time: new calls' intake never queues
        # behind a burst of it
        self.bookkeeping = asyncio.Semaphore(2)
        self.started = False

    @property
    def ring_s(self) -> float:
        return self.asterisk.operator_ring_s or self.settings.routing.offer_timeout_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "voice") -> asyncio.Task[Any]:
        # a fresh context: a task started inside a bus handler must not inherit the bus's
        # pending-events queue of that handler (its events would be lost)
        task = asyncio.create_task(coro, name=name, context=contextvars.Context())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def later(self, delay: float, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.timers.discard(handle)
            self.spawn(factory(), "voice-timer")

        handle = loop.call_later(max(0.0, delay), fire)
        self.timers.add(handle)
