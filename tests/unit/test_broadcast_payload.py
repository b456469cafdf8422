"""A topic message is encoded to JSON once: what listeners read is what JSON carries, and the
WebSocket hub sends that same text, in the frame it always sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contact.broadcast import MemoryBroadcast, Payload
from contact.http.ws import Hub, Subscriber


def test_a_payload_reads_as_json_carries_it() -> None:
    payload = Payload.encode({"ids": ("a", "b"), "n": 1, "x": None, "text": "Көлік"})
    assert payload == {"ids": ["a", "b"], "n": 1, "x": None, "text": "Көлік"}
    assert payload.get("missing") is None and "n" in payload and len(payload) == 4
    assert payload.json == '{"ids":["a","b"],"n":1,"x":null,"text":"Көлік"}'  # UTF-8 as is
    assert Payload.encode(payload) is payload  # never encoded twice
    assert Payload(data={"a": [1]}).json == '{"a":[1]}'
    with pytest.raises(TypeError):
        Payload.encode({"not json": object()})


class _Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_str(self, text: str) -> None:
        self.sent.append(text)


async def test_the_hub_sends_the_encoded_text_in_its_frame() -> None:
    hub, broadcast = Hub(), MemoryBroadcast()
    broadcast.listen(hub.deliver)
    subscriber = Subscriber(_Socket(), "op1")  # type: ignore[arg-type]  # a socket's send_str
    hub.subscribe(subscriber, "queue")
    body: dict[str, Any] = {"type": "contact.queued", "contact": {"id": "c1", "text": "Драка"}}
    await broadcast.publish("queue", body)
    sent = subscriber.outbox.get_nowait()
    assert sent == json.dumps(
        {"topic": "queue", "data": body}, ensure_ascii=False, separators=(",", ":")
    )
