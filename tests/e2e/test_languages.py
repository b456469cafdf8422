"""The pages' texts in a real browser, in Kazakh, Russian and English: intl-messageformat and
Intl.* in Chromium give the same plural forms, spans and forms of a person as the server's
ICU formatting (contact.i18n), times are 24-hour on the centre's clock whatever the browser's
own locale, and a woman away reads «Отошла» on the supervisor's page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Page, expect

from contact.domain.model import Role
from contact.i18n import CATALOGUE, clock, duration, message, zone_named
from tests.e2e.test_operator_browser import connected, log_in
from tests.support import Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
COUNTS = (0, 1, 2, 5, 11, 21, 22, 25, 101, 68000)
SPANS = (0, 7, 59, 60, 103, 3599, 3600, 17_290)


async def signed_in(chromium: Browser, center: Center, username: str, lang: str) -> Page:
    # the browser's own locale is American English with a 12-hour clock: the pages ignore it
    ctx = await chromium.new_context(locale="en-US", timezone_id="America/New_York")
    page = await ctx.new_page()
    await log_in(page, center, username, path=f"/login?lang={lang}")
    await page.wait_for_url(lambda url: "/login" not in url)
    await connected(page)
    return page


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
async def test_the_browser_formats_as_the_server_does(
    center: Center, chromium: Browser, lang: str
) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    page = await signed_in(chromium, center, "boss", lang)
    assert await page.evaluate("I18n.lang") == lang
    plural_keys = [k for k, v in CATALOGUE.items() if ", plural," in v.get(lang, "")]
    assert "ui.units_count" in plural_keys and "ui.dispatch_sent_count" in plural_keys
    shown = await page.evaluate(
        "([keys, counts]) => keys.map((k) => counts.map((n) => I18n.t(k, { count: n })))",
        [plural_keys, list(COUNTS)],
    )
    expected = [[message(k, lang, count=n) for n in COUNTS] for k in plural_keys]
    assert shown == expected
    for form in ("female", "male", "other"):
        keys = ["presence.ready", "presence.busy", "presence.away"]
        got = await page.evaluate("([ks, g]) => ks.map((k) => I18n.presence(k.slice(9), g))",
                                  [keys, form])  # fmt: skip
        assert got == [message(k, lang, gender=form) for k in keys]
    spans = await page.evaluate("(xs) => xs.map(I18n.duration)", list(SPANS))
    assert spans == [duration(s, lang) for s in SPANS]
    # 23:48:24 UTC is 04:48:24 the next morning in Almaty (the centre's zone, not the browser's)
    at = datetime(2026, 12, 7, 23, 48, 24, tzinfo=UTC)
    shown_at = await page.evaluate(
        "(iso) => [I18n.clock(iso), I18n.clock(iso, false)]", at.isoformat()
    )
    almaty = zone_named("Asia/Almaty")
    assert (
        shown_at == [clock(at, almaty), clock(at, almaty, seconds=False)] == ["04:48:24", "04:48"]
    )
    # the period form's date and time: the centre's wall clock, and back to the same moment
    shown_at = await page.evaluate(
        "(iso) => [I18n.dateTime(iso), I18n.fromWall(2026, 12, 8, 4, 48).toISOString()]",
        at.isoformat(),
    )
    assert shown_at == ["08.12.2026 04:48", "2026-12-07T23:48:00.000Z"]
    # the role beside the name is a word of the page's language
    role = message("role.supervisor", lang)
    await expect(page.locator("#who")).to_have_text(f"Boss ({role})")
    await page.context.close()


async def test_the_supervisor_reads_each_operator_in_her_form(
    center: Center, chromium: Browser
) -> None:
    await center.add_operator("aigerim")
    await center.add_operator("boss", role=Role.SUPERVISOR)
    dana = await center.browser("aigerim")
    try:
        await dana.post("/api/v1/me/preferences", {"gender": "female"})
        await dana.post("/api/v1/me/presence", {"presence": "away"})
        page = await signed_in(chromium, center, "boss", "ru")
        row = page.locator(f'#wb-operator-table tr[data-id="{dana.operator_id}"] .presence')
        await expect(row).to_have_text("Отошла")
        await dana.post("/api/v1/me/preferences", {"gender": "other"})
        await page.reload()
        await expect(row).to_have_text("Нет на месте")
        # the events list names what happened, never the raw type, with a 24-hour time
        await dana.post("/api/v1/me/presence", {"presence": "ready"})
        event = page.locator("#sv-events li").first
        await expect(event).to_contain_text("Принимает обращения")
        assert "operator.presence_changed" not in await event.inner_text()
        stamp = await event.locator("time").inner_text()
        assert len(stamp) == 8 and stamp[2] == ":" and "M" not in stamp
        await page.context.close()
    finally:
        await dana.close()


async def test_a_signed_in_users_choice_follows_her(center: Center, chromium: Browser) -> None:
    await center.add_operator("aigerim")
    page = await signed_in(chromium, center, "aigerim", "ru")
    await page.locator('.langs a[data-lang="en"]').click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#go-ready")).to_have_text("Ready")
    await page.context.close()
    # another browser, no cookie, no ?lang: her account's language
    other = await signed_in(chromium, center, "aigerim", "")
    await other.goto(center.url + "/")
    await expect(other.locator("html")).to_have_attribute("lang", "en")
    await other.context.close()
