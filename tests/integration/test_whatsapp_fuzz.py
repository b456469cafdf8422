"""The WhatsApp webhook fuzzed over real HTTP with hypothesis: whatever the body, signature
and headers, the answer is a JSON 200 or a clear 4xx (never a 500), and nothing is
half-stored: every stored item is handled (none failed), every contact has its message, every
attachment its bytes."""

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

from contact.channels.whatsapp.routes import WHATSAPP_PART, WhatsAppRuntime
from tests.hostile import HOSTILE_TEXT
from tests.integration.chat_support import chat_settings
from tests.standins.whatsapp import GraphApiStandIn, sign
from tests.support import Center, start_center
from tests.unit.test_whatsapp_parse import JSON, RECORDED, SHAPED, _mutate, load

ALLOWED = {200, 400, 401, 403, 413, 415, 422, 429}
WAMIDS = itertools.count(1)


@pytest.fixture
async def fuzzed(tmp_path: Path) -> AsyncIterator[tuple[Center, GraphApiStandIn]]:
    graph = GraphApiStandIn()
    await graph.start()
    center = await start_center(
        chat_settings(
            tmp_path,
            whatsapp_url=graph.url,
            whatsapp={"max_body_bytes": 64 * 1024, "messages_per_minute_per_citizen": 1000},
        )
    )
    yield center, graph
    rt = center.container.get(WHATSAPP_PART)
    assert isinstance(rt, WhatsAppRuntime)
    await rt.processor.drained(30)
    await rt.processor.stop()  # flushes the marks of what was handled
    async with center.container.db._store.engine.connect() as conn:
        outcomes: dict[Any, Any] = dict(
            (
                await conn.execute(
                    text("SELECT outcome, count(*) FROM chat_inbox GROUP BY outcome")
                )
            ).all()
        )
        print("inbox outcomes:", outcomes)
        assert None not in outcomes and "failed" not in outcomes, outcomes
        assert sum(outcomes.values()) > 0
        for check in (
            "SELECT count(*) FROM contacts c WHERE NOT EXISTS "
            "(SELECT 1 FROM messages m WHERE m.contact_id = c.id)",
            "SELECT count(*) FROM attachments a WHERE NOT EXISTS "
            "(SELECT 1 FROM attachment_blobs b WHERE b.attachment_id = a.id)",
        ):
            assert (await conn.execute(text(check))).scalar() == 0, check
    await center.client.close()
    await graph.stop()


def _message(
    citizen: int, hide_phone: bool, kind: str, body: Any, extra: dict[str, Any], name: str = "F"
) -> Any:
    message: dict[str, Any] = {
        "id": f"wamid.fuzz{next(WAMIDS)}",
        "timestamp": "1763700000",
        "type": kind,
        kind: body,
        **extra,
    }
    contact: dict[str, Any] = {"profile": {"name": name}, "user_id": f"KZ.{citizen}"}
    message["from_user_id"] = f"KZ.{citizen}"
    if not hide_phone:
        message["from"] = contact["wa_id"] = f"7701000{citizen:04d}"
    return message, contact


MESSAGES = st.builds(
    _message,
    st.integers(1, 4),
    st.booleans(),
    st.sampled_from(["text", "location", "image", "audio", "interactive", "button", "video"]),
    st.one_of(
        st.fixed_dictionaries({"body": st.text(max_size=200) | HOSTILE_TEXT | JSON}),
        st.fixed_dictionaries({"latitude": st.floats() | JSON, "longitude": st.floats()}),
        st.fixed_dictionaries({"id": st.text(max_size=12), "sha256": st.text(max_size=70)}),
        st.fixed_dictionaries(
            {
                "type": st.just("button_reply"),
                "button_reply": st.dictionaries(
                    st.sampled_from(["id", "title"]), st.text(max_size=30) | JSON
                ),
            }
        ),
        JSON,
    ),
    st.dictionaries(st.sampled_from(["context", "errors", "referral", "text"]), SHAPED, max_size=2),
    st.just("F") | HOSTILE_TEXT,  # the profile name: in every message of that citizen
)


def _notification(pairs: list[Any], statuses: list[Any]) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "106540352242922"},
        "messages": [m for m, _ in pairs],
        "contacts": [c for _, c in pairs],
    }
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


STATUSES = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["wamid.x", "wamid.y"]) | st.text(max_size=10),
            "status": st.sampled_from(["sent", "delivered", "read", "failed", "deleted"]),
            "timestamp": st.text(max_size=12),
        },
        optional={"errors": JSON},
    ),
    max_size=3,
)


def body_strategy() -> st.SearchStrategy[bytes]:
    def dump(value: Any) -> bytes:
        return json.dumps(value, allow_nan=True).encode()

    notifications = st.builds(_notification, st.lists(MESSAGES, max_size=4), STATUSES)
    mutated = st.builds(
        lambda name, path, value: _mutate(load(name), path, value),
        st.sampled_from(RECORDED),
        st.lists(st.integers(0, 50), min_size=1, max_size=9),
        JSON,
    )
    shaped = st.builds(
        lambda v: {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": v}]}],
        },
        SHAPED,
    )
    return st.one_of(
        notifications.map(dump),
        notifications.map(dump),
        notifications.map(dump),
        mutated.map(dump),
        shaped.map(dump),
        JSON.map(dump),
        st.binary(max_size=300),
        st.just(b"{" * 70_000),
    )


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=body_strategy(),
    signature=st.sampled_from(["valid", "valid", "valid", "valid", None, "sha256=00", "garbage"]),
    content_type=st.sampled_from(["application/json"] * 5 + ["text/plain", "application/xml"]),
)
async def test_the_webhook_never_fails_on_bad_input(
    fuzzed: tuple[Center, GraphApiStandIn], body: bytes, signature: str | None, content_type: str
) -> None:
    center, _ = fuzzed
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Hub-Signature-256"] = sign(body) if signature == "valid" else signature
    async with center.client.post("/webhooks/whatsapp", data=body, headers=headers) as r:
        assert r.status in ALLOWED, (r.status, await r.text())
        answer: Any = await r.json()
    if r.status == 200:
        assert answer["ok"] is True
    else:
        assert answer["error"]["id"] and answer["error"]["message"]


async def test_recorded_payloads_are_all_handled(fuzzed: tuple[Center, GraphApiStandIn]) -> None:
    center, graph = fuzzed
    for name in RECORDED:
        status, answer = await graph.post(f"{center.url}/webhooks/whatsapp", load(name))
        assert status == 200, answer
