"""The supervisor's wallboard and charts in Debian's Chromium against a real server: with a
day of seeded contacts and arrivals, the four uPlot charts draw (a canvas each, their legends
in words), the wallboard fills, the printable report opens for the chosen period, and the page
logs no script or console error of its own.

Screenshot for a human look: /tmp/contact-supervisor-charts.png."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, expect

from contact.dispatch.sql.tables import DispatchRow
from contact.domain.model import ChannelKind, Contact, ContactState, Priority, Role, new_id
from tests.support import PASSWORD, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
CHARTS_SHOT = "/tmp/contact-supervisor-charts.png"
# a minute over an hour ago, as the period form takes it (local, 24-hour)
# an hour and a minute ago on the centre's clock (Asia/Almaty), as the form takes it
HOUR_AGO_JS = """() => I18n.dateTime(new Date(Date.now() - 3660e3))"""
CHARTS = ("ch-hour", "ch-answer", "ch-response", "ch-district")


async def seed(center: Center) -> None:
    now = datetime.now(UTC)
    channels = (ChannelKind.VOICE, ChannelKind.TELEGRAM, ChannelKind.APP)
    for i in range(30):
        created = now - timedelta(minutes=40 * i + 5)
        queued = created + timedelta(seconds=1)
        abandoned = i % 7 == 0
        await center.container.db.contacts.add(
            Contact(
                id=new_id(),
                channel=channels[i % 3],
                priority=Priority.VOICE,
                created_at=created,
                state=ContactState.ABANDONED if abandoned else ContactState.CLOSED,
                queued_at=queued,
                answered_at=None if abandoned else queued + timedelta(seconds=3 + 2 * i),
            )
        )
    async with center.container.db._store.write() as session:
        for i, district in enumerate(("d1", "d1", "d2", "d3")):
            received = now - timedelta(hours=2 + i)
            session.add(
                DispatchRow(
                    id=new_id(),
                    contact_id=new_id(),
                    unit_id=f"u{i}",
                    operator_id="op",
                    district_id=district,
                    lat=43.2,
                    lon=76.9,
                    state="completed",
                    received_at=received,
                    dispatched_at=received + timedelta(seconds=30),
                    arrived_at=received + timedelta(seconds=240 + 120 * i),
                    response_s=240.0 + 120 * i,
                    first_on_scene=True,
                )
            )


def own_error(msg: ConsoleMessage) -> bool:
    """A console error of this page's own making. The live-calls list asks /api/v1/calls,
    which a center without telephony answers 404 (supervisor.js hides the section then)."""
    return msg.type == "error" and "/api/v1/calls" not in (msg.location.get("url") or "")


async def test_the_charts_and_the_wallboard_render(center: Center, context: BrowserContext) -> None:
    await seed(center)
    await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.report("Пожар, горит машина", language="ru", device_id="device-charts-01")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if own_error(msg) else None)
    await page.goto(center.url + "/login")
    await page.locator("input[name=username]").fill("boss")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(center.url + "/supervisor", timeout=WAIT_MS)

    charts = page.locator("#sv-charts")
    await expect(charts).to_have_attribute("data-rendered", re.compile(r"\d+"), timeout=WAIT_MS)
    for chart in CHARTS:
        await expect(page.locator(f"#{chart} canvas")).to_have_count(1)
        box = await page.locator(f"#{chart} canvas").bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100, (chart, box)
    # series are named in words (legend), not told by colour alone
    await expect(page.locator("#ch-hour .u-legend")).to_contain_text("Звонок 102")
    await expect(page.locator("#ch-hour .u-legend")).to_contain_text("Telegram")
    await expect(page.locator("#ch-answer .u-legend")).to_contain_text("в пределах цели")
    await expect(page.locator("#ch-response .u-legend")).to_contain_text("сверх цели")
    await expect(page.locator("#sv-charts-status")).to_have_text("Обращений: 31")
    # and in words for a screen reader
    await expect(page.locator("#ch-answer-desc")).to_contain_text("≤ 5 с: 1; ≤ 10 с: 2")
    await expect(page.locator("#ch-district-desc")).to_contain_text(
        "d1: медиана 5 мин, 90-й процентиль 6 мин"  # 4 and 6 min
    )
    # the hour axis in 24-hour local time
    labels = await page.locator("#ch-hour .u-axis").first.inner_text()
    assert "AM" not in labels and "PM" not in labels, labels

    # the wallboard: the waiting report (lifted to SOS by its words), the keyword alert
    await expect(page.locator("#wb-waiting")).to_have_text("1")
    await expect(page.locator("#wb-waiting-by-priority")).to_contain_text("SOS")
    await expect(page.locator("#wb-keywords")).to_contain_text("пожар")
    await expect(page.locator("#wb-answered")).not_to_have_text("—")
    await expect(page.locator("#wallboard")).to_have_attribute("aria-busy", "false")
    await page.screenshot(path=CHARTS_SHOT, full_page=True)

    # the printable report of the chosen period, in a new tab
    async with page.context.expect_page() as opened:
        await page.locator("#sv-print").click()
    report = await opened.value
    await report.wait_for_load_state()
    await expect(report.locator("h1")).to_have_text("Отчёт за смену")
    await expect(report.locator("#report-totals")).to_contain_text("31")
    # a period typed in 24-hour local time; a malformed one is named, not sent
    await page.locator("#sv-from").fill("31.02.2026 08:00")
    await page.locator("#sv-show").click()
    await expect(page.locator("#sv-charts-status")).to_have_text("ДД.ММ.ГГГГ ЧЧ:ММ, 24 часа")
    hour_ago = await page.evaluate(HOUR_AGO_JS)
    await page.locator("#sv-from").fill(hour_ago)
    await page.locator("#sv-show").click()
    await expect(page.locator("#sv-charts-status")).to_have_text(
        "Обращений: 3"
    )  # -5 min, -45 min, now
    href = await page.locator("#sv-csv").get_attribute("href")
    assert href and "from=" in href and "to=" in href and "tz=" in href, href

    # in Kazakh: the tiles, the chart legends
    await page.goto(center.url + "/supervisor?lang=kk")
    await expect(page.locator("#sv-charts")).to_have_attribute("data-rendered", re.compile(r"\d+"))
    await expect(page.locator("#wb-keywords")).to_contain_text("өрт")
    await expect(page.locator("#ch-answer .u-legend")).to_contain_text("мақсат шегінде")
    await expect(page.locator("#ch-hour .u-legend")).to_contain_text("102 қоңырауы")
    assert not errors, errors
