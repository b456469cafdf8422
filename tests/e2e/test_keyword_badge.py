"""Alarming words in a real browser: the operator's queue row of a report that names a weapon
shows the keyword badge and comes first; the supervisor's events list the alert; the accepted
contact shows the badge and the citizen's words highlighted in the message.

Screenshot for a human look: /tmp/contact-keyword.png."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from contact.domain.model import Role
from tests.e2e.test_operator_browser import connected, log_in, open_page
from tests.support import Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
SHOT = "/tmp/contact-keyword.png"


async def test_the_keyword_badge_for_operator_and_supervisor(
    center: Center, context: BrowserContext, chromium: Browser
) -> None:
    await center.add_operator("aigerim")
    await center.add_operator("boss", role=Role.SUPERVISOR)
    page, errors = await open_page(context)
    await log_in(page, center, "aigerim")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)
    boss_context = await chromium.new_context(locale="ru-RU")  # a cookie jar of its own
    boss, boss_errors = await open_page(boss_context)
    await log_in(boss, center, "boss")
    await boss.wait_for_url(center.url + "/supervisor", timeout=WAIT_MS)
    await connected(boss)

    calm = await center.report("Украли велосипед у подъезда", device_id="device-kw-01")
    danger = await center.report(
        "Во дворе мужчина с ножом, кричит", language="ru", device_id="device-kw-02"
    )
    rows = page.locator("#queue tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_have_attribute("data-id", danger)
    await expect(rows.first.locator(".kw")).to_have_text("⚠ Оружие")
    await expect(page.locator(f'#queue tr[data-id="{calm}"] .kw')).to_have_count(0)
    event = boss.locator("#sv-events li").first
    await expect(event.locator(".kw")).to_have_text("⚠ Оружие")
    await expect(event).to_contain_text("SOS")

    await page.locator("#go-ready").click()
    await expect(page.locator("#offer")).to_be_visible()
    await page.locator("#accept").click()
    await expect(page.locator("#current-meta .kw")).to_have_text("⚠ Оружие")
    await expect(page.locator("#messages li.alarming mark.kw")).to_have_text(["ножом", "кричит"])
    await page.screenshot(path=SHOT, full_page=True)
    await boss_context.close()
    assert not errors and not boss_errors, (errors, boss_errors)
