"""Broadcast: topic messages to the listeners of every node (WebSocket projections).

`MemoryBroadcast` serves one node. `RedisBroadcast` serves several over a Redis pub/sub
channel: `publish` hands the message to this node's listeners at once (no round trip) and
queues it for the other nodes; the messages published within a few milliseconds go to Redis
as one PUBLISH (a batch that starts with the node's id), so a subscriber skips its
own node's batches by their first bytes, without decoding them, and every node sees every
message once. Pub/sub is at-most-once: what is published while a node (or the publishing
node's link to Redis) is cut off does not reach that node, so listeners send state
(snapshots), not deltas that depend on every message arriving.

On the channel (JSON): `{"node": id, "batch": [{"topic": t, "payload": {...}}, ...]}`; the
one-message form of earlier versions, `{"node": id, "topic": t, "payload": {...}}`, is still
read, so nodes can be upgraded one at a time (an earlier node drops the batches of an upgraded
one as malformed until it is upgraded too).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from contact.ports import BroadcastListener
from contact.redis_keys import RedisKeys

log = logging.getLogger(__name__)

# TimeoutError: the builtin one, from a subscription Redis never confirmed
_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, TimeoutError)


class Payload(Mapping[str, Any]):
    """What a listener receives: the payload as JSON carries it, on both backends, read-only.

    Encoded once per message: `json` is its text (UTF-8 as is, no spaces), which the
    WebSocket hub sends as is and RedisBroadcast sends to the other nodes; it is decoded
    only when a listener first reads a key (most topics reach the hub alone).
    """

    __slots__ = ("_data", "_text")

    def __init__(self, text: str | None = None, data: dict[str, Any] | None = None) -> None:
        if text is None and data is None:
            raise ValueError("a Payload needs its text or its data")
        self._text = text
        self._data = data

    @classmethod
    def encode(cls, payload: Mapping[str, Any]) -> Payload:
        """`payload` through JSON (a value JSON cannot carry raises TypeError, as on Redis)."""
        if isinstance(payload, Payload):
            return payload
        data = payload if type(payload) is dict else dict(payload)
        return cls(json.dumps(data, ensure_ascii=False, separators=_COMPACT))

    @property
    def json(self) -> str:
        if self._text is None:
            self._text = json.dumps(self._data, ensure_ascii=False, separators=_COMPACT)
        return self._text

    @property
    def _decoded(self) -> dict[str, Any]:
        if self._data is None:
            assert self._text is not None
            self._data = json.loads(self._text)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._decoded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded)

    def __len__(self) -> int:
        return len(self._decoded)

    def __repr__(self) -> str:
        return repr(self._decoded)


_COMPACT = (",", ":")


class _Listeners:
    """The local listeners; a failing one is logged and the others still run."""

    def __init__(self) -> None:
        self._listeners: list[BroadcastListener] = []

    def add(self, listener: BroadcastListener) -> None:
        self._listeners.append(listener)

    async def deliver(self, topic: str, payload: Mapping[str, Any]) -> None:
        for listener in list(self._listeners):
            try:
                await listener(topic, payload)
            except Exception:
                log.exception("broadcast listener %r failed on topic %s", listener, topic)


class MemoryBroadcast:
    """One node: publish hands the message to the listeners before it returns."""

    def __init__(self) -> None:
        self._listeners = _Listeners()

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        await self._listeners.deliver(topic, Payload.encode(payload))

    def listen(self, listener: BroadcastListener) -> None:
        self._listeners.add(listener)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBroadcast:
    """Several nodes over Redis pub/sub.

    `publish` never waits for Redis: the local listeners have the message when it returns.
    The other nodes get it `send_delay_s` later, with what was published meanwhile, in one
    PUBLISH (every node's subscriber, this one's included, pays a read per PUBLISH, not per
    message); a larger batch goes as PUBLISHes of `max_batch` messages in one pipeline. At
    most `max_pending` messages wait; a lost Redis link drops what was waiting, logged once
    per outage, and the next batch tries again. Messages from one node reach the others in
    the order published.
    `start()` returns once the first subscription attempt is over or after `start_timeout_s`
    (Redis down: the task keeps retrying with backoff and logs once per outage). Pub/sub takes
    a connection of its own from the client's pool.
    """

    def __init__(
        self,
        client: Redis,
        keys: RedisKeys | None = None,
        *,
        backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        idle_ping_s: float = 10.0,
        start_timeout_s: float = 2.0,
        max_pending: int = 10_000,
        max_batch: int = 256,
        send_delay_s: float = 0.005,
    ) -> None:
        self._client = client
        self._channel = (keys or RedisKeys()).broadcast_channel
        self._listeners = _Listeners()
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._idle_ping_s = idle_ping_s
        self._start_timeout_s = start_timeout_s
        self._max_pending = max_pending
        self._max_batch = max_batch  # a bounded PUBLISH: Redis limits a subscriber's buffer
        self._send_delay_s = send_delay_s
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._subscribed = False
        self.node = uuid.uuid4().hex  # heads every batch: the subscriber skips its own
        self._head = f'{{"node":"{self.node}",'
        self._own = self._head.encode()  # what this node's batches start with, as received
        self._pending: list[str] = []  # JSON messages for the other nodes, in order
        self._flusher: asyncio.Task[None] | None = None
        self._send_failed_since: float | None = None
        self.dropped = 0  # messages the other nodes did not get (Redis down, or too many)

    @property
    def subscribed(self) -> bool:
        """True while the subscriber is connected (for /healthz)."""
        return self._subscribed

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        body = Payload.encode(payload)
        if len(self._pending) < self._max_pending:
            self._pending.append(f'{{"topic":{json.dumps(topic)},"payload":{body.json}}}')
            if self._flusher is None:
                self._flusher = asyncio.create_task(self._flush(), name="contact.broadcast.send")
        else:
            self.dropped += 1
            if self.dropped == 1 or not self.dropped % 1000:
                log.warning("broadcast: %d messages not sent to other nodes", self.dropped)
        await self._listeners.deliver(topic, body)

    def listen(self, listener: BroadcastListener) -> None:
        self._listeners.add(listener)

    async def start(self) -> None:
        if self._task is not None:
            return
        self._first_attempt.clear()
        self._task = asyncio.create_task(self._run(), name="contact.broadcast.subscriber")
        # a node starting while Redis is down still starts; the task keeps trying
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), self._start_timeout_s)

    async def stop(self) -> None:
        flusher = self._flusher
        if flusher is not None:  # what is queued goes out first, unless Redis is stuck
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(flusher), self._start_timeout_s)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _flush(self) -> None:
        """Send what is queued, one pipeline per batch, until nothing is left."""
        try:
            await asyncio.sleep(self._send_delay_s)  # what is published meanwhile joins
            while self._pending:
                batch, self._pending = self._pending, []
                await self._send(batch)
        finally:
            self._flusher = None

    async def _send(self, batch: list[str]) -> None:
        loop = asyncio.get_running_loop()
        try:
            if len(batch) <= self._max_batch:
                await self._client.publish(self._channel, self._batch(batch))
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for start in range(0, len(batch), self._max_batch):
                        part = batch[start : start + self._max_batch]
                        pipe.publish(self._channel, self._batch(part))
                    await pipe.execute()
        except _DOWN as exc:
            self.dropped += len(batch)
            if self._send_failed_since is None:  # once per outage
                self._send_failed_since = loop.time()
                log.warning("broadcast: other nodes not reached, redis is down: %s", exc)
            return
        if self._send_failed_since is not None:
            log.info(
                "broadcast: other nodes reached again after %.1f s",
                loop.time() - self._send_failed_since,
            )
            self._send_failed_since = None

    def _batch(self, messages: list[str]) -> str:
        return f'{self._head}"batch":[{",".join(messages)}]}}'

    async def _run(self) -> None:
        backoff = self._backoff_s
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            pubsub = self._client.pubsub()
            try:
                await self._subscribe(pubsub)
                self._subscribed = True
                self._first_attempt.set()
                if down_since is not None:
                    log.info(
                        "broadcast subscriber reconnected after %.1f s", loop.time() - down_since
                    )
                    down_since = None
                backoff = self._backoff_s
                await self._receive(pubsub)
            except _DOWN as exc:
                self._subscribed = False
                self._first_attempt.set()
                if down_since is None:  # once per outage, not once per retry
                    down_since = loop.time()
                    log.warning("broadcast subscriber lost redis, retrying: %s", exc)
            except Exception:
                # unexpected (a protocol error): keep the node's fan-out alive all the same
                self._subscribed = False
                self._first_attempt.set()
                log.exception("broadcast subscriber failed, restarting")
            finally:
                self._subscribed = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _subscribe(self, pubsub: PubSub) -> None:
        """Subscribe and wait for Redis to confirm, so a message published by another node
        right after start() is not missed. No confirmation counts as a lost connection."""
        await pubsub.subscribe(self._channel)
        async with asyncio.timeout(2 * self._idle_ping_s):
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "subscribe":
                    return
                if message is not None and message.get("type") == "message":
                    await self._dispatch(message["data"])

    async def _receive(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails. A silent connection is pinged, and
        one that does not answer within two pings counts as lost (a half-open TCP link)."""
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=min(1.0, self._idle_ping_s))
            now = loop.time()
            if message is None:
                if now - heard > 2 * self._idle_ping_s:
                    raise redis.exceptions.ConnectionError("no answer to ping")
                if now - heard > self._idle_ping_s and not pinged:
                    await pubsub.ping()
                    pinged = True
                continue
            heard, pinged = now, False
            if message.get("type") != "message":
                continue  # pong, (un)subscribe confirmations
            await self._dispatch(message["data"])
            heard = loop.time()  # a slow listener is not a silent connection

    async def _dispatch(self, data: Any) -> None:
        if data.startswith(self._own if isinstance(data, bytes) else self._head):
            return  # this node's own: its listeners had it when it was published
        try:
            body = json.loads(data)
            batch = body.get("batch", [body])  # or the one-message form
            if not isinstance(batch, list):
                raise TypeError("a batch is a list")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("broadcast: dropped a malformed message on %s", self._channel)
            return
        for message in batch:
            try:
                topic, payload = message["topic"], message["payload"]
                if not isinstance(topic, str) or not isinstance(payload, dict):
                    raise TypeError("topic must be a string and payload an object")
            except (KeyError, TypeError):
                log.warning("broadcast: dropped a malformed message on %s", self._channel)
                continue
            await self._listeners.deliver(topic, Payload(data=payload))
