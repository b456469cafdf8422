"""The supervisor's wallboard in Debian's Chromium against a real server: the operators table
stays short however many operators are in the room (the first 10, the rest behind a button
that says how many, in the page's language), and an operator's new state shows without a reload
(that it comes through a push: tests/e2e/test_operator_browser.py)."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from contact.domain.model import Role
from tests.support import PASSWORD, Browser, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds


async def test_the_operators_table_shows_ten_and_the_rest_on_demand(
    center: Center, context: BrowserContext
) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    operators: list[Browser] = []
    try:
        for i in range(13):
            await center.add_operator(f"op{i:02d}")
            b = await center.browser(f"op{i:02d}")
            await b.post("/api/v1/me/presence", {"presence": "away"})
            operators.append(b)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(center.url + "/login?lang=ru")
        await page.locator("input[name=username]").fill("boss")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("#login").click()
        await page.wait_for_url(center.url + "/supervisor")
        await expect(page.locator("body")).to_have_attribute("data-connection", "open")

        rows = page.locator("#wb-operator-table tbody tr")
        more = page.locator("#wb-operators-more")
        await expect(page.locator("#wb-operator-count")).to_have_text("13")
        await expect(rows).to_have_count(10)
        await expect(more).to_have_text("Ещё 3 оператора")
        await expect(more).to_have_attribute("aria-expanded", "false")
        await more.click()
        await expect(rows).to_have_count(13)
        await expect(more).to_have_text("Свернуть")
        await expect(more).to_have_attribute("aria-expanded", "true")

        # one of them goes ready: her row and the count by state move without a reload
        await operators[12].ready()
        row = page.locator(f'#wb-operator-table tr[data-id="{operators[12].operator_id}"]')
        await expect(row.locator(".presence")).to_have_text("Принимает обращения")
        await expect(page.locator("#wb-operators li.presence-ready strong")).to_have_text("1")
        await expect(page.locator("#wb-operators li.presence-away strong")).to_have_text("12")
        await more.click()
        await expect(rows).to_have_count(10)

        # in Kazakh and English the button counts in their words
        await page.goto(center.url + "/supervisor?lang=kk")
        await expect(more).to_have_text("Тағы 3 оператор")
        await page.goto(center.url + "/supervisor?lang=en")
        await expect(more).to_have_text("3 more operators")
        assert not errors, errors
    finally:
        for b in operators:
            await b.close()
