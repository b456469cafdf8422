"""Nothing is lost from a screen: the server names what an operator works on (/api/v1/me and a
push on every WebSocket connect), "ready" is refused while a contact is open, a contact whose
operator is gone goes back to the queue or to the supervisors, and the control room reassigns,
takes over and force-closes contacts in progress. Real HTTP and WebSockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import Capability, ContactState, Presence, Role, UiLanguage
from tests.support import Browser, Center, make_settings, start_center


def error_of(body: Any) -> dict[str, Any]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    return dict(body["error"])


async def working(browser: Browser) -> dict[str, Any]:
    """The push a (re)connected socket gets first."""
    return await browser.next_event("operator.working", f"operator:{browser.operator_id}")


async def accepted(op: Browser, center: Center, text: str, device: str) -> str:
    contact_id = await center.report(text, device_id=device)
    offer = await op.next_offer()
    assert offer["data"]["contact"]["id"] == contact_id
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    return contact_id


async def test_the_server_names_the_open_contact_and_ready_is_refused(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    first = await working(op)
    assert first["data"]["contact_id"] is None and first["data"]["contacts"] == []
    await op.ready()
    contact_id = await accepted(op, center, "Драка во дворе", "device-a")

    # a reload: /me and the socket of the new page name the same contact
    me = await op.get("/api/v1/me")
    assert me["contact_id"] == contact_id and me["presence"] == "busy"
    assert [c["id"] for c in me["contacts"]] == [contact_id]
    tab = Browser(op.session, "op", op.csrf, op.operator_id)  # a second tab: same cookies
    await tab.connect()
    assert (await working(tab))["data"]["contact_id"] == contact_id

    refused = error_of(await op.post("/api/v1/me/presence", {"presence": "ready"}, 409))
    assert refused["id"] == "contact_open"
    assert refused["details"]["contact_id"] == contact_id
    messages = refused["details"]["messages"]
    assert refused["message"] == messages["ru"] and messages["kk"] != messages["ru"]
    assert set(messages) == {lang.value for lang in UiLanguage}  # kk, ru and en
    async with op.session.post(
        "/api/v1/me/presence?lang=kk",
        json={"presence": "ready"},
        headers={"X-CSRF-Token": op.csrf},
    ) as r:
        assert r.status == 409 and (await r.json())["error"]["message"] == messages["kk"]
    assert (await op.get("/api/v1/me"))["presence"] == "busy"  # nothing changed

    # wrap-up keeps it open; closed, it is gone and ready is accepted
    await op.post(f"/api/v1/contacts/{contact_id}/close", {"wrap_up": True})
    assert (await op.get("/api/v1/me"))["contact_id"] == contact_id
    await op.post("/api/v1/me/presence", {"presence": "ready"}, 409)
    await op.post(f"/api/v1/contacts/{contact_id}/close", {})
    assert (await op.get("/api/v1/me"))["contact_id"] is None
    await op.ready()
    await tab.close()
    await op.close()


async def test_the_wrap_up_moment_is_the_servers_and_stays_put(center: Center) -> None:
    """The wrap-up timer goes on after a reload: the moment it began is stored with the contact
    and every read (/me, the contact, the push) says the same."""
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    await working(op)
    await op.ready()
    contact_id = await accepted(op, center, "Потерял паспорт", "device-w")
    me = await op.get("/api/v1/me")
    assert me["contacts"][0]["wrapped_up_at"] is None
    before = datetime.now(UTC)
    await op.post(f"/api/v1/contacts/{contact_id}/close", {"wrap_up": True})
    pushed = await op.next_event("contact.wrapped_up")
    first = await op.get("/api/v1/me")
    assert first["contact_id"] == contact_id and first["contacts"][0]["state"] == "wrap_up"
    at = first["contacts"][0]["wrapped_up_at"]
    assert at is not None and pushed["data"]["contact"]["wrapped_up_at"] == at
    wrapped = datetime.fromisoformat(at)
    answered = datetime.fromisoformat(first["contacts"][0]["answered_at"])
    assert answered <= wrapped and before <= wrapped <= datetime.now(UTC)
    await asyncio.sleep(0.2)
    # a reload later: the same moment, from /me and from the contact itself
    assert (await op.get("/api/v1/me"))["contacts"][0]["wrapped_up_at"] == at
    assert (await op.get(f"/api/v1/contacts/{contact_id}"))["wrapped_up_at"] == at
    await op.post(f"/api/v1/contacts/{contact_id}/close", {})
    closed = await center.container.db.contacts.get(contact_id)
    assert closed.state is ContactState.CLOSED and closed.wrapped_up_at == wrapped
    await op.close()


async def test_a_gone_operators_contacts_are_requeued_or_escalated(tmp_path: Path) -> None:
    center = await start_center(make_settings(tmp_path, orphan_after_s=0.5, orphan_sweep_s=0.05))
    try:
        await center.add_operator("chief", Role.SUPERVISOR, capabilities=frozenset())
        await center.add_operator("op")
        await center.add_operator("op2")
        chief = await center.browser("chief")
        await chief.connect()
        op = await center.browser("op")
        await op.connect()
        await op.ready()
        chat = await accepted(op, center, "Помогите, пожар", "device-a")
        queued_at = (await chief.get(f"/api/v1/contacts/{chat}"))["queued_at"]
        op2 = await center.browser("op2")
        await op2.connect()
        await op2.ready()
        done = await accepted(op2, center, "Шум у соседей", "device-b")
        await op2.post(f"/api/v1/contacts/{done}/close", {"wrap_up": True})

        # op logs out; op2 goes away in wrap-up: both gone
        async with op.session.post(
            "/logout", data={"csrf_token": op.csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        await op2.post("/api/v1/me/presence", {"presence": "away"})

        # first marked (still theirs), then: the chat back at its place, the wrap-up to us
        reclaimed = await chief.next_event("contact.reclaimed", "supervisor")
        assert reclaimed["data"]["contact"]["id"] == chat
        assert reclaimed["data"]["contact"]["state"] == "queued"
        assert reclaimed["data"]["contact"]["queued_at"] == queued_at  # its place kept
        orphaned = await chief.next_event("contact.orphaned", "supervisor")
        assert orphaned["data"]["contact"]["id"] == done
        rows = (await chief.get("/api/v1/supervisor/in-progress"))["contacts"]
        assert [(r["id"], r["state"], r["operator_name"]) for r in rows] == [
            (done, "wrap_up", "Op2")
        ]
        assert rows[0]["escalated_at"] and rows[0]["orphaned_at"]
        # the audit log is written by its own subscriber to the event just pushed
        for _ in range(100):
            entries = await center.container.db.audit.entries(done)
            if "contact.orphan" in [e.action for e in entries]:
                break
            await asyncio.sleep(0.05)
        assert "contact.orphan" in [e.action for e in entries]
        # escalated once, however many passes
        await asyncio.sleep(0.3)
        entries = await center.container.db.audit.entries(done)
        assert [e.action for e in entries].count("contact.orphan") == 1

        # the chief closes the wrap-up (until then she may not go ready); at her workplace,
        # her next contact is never marked, however long it lasts
        await chief.post(f"/api/v1/contacts/{done}/force-close", {"reason": "Оператор ушла"})
        await op2.ready()
        offer = await op2.next_offer()  # the chat op left, first in line at its place
        assert offer["data"]["contact"]["id"] == chat
        assert [m["text"] for m in offer["data"]["contact"]["messages"]] == ["Помогите, пожар"]
        await op2.post(f"/api/v1/contacts/{chat}/accept")
        await asyncio.sleep(1.0)  # twice the orphan time, twenty sweeps
        contact = await center.container.db.contacts.get(chat)
        assert contact.state is ContactState.CONNECTED and contact.orphaned_at is None
        await chief.close()
        await op.close()
        await op2.close()
    finally:
        await center.client.close()


async def test_supervisor_reassigns_takes_over_and_force_closes(center: Center) -> None:
    await center.add_operator("chief", Role.SUPERVISOR)
    await center.add_operator("op1")
    await center.add_operator("op2")
    await center.add_operator("voiceless", capabilities=frozenset({Capability.VOICE}))
    chief = await center.browser("chief")
    await chief.connect()
    op1 = await center.browser("op1")
    await op1.connect()
    await op1.ready()
    first = await accepted(op1, center, "Угнали машину", "device-a")
    op2 = await center.browser("op2")
    await op2.connect()
    await op2.ready()
    second = await accepted(op2, center, "Сосед буянит", "device-b")

    # the list: oldest answered first, operator and age, paged
    page = await chief.get("/api/v1/supervisor/in-progress?limit=1")
    assert [(r["id"], r["operator_name"]) for r in page["contacts"]] == [(first, "Op1")]
    assert page["contacts"][0]["age_s"] >= 0 and page["next_cursor"]
    rest = await chief.get(f"/api/v1/supervisor/in-progress?limit=1&cursor={page['next_cursor']}")
    assert [r["id"] for r in rest["contacts"]] == [second] and rest["next_cursor"] is None
    assert error_of(await chief.get("/api/v1/supervisor/in-progress?cursor=zz", 422))
    assert error_of(await chief.get("/api/v1/supervisor/in-progress?limit=0", 422))

    # operators may not; CSRF as everywhere; bodies checked
    assert error_of(await op1.get("/api/v1/supervisor/in-progress", 403))["id"] == "role_required"
    await op1.post(f"/api/v1/contacts/{second}/reassign", {"operator_id": None}, 403)
    await op1.post(f"/api/v1/contacts/{second}/force-close", {"reason": "x"}, 403)
    await op1.post(f"/api/v1/contacts/{second}/take-over", {}, 403)
    async with chief.session.post(
        f"/api/v1/contacts/{first}/take-over", json={}, headers={"X-CSRF-Token": "forged"}
    ) as r:
        assert r.status == 403
    assert error_of(await chief.post(f"/api/v1/contacts/{first}/reassign", {}, 422))
    bad = {"operator_id": 5}
    assert error_of(await chief.post(f"/api/v1/contacts/{first}/reassign", bad, 422))
    refused = error_of(await chief.post(f"/api/v1/contacts/{first}/force-close", {}, 422))
    assert refused["id"] == "missing_reason" and set(refused["details"]["messages"]) == {
        "kk",
        "ru",
        "en",
    }
    await chief.post("/api/v1/contacts/nope/force-close", {"reason": "x"}, 404)
    busy = {"operator_id": op2.operator_id}
    assert error_of(await chief.post(f"/api/v1/contacts/{first}/reassign", busy, 409))["id"] == (
        "operator_busy"
    )
    unable = await center.container.db.operators.by_username("voiceless")
    assert unable is not None
    to_unable = {"operator_id": unable.operator.id}
    assert error_of(await chief.post(f"/api/v1/contacts/{first}/reassign", to_unable, 409))[
        "id"
    ] == ("operator_unable")

    # op2 closes hers and is free; the chief hands her op1's contact
    await op2.post(f"/api/v1/contacts/{second}/close", {})
    await op2.post("/api/v1/me/presence", {"presence": "away"})
    away = error_of(await chief.post(f"/api/v1/contacts/{first}/reassign", busy, 409))
    assert away["id"] == "operator_absent"
    await op2.ready()
    moved = await chief.post(f"/api/v1/contacts/{first}/reassign", busy)
    assert moved["operator_id"] == op2.operator_id and moved["state"] == "connected"
    pushed = await op2.next_event("contact.reassigned", f"operator:{op2.operator_id}")
    assert pushed["data"]["contact"]["id"] == first and "messages" in pushed["data"]["contact"]
    assert (await op2.get("/api/v1/me"))["contact_id"] == first
    assert (await op1.get("/api/v1/me"))["contact_id"] is None
    assert (await op1.get("/api/v1/me"))["presence"] == Presence.READY.value  # free again
    await op2.post(f"/api/v1/contacts/{first}/reply", {"text": "Наряд выехал"}, 201)
    await op1.post(f"/api/v1/contacts/{first}/reply", {"text": "x"}, 409)

    # back to the queue: op2 is free at once and the only one ready: offered to her again
    await op1.post("/api/v1/me/presence", {"presence": "away"})
    requeued = await chief.post(f"/api/v1/contacts/{first}/reassign", {"operator_id": None})
    assert requeued["state"] == "queued" and requeued["operator_id"] is None
    offer = await op2.next_offer()
    assert offer["data"]["contact"]["id"] == first
    assert [m["text"] for m in offer["data"]["contact"]["messages"]][-1] == "Наряд выехал"
    await op2.post(f"/api/v1/contacts/{first}/accept")

    # take over: the chief holds it and works it as an operator would
    held = await chief.post(f"/api/v1/contacts/{first}/take-over")
    assert held["operator_id"] == chief.operator_id and held["messages"]
    assert (await chief.get("/api/v1/me"))["contact_id"] == first
    await chief.post(f"/api/v1/contacts/{first}/reply", {"text": "Супервизор на связи"}, 201)
    again = error_of(await chief.post(f"/api/v1/contacts/{first}/take-over", status=409))
    assert again["id"] == "same_operator"

    # force-close with a reason: closed, audited with the reason, chain intact
    closed = await chief.post(f"/api/v1/contacts/{first}/force-close", {"reason": "Дубликат"})
    assert closed["state"] == "closed"
    gone = error_of(await chief.post(f"/api/v1/contacts/{first}/force-close", {"reason": "x"}, 409))
    assert gone["id"] == "not_in_progress"
    entries = await center.container.db.audit.entries(first)
    acts = {e.action: e for e in entries}
    assert acts["contact.force_close"].actor == chief.operator_id
    assert acts["contact.force_close"].details["reason"] == "Дубликат"
    assert acts["contact.take_over"].details["to_operator_id"] == chief.operator_id
    moves = [
        (e.details["from_operator_id"], e.details["to_operator_id"])
        for e in entries
        if e.action == "contact.reassign"
    ]
    assert sorted(moves, key=str) == sorted(
        [(op1.operator_id, op2.operator_id), (op2.operator_id, None)], key=str
    )
    assert await center.container.db.audit.verify() == []
    for b in (chief, op1, op2):
        await b.close()


@pytest.mark.parametrize("state", ["connected"])
async def test_a_call_in_progress_stays_with_its_operator(center: Center, state: str) -> None:
    from dataclasses import replace

    from contact.domain.model import ChannelKind, Contact, Priority, new_id, utcnow

    await center.add_operator("chief", Role.SUPERVISOR)
    op = await center.add_operator("op")
    chief = await center.browser("chief")
    now = utcnow()
    call = Contact(id=new_id(), channel=ChannelKind.VOICE, priority=Priority.VOICE, created_at=now)
    call.transition(ContactState.QUEUED, now)
    await center.container.db.contacts.add(call)
    call.transition(ContactState.OFFERED, now)
    call.transition(ContactState.CONNECTED, now)
    await center.container.db.contacts.save(replace(call, operator_id=op))
    for action, body in (("reassign", {"operator_id": None}), ("take-over", {})):
        refused = error_of(await chief.post(f"/api/v1/contacts/{call.id}/{action}", body, 409))
        assert refused["id"] == "live_call", action
    await chief.close()


@pytest.mark.slow
async def test_a_restart_of_the_node_keeps_the_open_contact(tmp_path: Path) -> None:
    """`contact serve` stopped and started again with a contact open: the operator's next
    page (same session cookie) opens it, and ready is still refused."""
    from tests.integration.device_support import CHECKOUT_ENV
    from tests.support import ServeProcess

    env = {
        **CHECKOUT_ENV,
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_DATA_DIR": str(tmp_path),
        "CONTACT_ROUTING_WRAP_UP_S": "0",
    }
    node = ServeProcess(env, tmp_path / "serve.log")
    await node.start()
    try:
        node.add_operator("op")
        op = await node.browser("op")
        await op.connect()
        await op.ready()
        contact_id = await node.report(op.session, "Ограбление в магазине", "device-r")
        offer = await op.next_offer()
        assert offer["data"]["contact"]["id"] == contact_id
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        await op.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "Наряд в пути"}, 201)
        assert op.ws is not None
        await op.ws.close()
        op.ws = None
        op.received.clear()  # what the old socket got
        node.stop()

        await node.start()
        me = await op.get("/api/v1/me")
        assert me["contact_id"] == contact_id
        await op.connect()
        pushed = await working(op)
        assert pushed["data"]["contact_id"] == contact_id
        detail = await op.get(f"/api/v1/contacts/{contact_id}")
        assert detail["state"] == "connected"
        assert [m["text"] for m in detail["messages"]] == ["Ограбление в магазине", "Наряд в пути"]
        refused = error_of(await op.post("/api/v1/me/presence", {"presence": "ready"}, 409))
        assert refused["id"] == "contact_open"
        await op.post(f"/api/v1/contacts/{contact_id}/close", {})
        await op.ready()
        await op.close()
    finally:
        node.stop()
