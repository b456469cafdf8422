"""A center without voice (the demo where Asterisk cannot run) says so on the pages in one line
in the user's language instead of a red softphone badge, and the supervisor's page never asks
for the live calls of a center that drives none (no 404s)."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Response, expect

from contact.domain.model import Role
from contact.http.softphone import VOICE_OFF_REASON
from contact.i18n import text
from tests.e2e.test_operator_browser import log_in, open_page
from tests.support import Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def test_no_voice_is_one_line_not_a_red_badge(
    center: Center, context: BrowserContext
) -> None:
    center.container.provide(VOICE_OFF_REASON, "no voice: Asterisk is not provisioned")
    await center.add_operator("aigerim")
    await center.add_operator("erzhan", Role.SUPERVISOR)
    page, errors = await open_page(context)
    await log_in(page, center, "aigerim")
    state = page.locator("#sp-state")
    await expect(state).to_have_attribute("data-state", "off")
    await expect(state).to_have_text(text("ui.sp_telephony_off", "ru"))
    await expect(state).to_have_attribute("title", "no voice: Asterisk is not provisioned")
    await page.goto(center.url + "/?lang=kk")
    await expect(page.locator("#sp-state")).to_have_text(text("ui.sp_telephony_off", "kk"))
    assert not errors

    sup, sup_errors = await open_page(context)
    asked: list[str] = []

    def seen(response: Response) -> None:
        if "/api/v1/calls" in response.url or response.status >= 400:
            asked.append(f"{response.status} {response.url}")

    sup.on("response", seen)
    await log_in(sup, center, "erzhan")
    await expect(sup.locator("#sv-live")).to_have_attribute("data-telephony", "off")
    await expect(sup.locator("#sp-state")).to_have_attribute("data-state", "off")
    await sup.wait_for_timeout(5_500)  # past one 5 s refresh of the room
    assert asked == [] and not sup_errors, asked
