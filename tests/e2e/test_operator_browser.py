"""The operator's and supervisor's pages in a real browser against a real server: log in,
go ready, get a citizen's report pushed live as an offer, accept, reply, close; the citizen
sees the reply; the Kazakh UI; the supervisor's room updating live.

Screenshots for a human look: /tmp/contact-operator.png (a contact being worked, two waiting),
/tmp/contact-offer.png (an SOS offer), /tmp/contact-supervisor.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect

from contact.domain.model import Role
from tests.support import APP_KEY, PASSWORD, Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
OPERATOR_SHOT = "/tmp/contact-operator.png"
SUPERVISOR_SHOT = "/tmp/contact-supervisor.png"
OFFER_SHOT = "/tmp/contact-offer.png"


async def open_page(context: BrowserContext) -> tuple[Page, list[str]]:
    """A new tab, and the list its uncaught script errors go to."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def log_in(page: Page, center: Center, username: str, path: str = "/login") -> None:
    await page.goto(center.url + path)
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()


async def connected(page: Page) -> None:
    """The page's WebSocket is open: pushes from now on reach it."""
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")


async def citizen_view(center: Center, report_id: str, device: str) -> Any:
    async with center.client.get(
        f"/api/v1/app/reports/{report_id}",
        headers={"X-Api-Key": APP_KEY, "X-Device-Id": device},
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_operator_accepts_replies_and_closes(center: Center, context: BrowserContext) -> None:
    await center.add_operator("aigerim")
    page, errors = await open_page(context)

    # 1. log in through the form, land on the queue, go ready
    await log_in(page, center, "aigerim")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)
    presence = page.locator("#presence")
    await expect(presence).to_have_text("Нет на месте")
    await page.locator("#go-ready").click()
    await expect(presence).to_have_text("Принимает обращения")
    await expect(page.locator("#depth")).to_have_text("0")
    await expect(page.locator("#queue-empty")).to_be_visible()

    # 2. a citizen's report arrives: pushed live as an offer, the queue counter moves
    device = "device-browser-01"
    text = "Во дворе драка, двое мужчин"
    report_id = await center.report(
        text, device_id=device, language="ru", location={"lat": 43.238, "lon": 76.945}
    )
    offer = page.locator("#offer")
    await expect(offer).to_be_visible()
    await expect(offer.locator(".summary")).to_have_text(text)
    await expect(offer).to_contain_text("43.23800, 76.94500")
    await expect(page.locator("#depth")).to_have_text("1")
    await expect(page.locator(f"#queue tr[data-id='{report_id}']")).to_be_visible()
    await expect(page.locator("#queue-empty")).to_be_hidden()
    await expect(presence).to_have_text("Предложено")

    # 3. accept, read the citizen's message, reply
    await page.locator("#accept").click()
    await expect(offer).to_be_hidden()
    current = page.locator("#current")
    await expect(current).to_be_visible()
    messages = current.locator("#messages")
    await expect(messages.locator(".msg.in .text")).to_have_text([text])
    await expect(presence).to_have_text("Работает с обращением")
    await expect(page.locator("#depth")).to_have_text("0")
    reply = "Наряд выехал, оставайтесь на месте"
    await page.locator("#reply-text").fill(reply)
    await page.locator("#reply").click()
    await expect(messages.locator(".msg.out .text")).to_have_text([reply])
    await expect(page.locator("#reply-text")).to_have_value("")

    # more reports while she is busy: they queue live, the most urgent on top
    sos_text = "Помогите, сосед ходит с ножом"
    chat_id = await center.report("Громкая музыка", device_id="device-browser-02")
    sos_id = await center.report(sos_text, device_id="device-browser-03", language="ru")
    await expect(page.locator("#depth")).to_have_text("2")
    rows = page.locator("#queue tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_have_attribute("data-id", sos_id)
    await expect(rows.nth(0).locator(".prio.p1")).to_have_text("SOS")
    await expect(rows.nth(1)).to_have_attribute("data-id", chat_id)
    await page.screenshot(path=OPERATOR_SHOT, full_page=True)

    # 4. the citizen's app sees the reply
    seen = await citizen_view(center, report_id, device)
    assert [r["text"] for r in seen["replies"]] == [reply]
    assert seen["status"] == "in_progress"

    # 5. close: the panel goes away and the SOS is offered to her at once
    # the incident type and the outcome are required on close
    await page.locator("#incident-type").select_option("other")
    await page.locator("#outcome").select_option("advised")
    await page.locator("#close").click()
    await expect(current).to_be_hidden()
    assert (await citizen_view(center, report_id, device))["status"] == "closed"
    await expect(offer).to_be_visible()
    await expect(offer.locator(".summary")).to_have_text(sos_text)
    await expect(offer).to_have_class(re.compile(r"\bp1\b"))
    await expect(presence).to_have_text("Предложено")
    await expect(page).to_have_title(re.compile("Новое обращение"))
    await page.screenshot(path=OFFER_SHOT, full_page=True)
    # a reload (or a dropped socket) does not lose the offer: the page asks for it again
    await page.reload()
    await connected(page)
    await expect(offer.locator(".summary")).to_have_text(sos_text)
    await expect(page.locator("#accept")).to_be_focused()
    assert not errors, errors


async def test_kazakh_interface(center: Center, context: BrowserContext) -> None:
    await center.add_operator("nurlan")
    page, errors = await open_page(context)
    await page.goto(center.url + "/login?lang=kk")
    await expect(page.locator("html")).to_have_attribute("lang", "kk")
    await expect(page.locator("#login")).to_have_text("Кіру")
    await log_in(page, center, "nurlan", "/login?lang=kk")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)
    # the language cookie carries over; labels rendered by the server and by the script
    await expect(page.locator("html")).to_have_attribute("lang", "kk")
    await expect(page.locator(".queue-col h2")).to_contain_text("Кезек")
    await expect(page.locator("#queue-empty")).to_have_text("Кезек бос")
    await expect(page.locator("#go-ready")).to_have_text("Дайын")
    await expect(page.locator("#presence")).to_have_text("Орнында жоқ")
    await page.locator("#go-ready").click()
    await expect(page.locator("#presence")).to_have_text("Дайын")
    # and back to Russian through the link in the top bar
    await page.get_by_role("link", name="Русский").click()
    await expect(page.locator("#go-ready")).to_have_text("Начать приём")
    assert not errors, errors


# what the wallboard reads fresh (?part=room): what waits and who works
ROOM_KEYS = (
    "room_at",
    "waiting",
    "waiting_total",
    "offered",
    "longest_wait_s",
    "over_target_now",
    "answer_target_s",
    "sla_breaches",
    "operators_by_state",
    "operators",
    "operators_total",
)


async def polls_bring_no_room(page: Page) -> list[str]:
    """From now on the wallboard's 5 s reading of the whole board brings only its database part
    (the shift, keywords, kiosks, units): whatever moves in the room on the page moved because
    a push made the page ask for the room (`?part=room`). Returns the URLs of those asks."""
    asked: list[str] = []

    async def handle(route: Route) -> None:
        if "part=room" in route.request.url:
            asked.append(route.request.url)
            await route.continue_()
            return
        response = await route.fetch()
        body = await response.json()
        for key in ROOM_KEYS:
            body.pop(key, None)
        await route.fulfill(response=response, json=body)

    await page.route("**/api/v1/supervisor/wallboard*", handle)
    return asked


async def test_supervisor_sees_the_queue_grow(center: Center, context: BrowserContext) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.add_operator("dana")
    page, errors = await open_page(context)
    await log_in(page, center, "boss")
    await page.wait_for_url(center.url + "/supervisor", timeout=WAIT_MS)
    await connected(page)
    await expect(page.locator("#wallboard")).to_have_attribute("aria-busy", "false")
    await expect(page.locator("#wb-waiting")).to_have_text("0")
    await expect(page.locator("#wb-longest")).to_have_text("—")
    asked = await polls_bring_no_room(page)

    # every change below reaches the wallboard through a push, not its 5 s reading
    await center.report(language="ru", device_id="device-browser-02")
    await expect(page.locator("#wb-waiting")).to_have_text("1")
    await expect(page.locator("#wb-longest")).to_have_text(re.compile(r"^\d+ с$"))
    await center.report("Помогите, у него нож", language="ru", device_id="device-browser-03")
    await expect(page.locator("#wb-waiting")).to_have_text("2")
    sos = page.locator('#wb-waiting-by-priority li[data-priority="sos"] strong')
    await expect(sos).to_have_text("1")
    dana = await center.browser("dana")  # an operator starts her shift: the SOS is offered
    try:
        await dana.ready()
        dana_row = page.locator("#wb-operator-table tr", has_text="Dana")
        await expect(dana_row.locator(".presence")).to_have_text("Предложено")
        await expect(dana_row.locator("td.num")).to_have_text(re.compile(r"^\d+ с$"))
        await expect(page.locator("#wb-operators li.presence-offered strong")).to_have_text("1")
        await expect(page.locator("#wb-operator-count")).to_have_text("1")
        # an offered contact still waits for its answer
        await expect(page.locator("#wb-waiting")).to_have_text("2")
        await expect(page.locator("#wb-offered")).to_have_text("1")
        await expect(page.locator("#sv-events li").first).to_contain_text("Dana: Предложено")
        assert asked, "the page never asked for the room on a push"
        await page.screenshot(path=SUPERVISOR_SHOT, full_page=True)
    finally:
        await dana.close()
    assert not errors, errors
