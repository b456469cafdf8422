"""The async message bus: commands fail loud, events fail soft, per-contact order kept.

`execute(command)` runs the command's one handler under the contact's lock and returns its
result, typed by the command (`Command[R]` → `R`); an exception reaches the caller. Events
published while it runs are queued and handled after the handler returns, in order, by
every subscriber; a failing subscriber is logged with the contact id and the others still
run. Messages with the same key (contact id) are handled one at a time, in the order they
arrived, on this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

from contact.domain.commands import Command
from contact.domain.events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
C = TypeVar("C", bound=Command)
R = TypeVar("R")
EventHandler = Callable[[Any], Awaitable[None]]
CommandHandler = Callable[[Any], Awaitable[object]]

# events published by the task that is handling a message, drained by that task. The owner
# is kept too: a task started inside a handler copies this context, and its events must not
# land in a list that its parent may have finished draining.
_pending: contextvars.ContextVar[tuple[asyncio.Task[Any] | None, list[Event]] | None] = (
    contextvars.ContextVar("contact_bus_pending", default=None)
)


def _own_pending() -> list[Event] | None:
    held = _pending.get()
    if held is None or held[0] is not asyncio.current_task():
        return None
    return held[1]


class KeyedLocks:
    """One FIFO lock per key, re-entrant for the task holding it (an event handler may run a
    command on the same contact), dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)
        self._owners: dict[str, tuple[asyncio.Task[Any] | None, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        if key is None:
            yield
            return
        me = asyncio.current_task()
        owner, depth = self._owners.get(key, (None, 0))
        if owner is me and depth:
            self._owners[key] = (me, depth + 1)
            try:
                yield
            finally:
                self._owners[key] = (me, depth)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                self._owners[key] = (me, 1)
                try:
                    yield
                finally:
                    del self._owners[key]
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)


class MessageBus:
    def __init__(self) -> None:
        self._event_handlers: dict[type[Event], list[EventHandler]] = defaultdict(list)
        self._command_handlers: dict[type[Command[object]], CommandHandler] = {}
        self._locks = KeyedLocks()

    # --- wiring ---------------------------------------------------------------------------

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._event_handlers[event_type].append(handler)

    def subscribe_all(self, handler: Callable[[Event], Awaitable[None]]) -> None:
        """For projections that forward every event (WebSocket, audit)."""
        self._event_handlers[Event].append(handler)

    def register(self, command_type: type[C], handler: Callable[[C], Awaitable[object]]) -> None:
        """The one handler of `command_type`; it returns what the command names (`Command[R]`)."""
        if command_type in self._command_handlers:
            raise ValueError(f"{command_type.__name__} already has a handler")
        self._command_handlers[command_type] = handler

    # --- running --------------------------------------------------------------------------

    def holding(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        """The lock commands and events on `key` run under, for work that changes that
        contact outside a command (routing's offer, its return): in one node's order with
        them, not between a handler's read and its save."""
        return self._locks.hold(key)

    async def execute(self, command: Command[R]) -> R:
        handler = self._command_handlers.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for command {type(command).__name__}")
        outer = _own_pending()
        queue: list[Event] = [] if outer is None else outer
        token = _pending.set((asyncio.current_task(), queue)) if outer is None else None
        try:
            async with self._locks.hold(command.key):
                result = await handler(command)
        finally:
            if token is not None:
                _pending.reset(token)
        if outer is None:
            await self._drain(queue)
        return cast(R, result)  # the handler registered for this command returns its R

    async def publish(self, event: Event) -> None:
        queue = _own_pending()
        if queue is not None:
            queue.append(event)  # handled by the task already draining, after its handler
            return
        await self._drain([event])

    async def _drain(self, queue: list[Event]) -> None:
        token = _pending.set((asyncio.current_task(), queue))
        try:
            while queue:
                event = queue.pop(0)
                async with self._locks.hold(event.key):
                    await self._dispatch(event)
        finally:
            _pending.reset(token)

    async def _dispatch(self, event: Event) -> None:
        handlers = self._event_handlers.get(type(event), []) + self._event_handlers.get(Event, [])
        for handler in handlers:
            try:
                await handler(event)
            except Exception:
                log.exception(
                    "event handler %s failed on %s",
                    getattr(handler, "__qualname__", handler),
                    event.name,
                    extra={"contact_id": event.key},
                )
