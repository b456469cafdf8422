"""Nothing is lost from a screen, in a real browser: a reload or a second tab in the middle of a
conversation brings the same contact back with its reply box and close button; "ready" is
refused while it is open; the supervisor reassigns and force-closes a contact in progress from
the control room and the operator's page follows.

Screenshots are test artifacts: under $CONTACT_TEST_ARTIFACTS, else <tmp>/contact-artifacts;
each test prints where it put them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from contact.domain.model import Role
from contact.i18n import text
from tests.support import PASSWORD, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("CONTACT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()))
    where: Path = root / "contact-artifacts" / request.node.name
    where.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {where}")
    return where


@pytest_asyncio.fixture(loop_scope="module")
async def second_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """Another person's browser (the supervisor's), with cookies of its own."""
    ctx = await chromium.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    try:
        yield ctx
    finally:
        await ctx.close()


async def open_page(context: BrowserContext) -> tuple[Page, list[str]]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def log_in(page: Page, center: Center, username: str) -> None:
    await page.goto(center.url + "/login")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()


async def connected(page: Page) -> None:
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")


async def working_on(page: Page, contact_id: str, texts: list[str]) -> None:
    """The page shows this contact, its conversation, a reply box and the close button."""
    current = page.locator("#current")
    await expect(current).to_be_visible()
    await expect(current).to_have_attribute("data-contact", contact_id)
    await expect(current.locator("#messages .msg .text")).to_have_text(texts)
    await expect(page.locator("#reply-text")).to_be_visible()
    await expect(page.locator("#reply")).to_be_enabled()
    await expect(page.locator("#close")).to_be_visible()
    await expect(page.locator("#presence")).to_have_text("Работает с обращением")


async def accept_offer(page: Page, summary: str) -> None:
    await expect(page.locator("#offer .summary")).to_have_text(summary)
    await page.locator("#accept").click()
    await expect(page.locator("#offer")).to_be_hidden()


async def test_a_reload_and_a_second_tab_bring_the_contact_back(
    center: Center, context: BrowserContext, artifacts: Path
) -> None:
    await center.add_operator("aliya")
    page, errors = await open_page(context)
    await log_in(page, center, "aliya")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)
    await page.locator("#go-ready").click()
    await expect(page.locator("#presence")).to_have_text("Принимает обращения")

    said = "Во дворе горит машина"
    report_id = await center.report(said, device_id="device-e2e-01", language="ru")
    await accept_offer(page, said)
    reply = "Пожарные и наряд выехали"
    await page.locator("#reply-text").fill(reply)
    await page.locator("#reply").click()
    await working_on(page, report_id, [said, reply])

    # a reload in the middle of the conversation: the same contact, ready to go on
    await page.reload()
    await connected(page)
    await working_on(page, report_id, [said, reply])
    await page.screenshot(path=str(artifacts / "operator-after-reload.png"))

    # "ready" is refused while it is open, with the reason in her language
    await page.locator("#go-ready").click()
    await expect(page.locator("#op-notice")).to_have_text(text("error.contact_open", "ru"))
    await expect(page.locator("#presence")).to_have_text("Работает с обращением")
    await page.screenshot(path=str(artifacts / "operator-ready-refused.png"))

    # a second tab (or the browser after a crash) opens the same contact; it goes on live
    tab, tab_errors = await open_page(context)
    await tab.goto(center.url + "/")
    await connected(tab)
    await working_on(tab, report_id, [said, reply])
    more = "Огонь перекинулся на дерево"  # the citizen writes again (as a chat does)
    await center.container.lifecycle.add_citizen_message(report_id, more)
    for p in (page, tab):
        await expect(p.locator("#messages .msg.in .text").last).to_have_text(more)
    await tab.screenshot(path=str(artifacts / "operator-second-tab.png"))

    # closed in one tab, gone from both; ready is accepted then
    # the incident type and the outcome are required on close
    await page.locator("#incident-type").select_option("other")
    await page.locator("#outcome").select_option("advised")
    await page.locator("#close").click()
    await expect(page.locator("#current")).to_be_hidden()
    await expect(tab.locator("#current")).to_be_hidden()
    await page.locator("#go-ready").click()
    await expect(page.locator("#presence")).to_have_text("Принимает обращения")
    await expect(page.locator("#op-notice")).to_be_hidden()
    assert not errors and not tab_errors, errors + tab_errors


async def test_supervisor_reassigns_and_force_closes(
    center: Center, context: BrowserContext, second_context: BrowserContext, artifacts: Path
) -> None:
    await center.add_operator("chief", role=Role.SUPERVISOR)
    await center.add_operator("madina")
    await center.add_operator("erlan")
    page, errors = await open_page(context)
    await log_in(page, center, "madina")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)
    await page.locator("#go-ready").click()
    said = "Подозрительный пакет на остановке"
    report_id = await center.report(said, device_id="device-e2e-02", language="ru")
    await accept_offer(page, said)
    await working_on(page, report_id, [said])

    room, room_errors = await open_page(second_context)
    await log_in(room, center, "chief")
    await room.wait_for_url(center.url + "/supervisor", timeout=WAIT_MS)
    await connected(room)
    row = room.locator(f"#sv-progress-table tr[data-id='{report_id}']")
    await expect(row.locator(".who")).to_have_text("Madina")
    await expect(row.locator(".state")).to_have_text("На связи")
    await expect(room.locator("#sv-progress-count")).to_have_text("1")
    # a row in progress does not take the operator page's fixed layout: the room still scrolls
    assert await room.evaluate("getComputedStyle(document.body).overflowY") != "hidden"
    await room.screenshot(path=str(artifacts / "supervisor-in-progress.png"), full_page=True)

    # reassign to Erlan, who is at his workplace and free
    erlan = await center.browser("erlan")
    try:
        await erlan.ready()
        await row.locator("button[data-action=reassign]").click()
        dialog = room.locator("#sv-act")
        await expect(dialog).to_be_visible()
        await room.locator("#sv-act-to").select_option(erlan.operator_id)
        await room.screenshot(path=str(artifacts / "supervisor-reassign-dialog.png"))
        await room.locator("#sv-act-ok").click()
        await expect(dialog).to_be_hidden()
        await expect(row.locator(".who")).to_have_text("Erlan")
        # Madina's page lets it go and says why; Erlan's /me names it
        await expect(page.locator("#current")).to_be_hidden()
        await expect(page.locator("#op-notice")).to_have_text(text("ui.contact_moved", "ru"))
        await page.screenshot(path=str(artifacts / "operator-contact-moved.png"))
        assert (await erlan.get("/api/v1/me"))["contact_id"] == report_id

        # force-close: a reason is required, then it is closed and audited
        await row.locator("button[data-action=force_close]").click()
        await expect(dialog).to_be_visible()
        await room.locator("#sv-act-ok").click()  # no reason: the form does not go
        await expect(dialog).to_be_visible()
        await room.locator("#sv-act-reason").fill("Ложный вызов, подтверждено нарядом")
        await room.screenshot(path=str(artifacts / "supervisor-force-close-dialog.png"))
        await room.locator("#sv-act-ok").click()
        await expect(dialog).to_be_hidden()
        await expect(row).to_have_count(0)
        await expect(room.locator("#sv-progress-empty")).to_be_visible()
        await room.screenshot(path=str(artifacts / "supervisor-after-force-close.png"))
        assert (await erlan.get("/api/v1/me"))["contact_id"] is None
    finally:
        await erlan.close()
    contact = await center.container.db.contacts.get(report_id)
    assert contact.state.value == "closed"
    entries = await center.container.db.audit.entries(report_id)
    forced = [e for e in entries if e.action == "contact.force_close"]
    assert [e.details["reason"] for e in forced] == ["Ложный вызов, подтверждено нарядом"]
    assert not errors and not room_errors, errors + room_errors
