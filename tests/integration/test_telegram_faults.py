"""kill -9 of `contact serve` right after Telegram's webhook was answered 200: after a restart
every acknowledged message is in the queue (it was committed before the 200)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.integration.chat_support import queued_contacts, serve_env
from tests.standins.telegram import SECRET, BotApiStandIn
from tests.support import ServeProcess

pytestmark = pytest.mark.slow

CITIZENS = 30


def handled(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "contact.db") as db:
        return int(
            db.execute("SELECT count(*) FROM chat_inbox WHERE processed_at IS NOT NULL").fetchone()[
                0
            ]
        )


async def test_kill_9_right_after_the_webhook_answered(tmp_path: Path) -> None:
    bot_api = BotApiStandIn()
    await bot_api.start()
    node = ServeProcess(serve_env(tmp_path, telegram_url=bot_api.url), tmp_path / "serve.log")
    try:
        node.add_operator("op")
        await node.start()
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with aiohttp.ClientSession() as session:

            async def deliver(i: int) -> int:
                update = bot_api.message(7_000_000 + i, f"Сообщение {i}: шум во дворе")
                async with session.post(
                    f"{node.url}/webhooks/telegram", json=update, headers=headers
                ) as r:
                    return r.status

            statuses = await asyncio.gather(*(deliver(i) for i in range(CITIZENS)))
        node.kill9()  # at once: updates answered 200 are still on their way to the queue
        assert statuses == [200] * CITIZENS
        print(f"handled before the kill: {handled(tmp_path)} of {CITIZENS}")

        await node.start()
        op = await node.browser("op")
        try:
            found = await queued_contacts(op, "telegram", CITIZENS)
            assert len(found) == CITIZENS
            for contact in found:
                detail = await op.get(f"/api/v1/contacts/{contact['id']}", status=403)
                assert detail["error"]["id"] == "not_yours"  # waiting, nobody's yet
        finally:
            await op.close()
    finally:
        node.stop()
        await bot_api.stop()
