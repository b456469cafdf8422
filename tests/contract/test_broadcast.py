"""The Broadcast contract: MemoryBroadcast and RedisBroadcast deliver topic + payload to every
listener; the Redis one to every node, surviving a Redis outage."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from contact.broadcast import MemoryBroadcast, RedisBroadcast
from contact.ports import Broadcast
from contact.redis_keys import RedisKeys

Received = list[tuple[str, Mapping[str, Any]]]


def collector(into: Received) -> Callable[[str, Mapping[str, Any]], Any]:
    async def listener(topic: str, payload: Mapping[str, Any]) -> None:
        into.append((topic, payload))

    return listener


async def failing(topic: str, payload: Mapping[str, Any]) -> None:
    raise RuntimeError("listener bug")


async def eventually(check: Callable[[], bool], within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def running_tasks() -> set[asyncio.Task[Any]]:
    """Tasks other than this test's own (conftest's no_tasks_left counts the pytest-asyncio
    finalizer task that runs it, so it cannot be used with pytest-asyncio 1.x)."""
    me = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not me and not t.done()}


async def no_task_left_since(before: set[asyncio.Task[Any]]) -> None:
    await asyncio.sleep(0)
    assert running_tasks() - before == set()


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[Callable[..., redis.asyncio.Redis]]:
    made: list[redis.asyncio.Redis] = []

    def make(url: str = redis_url, **kwargs: Any) -> redis.asyncio.Redis:
        client = redis.asyncio.Redis.from_url(url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def broadcast(
    request: pytest.FixtureRequest, clients: Callable[..., redis.asyncio.Redis]
) -> AsyncIterator[Broadcast]:
    bc: Broadcast
    if request.param == "memory":
        bc = MemoryBroadcast()
    else:
        bc = RedisBroadcast(clients(), RedisKeys(request.getfixturevalue("redis_prefix")))
    yield bc
    await bc.stop()


async def test_delivers_topic_and_payload(
    broadcast: Broadcast, caplog: pytest.LogCaptureFixture
) -> None:
    got: Received = []
    also: Received = []
    broadcast.listen(failing)  # logged, not fatal: the other listeners still get it
    broadcast.listen(collector(got))
    broadcast.listen(collector(also))
    await broadcast.start()
    await broadcast.publish("queue.changed", {"waiting": 3, "ids": ("a", "b"), "x": None})
    await broadcast.publish("operator.presence", {"operator_id": "op1"})
    want = [
        ("queue.changed", {"waiting": 3, "ids": ["a", "b"], "x": None}),
        ("operator.presence", {"operator_id": "op1"}),
    ]
    await eventually(lambda: len(got) == 2 and len(also) == 2)
    assert got == want and also == want
    assert "listener bug" in caplog.text
    await broadcast.stop()


async def test_start_stop_leaves_no_task(broadcast: Broadcast) -> None:
    before = running_tasks()
    await broadcast.start()
    await broadcast.stop()
    await broadcast.stop()  # twice is fine
    await no_task_left_since(before)


async def test_two_nodes_each_receive_what_either_publishes(
    redis_prefix: str, clients: Callable[..., redis.asyncio.Redis]
) -> None:
    before = running_tasks()
    keys = RedisKeys(redis_prefix)
    node_a, node_b = RedisBroadcast(clients(), keys), RedisBroadcast(clients(), keys)
    other_prefix = RedisBroadcast(clients(), RedisKeys(redis_prefix + "other:"))
    got_a: Received = []
    got_b: Received = []
    got_other: Received = []
    node_a.listen(collector(got_a))
    node_b.listen(collector(got_b))
    other_prefix.listen(collector(got_other))
    for node in (node_a, node_b, other_prefix):
        await node.start()
        assert node.subscribed
    await node_a.publish("t", {"from": "a"})
    await node_b.publish("t", {"from": "b"})
    want = [("t", {"from": "a"}), ("t", {"from": "b"})]
    await eventually(lambda: len(got_a) == 2 and len(got_b) == 2)
    # each node has its own at once, the other's through Redis: the same set, not one order
    assert sorted(got_a, key=str) == want and sorted(got_b, key=str) == want
    assert got_other == []
    for node in (node_a, node_b, other_prefix):
        await node.stop()
    await no_task_left_since(before)


async def test_each_node_gets_each_message_once_its_own_without_redis(
    redis_prefix: str, clients: Callable[..., redis.asyncio.Redis]
) -> None:
    """Local delivery and cross-node delivery on one Redis: every message arrives exactly
    once on each node, in the order its node published it."""
    keys = RedisKeys(redis_prefix)
    node_a, node_b = RedisBroadcast(clients(), keys), RedisBroadcast(clients(), keys)
    got_a: Received = []
    got_b: Received = []
    node_a.listen(collector(got_a))
    node_b.listen(collector(got_b))
    await node_a.start()
    await node_b.start()
    for n in range(50):  # several per loop turn: they go to Redis in one pipeline
        await node_a.publish("t", {"from": "a", "n": n})
        await node_b.publish("t", {"from": "b", "n": n})
    assert len(got_a) >= 50 and len(got_b) >= 50  # its own at once, before any round trip
    await node_a.publish("t", {"from": "a", "n": "end"})
    await eventually(lambda: ("t", {"from": "a", "n": "end"}) in got_b)
    # Redis orders its channel: once a's "end" reached b, b's "end" published now comes
    # after every message of either node there, and after any echo of a's own messages
    await node_b.publish("t", {"from": "b", "n": "end"})
    await eventually(lambda: ("t", {"from": "b", "n": "end"}) in got_a)
    for got in (got_a, got_b):
        for node in ("a", "b"):
            mine = [p["n"] for _, p in got if p["from"] == node]
            assert mine == [*range(50), "end"]  # once each, in order
    await node_a.stop()
    await node_b.stop()


async def test_malformed_messages_are_dropped(
    redis_prefix: str,
    clients: Callable[..., redis.asyncio.Redis],
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = RedisKeys(redis_prefix)
    raw = clients()
    node = RedisBroadcast(clients(), keys)
    got: Received = []
    node.listen(collector(got))
    await node.start()
    await raw.publish(keys.broadcast_channel, b"not json")
    await raw.publish(keys.broadcast_channel, b'{"topic": 1, "payload": {}}')
    await node.publish("t", {"ok": True})
    await raw.publish(keys.broadcast_channel, b'{"topic": "t", "payload": {"last": 1}}')
    await eventually(lambda: len(got) == 2)  # its own at once, the raw one through Redis
    assert got == [("t", {"ok": True}), ("t", {"last": 1})]
    assert caplog.text.count("malformed") == 2
    await node.stop()


async def raw_messages(
    client: redis.asyncio.Redis, channel: str
) -> tuple[redis.asyncio.client.PubSub, list[bytes]]:
    """A plain subscriber on the channel: what goes over the wire, as Redis delivers it."""
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    got: list[bytes] = []
    while (await pubsub.get_message(timeout=1.0)) is None:
        pass  # the subscribe confirmation
    return pubsub, got


async def drain(pubsub: redis.asyncio.client.PubSub, into: list[bytes], count: int) -> None:
    for _ in range(500):
        if len(into) >= count:
            return
        message = await pubsub.get_message(timeout=0.01)
        if message is not None and message["type"] == "message":
            into.append(message["data"])
    raise AssertionError(f"{len(into)} of {count} messages on the channel")


async def test_one_loop_turn_is_one_publish_headed_by_the_node(
    redis_prefix: str, clients: Callable[..., redis.asyncio.Redis]
) -> None:
    """A node's batch starts with its id, so its own subscriber drops it unread; a batch
    larger than max_batch goes as several PUBLISHes, in order."""
    keys = RedisKeys(redis_prefix)
    pubsub, wire = await raw_messages(clients(), keys.broadcast_channel)
    node_a = RedisBroadcast(clients(), keys, max_batch=4)
    node_b = RedisBroadcast(clients(), keys)
    got_a: Received = []
    got_b: Received = []
    node_a.listen(collector(got_a))
    node_b.listen(collector(got_b))
    await node_a.start()
    await node_b.start()
    for n in range(10):  # one loop turn: no await yields to the flusher in between
        await node_a.publish("t", {"n": n})
    await drain(pubsub, wire, 3)
    assert all(m.startswith(f'{{"node":"{node_a.node}",'.encode()) for m in wire)
    assert [len(json.loads(m)["batch"]) for m in wire] == [4, 4, 2]
    await eventually(lambda: len(got_b) == 10)
    assert got_b == got_a == [("t", {"n": n}) for n in range(10)]  # once each, in order
    await node_a.stop()
    await node_b.stop()
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


async def test_what_is_published_within_the_send_delay_is_one_publish(
    redis_prefix: str, clients: Callable[..., redis.asyncio.Redis]
) -> None:
    keys = RedisKeys(redis_prefix)
    pubsub, wire = await raw_messages(clients(), keys.broadcast_channel)
    node = RedisBroadcast(clients(), keys, send_delay_s=0.5)
    got: Received = []
    node.listen(collector(got))
    await node.start()
    for n in range(5):
        await node.publish("t", {"n": n})
        for _ in range(3):
            await asyncio.sleep(0)  # other loop turns
    assert len(got) == 5  # its own listeners do not wait
    await drain(pubsub, wire, 1)
    assert [m["payload"]["n"] for m in json.loads(wire[0])["batch"]] == [0, 1, 2, 3, 4]
    await node.stop()
    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py


async def test_reads_the_one_message_form_and_skips_bad_messages_of_a_batch(
    redis_prefix: str,
    clients: Callable[..., redis.asyncio.Redis],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A node not yet upgraded sends one message per PUBLISH; a batch with a bad message
    still delivers its others."""
    keys = RedisKeys(redis_prefix)
    raw = clients()
    node = RedisBroadcast(clients(), keys)
    got: Received = []
    node.listen(collector(got))
    await node.start()
    channel = keys.broadcast_channel
    await raw.publish(channel, b'{"node":"old","topic":"t","payload":{"n":1}}')
    batch = [{"topic": "t", "payload": {"n": 2}}, {"topic": 3}, 4, {"topic": "t", "payload": {}}]
    await raw.publish(channel, json.dumps({"node": "new", "batch": batch}))
    await raw.publish(channel, b'{"node":"new","batch":{"topic":"t"}}')
    await raw.publish(channel, f'{{"node":"{node.node}","batch":[{{"topic":"t","payload":{{}}}}]}}')
    await raw.publish(channel, b'{"node":"new","batch":[{"topic":"t","payload":{"n":"end"}}]}')
    await eventually(lambda: ("t", {"n": "end"}) in got)
    assert got == [("t", {"n": 1}), ("t", {"n": 2}), ("t", {}), ("t", {"n": "end"})]
    assert caplog.text.count("malformed") == 3
    await node.stop()


async def test_quiet_channel_is_pinged_not_reconnected(
    redis_prefix: str,
    clients: Callable[..., redis.asyncio.Redis],
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = RedisBroadcast(clients(), RedisKeys(redis_prefix), idle_ping_s=0.1)
    got: Received = []
    node.listen(collector(got))
    await node.start()
    await asyncio.sleep(0.8)  # several ping rounds with nothing published
    assert node.subscribed
    assert "lost redis" not in caplog.text
    await node.publish("t", {})
    await eventually(lambda: got == [("t", {})])
    await node.stop()


# --- Redis goes away and comes back -----------------------------------------------------------


class Proxy:
    """A TCP proxy in front of Redis that the test can cut and restore."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_reconnects_after_an_outage(
    redis_url: str,
    redis_prefix: str,
    clients: Callable[..., redis.asyncio.Redis],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="contact.broadcast")
    target = urlsplit(redis_url)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    keys = RedisKeys(redis_prefix)
    via_proxy = clients(
        target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl(), retry=Retry(NoBackoff(), 0)
    )
    node = RedisBroadcast(via_proxy, keys, backoff_s=0.02, max_backoff_s=0.1)
    direct = RedisBroadcast(clients(), keys)  # another node, never cut off
    got: Received = []
    seen_direct: Received = []
    node.listen(collector(got))
    direct.listen(collector(seen_direct))
    await node.start()
    await direct.start()
    await direct.publish("t", {"n": 1})
    await eventually(lambda: len(got) == 1)

    await proxy.cut()
    await eventually(lambda: not node.subscribed)
    await node.publish("t", {"n": 2})  # Redis down: this node's listeners still get it
    assert got[-1] == ("t", {"n": 2})
    await asyncio.sleep(0.5)  # many retries, one warning
    assert caplog.text.count("lost redis") == 1
    assert caplog.text.count("other nodes not reached") == 1

    await proxy.start()  # the same port
    await eventually(lambda: node.subscribed)
    await direct.publish("t", {"n": 3})
    await node.publish("t", {"n": 4})  # its own messages too, and the other node gets them
    await eventually(lambda: len(got) == 4 and ("t", {"n": 4}) in seen_direct)
    assert sorted(got, key=lambda m: m[1]["n"]) == [("t", {"n": n}) for n in (1, 2, 3, 4)]
    assert ("t", {"n": 2}) not in seen_direct  # at-most-once: lost while cut off
    await eventually(lambda: "other nodes reached again" in caplog.text)  # after the reply
    assert caplog.text.count("lost redis") == 1
    assert "reconnected" in caplog.text
    await node.stop()
    await direct.stop()
    await proxy.cut()


async def test_starts_while_redis_is_down(
    clients: Callable[..., redis.asyncio.Redis],
) -> None:
    before = running_tasks()
    proxy = Proxy("127.0.0.1", 6379)
    await proxy.start()
    await proxy.cut()  # a port with nothing behind it
    client = clients(f"redis://127.0.0.1:{proxy.port}/0", retry=Retry(NoBackoff(), 0))
    node = RedisBroadcast(client, RedisKeys("contact-test:down:"), backoff_s=0.02)
    got: Received = []
    node.listen(collector(got))
    await node.start()
    assert not node.subscribed
    await node.publish("t", {})  # delivered here; the other nodes cannot be reached
    assert got == [("t", {})]
    await node.stop()
    await no_task_left_since(before)
