"""A second alarm (kiosk press, app SOS, camera alert) joins its open contact only when the
operator holding it is there. Held by an operator who logged out, whose session expired or who
is away, the contact goes back to its place in the queue with its priority and whole thread and
is offered to an operator who is present; over (wrap-up) with an absent holder, a new contact is
opened and offered. Over real HTTP, with real sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contact.domain.model import ContactState, Presence, Priority
from tests.integration.device_support import (
    add_kiosk,
    add_site,
    alarm,
    call,
    camera_event,
    device_headers,
    device_settings,
    register_device,
)
from tests.support import Browser, Center, start_center

FIRST = {"site_id": "school-12", "zone": "вход", "kind": "weapon", "event_id": "evt-1"}
SECOND = {"site_id": "school-12", "zone": "спортзал", "kind": "weapon", "event_id": "evt-2"}


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    running = await start_center(device_settings(tmp_path))
    yield running
    await running.client.close()


async def _operator(center: Center, name: str) -> Browser:
    await center.add_operator(name)
    browser = await center.browser(name)
    await browser.connect()
    return browser


async def _holds(browser: Browser, contact_id: str) -> None:
    """The operator takes the next offer, which must be this contact, and accepts it."""
    await browser.ready()
    offer = await browser.next_offer()
    assert offer["data"]["contact"]["id"] == contact_id
    await browser.post(f"/api/v1/contacts/{contact_id}/accept")


async def _leaves(center: Center, browser: Browser, how: str) -> None:
    if how == "logout":
        async with browser.session.post(
            "/logout", data={"csrf_token": browser.csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        await browser.get("/api/v1/me", status=401)
    elif how == "session_expired":
        old = datetime.now(UTC) - timedelta(seconds=center.container.settings.auth.session_idle_s)
        for session in await center.container.db.sessions.for_operator(browser.operator_id):
            await center.container.db.sessions.touch(session.token_hash, old - timedelta(1))
        await browser.get("/api/v1/me", status=401)
    else:
        await browser.post("/api/v1/me/presence", {"presence": "away"})


async def _state(center: Center, contact_id: str) -> tuple[ContactState, str | None]:
    contact = await center.container.db.contacts.get(contact_id)
    return contact.state, contact.operator_id


@pytest.mark.parametrize("how", ["logout", "session_expired", "away"])
async def test_a_second_alarm_never_goes_to_an_operator_who_is_not_there(
    center: Center, how: str
) -> None:
    await add_site(center)
    status, first = await alarm(center, FIRST)
    assert status == 202
    contact_id = first["id"]
    aigerim = await _operator(center, "aigerim")
    await _holds(aigerim, contact_id)
    assert await _state(center, contact_id) == (ContactState.CONNECTED, aigerim.operator_id)
    await _leaves(center, aigerim, how)
    dana = await _operator(center, "dana")
    try:
        await dana.ready()
        status, second = await alarm(center, SECOND)
        assert status == 200, second
        assert (second["id"], second["joined"], second["requeued"]) == (contact_id, True, True)
        # back at its place, at alarm priority, with its whole thread, offered to who is there
        offer = await dana.next_offer()
        assert offer["data"]["contact"]["id"] == contact_id
        assert offer["data"]["contact"]["priority_name"] == "alarm"
        texts = [m["text"] for m in offer["data"]["contact"]["messages"]]
        assert len(texts) == 2 and "вход" in texts[0] and "спортзал" in texts[1]
        assert await _state(center, contact_id) == (ContactState.OFFERED, dana.operator_id)
        contact = await center.container.db.contacts.get(contact_id)
        assert contact.priority is Priority.ALARM
        await dana.post(f"/api/v1/contacts/{contact_id}/accept")
        assert await _state(center, contact_id) == (ContactState.CONNECTED, dana.operator_id)
        # nobody is left marked at a workplace they left
        presences = await center.container.db.operators.presences()
        assert presences[aigerim.operator_id] is Presence.AWAY
        audit = await center.container.db.audit.entries(subject=contact_id)
        (reclaim,) = [e for e in audit if e.action == "contact.reclaim"]
        assert reclaim.details["operator_id"] == aigerim.operator_id
        expected = "holder_without_session" if how == "session_expired" else "holder_away"
        assert reclaim.details["reason"] == expected
    finally:
        await dana.close()
        await aigerim.close()


async def test_a_second_alarm_joins_when_its_operator_is_there(center: Center) -> None:
    await add_site(center)
    status, first = await alarm(center, FIRST)
    contact_id = first["id"]
    aigerim = await _operator(center, "aigerim")
    try:
        await _holds(aigerim, contact_id)
        status, second = await alarm(center, SECOND)
        assert (status, second["id"], second["requeued"]) == (200, contact_id, False)
        texts = [m.text for m in await center.container.db.contacts.messages(contact_id)]
        assert len(texts) == 2 and "спортзал" in texts[1]
        assert await _state(center, contact_id) == (ContactState.CONNECTED, aigerim.operator_id)
    finally:
        await aigerim.close()


async def test_an_alarm_after_the_absent_holders_wrap_up_is_a_new_contact_offered(
    center: Center,
) -> None:
    await add_site(center)
    status, first = await alarm(center, FIRST)
    contact_id = first["id"]
    aigerim = await _operator(center, "aigerim")
    await _holds(aigerim, contact_id)
    await aigerim.post(f"/api/v1/contacts/{contact_id}/close", {"wrap_up": True})
    assert (await _state(center, contact_id))[0] is ContactState.WRAP_UP
    await _leaves(center, aigerim, "logout")
    dana = await _operator(center, "dana")
    try:
        await dana.ready()
        status, second = await alarm(center, SECOND)
        assert status == 202, second
        assert second["id"] != contact_id and "joined" not in second
        offer = await dana.next_offer()
        assert offer["data"]["contact"]["id"] == second["id"]
        assert offer["data"]["contact"]["priority_name"] == "alarm"
    finally:
        await dana.close()
        await aigerim.close()


async def test_kiosk_app_sos_and_camera_joins_never_go_to_an_absent_operator(
    center: Center,
) -> None:
    kiosk = await add_kiosk(center)
    token = await register_device(center)
    weapon = {"camera_id": "cam-park-01", "kind": "weapon", "confidence": 0.97}
    try:
        status, pressed = await kiosk.sos()
        assert status == 202
        status, sos = await call(
            center,
            "POST",
            "/api/v1/app/sos",
            json={"location": {"lat": 43.2, "lon": 76.9}},
            headers=device_headers(token),
        )
        assert status == 202
        status, seen = await camera_event(center, weapon)
        assert status == 202
        held = [pressed["id"], sos["id"], seen["id"]]
        # one contact at a time each ("ready" is refused while one is open)
        holders = [await _operator(center, name) for name in ("aigerim", "bota", "sholpan")]
        for holder, contact_id in zip(holders, held, strict=True):
            await _holds(holder, contact_id)
        for holder in holders:
            await _leaves(center, holder, "logout")
        dana = await _operator(center, "dana")
        try:
            status, again = await kiosk.sos()
            assert (status, again["id"], again["requeued"]) == (200, held[0], True)
            status, sos_again = await call(
                center,
                "POST",
                "/api/v1/app/sos",
                json={"location": {"lat": 43.21, "lon": 76.91}},
                headers=device_headers(token),
            )
            assert (status, sos_again["id"], sos_again["requeued"]) == (200, held[1], True)
            assert sos_again["status"] == "queued"
            status, repeat = await camera_event(center, {**weapon, "confidence": 0.99})
            assert (status, repeat["id"], repeat["status"]) == (200, held[2], "collapsed")
            for contact_id in held:
                assert await _state(center, contact_id) == (ContactState.QUEUED, None)
            offered: list[Any] = []
            await dana.ready()  # one at a time: ready again by itself after each close
            for _ in held:
                offer = await dana.next_offer()
                offered.append(offer["data"]["contact"]["id"])
                await dana.post(f"/api/v1/contacts/{offered[-1]}/accept")
                await dana.post(f"/api/v1/contacts/{offered[-1]}/close", {})
            assert sorted(offered) == sorted(held)
        finally:
            await dana.close()
            for holder in holders:
                await holder.close()
    finally:
        await kiosk._session.close()
