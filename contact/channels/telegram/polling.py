"""Polling mode: getUpdates long polling instead of a webhook (no public URL needed).

Each batch is stored in the inbox before the next getUpdates call confirms it (its offset is
past them): a crash between the two only means Telegram sends the batch again, and the inbox
stores it once. aiogram's own polling does not delete a webhook, so this does it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from contact.channels.chat.inbox import Inbox
from contact.channels.chat.ports import InboxItem
from contact.channels.telegram import parse
from contact.domain.model import ChannelKind
from contact.errors import ContactError

log = logging.getLogger(__name__)


class UpdateSource(Protocol):
    async def get_updates(self, offset: int | None, timeout_s: int) -> list[dict[str, Any]]: ...

    async def delete_webhook(self) -> None: ...


def inbox_item(raw: dict[str, Any], parsed: parse.Inbound, at: datetime) -> InboxItem:
    return InboxItem(
        channel=ChannelKind.TELEGRAM,
        external_id=f"update:{parsed.update_id}",
        lane=parsed.key,
        payload=json.dumps(raw, ensure_ascii=True, separators=(",", ":")),
        received_at=at,
    )


class TelegramPoller:
    def __init__(
        self,
        source: UpdateSource,
        inbox: Inbox,
        *,
        limits: parse.Limits,
        timeout_s: int,
        clock: Callable[[], float],
        backoff_s: float = 1.0,
    ) -> None:
        self._source = source
        self._inbox = inbox
        self._limits = limits
        self._timeout_s = timeout_s
        self._clock = clock
        self._backoff_s = backoff_s
        self._task: asyncio.Task[None] | None = None
        self.offset: int | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = self._backoff_s
        while True:
            try:
                await self._source.delete_webhook()
                break
            except ContactError as error:
                log.warning("telegram polling waits: %s", error.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        delay = self._backoff_s
        while True:
            try:
                await self.poll_once()
                delay = self._backoff_s
            except ContactError as error:  # Telegram away, 409 (a webhook or another poller)
                log.warning("telegram polling: %s", error.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def poll_once(self) -> int:
        updates = await self._source.get_updates(self.offset, self._timeout_s)
        now = datetime.fromtimestamp(self._clock(), UTC)
        items: list[InboxItem] = []
        offset = self.offset
        for raw in updates:
            try:
                parsed = parse.parse_update(raw, self._limits)
            except ContactError:
                continue  # not an update: nothing to store, nothing to confirm
            offset = max(offset or 0, parsed.update_id + 1)
            if isinstance(parsed, parse.Inbound):
                items.append(inbox_item(raw, parsed, now))
        if items:
            await self._inbox.put(items)  # raises Unavailable: the offset stays, Telegram resends
        self.offset = offset
        return len(items)
