"""The WebSocket hub of one node: delivers Broadcast topics to the sockets subscribed to them.

Each socket has a bounded outbox and its own sender task, so one slow browser never delays
the others; a socket whose outbox overflows is closed (the page reconnects and reloads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

OUTBOX_SIZE = 1000


class Subscriber:
    def __init__(self, ws: web.WebSocketResponse, owner: str) -> None:
        self.ws = ws
        self.owner = owner  # operator id or device id, for logs and presence
        self.topics: set[str] = set()
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(OUTBOX_SIZE)
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name=f"ws-send-{self.owner}")

    async def stop(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender

    def offer(self, text: str) -> bool:
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def _send_loop(self) -> None:
        while (text := await self.outbox.get()) is not None:
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return


class Hub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Subscriber]] = defaultdict(set)
        self.delivered = 0

    def __len__(self) -> int:
        return len({s for subs in self._topics.values() for s in subs})

    def listeners(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def subscribe(self, subscriber: Subscriber, topic: str) -> None:
        subscriber.topics.add(topic)
        self._topics[topic].add(subscriber)

    def drop(self, subscriber: Subscriber) -> None:
        for topic in subscriber.topics:
            subs = self._topics.get(topic)
            if subs is not None:
                subs.discard(subscriber)
                if not subs:
                    del self._topics[topic]
        subscriber.topics.clear()

    async def deliver(self, topic: str, payload: Mapping[str, Any]) -> None:
        """The Broadcast listener: runs for every topic message reaching this node."""
        subs = self._topics.get(topic)
        if not subs:
            return
        text = json.dumps(
            {"topic": topic, "data": payload}, ensure_ascii=False, separators=(",", ":")
        )
        for subscriber in list(subs):
            if subscriber.offer(text):
                self.delivered += 1
            else:
                log.warning("websocket of %s too slow; closing it", subscriber.owner)
                self.drop(subscriber)
                asyncio.get_running_loop().create_task(
                    subscriber.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow")
                )

    async def serve(
        self, request: web.Request, subscriber: Subscriber, on_message: Any = None
    ) -> web.WebSocketResponse:
        """Run one socket until it closes; `on_message(subscriber, data)` handles client
        messages (JSON objects)."""
        ws = subscriber.ws
        subscriber.start()
        try:
            async for msg in ws:
                if msg.type.name != "TEXT" or on_message is None:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    await ws.send_json({"error": {"id": "bad_json", "message": "not JSON"}})
                    continue
                if isinstance(data, dict):
                    reply = await on_message(subscriber, data)
                    if reply is not None:
                        subscriber.offer(json.dumps(reply, ensure_ascii=False))
        finally:
            self.drop(subscriber)
            await subscriber.stop()
        return ws
