"""The Telegram webhook fuzzed over real HTTP with hypothesis: whatever the body and headers,
the answer is a JSON 200 or a clear 4xx (never a 500), and nothing is half-stored: every
stored update is handled (none failed), every contact has its message, every attachment its
bytes."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from contact.channels.telegram.routes import TELEGRAM_PART, TelegramRuntime
from tests.hostile import HOSTILE_TEXT
from tests.integration.chat_support import chat_settings
from tests.standins.telegram import SECRET, BotApiStandIn
from tests.support import Center, start_center
from tests.unit.test_telegram_parse import JSON, RECORDED, SHAPED, _mutate, load

ALLOWED = {200, 400, 401, 403, 413, 415, 422, 429}


@pytest.fixture
async def fuzzed(tmp_path: Path) -> AsyncIterator[tuple[Center, BotApiStandIn]]:
    bot_api = BotApiStandIn()
    await bot_api.start()
    center = await start_center(
        chat_settings(
            tmp_path,
            telegram_url=bot_api.url,
            telegram={"max_body_bytes": 64 * 1024, "messages_per_minute_per_citizen": 1000},
        )
    )
    yield center, bot_api
    await check_nothing_half_stored(center)
    await center.client.close()
    await bot_api.stop()


async def check_nothing_half_stored(center: Center) -> None:
    rt = center.container.get(TELEGRAM_PART)
    assert isinstance(rt, TelegramRuntime)
    await rt.processor.drained(30)
    await rt.processor.stop()  # flushes the marks of what was handled
    engine = center.container.db._store.engine
    async with engine.connect() as conn:
        outcomes: dict[Any, Any] = dict(
            (
                await conn.execute(
                    text("SELECT outcome, count(*) FROM chat_inbox GROUP BY outcome")
                )
            ).all()
        )
        assert None not in outcomes and "failed" not in outcomes, outcomes
        print("inbox outcomes:", outcomes)
        assert sum(outcomes.values()) > 0  # the fuzzing reached the inbox
        bare = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM contacts c WHERE NOT EXISTS "
                    "(SELECT 1 FROM messages m WHERE m.contact_id = c.id)"
                )
            )
        ).scalar()
        assert bare == 0
        orphans = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM attachments a WHERE NOT EXISTS "
                    "(SELECT 1 FROM attachment_blobs b WHERE b.attachment_id = a.id)"
                )
            )
        ).scalar()
        assert orphans == 0


ODD_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-Telegram-Bot-Api-Secret-Token": st.sampled_from([SECRET, "", "wrong", SECRET + "x"])
        | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20),
        "Content-Type": st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded", "json"]
        ),
    },
)

GOOD = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
# mostly authentic requests (so the bodies reach the parser and the inbox), some odd ones
HEADERS = st.one_of(st.just(GOOD), st.just(GOOD), st.just(GOOD), ODD_HEADERS)


UPDATE_IDS = itertools.count(10**9)


def _update(
    uid: int,
    chat: int,
    text: Any,
    place: Any,
    media: Any,
    extra: dict[str, Any],
    name: str = "F",
) -> dict[str, Any]:
    uid = uid if uid % 7 == 0 else next(UPDATE_IDS)  # mostly fresh ids, some redeliveries
    message: dict[str, Any] = {
        "message_id": uid % 100_000,
        "date": 1763700000,
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": name, "language_code": "ru"},
        **extra,
    }
    for key, value in (("text", text), ("location", place)):
        if value is not None:
            message[key] = value
    if media is not None:
        message[media[0]] = media[1]
    return {"update_id": uid, "message": message}


# citizens' updates with random content (text, coordinates, media references, extra keys)
UPDATES = st.builds(
    _update,
    st.integers(0, 2**40),
    st.sampled_from([1001, 1002, 1003, -5, 2**52]),
    st.text(max_size=200) | HOSTILE_TEXT | st.none() | JSON,
    st.none()
    | st.fixed_dictionaries(
        {"latitude": st.floats() | st.integers() | JSON, "longitude": st.floats() | JSON}
    ),
    st.none()
    | st.tuples(
        st.sampled_from(["photo", "voice", "video", "document", "sticker", "audio"]),
        st.fixed_dictionaries({"file_id": st.text(max_size=20) | JSON}) | JSON,
    ),
    st.dictionaries(st.sampled_from(["caption", "venue", "contact", "photo"]), SHAPED, max_size=2),
    st.just("F") | HOSTILE_TEXT,  # the first name: in every message of that citizen
)


def body_strategy() -> st.SearchStrategy[bytes]:
    def dump(value: Any) -> bytes:
        return json.dumps(value, allow_nan=True).encode()

    mutated = st.builds(
        lambda name, path, value: _mutate(load(name), path, value),
        st.sampled_from(RECORDED),
        st.lists(st.integers(0, 50), min_size=1, max_size=6),
        JSON,
    )
    return st.one_of(
        UPDATES.map(dump),
        UPDATES.map(dump),
        UPDATES.map(dump),
        mutated.map(dump),
        JSON.map(dump),
        st.builds(lambda uid, m: {"update_id": uid, "message": m}, st.integers(0, 9), SHAPED).map(
            dump
        ),
        st.binary(max_size=300),
        st.just(b"x" * (65 * 1024)),
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=body_strategy(), headers=HEADERS)
async def test_the_webhook_never_fails_on_bad_input(
    fuzzed: tuple[Center, BotApiStandIn], body: bytes, headers: dict[str, str]
) -> None:
    center, _ = fuzzed
    async with center.client.post("/webhooks/telegram", data=body, headers=headers) as r:
        assert r.status in ALLOWED, (r.status, await r.text())
        answer: Any = await r.json()
    if r.status == 200:
        assert answer["ok"] is True

    else:
        assert answer["error"]["id"] and answer["error"]["message"]


async def test_fuzzed_updates_that_pass_are_all_handled(
    fuzzed: tuple[Center, BotApiStandIn],
) -> None:
    """Every recorded payload, straight: stored, handled, nothing left half-done (checked by
    the fixture at the end)."""
    center, _ = fuzzed
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for name in RECORDED:
        async with center.client.post("/webhooks/telegram", json=load(name), headers=headers) as r:
            assert r.status == 200, await r.text()
