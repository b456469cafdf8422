"""The staffing rota panel in Debian's Chromium against a real server: this hour and the
next three, each skill group's need beside the operators on the lines, a short group said in
words (in the page's language) with a mark, and the count moving as operators come and go."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import BrowserContext, expect

from contact.domain.model import Capability, Language, Role
from contact.persistence.rota import RotaEntry
from tests.support import PASSWORD, Browser, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

HOUR = re.compile(r"^\d{2}:00–\d{2}:00$")  # 24-hour, on the centre's clock
WAIT_MS = 20_000  # the panel reads the rota every 15 s


@pytest.fixture(autouse=True)
def quick_expect() -> None:
    expect.set_options(timeout=WAIT_MS)


async def test_the_rota_panel_shows_need_beside_the_room(
    center: Center, context: BrowserContext
) -> None:
    boss = await center.add_operator("boss", role=Role.SUPERVISOR)
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    await center.container.db.rota.publish(
        [
            RotaEntry(h, name, i, n, langs, ("chat", "voice"), "almaty-weekday", 0.926, at, boss)
            for h in range(168)  # every hour alike: the hour may turn during the test
            for i, (name, langs, n) in enumerate(
                [("102 kk+ru", ("kk", "ru"), 2), ("102 ru", ("ru",), 1)]
            )
        ]
    )
    await center.add_operator("ru", languages=frozenset({Language.RU}))
    await center.add_operator("both", capabilities=frozenset(Capability))
    operators: list[Browser] = []
    try:
        ru = await center.browser("ru")
        operators.append(ru)
        await ru.ready()
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(center.url + "/login?lang=ru")
        await page.locator("input[name=username]").fill("boss")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("#login").click()
        await page.wait_for_url(center.url + "/supervisor")

        panel = page.locator("#sv-rota")
        await expect(panel).to_have_attribute("aria-busy", "false")
        await expect(panel.locator("tbody")).to_have_count(4)  # this hour and the next three
        first = panel.locator("tbody").first
        short = first.locator('tr[data-group="102 kk+ru"]')
        await expect(short.locator("td.num").nth(0)).to_have_text("2")
        await expect(short.locator("td.num").nth(1)).to_have_text("0")
        await expect(short).to_have_class("short")
        await expect(short.locator(".rota-short")).to_have_text("⚠ Не хватает 2 операторов")
        enough = first.locator('tr[data-group="102 ru"]')
        await expect(enough.locator(".rota-ok")).to_have_text("Достаточно")
        await expect(first.locator("th[scope=rowgroup]")).to_have_text(HOUR)
        await expect(panel.locator("#sv-rota-published")).to_contain_text("almaty-weekday")
        await expect(panel.locator("#sv-rota-published")).to_contain_text("92.6 %")
        await expect(panel.locator("#sv-rota-now")).to_have_text(
            "Сейчас на линии (вошли и не отошли): 1; вошли в систему: 1."
        )

        # one more comes to the lines: the next read says one short, in each language
        both = await center.browser("both")
        operators.append(both)
        await both.ready()
        await page.reload()
        await expect(short.locator(".rota-short")).to_have_text("⚠ Не хватает 1 оператора")
        await page.goto(center.url + "/supervisor?lang=kk")
        await expect(short.locator(".rota-short")).to_have_text("⚠ 1 оператор жетіспейді")
        await page.goto(center.url + "/supervisor?lang=en")
        await expect(short.locator(".rota-short")).to_have_text("⚠ Short by 1 operator")
        await expect(page.locator("#sv-rota-table thead th").nth(2)).to_have_text("Needed")
        assert not errors, errors
    finally:
        for b in operators:
            await b.close()
