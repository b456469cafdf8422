"""A reload in the middle of each golden path, in a real browser, and nothing is lost:

- wrap-up: the timer goes on from the server's moment (`wrapped_up_at`), it does not restart at 0;
- dispatch: the contact, the unit sent and the dispatch panel come back;
- reassign and force-close: the supervisor's page reloaded between choosing and confirming
  (nothing was done) and after (the list is right); the page of the operator who lost the
  contact, reloaded, shows no stale contact.

(Reloads in the middle of a chat, a voice and a video contact: test_operator_workspace.py.)
Screenshots are test artifacts: under $CONTACT_TEST_ARTIFACTS, else <tmp>/contact-artifacts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from contact.domain.model import Gender, Role
from contact.i18n import text
from tests.e2e.test_operator_workspace import VIEW, located, open_desk
from tests.e2e.test_operator_workspace import artifacts as artifacts
from tests.e2e.test_operator_workspace import city as city
from tests.e2e.test_operator_workspace import desk as desk
from tests.e2e.test_operator_workspace import places as places
from tests.support import PASSWORD, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def seconds(shown: str | None) -> int:
    """m:ss or h:mm:ss → seconds."""
    assert shown is not None and re.fullmatch(r"\d+(:\d\d){1,2}", shown), shown
    total = 0
    for part in shown.split(":"):
        total = total * 60 + int(part)
    return total


async def reloaded(page: Page) -> None:
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")


async def supervisor_room(ctx: BrowserContext, center: Center) -> tuple[Page, list[str]]:
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(center.url + "/login")
    await page.locator("input[name=username]").fill("chief")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(center.url + "/supervisor")
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    return page, errors


async def operator_id(center: Center, username: str) -> str:
    found = await center.container.db.operators.by_username(username)
    assert found is not None
    return found.operator.id


async def close_it(page: Page) -> None:
    await page.locator("#incident-type").select_option("other")
    await page.locator("#outcome").select_option("advised")
    await page.locator("#close").click()
    await expect(page.locator("#current")).to_be_hidden()


async def test_the_wrap_up_timer_goes_on_after_a_reload(
    center: Center, context: BrowserContext, artifacts: Path
) -> None:
    await center.add_operator("gulnar", gender=Gender.FEMALE)
    page, errors = await open_desk(context, center, "gulnar")
    contact_id = await center.report("Потерял паспорт", device_id="device-wrap-r", language="ru")
    await page.locator("#go-ready").click()
    await page.locator("#accept").click()
    await expect(page.locator("#current")).to_have_attribute("data-contact", contact_id)
    # the call ended (a voice contact does so by itself): wrap-up, with its own timer
    await page.evaluate(
        "(id) => Contact.api('POST', `/contacts/${id}/close`, { wrap_up: true })", contact_id
    )
    wrapped = time.monotonic()  # the server's moment is before this one
    await expect(page.locator("#wrap-box")).to_be_visible()
    await expect(page.locator("#wrap-timer")).to_have_text(re.compile(r"^0:0[3-9]$"), timeout=8_000)
    opened = seconds(await page.locator("#open-timer").text_content())

    elapsed = time.monotonic() - wrapped
    await reloaded(page)
    await expect(page.locator("#current")).to_have_attribute("data-contact", contact_id)
    await expect(page.locator("#wrap-box")).to_be_visible()
    shown = seconds(await page.locator("#wrap-timer").text_content())
    assert shown >= int(elapsed) >= 3, (shown, elapsed)  # it goes on; 0:00 was the defect
    # the open timer goes on too (from when the contact was answered)
    assert seconds(await page.locator("#open-timer").text_content()) >= opened
    await page.screenshot(path=artifacts / "wrap-up-after-reload.png")
    # and it keeps ticking
    await expect(page.locator("#wrap-timer")).not_to_have_text(
        await page.locator("#wrap-timer").text_content() or "", timeout=3_000
    )
    await close_it(page)
    assert not errors, errors


async def test_a_reload_after_dispatching_brings_the_unit_and_the_panel_back(
    city: Center, desk: BrowserContext, artifacts: Path
) -> None:
    await city.add_operator("saule", gender=Gender.FEMALE)
    page, errors = await open_desk(desk, city, "saule")
    fight = await city.report(
        "Во дворе драка", device_id="device-dispatch-r", language="ru", location=located()
    )
    await page.locator("#go-ready").click()
    await page.locator("#accept").click()
    await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
    units = page.locator("#dispatch-units tbody tr[data-unit]")
    await expect(units).to_have_count(2)
    first = await units.first.get_attribute("data-unit")
    callsign = (await units.first.locator("td").first.text_content() or "").split(" ")[0]
    await units.first.locator("button.dispatch-send").click()
    sent = page.locator("#dispatch-sent li")
    await expect(sent).to_have_count(1)
    await expect(sent).to_contain_text(callsign)
    before = await sent.text_content()

    await reloaded(page)
    # the contact, the dispatch panel (where, units, map) and the unit sent, as they were
    await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
    await expect(page.locator("#dispatch")).to_be_visible()
    await expect(page.locator("#dispatch-where")).to_contain_text("Алмалинский район")
    await expect(sent).to_have_count(1)
    await expect(sent).to_have_text(before or "")
    await expect(page.locator(f"#dispatch-units tbody tr[data-unit='{first}']")).to_have_count(0)
    await page.wait_for_function("() => DispatchMap.map && DispatchMap.map.getZoom() > 0")
    await expect(page.locator("#dispatch-map path.map-contact")).to_have_count(1)
    await expect(page.locator("#dispatch-map path.map-dispatched")).to_have_count(1)
    # one label for the unit; a re-render's old label fades out for 200 ms before it goes
    tip = page.locator("#dispatch-map .leaflet-tooltip", has_text=callsign)
    await expect(tip).to_have_count(1)
    await expect(tip).to_be_visible()
    await page.screenshot(path=artifacts / "dispatch-after-reload.png")
    stored = await city.container.db.contacts.get(fight)
    assert stored.incident_id is not None and stored.operator_id is not None
    await close_it(page)
    assert not errors, errors


async def test_reloads_around_reassign_and_force_close(
    center: Center,
    context: BrowserContext,
    desk: BrowserContext,
    chromium: Browser,
    artifacts: Path,
) -> None:
    """Madina's contact goes to Erlan, then the chief force-closes it; each page is reloaded
    mid-way and after, and shows what the server says."""
    await center.add_operator("chief", role=Role.SUPERVISOR)
    await center.add_operator("madina", gender=Gender.FEMALE)
    await center.add_operator("erlan", gender=Gender.MALE)
    madina, madina_errors = await open_desk(context, center, "madina")
    await madina.locator("#go-ready").click()
    said = "Подозрительный пакет на остановке"
    contact_id = await center.report(said, device_id="device-e2e-r", language="ru")
    await madina.locator("#accept").click()
    await expect(madina.locator("#current")).to_have_attribute("data-contact", contact_id)
    erlan, erlan_errors = await open_desk(desk, center, "erlan")
    await erlan.locator("#go-ready").click()
    await expect(erlan.locator("#presence")).to_have_text("Готов")

    erlan_id = await operator_id(center, "erlan")
    room_ctx = await chromium.new_context(viewport=VIEW, locale="ru-RU")
    room, room_errors = await supervisor_room(room_ctx, center)
    row = room.locator(f"#sv-progress-table tr[data-id='{contact_id}']")
    await expect(row.locator(".who")).to_have_text("Madina")

    # reassign: chosen, not confirmed, reloaded: nothing was done
    await row.locator("button[data-action=reassign]").click()
    await room.locator("#sv-act-to").select_option(erlan_id)
    await reloaded(room)
    await expect(room.locator("#sv-act")).to_be_hidden()
    await expect(row.locator(".who")).to_have_text("Madina")
    await expect(room.locator("#sv-progress-count")).to_have_text("1")
    assert (await center.container.db.contacts.get(contact_id)).operator_id != (
        await operator_id(center, "erlan")
    )
    await expect(madina.locator("#current")).to_have_attribute("data-contact", contact_id)

    # again, confirmed; then every page reloaded
    await row.locator("button[data-action=reassign]").click()
    await room.locator("#sv-act-to").select_option(erlan_id)
    await room.locator("#sv-act-ok").click()
    await expect(room.locator("#sv-act")).to_be_hidden()
    await expect(row.locator(".who")).to_have_text("Erlan")
    await reloaded(room)
    await expect(row.locator(".who")).to_have_text("Erlan")
    await expect(room.locator("#sv-progress-count")).to_have_text("1")
    await reloaded(madina)  # she lost it: no stale contact, she may go on
    await expect(madina.locator("#current")).to_be_hidden()
    await expect(madina.locator("#idle")).to_be_visible()
    await expect(madina.locator("#presence")).not_to_have_text("Работает с обращением")
    await madina.screenshot(path=artifacts / "lost-contact-after-reload.png")
    await reloaded(erlan)
    await expect(erlan.locator("#current")).to_have_attribute("data-contact", contact_id)
    await expect(erlan.locator("#messages .msg .text")).to_have_text([said])

    # force-close: the reason typed, not confirmed, reloaded: still open, still Erlan's
    await row.locator("button[data-action=force_close]").click()
    await room.locator("#sv-act-reason").fill("Ложный вызов")
    await reloaded(room)
    await expect(room.locator("#sv-act")).to_be_hidden()
    await expect(row.locator(".who")).to_have_text("Erlan")
    assert (await center.container.db.contacts.get(contact_id)).state.value == "connected"

    # confirmed; every page reloaded: gone from the list and from Erlan's page
    await row.locator("button[data-action=force_close]").click()
    await room.locator("#sv-act-reason").fill("Ложный вызов, подтверждено нарядом")
    await room.locator("#sv-act-ok").click()
    await expect(row).to_have_count(0)
    await reloaded(room)
    await expect(row).to_have_count(0)
    await expect(room.locator("#sv-progress-empty")).to_be_visible()
    await room.screenshot(path=artifacts / "room-after-force-close-reload.png", full_page=True)
    await expect(erlan.locator("#current")).to_be_hidden()
    await expect(erlan.locator("#op-notice")).to_have_text(text("ui.contact_force_closed", "ru"))
    await reloaded(erlan)
    await expect(erlan.locator("#current")).to_be_hidden()
    await expect(erlan.locator("#idle")).to_be_visible()
    await erlan.screenshot(path=artifacts / "force-closed-after-reload.png")
    assert (await center.container.db.contacts.get(contact_id)).state.value == "closed"
    await room_ctx.close()
    everything = madina_errors + erlan_errors + room_errors
    assert not everything, everything


async def test_the_english_desk_names_districts_in_english(
    city: Center, chromium: Browser, artifacts: Path
) -> None:
    """District names come in kk, ru and en: the English page shows the English ones (queue
    row, place, dispatch panel, map outline), the Russian page the Russian ones."""
    await city.add_operator("jane", gender=Gender.FEMALE)
    ctx = await chromium.new_context(viewport=VIEW, locale="en-US")
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(city.url + "/login?lang=en")
        await page.locator("input[name=username]").fill("jane")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("#login").click()
        await page.wait_for_url(city.url + "/")
        await expect(page.locator("body")).to_have_attribute("data-connection", "open")
        await expect(page.locator("#go-ready")).to_have_text("Ready")
        fight = await city.report(
            "Во дворе драка", device_id="device-en-district", language="ru", location=located()
        )
        row = page.locator(f"#queue tr[data-id='{fight}']")
        await expect(row.locator(".q-district")).to_have_text("Almaly District")
        await page.locator("#go-ready").click()
        await page.locator("#accept").click()
        await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
        await expect(page.locator("#place .district")).to_contain_text("Almaly District")
        await expect(page.locator("#dispatch-where")).to_contain_text("Almaly District")
        await page.wait_for_function("() => DispatchMap.map && DispatchMap.map.getZoom() > 0")
        await expect(page.locator("#dispatch-map .map-district-label")).to_have_text(
            "Almaly District"
        )
        await page.screenshot(path=artifacts / "en-district.png")
        # the same contact on the Russian page: the Russian name
        await page.goto(city.url + "/?lang=ru")
        await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
        await expect(page.locator("#place .district")).to_contain_text("Алмалинский район")
        await close_it(page)
        assert not errors, errors
    finally:
        await ctx.close()
