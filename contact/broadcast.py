"""Broadcast: topic messages to the listeners of every node (WebSocket projections).

`MemoryBroadcast` serves one node. `RedisBroadcast` publishes to a Redis pub/sub channel and
runs one subscriber task that hands every message, this node's own included, to the local
listeners; so each node sees the same stream whichever node published. Pub/sub is
at-most-once: what is published while a node is disconnected does not reach that node,
so listeners send state (snapshots), not deltas that depend on every message arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from contact.errors import Unavailable
from contact.ports import BroadcastListener
from contact.redis_keys import RedisKeys

log = logging.getLogger(__name__)

# TimeoutError: the builtin one, from a subscription Redis never confirmed
_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, TimeoutError)


def _roundtrip(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a listener receives: the payload as JSON would carry it, on both backends."""
    data: dict[str, Any] = json.loads(json.dumps(dict(payload)))
    return data


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
        await self._listeners.deliver(topic, _roundtrip(payload))

    def listen(self, listener: BroadcastListener) -> None:
        self._listeners.add(listener)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisBroadcast:
    """Several nodes over Redis pub/sub.

    `start()` returns once the first subscription attempt is over or after `start_timeout_s`
    (Redis down: the task keeps retrying with backoff and logs once per outage). `publish`
    while Redis is down raises Unavailable. Pub/sub takes a connection of its own from the
    client's pool.
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
    ) -> None:
        self._client = client
        self._channel = (keys or RedisKeys()).broadcast_channel
        self._listeners = _Listeners()
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._idle_ping_s = idle_ping_s
        self._start_timeout_s = start_timeout_s
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._subscribed = False

    @property
    def subscribed(self) -> bool:
        """True while the subscriber is connected (for /healthz)."""
        return self._subscribed

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        message = json.dumps({"topic": topic, "payload": dict(payload)}, separators=(",", ":"))
        try:
            await self._client.publish(self._channel, message)
        except _DOWN as exc:
            raise Unavailable("redis is not reachable", details={"reason": str(exc)}) from exc

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
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

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
        try:
            body = json.loads(data)
            topic, payload = body["topic"], body["payload"]
            if not isinstance(topic, str) or not isinstance(payload, dict):
                raise TypeError("topic must be a string and payload an object")
        except (ValueError, KeyError, TypeError):
            log.warning("broadcast: dropped a malformed message on %s", self._channel)
            return
        await self._listeners.deliver(topic, payload)
