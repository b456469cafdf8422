"""Accessibility in Debian's Chromium: axe-core (web/node_modules, installed from npm with the
pages' libraries; nothing is fetched from the internet) runs in every page — login, the
operator's queue and contact, the supervisor's room with its wallboard and charts, the shift
report, the error pages — and any serious or critical violation (WCAG 2.1 A/AA: labels,
contrast, focus order, names, colour-only links…) fails the test, listed rule by rule with the
elements it found. Screenshots for a human look: /tmp/axe/*.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from contact.domain.model import Role
from contact.persistence.rota import RotaEntry
from tests.e2e.test_operator_browser import connected, log_in
from tests.support import PASSWORD, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
SHOTS = Path("/tmp/axe")
# WCAG 2.0/2.1 A and AA, and axe's best practices (landmarks, headings, focus order…)
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN = """async (tags) => {
  const only = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
  const r = await axe.run(document, only);
  return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => n.target.join(" ") + " — "
      + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240)),
  }));
}"""


SHOTS.mkdir(parents=True, exist_ok=True)


def need_axe() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `cd web && npm ci` installs axe-core", pytrace=False)
    return AXE.read_text()


@pytest_asyncio.fixture(loop_scope="module")
async def audit_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    # the pages' Content-Security-Policy allows only their own scripts: the audit's script
    # goes in past it, the pages' own rules stay as they are
    ctx = await chromium.new_context(
        viewport={"width": 1366, "height": 768}, locale="ru-RU", bypass_csp=True
    )
    try:
        yield ctx
    finally:
        await ctx.close()


async def serious_violations(page: Page, name: str) -> list[str]:
    """axe's serious and critical findings on the page as it is now, one line per rule."""
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(content=need_axe())
    found = await page.evaluate(RUN, TAGS)
    return [
        f"{name}: {v['id']} ({v['impact']}) {v['help']}\n      " + "\n      ".join(v["nodes"])
        for v in found
    ]


async def test_login_and_error_pages(center: Center, audit_context: BrowserContext) -> None:
    await center.add_operator("aigerim")
    page = await audit_context.new_page()
    found: list[str] = []
    for lang in ("ru", "kk", "en"):
        await page.goto(f"{center.url}/login?lang={lang}")
        found += await serious_violations(page, f"login-{lang}")
    # a wrong password: the message, the user name kept
    await page.goto(f"{center.url}/login?lang=ru")
    await page.locator("input[name=username]").fill("aigerim")
    await page.locator("input[name=password]").fill("wrong password")
    await page.locator("#login").click()
    await expect(page.locator(".error")).to_be_visible()
    found += await serious_violations(page, "login-failed")
    await page.goto(f"{center.url}/no-such-page")
    await expect(page.locator("h1")).to_have_text("Страница не найдена")
    found += await serious_violations(page, "error-404")
    # an operator on the supervisor's page: 403, as a page
    await page.goto(f"{center.url}/login")
    await page.locator("input[name=username]").fill("aigerim")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(center.url + "/")
    await page.goto(f"{center.url}/supervisor")
    await expect(page.locator("h1")).to_have_text("Нет доступа")
    found += await serious_violations(page, "error-403")
    assert not found, "\n".join(found)


async def test_supervisor_wallboard_charts_and_report(
    center: Center, audit_context: BrowserContext
) -> None:
    await center.add_operator("aigerim")
    boss = await center.add_operator("boss", role=Role.SUPERVISOR)
    at = datetime(2026, 12, 7, tzinfo=UTC)  # a rota for every hour: its panel has a short group
    await center.container.db.rota.publish(
        [
            RotaEntry(h, "102", 0, 3, ("kk", "ru"), ("voice",), "a11y", 0.9, at, boss)
            for h in range(168)
        ]
    )
    await center.report(
        "Во дворе мужчина с ножом, кричит", language="ru", device_id="device-a11y-1"
    )
    await center.report("Украли велосипед у подъезда", device_id="device-a11y-2")
    page = await audit_context.new_page()
    await log_in(page, center, "boss")
    await page.wait_for_url(center.url + "/supervisor")
    await connected(page)
    await expect(page.locator("#wallboard")).to_have_attribute("aria-busy", "false")
    await expect(page.locator("#wb-waiting")).to_have_text("2")
    await expect(page.locator("#sv-rota tr.short")).to_have_count(4)
    found = await serious_violations(page, "supervisor-ru")
    await page.goto(f"{center.url}/supervisor?lang=en")
    await expect(page.locator("#wallboard")).to_have_attribute("aria-busy", "false")
    found += await serious_violations(page, "supervisor-en")
    await page.goto(f"{center.url}/supervisor/report?lang=ru")
    found += await serious_violations(page, "report")
    assert not found, "\n".join(found)


async def operator_with_a_contact(center: Center, page: Page) -> list[str]:
    """The operator's page through a shift's steps: queue, offer, the contact being worked."""
    await log_in(page, center, "aigerim")
    await page.wait_for_url(center.url + "/")
    await connected(page)
    await center.report(
        "Во дворе мужчина с ножом, кричит", language="ru", device_id="device-a11y-3"
    )
    await expect(page.locator("#queue tbody tr")).to_have_count(1)
    found = await serious_violations(page, "operator-queue")
    await page.locator("#go-ready").click()
    await expect(page.locator("#offer")).to_be_visible()
    found += await serious_violations(page, "operator-offer")
    await page.locator("#accept").click()
    await expect(page.locator("#current")).to_be_visible()
    found += await serious_violations(page, "operator-contact")
    return found


async def test_operator_queue_offer_and_contact(
    center: Center, audit_context: BrowserContext
) -> None:
    await center.add_operator("aigerim")
    page = await audit_context.new_page()
    found = await operator_with_a_contact(center, page)
    # the same contact in English: longer words, the same names and contrast
    await page.goto(f"{center.url}/?lang=en")
    await expect(page.locator("#current")).to_be_visible()
    await expect(page.locator("#close")).to_have_text("Close the contact")
    found += await serious_violations(page, "operator-contact-en")
    assert not found, "\n".join(found)


async def test_a_contacts_own_page(center: Center, audit_context: BrowserContext) -> None:
    await center.add_operator("aigerim")
    page = await audit_context.new_page()
    await operator_with_a_contact(center, page)
    contact_id = await page.locator("#current").get_attribute("data-contact")
    await page.goto(f"{center.url}/contacts/{contact_id}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    await expect(page.locator("#messages li")).not_to_have_count(0)
    found = await serious_violations(page, "contact")
    assert not found, "\n".join(found)


async def test_the_admins_quick_replies_page(center: Center, audit_context: BrowserContext) -> None:
    await center.add_operator("admin", role=Role.ADMIN)
    page = await audit_context.new_page()
    await log_in(page, center, "admin")
    await page.wait_for_url(center.url + "/supervisor")
    await page.goto(f"{center.url}/admin/quick-replies")
    found = await serious_violations(page, "admin-qr")
    # a refused form: the summary, each field's problem, the cursor where to correct
    await page.locator("#qr-label").fill("x" * 41)
    await page.locator("#qr-submit").click()
    await expect(page.locator("#qr-errors")).to_be_visible()
    await expect(page.locator("#qr-label")).to_be_focused()
    found += await serious_violations(page, "admin-qr-refused")
    await page.goto(f"{center.url}/admin/quick-replies?edit=qr-kk-2&lang=en")
    await expect(page.locator("#qr-label")).to_be_focused()
    found += await serious_violations(page, "admin-qr-edit-en")
    await page.goto(f"{center.url}/admin/quick-replies?delete=qr-ru-2&lang=kk")
    await expect(page.locator("#qr-delete-yes")).to_be_focused()
    found += await serious_violations(page, "admin-qr-delete-kk")
    assert not found, "\n".join(found)
