"""Chat webhooks with hostile text, and poison items in the durable inbox.

A lone UTF-16 surrogate in a Telegram message's text or the sender's first name (in every one
of that citizen's messages) used to be answered 200 and then fail at every insert: the message
and every later one of that citizen were lost. Now the text is cleaned at the edge and the
message reaches its contact. An item that still fails (a poison item) is retried a bounded
number of times, then passed over (its conversation goes on), counted in a metric, logged
without the citizen's text, listed by `contact inbox failed` and re-driven by `contact inbox
retry`."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contact.channels.chat.inbox import Inbox, InboxProcessor, Outcome
from contact.channels.chat.ports import InboxItem
from contact.channels.telegram.routes import TELEGRAM_PART, TelegramRuntime
from contact.channels.whatsapp.routes import WHATSAPP_PART, WhatsAppRuntime
from contact.domain.model import ChannelKind
from contact.errors import Unavailable
from tests.integration.chat_support import chat_settings, chat_store
from tests.standins.telegram import BotApiStandIn
from tests.standins.whatsapp import GraphApiStandIn
from tests.support import Center, make_settings, start_center

LONE = "\ud83d"


@pytest.fixture
async def standins() -> AsyncIterator[tuple[BotApiStandIn, GraphApiStandIn]]:
    bot_api, graph = BotApiStandIn(), GraphApiStandIn()
    await bot_api.start()
    await graph.start()
    yield bot_api, graph
    await bot_api.stop()
    await graph.stop()


@pytest.fixture
async def center(
    tmp_path: Path, standins: tuple[BotApiStandIn, GraphApiStandIn]
) -> AsyncIterator[Center]:
    bot_api, graph = standins
    settings = chat_settings(tmp_path, telegram_url=bot_api.url, whatsapp_url=graph.url)
    running = await start_center(settings)
    yield running
    await running.client.close()


async def outcomes(center: Center, channel: ChannelKind) -> list[str | None]:
    from sqlalchemy import text

    async with center.container.db._store.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT outcome FROM chat_inbox WHERE channel = :c ORDER BY seq"),
            {"c": channel.value},
        )
        return [r[0] for r in rows.all()]


async def test_telegram_lone_surrogates_in_text_and_first_name(
    center: Center, standins: tuple[BotApiStandIn, GraphApiStandIn]
) -> None:
    bot_api, _ = standins
    rt = center.container.get(TELEGRAM_PART)
    assert isinstance(rt, TelegramRuntime)
    chat = 5_100_001
    url = f"{center.url}/webhooks/telegram"
    first = bot_api.message(chat, f"Помогите {LONE}")
    first["message"]["from"]["first_name"] = f"Азамат{LONE}"
    assert await bot_api.deliver(first, url=url) == 200
    second = bot_api.message(chat, "Он ушёл к остановке")
    second["message"]["from"]["first_name"] = f"Азамат{LONE}"
    assert await bot_api.deliver(second, url=url) == 200
    await rt.processor.drained(10)
    await rt.processor.stop()  # flushes the marks
    assert await outcomes(center, ChannelKind.TELEGRAM) == ["contact", "message"]
    conversation = await chat_store(center).conversation(ChannelKind.TELEGRAM, str(chat))
    assert conversation is not None and conversation.contact_id is not None
    assert conversation.display_name == "Азамат\ufffd"
    texts = [m.text for m in await center.container.db.contacts.messages(conversation.contact_id)]
    assert texts == ["Помогите \ufffd", "Он ушёл к остановке"]


async def test_whatsapp_lone_surrogates_in_text_and_profile_name(
    center: Center, standins: tuple[BotApiStandIn, GraphApiStandIn]
) -> None:
    _, graph = standins
    rt = center.container.get(WHATSAPP_PART)
    assert isinstance(rt, WhatsAppRuntime)
    citizen = graph.sender(wa_id="77019990001", user_id="KZ.999", name=f"Дана{LONE}")
    url = f"{center.url}/webhooks/whatsapp"
    for words in (f"Украли {LONE} сумку", "Вор в синей куртке"):
        status, body = await graph.post(
            url, graph.notification([graph.text(citizen, words)], [citizen])
        )
        assert (status, body["stored"]) == (200, 1), body
    await rt.processor.drained(10)
    await rt.processor.stop()
    assert await outcomes(center, ChannelKind.WHATSAPP) == ["contact", "message"]
    conversation = await chat_store(center).conversation(ChannelKind.WHATSAPP, "KZ.999")
    assert conversation is not None and conversation.contact_id is not None
    texts = [m.text for m in await center.container.db.contacts.messages(conversation.contact_id)]
    assert texts == ["Украли \ufffd сумку", "Вор в синей куртке"]


async def test_a_stored_poison_item_from_before_the_fix_is_handled(
    center: Center, standins: tuple[BotApiStandIn, GraphApiStandIn]
) -> None:
    """An item stored raw (as the webhook stored it before the text policy) is cleaned when
    it is handled: a restart heals what the old code left pending."""
    bot_api, _ = standins
    rt = center.container.get(TELEGRAM_PART)
    assert isinstance(rt, TelegramRuntime)
    update = bot_api.message(5_100_002, f"Стреляют {LONE}")
    update["message"]["from"]["first_name"] = LONE
    import json

    item = InboxItem(
        channel=ChannelKind.TELEGRAM,
        external_id=f"update:{update['update_id']}",
        lane="5100002",
        payload=json.dumps(update),  # \ud83d escapes, as stored before
        received_at=datetime.now(UTC),
    )
    [stored] = await rt.inbox.put([item])
    assert stored
    await rt.processor.drained(10)
    await rt.processor.stop()
    assert await outcomes(center, ChannelKind.TELEGRAM) == ["contact"]


# --- poison items ----------------------------------------------------------------------------


@pytest.fixture
async def plain(tmp_path: Path) -> AsyncIterator[Center]:
    running = await start_center(make_settings(tmp_path))
    yield running
    await running.client.close()


def item(lane: str, n: int, words: str) -> InboxItem:
    return InboxItem(
        channel=ChannelKind.TELEGRAM,
        external_id=f"update:{lane}:{n}",
        lane=lane,
        payload=f'{{"n": {n}, "text": "{words}"}}',
        received_at=datetime.now(UTC),
    )


async def test_the_retry_of_an_item_whose_commit_answer_was_lost_is_handled_at_once(
    plain: Center,
) -> None:
    """The inbox's COMMIT reached the database but its answer did not (a connection cut): the
    webhook answered 503, the messenger retried, and the retry was a duplicate. The stored item
    is handled now; it used to wait for the orphan sweep (5 minutes and more)."""
    store = chat_store(plain)
    handled: list[str] = []

    async def handler(stored: InboxItem) -> Outcome:
        handled.append(stored.external_id)
        return Outcome("contact")

    add = store.inbox_add
    cut = True

    async def commit_then_lose_the_answer(items: Sequence[InboxItem]) -> list[int | None]:
        nonlocal cut
        seqs = await add(items)
        if cut:
            cut = False
            raise Unavailable("the connection was cut during COMMIT")
        return seqs

    store.inbox_add = commit_then_lose_the_answer  # type: ignore[method-assign]
    inbox = Inbox(store)
    processor = InboxProcessor(ChannelKind.TELEGRAM, store, handler, retry_s=0.01)
    inbox.attach(processor)
    await inbox.start()
    await processor.start()
    sos = item("D", 1, "помогите, сосед с ножом")
    try:
        with pytest.raises(Unavailable):
            await inbox.put([sos])
        assert await inbox.put([sos]) == [False]  # the messenger's retry: stored already
        await processor.drained(10)
        assert handled == ["update:D:1"]
        assert await inbox.put([sos]) == [False]  # handled: a further retry changes nothing
        await processor.drained(10)
        assert handled == ["update:D:1"]
    finally:
        await processor.stop()  # marks what it handled
        await inbox.stop()
    assert await store.inbox_pending(ChannelKind.TELEGRAM) == []


async def test_a_retry_reaching_another_node_is_handled_there_at_once(plain: Center) -> None:
    """Node A stored the item but lost the COMMIT's answer (503, never handed on); the
    messenger's retry reaches node B, a duplicate there: B hands the unhandled item to its own
    processor at once, not after the orphan sweep. A duplicate of an item handled already, or
    one B is handling, changes nothing."""
    store = chat_store(plain)
    handled: dict[str, list[str]] = {"A": [], "B": []}

    def handler(node: str) -> Callable[[InboxItem], Awaitable[Outcome]]:
        async def handle(stored: InboxItem) -> Outcome:
            handled[node].append(stored.external_id)
            return Outcome("contact")

        return handle

    add = store.inbox_add

    async def commit_then_lose_the_answer(items: Sequence[InboxItem]) -> list[int | None]:
        await add(items)
        raise Unavailable("the connection was cut during COMMIT")

    nodes = {}
    for node in ("A", "B"):
        inbox = Inbox(store)
        processor = InboxProcessor(ChannelKind.TELEGRAM, store, handler(node), retry_s=0.01)
        inbox.attach(processor)
        nodes[node] = (inbox, processor)
    inbox_a = nodes["A"][0]
    inbox_b, processor_b = nodes["B"]
    sos = item("E", 1, "горит подъезд")
    for inbox, processor in nodes.values():
        await inbox.start()
        await processor.start()
    try:
        store.inbox_add = commit_then_lose_the_answer  # type: ignore[method-assign]
        with pytest.raises(Unavailable):
            await inbox_a.put([sos])
        store.inbox_add = add  # type: ignore[method-assign]
        assert await inbox_b.put([sos]) == [False]  # the retry, on B: stored already
        await processor_b.drained(10)
        assert handled == {"A": [], "B": ["update:E:1"]}
        assert await inbox_b.put([sos]) == [False]
        await processor_b.drained(10)
        assert handled == {"A": [], "B": ["update:E:1"]}
    finally:
        for inbox, processor in nodes.values():
            await processor.stop()  # marks what it handled
            await inbox.stop()
    assert await store.inbox_pending(ChannelKind.TELEGRAM) == []


def contact_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("contact"))
    env = {**os.environ, "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db"}
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_poison_item_is_visible_skippable_and_retryable(
    plain: Center, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = chat_store(plain)
    metrics = plain.container.metrics
    handled: list[str] = []
    healed = False

    async def handler(stored: InboxItem) -> Outcome:
        if "POISON-CITIZEN-WORDS" in stored.payload and not healed:
            # as a database error does: its message carries the citizen's text
            raise RuntimeError(f"cannot store {stored.payload}")
        handled.append(stored.external_id)
        return Outcome("contact")

    inbox = Inbox(store)
    processor = InboxProcessor(
        ChannelKind.TELEGRAM,
        store,
        handler,
        retry_s=0.01,
        on_failed=metrics.inbox_failed_once,
    )
    inbox.attach(processor)
    await inbox.start()
    await processor.start()
    caplog.set_level(logging.DEBUG, logger="contact.channels.chat.inbox")
    try:
        await inbox.put([item("A", 1, "POISON-CITIZEN-WORDS"), item("B", 1, "other citizen")])
        await inbox.put([item("A", 2, "later message"), item("A", 3, "and another")])
        await processor.drained(10)
    finally:
        await processor.stop()
    # the conversation went on past the poison item, in order
    assert [h for h in handled if h.startswith("update:A")] == ["update:A:2", "update:A:3"]
    assert "update:B:1" in handled
    # visible: a metric, the row's state and attempts, and logs without the citizen's words
    value = metrics.registry.get_sample_value("contact_inbox_failed_total", {"channel": "telegram"})
    assert value == 1
    [failure] = await store.inbox_failed()
    assert (failure.channel, failure.lane, failure.attempts) == (ChannelKind.TELEGRAM, "A", 3)
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any("passed over" in r.getMessage() for r in loud)
    assert not any("POISON-CITIZEN-WORDS" in r.getMessage() for r in loud)
    assert not any(r.exc_info for r in loud)

    # the CLI lists it (exit 1 while there is one) and hands it back
    listed = await asyncio.to_thread(contact_cli, tmp_path, "inbox", "failed")
    assert listed.returncode == 1, listed.stderr
    assert listed.stdout.startswith(f"{failure.seq}\ttelegram\tlane A")
    assert "attempts 3" in listed.stdout and "POISON" not in listed.stdout
    retried = await asyncio.to_thread(contact_cli, tmp_path, "inbox", "retry", str(failure.seq))
    assert retried.returncode == 0, retried.stderr
    again = await asyncio.to_thread(contact_cli, tmp_path, "inbox", "retry", str(failure.seq))
    assert again.returncode == 1  # no longer a failed item
    assert await store.inbox_failed() == []
    [pending] = await store.inbox_pending(ChannelKind.TELEGRAM)
    assert (pending.seq, pending.attempts) == (failure.seq, 0)

    # once the cause is fixed, the next processor (a restart, or the sweep) handles it
    healed = True
    processor = InboxProcessor(ChannelKind.TELEGRAM, store, handler, retry_s=0.01)
    await processor.start()
    try:
        await processor.drained(10)
    finally:
        await processor.stop()
        await inbox.stop()
    assert handled[-1] == "update:A:1"
    assert await store.inbox_pending(ChannelKind.TELEGRAM) == []


async def test_an_item_the_database_refuses_as_unavailable_does_not_wedge_its_lane(
    plain: Center,
) -> None:
    """A statement refused for its content but reported as "database unavailable" (SQLite
    says OperationalError for both) was waited on forever, holding its conversation. While
    other items are handled meanwhile, it is a failed attempt; in a real outage nothing is."""
    store = chat_store(plain)
    handled: list[str] = []
    outage = True

    async def handler(stored: InboxItem) -> Outcome:
        if "POISON" in stored.payload or (outage and "outage" in stored.payload):
            raise Unavailable("the database is unavailable")
        handled.append(stored.external_id)
        return Outcome("contact")

    inbox = Inbox(store)
    processor = InboxProcessor(ChannelKind.TELEGRAM, store, handler, retry_s=0.01)
    inbox.attach(processor)
    await inbox.start()
    await processor.start()
    try:
        # an outage: every item waits, none is given up, all are handled once it is over
        await inbox.put([item("O", n, "outage") for n in range(3)])
        await asyncio.sleep(0.5)
        assert handled == [] and await store.inbox_failed() == []
        outage = False
        await processor.drained(10)
        assert handled == ["update:O:0", "update:O:1", "update:O:2"]

        # a poison item while others are handled: failed, and its lane goes on
        await inbox.put([item("A", 1, "POISON"), item("A", 2, "after the poison")])
        for n in range(200):
            await inbox.put([item("B", n, "others go on")])
            await asyncio.sleep(0.01)
            if "update:A:2" in handled:
                break
        await processor.drained(10)
    finally:
        await processor.stop()
        await inbox.stop()
    assert "update:A:2" in handled
    [failure] = await store.inbox_failed()
    assert failure.lane == "A" and failure.attempts == 3
