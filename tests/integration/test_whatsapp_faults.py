"""kill -9 of `contact serve` right after WhatsApp's webhook was answered 200: after a restart
every acknowledged message is in the queue (it was committed before the 200)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.integration.chat_support import queued_contacts, serve_env
from tests.standins.whatsapp import GraphApiStandIn
from tests.support import ServeProcess

pytestmark = pytest.mark.slow

CITIZENS = 30


async def test_kill_9_right_after_the_webhook_answered(tmp_path: Path) -> None:
    graph = GraphApiStandIn()
    await graph.start()
    node = ServeProcess(serve_env(tmp_path, whatsapp_url=graph.url), tmp_path / "serve.log")
    try:
        node.add_operator("op")
        await node.start()

        async def deliver(i: int) -> tuple[int, object]:
            citizen = graph.sender(wa_id=f"7701{i:07d}", user_id=f"KZ.{1000 + i}")
            note = graph.notification([graph.text(citizen, f"Сообщение {i}")], [citizen])
            status, body = await graph.post(f"{node.url}/webhooks/whatsapp", note)
            return status, body["stored"]

        answers = await asyncio.gather(*(deliver(i) for i in range(CITIZENS)))
        node.kill9()  # at once: messages answered 200 are still on their way to the queue
        assert answers == [(200, 1)] * CITIZENS
        with sqlite3.connect(tmp_path / "contact.db") as db:
            done = db.execute("SELECT count(*) FROM chat_inbox WHERE processed_at IS NOT NULL")
            print(f"handled before the kill: {done.fetchone()[0]} of {CITIZENS}")

        await node.start()
        op = await node.browser("op")
        try:
            found = await queued_contacts(op, "whatsapp", CITIZENS)
            assert len(found) == CITIZENS
        finally:
            await op.close()
    finally:
        node.stop()
        await graph.stop()
