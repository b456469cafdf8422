"""The WebSocket hub of one node: delivers Broadcast topics to the sockets subscribed to them.

Each socket has a bounded outbox and its own sender task, so one slow browser never delays
the others; a socket whose outbox overflows is closed (the page reconnects and reloads).

A socket's subscriptions follow its session and its rights at every change:
- a session that ends (logout, expiry) closes its sockets with SESSION_ENDED, on every node
  (the SESSIONS_TOPIC broadcast; ws_session.py re-checks each socket's session as well);
- `contact:<id>` follows who may see the contact (the operator it is offered to or handled by,
  or a supervisor): every change of a contact carries its operator, and a socket of another
  operator is unsubscribed before the change is delivered (an offer that lapsed, a requeue,
  another operator taking it). The page is told with `{"unsubscribed": topic}`.
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

from contact import text_policy
from contact.broadcast import Payload
from contact.errors import ContactError

log = logging.getLogger(__name__)

OUTBOX_SIZE = 1000
SESSION_ENDED = 4401  # close code: log in again (the page goes to /login instead of reconnecting)
SESSIONS_TOPIC = "sessions"  # {"ended": <session token hash>}: no socket subscribes to it
CONTACT_TOPIC = "contact:"


class Subscriber:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        owner: str,
        *,
        session: str | None = None,
        sees_every_contact: bool = False,
    ) -> None:
        self.ws = ws
        self.owner = owner  # operator id or device id, for logs and presence
        self.session = session  # the operator session's token hash
        self.sees_every_contact = sees_every_contact  # supervisors
        self.topics: set[str] = set()
        self.closed = False  # no topic is added any more
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
        self._closing: set[asyncio.Task[bool]] = set()
        self.delivered = 0

    def __len__(self) -> int:
        return len({s for subs in self._topics.values() for s in subs})

    def listeners(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def subscribe(self, subscriber: Subscriber, topic: str) -> None:
        if subscriber.closed:
            return
        subscriber.topics.add(topic)
        self._topics[topic].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber, topic: str) -> None:
        subscriber.topics.discard(topic)
        subs = self._topics.get(topic)
        if subs is not None:
            subs.discard(subscriber)
            if not subs:
                del self._topics[topic]

    def end_session(self, session: str) -> int:
        """Close this node's sockets of a session that ended; how many."""
        ended = [s for subs in self._topics.values() for s in subs if s.session == session]
        for subscriber in set(ended):
            self.close(subscriber, SESSION_ENDED, b"session ended")
        return len(set(ended))

    def close(self, subscriber: Subscriber, code: int, message: bytes) -> None:
        """Stop delivering to this socket now and close it."""
        subscriber.closed = True
        self.drop(subscriber)
        task = asyncio.get_running_loop().create_task(
            subscriber.ws.close(code=code, message=message)
        )
        self._closing.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._closing.discard)

    def _follow_rights(self, topic: str, payload: Mapping[str, Any]) -> None:
        """A change of a contact names the operator now holding it (None when it waits):
        other operators' sockets lose the topic before the change reaches them."""
        contact = payload.get("contact")
        if not isinstance(contact, Mapping) or "operator_id" not in contact:
            return
        holder = contact["operator_id"]
        for subscriber in list(self._topics.get(topic, ())):
            if subscriber.sees_every_contact or subscriber.owner == holder:
                continue
            self.unsubscribe(subscriber, topic)
            notice = json.dumps({"unsubscribed": topic, "reason": "not_yours"})
            subscriber.offer(notice)

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
        if topic == SESSIONS_TOPIC:
            ended = payload.get("ended")
            if isinstance(ended, str):
                self.end_session(ended)
            return
        if not self._topics.get(topic):  # a new contact's topic: nobody, nothing to decode
            return
        if topic.startswith(CONTACT_TOPIC):
            self._follow_rights(topic, payload)
        subs = self._topics.get(topic)
        if not subs:
            return
        # the payload's JSON as the broadcast encoded it once, for every socket
        data = Payload.encode(payload).json
        text = f'{{"topic":{json.dumps(topic, ensure_ascii=False)},"data":{data}}}'
        for subscriber in list(subs):
            if subscriber.offer(text):
                self.delivered += 1
            else:
                log.warning("websocket of %s too slow; closing it", subscriber.owner)
                self.close(subscriber, WSCloseCode.TRY_AGAIN_LATER, b"too slow")

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
                    data = text_policy.loads(msg.data)  # the edges' text and number policy
                except (ValueError, RecursionError):
                    await ws.send_json({"error": {"id": "bad_json", "message": "not JSON"}})
                    continue
                except ContactError as exc:  # a non-finite number
                    await ws.send_json(exc.as_json())
                    continue
                if isinstance(data, dict):
                    reply = await on_message(subscriber, data)
                    if reply is not None:
                        subscriber.offer(json.dumps(reply, ensure_ascii=False))
        finally:
            self.drop(subscriber)
            await subscriber.stop()
        return ws
