"""Triage through a whole center: alarming words in a report reach the queue topic as
keyword.alert (the category, never the words) and put the report first; admins edit the
lexicon over the API (validated, CSRF, audited) and the edit is in use at once, on this node
and on another one (broadcast, version check)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from contact.domain.model import Priority, Role
from contact.triage import Triage
from contact.triage.editor import LexiconEditor
from tests.support import Browser, Center

LEXICON = "/api/v1/triage/lexicon"


def error_id(body: Any) -> str:
    return str(body["error"]["id"])


async def send(b: Browser, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    async with b.session.request(method, path, json=body, headers={"X-CSRF-Token": b.csrf}) as r:
        assert r.status == status, await r.text()
        return await r.json()


async def test_a_danger_report_alerts_the_queue_and_goes_first(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    calm = await center.report("Украли велосипед у подъезда")
    danger = await center.report("Во дворе мужчина с ножом, угрожает детям")
    alert = await op.next_event("keyword.alert", "queue")
    assert alert["data"]["contact"]["id"] == danger
    assert alert["data"]["keyword"]["category"] == "weapon"
    assert "words" not in alert["data"]["keyword"]  # the queue topic carries no citizen text
    queue = await op.get("/api/v1/queue")
    assert [c["id"] for c in queue["contacts"]] == [danger, calm]
    assert queue["contacts"][0]["priority"] == int(Priority.SOS)
    await op.ready()
    offer = await op.next_offer()
    assert offer["data"]["contact"]["id"] == danger
    contact = await op.post(f"/api/v1/contacts/{danger}/accept")
    (message,) = contact["messages"]
    assert message["keyword"]["category"] == "weapon" and "ножом" in message["keyword"]["words"]
    assert contact["keyword"]["category"] == "weapon"
    entries = await center.container.db.audit.entries(subject=danger)
    assert "contact.keyword_alert" in [e.action for e in entries]
    await op.close()


async def test_admins_edit_the_lexicon_and_it_applies_at_once(center: Center) -> None:
    await center.add_operator("op")
    await center.add_operator("sv", role=Role.SUPERVISOR)
    await center.add_operator("admin", role=Role.ADMIN)
    op, sv, admin = [await center.browser(u) for u in ("op", "sv", "admin")]
    # another node on the same database and broadcast: it follows every edit
    other = Triage()
    follower = LexiconEditor(
        triage=other,
        store=center.container.db.triage_lexicon,
        audit=center.container.db.audit,
        broadcast=center.container.broadcast,
    )
    assert error_id(await op.get(LEXICON, 403)) == "role_required"
    listing = await sv.get(LEXICON)
    assert listing["version"] == 0 and listing["size"] > 200
    assert {"name": "weapon", "intent": "sos"} in listing["categories"]
    crossbow = {"term": "Арбалетом", "lang": "ru", "category": "weapon", "weight": 1.0}
    assert error_id(await send(sv, "POST", f"{LEXICON}/entries", {"entries": [crossbow]}, 403))
    async with admin.session.post(f"{LEXICON}/entries", json={"entries": [crossbow]}) as r:
        assert (r.status, error_id(await r.json())) == (403, "csrf")
    for bad, why in (
        ({**crossbow, "category": "bogus"}, "unknown_category"),
        ({**crossbow, "lang": "en"}, "unknown_language"),
        ({**crossbow, "weight": 7}, "invalid_weight"),
        ({**crossbow, "weight": "1"}, "invalid_weight"),
        ({**crossbow, "term": " 42 !"}, "empty_term"),
        ({**crossbow, "term": "a b c d e f"}, "term_too_long"),
    ):
        assert (
            error_id(await send(admin, "POST", f"{LEXICON}/entries", {"entries": [bad]}, 422))
            == why
        )
    assert error_id(await send(admin, "POST", f"{LEXICON}/entries", {"entries": "x"}, 422))

    before = await center.report("У соседа арбалет, он пьяный")
    assert (await center.container.db.contacts.get(before)).priority is Priority.CHAT
    added = await send(admin, "POST", f"{LEXICON}/entries", {"entries": [crossbow]}, 201)
    assert added["version"] == 1 and added["entries"][0]["term"] == "арбалетом"
    after = await center.report("У соседа арбалет, он пьяный")
    assert (await center.container.db.contacts.get(after)).priority is Priority.SOS
    assert other.version == 1 and other.analyse("арбалет!").alarming  # heard the broadcast

    path = f"{LEXICON}/entries/ru/weapon/{quote('арбалетом')}"
    assert (await send(admin, "DELETE", path))["version"] == 2
    assert error_id(await send(admin, "DELETE", path, status=404)) == "entry_not_found"
    assert not center.container.triage.analyse("У соседа арбалет").alarming

    small = [{"term": "пожар", "lang": "ru", "category": "fire", "weight": 1}]
    stale = await send(admin, "PUT", LEXICON, {"entries": small, "version": 1}, 409)
    assert error_id(stale) == "lexicon_changed"
    assert (await send(admin, "PUT", LEXICON, {"entries": small, "version": 2}))["size"] == 1
    assert not center.container.triage.analyse("у него нож").alarming
    assert center.container.triage.analyse("пожар").alarming

    # a node that missed the broadcast catches up at its version check
    late = Triage()
    behind = LexiconEditor(
        triage=late, store=center.container.db.triage_lexicon, audit=center.container.db.audit
    )
    assert await behind.refresh() and late.version == 3 and len(late.entries) == 1
    assert follower is not None

    actions = [e.action for e in await center.container.db.audit.entries(subject="triage_lexicon")]
    assert sorted(actions) == sorted(
        ["triage.lexicon_add", "triage.lexicon_remove", "triage.lexicon_replace"]
    )
    assert await center.container.db.audit.verify() == []
    for b in (op, sv, admin):
        await b.close()
