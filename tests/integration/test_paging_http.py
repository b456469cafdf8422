"""Paged lists over HTTP: the operators' queue, the supervisor's incidents and operators.

The queue is ordered in SQL (queue score: joining time plus the priority's aging offset), so
it runs on both backends and is checked against `queue_score` itself.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contact.dispatch.model import NewContact
from contact.dispatch.ports import DISPATCH_STORE
from contact.domain.model import ChannelKind, Contact, ContactState, Priority, Role, new_id
from contact.domain.triage import queue_score
from contact.persistence.migrate import upgrade
from tests.support import Browser, Center, make_settings, start_center

T0 = datetime(2026, 12, 7, 8, 0, 0, 250_000, tzinfo=UTC)


@pytest.fixture
async def center(tmp_path: Path, database_url: str) -> AsyncIterator[Center]:
    await upgrade(database_url)
    center = await start_center(make_settings(tmp_path, database_url=database_url))
    yield center
    await center.client.close()


async def waiting(center: Center, n: int, state: ContactState = ContactState.QUEUED) -> list[str]:
    """`n` waiting contacts of mixed priorities and joining times, some with equal scores; every
    seventh a callback task (which queues by its own rule, not its priority's)."""
    ids = []
    for i, priority in zip(range(n), itertools.cycle(list(Priority)), strict=False):
        contact = Contact(
            id=new_id(),
            channel=ChannelKind.CALLBACK if i % 7 == 3 else ChannelKind.APP,
            priority=priority,
            created_at=T0 - timedelta(seconds=3000),
            state=state,
            # a callback's score may tie a 102 call's only to within SQLite's julianday rounding:
            # a quarter second apart, so the order compared is never a coin toss
            queued_at=T0 + timedelta(seconds=(i * 37) % 900 + (0.25 if i % 7 == 3 else 0)),
        )
        await center.container.db.contacts.add(contact)
        ids.append(contact.id)
    return ids


async def expected_order(center: Center) -> list[str]:
    contacts = await center.container.db.contacts.in_states(
        frozenset({ContactState.QUEUED, ContactState.OFFERED})
    )
    return [
        c.id
        for c in sorted(
            contacts,
            key=lambda c: (
                queue_score(c.priority, c.queued_at or c.created_at, channel=c.channel),
                c.id,
            ),
        )
    ]


async def all_pages(op: Browser, path: str, key: str, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = await op.get(path + query)
        assert len(page[key]) <= limit
        items += page[key]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page[key]) == limit  # only the last page is short
    raise AssertionError("the cursor never ended")


async def test_the_queue_pages_in_queue_order_with_a_total(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    ids = await waiting(center, 230)
    first = await op.get("/api/v1/queue")
    assert len(first["contacts"]) == 100  # the default page
    assert first["total"] == 230
    assert first["offered_to_me"] is None
    assert "summary" not in first["contacts"][0]  # still no citizen data

    listed = await all_pages(op, "/api/v1/queue", "contacts", 60)
    order = [c["id"] for c in listed]
    assert order == await expected_order(center)
    assert sorted(order) == sorted(ids)
    await op.close()


async def test_a_queue_changing_between_pages_neither_repeats_nor_skips(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await waiting(center, 40)
    before = await expected_order(center)
    page = await op.get("/api/v1/queue?limit=10")
    assert [c["id"] for c in page["contacts"]] == before[:10]
    # meanwhile: one of the next page is answered, an alarm jumps ahead of everyone
    db = center.container.db.contacts
    gone = await db.get(before[12])
    gone.transition(ContactState.ABANDONED, T0)
    await db.save(gone)
    alarm = Contact(
        id=new_id(),
        channel=ChannelKind.SCHOOL_ALARM,
        priority=Priority.ALARM,
        created_at=T0,
        state=ContactState.QUEUED,
        queued_at=T0,
    )
    await db.add(alarm)
    rest = await op.get(f"/api/v1/queue?limit=100&cursor={page['next_cursor']}")
    assert [c["id"] for c in rest["contacts"]] == [c for c in before[10:] if c != gone.id]
    assert rest["total"] == 40  # one left, one came
    assert rest["next_cursor"] is None
    await op.close()


async def test_my_offer_is_named_wherever_it_stands_in_the_queue(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await waiting(center, 30)
    late = Contact(
        id=new_id(),
        channel=ChannelKind.TELEGRAM,
        priority=Priority.INFO,
        created_at=T0 + timedelta(hours=5),
        state=ContactState.OFFERED,
        queued_at=T0 + timedelta(hours=5),
        operator_id=op.operator_id,
    )
    await center.container.db.contacts.add(late)
    page = await op.get("/api/v1/queue?limit=5")
    assert late.id not in [c["id"] for c in page["contacts"]]
    assert page["offered_to_me"]["id"] == late.id
    assert page["total"] == 31
    await op.close()


BAD_PAGES = [
    ("limit=0", "invalid_limit"),
    ("limit=501", "invalid_limit"),
    ("limit=-1", "invalid_limit"),
    ("limit=ten", "invalid_limit"),
    ("limit=%D9%A3", "invalid_limit"),  # an Arabic-Indic three: a digit, not ASCII
    ("cursor=not-a-cursor", "invalid_cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b'{"a":1}').decode(), "invalid_cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b'[NaN,"x"]').decode(), "invalid_cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b"[1.5,2]").decode(), "invalid_cursor"),
    ("cursor=" + base64.urlsafe_b64encode(b'[1.5,"x",3]').decode(), "invalid_cursor"),
    ("cursor=" + "A" * 400, "invalid_cursor"),
]


async def test_a_bad_page_request_is_a_clear_422(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    for query, error_id in BAD_PAGES:
        body = await op.get(f"/api/v1/queue?{query}", status=422)
        assert body["error"]["id"] == error_id, query
        assert body["error"]["message"]
    await op.close()


async def test_open_incidents_page_newest_first(center: Center) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    repo = center.container.get(DISPATCH_STORE)
    made = []
    for i in range(7):  # far apart: each opens its own incident; two at the same moment
        at = T0 + timedelta(minutes=i // 2)
        new = NewContact(new_id(), 43.0 + i * 0.1, 76.9, None, at, None, None, None, False)
        made.append((at, (await repo.group(new, at, lambda *_: None, 600.0)).incident_id))
    listed = await all_pages(boss, "/api/v1/incidents", "incidents", 3)
    newest_first = [i for _, i in sorted(made, reverse=True)]
    assert [x["id"] for x in listed] == newest_first
    await boss.get(
        "/api/v1/incidents?cursor=" + base64.urlsafe_b64encode(b'["x","y"]').decode(), 422
    )
    await boss.close()


async def test_the_supervisor_overview_lists_a_page_of_operators(center: Center) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    browsers = []
    for name in ("dana", "arman", "bota"):
        await center.add_operator(name)
        browser = await center.browser(name)
        await browser.ready()
        browsers.append(browser)
    boss = await center.browser("boss")
    overview = await boss.get("/api/v1/supervisor/overview?limit=2")
    assert overview["operators_total"] == 3
    assert [o["display_name"] for o in overview["operators"]] == ["Arman", "Bota"]
    await boss.get("/api/v1/supervisor/overview?limit=0", 422)
    for browser in [*browsers, boss]:
        await browser.close()
