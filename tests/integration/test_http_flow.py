"""From a citizen's POST to an operator accepting, replying and closing, over real HTTP and
WebSocket, on embedded defaults (SQLite file, in-process queue)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import Language, Role
from tests.support import APP_KEY, Center, make_settings, start_center


async def citizen_get(center: Center, report_id: str, device: str = "device-0001") -> Any:
    async with center.client.get(
        f"/api/v1/app/reports/{report_id}", headers={"X-Api-Key": APP_KEY, "X-Device-Id": device}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_report_to_reply_and_close(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await op.connect()
    await op.ready()
    assert (await op.next_event("operator.presence_changed"))["data"]["presence"] == "ready"

    async with center.client.ws_connect(
        "/api/v1/app/ws?device_id=device-0001", headers={"X-Api-Key": APP_KEY}
    ) as app_ws:
        report_id = await center.report(
            "Во дворе драка", language="ru", location={"lat": 43.238, "lon": 76.945}
        )
        queued = await op.next_event("contact.queued", "queue")
        assert queued["data"]["contact"]["id"] == report_id
        assert "summary" not in queued["data"]["contact"]  # no citizen data on the queue topic
        offer = await op.next_offer()
        assert offer["data"]["contact"]["summary"] == "Во дворе драка"
        assert offer["data"]["contact"]["location"]["lat"] == 43.238

        accepted = await op.post(f"/api/v1/contacts/{report_id}/accept")
        assert accepted["state"] == "connected"
        assert accepted["messages"][0]["text"] == "Во дворе драка"
        status = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert status["data"]["type"] == "report.status"
        assert status["data"]["status"] == "in_progress"

        reply = await op.post(
            f"/api/v1/contacts/{report_id}/reply", {"text": "Наряд выехал"}, status=201
        )
        pushed = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert pushed["data"] == {
            **pushed["data"],
            "type": "report.reply",
            "text": "Наряд выехал",
            "report_id": report_id,
        }
        seen = await citizen_get(center, report_id)
        assert [r["text"] for r in seen["replies"]] == ["Наряд выехал"]
        assert seen["status"] == "in_progress"
        assert seen["status_text"].startswith("Оператор")
        assert reply["direction"] == "out"

        await op.post(f"/api/v1/contacts/{report_id}/close", {"disposition": "dispatched"})
        closed = await asyncio.wait_for(app_ws.receive_json(), 5)
        assert closed["data"]["status"] == "closed"
    assert (await citizen_get(center, report_id))["status"] == "closed"

    actions = [e.action for e in await center.container.db.audit.entries(subject=report_id)]
    for action in (
        "contact.offer",
        "contact.accept",
        "contact.reply",
        "contact.close",
    ):
        assert action in actions
    assert not await center.container.db.audit.verify()
    await op.close()


@pytest.fixture
async def quick_offers(tmp_path: Path) -> AsyncIterator[Center]:
    center = await start_center(make_settings(tmp_path, offer_timeout_s=1.0))
    yield center
    await center.client.close()


async def test_offer_timeout_moves_on_to_the_next_operator(quick_offers: Center) -> None:
    center = quick_offers
    await center.add_operator("first")
    await center.add_operator("second")
    a = await center.browser("first")
    b = await center.browser("second")
    for op in (a, b):
        await op.connect()
        await op.ready()
        await asyncio.sleep(0.01)  # a is idle longer than b
    report_id = await center.report()
    first = await a.next_offer()
    assert first["data"]["contact"]["id"] == report_id
    second = await b.next_offer(within_s=3)
    assert second["data"]["contact"]["id"] == report_id
    await b.post(f"/api/v1/contacts/{report_id}/accept")  # before b's own offer can lapse
    away = await a.next_event("operator.presence_changed")
    while away["data"]["presence"] != "away":
        away = await a.next_event("operator.presence_changed")
    assert away["data"]["reason"] == "missed_offer"
    await a.post(f"/api/v1/contacts/{report_id}/accept", status=409)
    for op in (a, b):
        await op.close()


async def test_language_skill_routing(center: Center) -> None:
    await center.add_operator("ru_only", languages=frozenset({Language.RU}))
    await center.add_operator("kk_speaker", languages=frozenset({Language.KK}))
    ru = await center.browser("ru_only")
    kk = await center.browser("kk_speaker")
    for op in (ru, kk):
        await op.connect()
        await op.ready()
    await asyncio.sleep(0.05)
    kk_report = await center.report("Көмек керек", language="kk", device_id="device-kk-01")
    offer = await kk.next_offer()
    assert offer["data"]["contact"]["id"] == kk_report
    for op in (ru, kk):
        await op.close()


async def test_supervisor_sees_the_room_and_sla_breach(tmp_path: Path) -> None:
    center = await start_center(make_settings(tmp_path, sla_answer_s=0.2))
    try:
        await center.add_operator("boss", role=Role.SUPERVISOR)
        boss = await center.browser("boss")
        await boss.connect()
        report_id = await center.report()
        breach = await boss.next_event("contact.sla_breached", "supervisor")
        assert breach["data"]["contact_id"] == report_id
        assert breach["data"]["priority_name"] == "chat"
        overview = await boss.get("/api/v1/supervisor/overview")
        assert overview["waiting"] == 1
        assert overview["depth"]["chat"] == 1
        assert overview["sla_breaches"] == 1
        # supervisors may open any contact; the view is audited
        await boss.get(f"/api/v1/contacts/{report_id}")
        views = [
            e
            for e in await center.container.db.audit.entries(subject=report_id)
            if e.action == "contact.view"
        ]
        assert views and views[0].actor == boss.operator_id
        await boss.close()
    finally:
        await center.client.close()


async def test_idempotent_report_returns_the_same_contact(center: Center) -> None:
    first = await center.report(key="retry-1")
    again = await center.report(key="retry-1")
    other = await center.report(key="retry-2")
    assert first == again != other
    waiting = await center.container.store.waiting()
    assert [e.contact_id for e in waiting].count(first) == 1


async def test_an_operator_whose_browser_is_gone_is_set_away(tmp_path: Path) -> None:
    center = await start_center(make_settings(tmp_path, disconnect_grace_s=0.2))
    try:
        await center.add_operator("op")
        op = await center.browser("op")
        await op.connect()
        await op.ready()
        assert op.ws is not None
        await op.ws.close()  # a reload reconnects within the grace period: still ready
        await op.connect()
        await asyncio.sleep(0.4)
        assert (await op.get("/api/v1/me"))["presence"] == "ready"
        await op.ws.close()  # gone for good
        for _ in range(50):
            if (await op.get("/api/v1/me"))["presence"] == "away":
                break
            await asyncio.sleep(0.05)
        assert (await op.get("/api/v1/me"))["presence"] == "away"
        await op.close()
    finally:
        await center.client.close()
