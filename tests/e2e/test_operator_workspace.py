"""The operator's workplace in a real browser at 1366×768, against a whole center with a small
city (districts, cameras, units), a local stand-in geocoder and camera stills:

- the essentials are inside the viewport without scrolling (element boxes);
- queue rows: priority, channel icon, words, district, caller, keyword badge, ticking wait,
  language; the offer's countdown and its optional sound;
- the contact: the place in words (geocoder address, district, nearest camera), the caller's
  history, quick replies (click and Alt+1), timers, the map's labels, legend, accuracy circle,
  district outline and ETA note, stills refreshing, Alt+D dispatches the first suggestion, "?"
  shows the keys, close needs the incident type and the outcome;
- a reload in the middle of a chat, of a voice and of a video contact brings it back;
- the call's controls go to the telephony API (hold, transfer to a service, end);
- being set away says why.

Screenshots are test artifacts: under $CONTACT_TEST_ARTIFACTS, else <tmp>/contact-artifacts."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    FloatRect,
    Page,
    Route,
    ViewportSize,
    expect,
)

from contact.config import DispatchSettings, GeocoderSettings
from contact.dispatch.cameras import Camera
from contact.dispatch.geo import destination
from contact.dispatch.registry import import_cameras_into
from contact.dispatch.units import UnitKind
from contact.domain.commands import Abandon, RegisterContact
from contact.domain.model import ChannelKind, Gender, Language, Location, LocationSource
from tests.integration.dispatch_support import SCENE, load_city, parts_of
from tests.standins.places import PlaceServer, place_server
from tests.support import PASSWORD, Center, make_settings, start_center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
VIEW: ViewportSize = {"width": 1366, "height": 768}
ACCURACY_M = 150.0  # a network fix: the ring must be plain to see around the dot


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("CONTACT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()))
    where = root / "contact-artifacts" / request.node.name
    where.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {where}")
    return Path(where)


@pytest_asyncio.fixture(loop_scope="module")
async def places() -> AsyncIterator[PlaceServer]:
    async with place_server() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="module")
async def desk(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """The operator's screen: 1366×768, Russian."""
    ctx = await chromium.new_context(viewport=VIEW, locale="ru-RU")
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture(loop_scope="module")
async def city(tmp_path: Path, places: PlaceServer) -> AsyncIterator[Center]:
    """A center with the stand-in geocoder, the small demo city and two cameras at the scene
    whose stills come from the stand-in."""
    settings = make_settings(tmp_path, offer_timeout_s=20.0)
    settings = settings.model_copy(
        update={
            "geocoder": GeocoderSettings(url=places.url, timeout_s=1.0),
            "dispatch": DispatchSettings(camera_allow_loopback=True, reload_check_s=3600),
        }
    )
    center = await start_center(settings)
    try:
        await load_city(center)
        p = parts_of(center)
        south = destination(SCENE.lat, SCENE.lon, 180, 50)
        west = destination(SCENE.lat, SCENE.lon, 270, 70)
        await import_cameras_into(
            p.repo,
            [
                Camera(
                    "CAM-A1",
                    south.lat,
                    south.lon,
                    0.0,
                    70.0,
                    150.0,
                    "rtsp://cam.test/a1",
                    snapshot_url=f"{places.url}/stills/a1.png",
                ),
                Camera(
                    "CAM-A2",
                    west.lat,
                    west.lon,
                    90.0,
                    70.0,
                    150.0,
                    "rtsp://cam.test/a2",
                    snapshot_url=f"{places.url}/stills/a2.png",
                ),
            ],
            allow_loopback=True,
        )
        await p.service.reload_map(force=True)
        await add_units(
            center, ("ALM-11", UnitKind.CAR, 900, 45), ("ALM-12", UnitKind.FOOT, 350, 300)
        )
        yield center
    finally:
        await center.client.close()


async def add_units(center: Center, *spots: tuple[str, UnitKind, float, float]) -> None:
    from contact.dispatch.registry import NewUnit, add_unit

    p = parts_of(center)
    made = []
    for callsign, kind, metres, bearing in spots:
        record, _ = await add_unit(p.repo, NewUnit(callsign, kind))
        made.append((record.id, destination(SCENE.lat, SCENE.lon, bearing, metres)))
    await p.service.reload_units()
    for unit_id, at in made:
        await p.service.update_position(unit_id, at.lat, at.lon, 5.0)


async def open_desk(
    context: BrowserContext, center: Center, username: str
) -> tuple[Page, list[str]]:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(center.url + "/login")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    return page, errors


async def box(page: Page, selector: str) -> FloatRect:
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


async def within_viewport(page: Page, *selectors: str) -> None:
    """Each element is visible, whole, inside 1366×768 with the page not scrolled."""
    assert await page.evaluate("() => [window.scrollX, window.scrollY]") == [0, 0]
    for selector in selectors:
        await expect(page.locator(selector).first).to_be_visible()
        b = await box(page, selector)
        assert b["x"] >= 0 and b["y"] >= 0, (selector, b)
        assert b["x"] + b["width"] <= VIEW["width"] + 0.5, (selector, b)
        assert b["y"] + b["height"] <= VIEW["height"] + 0.5, (selector, b)
    # and the page itself does not scroll
    assert await page.evaluate("() => document.documentElement.scrollHeight <= innerHeight + 1")


def located(lat: float = SCENE.lat, lon: float = SCENE.lon) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "accuracy_m": ACCURACY_M}


# --- the whole desk -------------------------------------------------------------------------


async def test_the_desk_shows_what_matters_within_one_screen(
    city: Center, desk: BrowserContext, places: PlaceServer, artifacts: Path
) -> None:
    await city.add_operator("aigerim")
    device = "device-desk-01"
    # an earlier contact of the same device, gone before anyone answered: the history shows it
    earlier = await city.report("Шумят соседи", device_id=device, language="ru")
    await city.container.bus.execute(Abandon(contact_id=earlier))
    page, errors = await open_desk(desk, city, "aigerim")
    # the offer's sound is her setting: off at first, on by the button, kept over a reload
    await expect(page.locator("#offer-sound")).to_have_attribute("aria-pressed", "false")
    await page.locator("#offer-sound").click()
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    await expect(page.locator("#offer-sound")).to_have_attribute("aria-pressed", "true")

    # the queue: words, district, caller, keyword badge, language, a ticking wait
    fight = await city.report(
        "Во дворе драка, мужчина с ножом", device_id=device, language="ru", location=located()
    )
    row = page.locator(f"#queue tr[data-id='{fight}']")
    await expect(row.locator(".q-snippet")).to_contain_text("Во дворе драка, мужчина с ножом")
    await expect(row.locator(".q-district")).to_have_text("Алмалинский район")
    await expect(row.locator(".q-caller")).to_have_text(device)
    await expect(row.locator(".ch-icon")).to_have_attribute("aria-label", "Приложение")
    await expect(row.locator(".q-lang")).to_have_text("RU")
    await expect(row.locator(".kw")).to_have_text("⚠ Оружие")
    first = await row.locator(".wait").text_content()
    await page.wait_for_timeout(2100)
    assert await row.locator(".wait").text_content() != first
    await expect(page.locator("#queue tbody tr").first).to_have_attribute("data-id", fight)
    await page.screenshot(path=artifacts / "1-queue.png")

    # the offer: a countdown, the sound (on by her setting), Accept in view
    await page.locator("#go-ready").click()
    offer = page.locator("#offer")
    await expect(offer).to_be_visible()
    await expect(page.locator("#offer-countdown")).to_have_text(re.compile(r"^(1\d|20) с$"))
    await expect(page.locator("body")).to_have_attribute("data-offer-beeps", "1")
    await within_viewport(page, "#accept", "#offer .summary", "#queue")
    await page.screenshot(path=artifacts / "2-offer.png")

    # accept with the keyboard; the contact in full
    await page.keyboard.press("Alt+Enter")
    await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
    await expect(page.locator("#place .address")).to_have_text("проспект Абая 10, Алматы")
    await expect(page.locator("#place .district")).to_contain_text("Алмалинский")
    await expect(page.locator("#place .nearest")).to_contain_text("CAM-A1")
    assert places.reverse_hits and places.reverse_hits[-1]["accept-language"] == "ru"
    await expect(page.locator("#history-count")).to_have_text("1")
    await expect(page.locator("#history-list li")).to_have_attribute("data-id", earlier)
    await expect(page.locator("#open-timer")).to_have_text(re.compile(r"^0:0\d$"))

    # the map: labels, legend, accuracy circle drawn, district outline, ETA explained
    await page.wait_for_function("() => DispatchMap.map && DispatchMap.map.getZoom() > 0")
    await expect(page.locator("#dispatch-units tbody tr[data-unit]")).to_have_count(2)
    circle = page.locator("#dispatch-map path.map-accuracy")
    await expect(circle).to_have_count(1)
    drawn = await circle.bounding_box()
    dot = await box(page, "#dispatch-map path.map-contact")
    assert drawn is not None and drawn["width"] > 2 * dot["width"], (drawn, dot)
    await expect(page.locator("#dispatch-map path.map-district")).to_have_count(1)
    await expect(page.locator("#dispatch-map .map-district-label")).to_have_text(
        "Алмалинский район"
    )
    await expect(page.locator("#dispatch-map .map-label", has_text="ALM-11")).to_be_visible()
    await expect(page.locator("#dispatch-map .map-label", has_text="Заявитель")).to_be_visible()
    await expect(page.locator("#map-legend li")).to_have_count(6)
    await expect(page.locator("#eta-note")).to_contain_text("по прямой")
    await expect(page.locator("#eta-note")).to_contain_text("7 мин")

    # the essentials, all in view at once
    await within_viewport(
        page,
        "#queue",
        "#current-meta",
        "#place",
        "#messages",
        "#quick-replies .qr",
        "#reply-text",
        "#reply",
        "#incident-type",
        "#outcome",
        "#close",
        "#dispatch-map",
        "#dispatch-units button.dispatch-send",
    )
    await page.screenshot(path=artifacts / "3-contact.png")

    # the cameras' stills refresh by themselves
    still = page.locator("#dispatch-cameras img[data-snapshot]").first
    await expect(still).to_have_attribute("data-refreshed", "1", timeout=8_000)
    assert sum(places.stills.values()) >= 2

    # quick replies: a click, then Alt+2, fill the reply box; Ctrl+Enter sends
    await page.locator("#quick-replies .qr").first.click()
    await expect(page.locator("#reply-text")).to_have_value(
        "Наряд полиции уже выехал к вам. Оставайтесь на месте."
    )
    await page.locator("#reply-text").fill("")
    await page.keyboard.press("Alt+2")
    await expect(page.locator("#reply-text")).to_have_value(
        "Уточните, пожалуйста, точный адрес или ориентир."
    )
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#messages .msg.out .text")).to_have_text(
        ["Уточните, пожалуйста, точный адрес или ориентир."]
    )

    # "?" shows the keys; Escape hides them
    await page.locator("body").click(position={"x": 5, "y": 760})
    await page.keyboard.press("?")
    await expect(page.locator("#help")).to_be_visible()
    await expect(page.locator("#help dd")).to_contain_text(["Принять предложение"])
    await page.screenshot(path=artifacts / "4-keys.png")
    await page.keyboard.press("Escape")
    await expect(page.locator("#help")).to_be_hidden()

    # Alt+D sends the first suggested unit
    await page.keyboard.press("Alt+D")
    await expect(page.locator("#dispatch-sent li")).to_have_count(1)

    # close needs an incident type and an outcome
    await page.locator("#close").click()
    await expect(page.locator("#current")).to_be_visible()
    assert await page.evaluate(
        "() => document.getElementById('incident-type').validity.valueMissing"
    )
    await page.locator("#incident-type").select_option("weapon")
    await page.locator("#outcome").select_option("unit_dispatched")
    await page.keyboard.press("Alt+C")
    await expect(page.locator("#current")).to_be_hidden()
    closed = await city.container.db.contacts.get(fight)
    assert closed.disposition == "weapon/unit_dispatched"
    assert not errors, errors


async def test_reload_in_the_middle_of_a_chat_a_call_and_a_video_call(
    city: Center, desk: BrowserContext, artifacts: Path
) -> None:
    await city.add_operator("dana", gender=Gender.FEMALE)
    page, errors = await open_desk(desk, city, "dana")
    bus = city.container.bus
    where = Location(SCENE.lat, SCENE.lon, ACCURACY_M, LocationSource.NETWORK)
    for channel, shot in (
        (ChannelKind.APP, "chat"),
        (ChannelKind.VOICE, "voice"),
        (ChannelKind.VIDEO, "video"),
    ):
        if channel is ChannelKind.APP:
            contact_id = await city.report(
                "Сосед стучит в дверь", device_id="device-reload", language="ru"
            )
        else:
            registered = await bus.execute(
                RegisterContact(
                    channel=channel,
                    text="",
                    language=Language.RU,
                    citizen="+77010000001",
                    location=where,
                )
            )
            contact_id = registered.contact_id
        await page.locator("#go-ready").click()
        await expect(page.locator("#offer")).to_be_visible()
        # her sound setting is off (the default): an offer makes no sound
        assert await page.get_attribute("body", "data-offer-beeps") is None
        await page.locator("#accept").click()
        await expect(page.locator("#current")).to_have_attribute("data-contact", contact_id)
        if channel is ChannelKind.APP:
            await page.locator("#reply-text").fill("Выезжаем")
            await page.locator("#reply").click()
            await expect(page.locator("#messages .msg.out")).to_have_count(1)
        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-connection", "open")
        await expect(page.locator("#current")).to_have_attribute("data-contact", contact_id)
        await expect(page.locator("#presence")).to_have_text("Занята")  # in her form
        if channel is ChannelKind.APP:
            await expect(page.locator("#messages .msg .text")).to_have_text(
                ["Сосед стучит в дверь", "Выезжаем"]
            )
        else:
            await expect(page.locator("#transcript")).to_be_visible()
            await expect(page.locator("#cur-badges .ch-icon")).to_have_attribute(
                "aria-label", "Звонок 102" if channel is ChannelKind.VOICE else "Видеозвонок"
            )
        if channel is ChannelKind.APP:
            await within_viewport(page, "#reply-text", "#close", "#incident-type")
        else:  # a call: no reply box, the transcript instead
            await expect(page.locator("#reply-text")).to_be_hidden()
            await within_viewport(page, "#transcript", "#close", "#incident-type")
        await page.screenshot(path=artifacts / f"reloaded-{shot}.png")
        await page.locator("#incident-type").select_option("other")
        await page.locator("#outcome").select_option("advised")
        await page.locator("#close").click()
        await expect(page.locator("#current")).to_be_hidden()
    assert not errors, errors


async def test_call_controls_use_the_telephony_api(city: Center, desk: BrowserContext) -> None:
    """Without Asterisk here, the telephony API is answered by the test: what matters is what
    the page asks for (hold, resume, a transfer to 112 with the incident, hang up)."""
    await city.add_operator("marat")
    page = await desk.new_page()
    asked: list[tuple[str, str, Any]] = []

    async def calls(route: Route) -> None:
        request = route.request
        body = request.post_data_json if request.method == "POST" and request.post_data else None
        asked.append((request.method, request.url.split("/api/v1/calls/")[1], body))
        contact_id = request.url.split("/api/v1/calls/")[1].split("/")[0]
        live = {"id": "call-1", "contact_id": contact_id, "state": "connected", "kind": "voice"}
        if request.method == "GET":
            await route.fulfill(json={"live": live, "calls": [live], "recordings": []})
        else:
            await route.fulfill(json=live)

    await page.route("**/api/v1/calls/**", calls)
    await page.add_init_script(
        """new MutationObserver((_, obs) => {
  const op = document.querySelector("[data-operator]");
  if (op) { op.dataset.telephony = "on"; obs.disconnect(); }
}).observe(document, { childList: true, subtree: true });"""
    )
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(city.url + "/login")
    await page.locator("input[name=username]").fill("marat")
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(city.url + "/")
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    registered = await city.container.bus.execute(
        RegisterContact(
            channel=ChannelKind.VOICE, text="", language=Language.RU, citizen="+77010000002"
        )
    )
    call = registered.contact_id
    await page.locator("#go-ready").click()
    await page.locator("#accept").click()
    bar = page.locator("#call-bar")
    await expect(bar).to_be_visible()
    await page.locator("#call-hold").click()
    await expect(page.locator("#call-hold")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#call-hold")).to_have_text("Снять с удержания")
    await page.locator("#call-hold").click()
    await expect(page.locator("#call-hold")).to_have_attribute("aria-pressed", "false")
    await page.locator("#transfer-target").select_option("112")
    await page.locator("#call-transfer").click()
    await expect(page.locator("#call-bar-status")).to_contain_text("112")
    await page.locator("#call-end").click()
    await expect(page.locator("#call-bar-status")).not_to_have_text("…")
    posted = [(path, body) for method, path, body in asked if method == "POST"]
    assert posted == [
        (f"{call}/hold", None),
        (f"{call}/resume", None),
        (f"{call}/transfer", {"target": "112", "mode": "blind"}),
        (f"{call}/hangup", None),
    ]
    await page.close()
    assert not errors, errors


async def test_set_away_says_why(tmp_path: Path, desk: BrowserContext) -> None:
    center = await start_center(
        make_settings(tmp_path, offer_timeout_s=1.0, away_on_missed_offer=True)
    )
    try:
        await center.add_operator("erlan", gender=Gender.MALE)
        page, errors = await open_desk(desk, center, "erlan")
        await page.locator("#go-ready").click()
        await expect(page.locator("#presence")).to_have_text("Готов")
        await center.report("Помогите", device_id="device-away", language="ru")
        await expect(page.locator("#offer")).to_be_visible()
        await expect(page.locator("#presence")).to_have_text("Отошёл", timeout=8_000)
        await expect(page.locator("#op-notice")).to_have_text(
            "Статус «Отошёл»: предложение не принято вовремя. Нажмите «Готов», когда вернётесь."
        )
        await expect(page.locator("#offer")).to_be_hidden()
        await page.close()
        assert not errors, errors
    finally:
        await center.client.close()


# --- many contacts --------------------------------------------------------------------------

ORDER_JS = """() => [...document.querySelectorAll('#queue tbody tr')].map((tr) => tr.dataset.id)"""


async def test_fifty_contacts_in_five_seconds_all_render_in_priority_order(
    tmp_path: Path, desk: BrowserContext, artifacts: Path
) -> None:
    center = await start_center(make_settings(tmp_path))
    try:
        await center.add_operator("aliya")
        page, errors = await open_desk(desk, center, "aliya")
        texts = ["Украли велосипед у подъезда", "Во дворе мужчина с ножом", "Громкая музыка ночью"]
        started = asyncio.get_running_loop().time()
        ids = await asyncio.gather(
            *(
                center.report(texts[i % 3], device_id=f"device-burst-{i:02d}", language="ru")
                for i in range(50)
            )
        )
        assert asyncio.get_running_loop().time() - started < 5.0
        rows = page.locator("#queue tbody tr")
        await expect(rows).to_have_count(50, timeout=10_000)
        await expect(page.locator("#depth")).to_have_text("50")
        shown = await page.evaluate(ORDER_JS)
        assert sorted(shown) == sorted(ids)  # none lost, none twice
        # most urgent first, then the longest waiting (the arrival the server stored)
        stored = {c.id: c for c in [await center.container.db.contacts.get(i) for i in ids]}
        keys = [(int(stored[i].priority), stored[i].queued_at) for i in shown]
        assert keys == sorted(keys), keys
        assert len({k[0] for k in keys}) >= 2
        await page.screenshot(path=artifacts / "fifty.png")
        await page.close()
        assert not errors, errors
    finally:
        await center.client.close()


async def test_a_page_left_open_through_a_stream_of_traffic_stays_bounded(
    tmp_path: Path, chromium: Browser, artifacts: Path
) -> None:
    """Compressed traffic: 480 contacts arrive in waves of 12 while the oldest waiting are
    abandoned, so about 60 wait at any time (a busy hour at a few times its speed). The page's
    DOM and its JavaScript heap (measured after a garbage collection) stay flat."""
    from playwright.async_api import async_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    center = await start_center(make_settings(tmp_path))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--js-flags=--expose-gc"]
        )
        try:
            ctx = await browser.new_context(viewport=VIEW, locale="ru-RU")
            await center.add_operator("bolat")
            page, errors = await open_desk(ctx, center, "bolat")
            waiting: list[str] = []
            samples: list[tuple[int, int, int]] = []
            n = 0
            for wave in range(40):
                made = await asyncio.gather(
                    *(
                        center.report(
                            f"Обращение {n + i}: шум во дворе",
                            device_id=f"device-stream-{n + i:04d}",
                        )
                        for i in range(12)
                    )
                )
                n += 12
                waiting.extend(made)
                while len(waiting) > 60:
                    await center.container.bus.execute(Abandon(contact_id=waiting.pop(0)))
                if wave % 8 == 7:
                    await expect(page.locator("#depth")).to_have_text(
                        str(len(waiting)), timeout=10_000
                    )
                    await expect(page.locator("#queue tbody tr")).to_have_count(len(waiting))
                    samples.append(
                        await page.evaluate(
                            """async () => {
  await new Promise((r) => setTimeout(r, 300));
  gc();
  return [document.getElementsByTagName('*').length,
          performance.memory.usedJSHeapSize,
          document.querySelectorAll('#queue tbody tr').length];
}"""
                        )
                    )
            print("DOM nodes, JS heap bytes, rows at each sample:", samples)
            nodes = [s[0] for s in samples]
            heaps = [s[1] for s in samples]
            assert all(s[2] == 60 for s in samples)
            # flat: the last samples are no larger than the first beyond a small margin
            assert max(nodes) - min(nodes) <= 60, nodes
            assert heaps[-1] <= heaps[0] * 1.5 + 2_000_000, heaps
            await page.screenshot(path=artifacts / "stream.png")
            await page.close()
            assert not errors, errors
        finally:
            await browser.close()
            await center.client.close()


async def test_wrap_up_shows_its_own_timer_and_closes_from_the_bar(
    city: Center, desk: BrowserContext
) -> None:
    await city.add_operator("gulnar")
    page, errors = await open_desk(desk, city, "gulnar")
    contact_id = await city.report("Потерял паспорт", device_id="device-wrap", language="ru")
    await page.locator("#go-ready").click()
    await page.locator("#accept").click()
    await expect(page.locator("#current")).to_have_attribute("data-contact", contact_id)
    await expect(page.locator("#wrap-box")).to_be_hidden()
    # the contact goes to wrap-up (a call that ended does so by itself)
    await page.evaluate(
        "(id) => Contact.api('POST', `/contacts/${id}/close`, { wrap_up: true })", contact_id
    )
    await expect(page.locator("#wrap-box")).to_be_visible()
    await expect(page.locator("#wrap-timer")).to_have_text(re.compile(r"^0:0[1-9]$"), timeout=4_000)
    await page.locator("#incident-type").select_option("lost_documents")
    await page.locator("#outcome").select_option("advised")
    await page.locator("#close").click()
    await expect(page.locator("#current")).to_be_hidden()
    assert (await city.container.db.contacts.get(contact_id)).disposition == (
        "lost_documents/advised"
    )
    assert not errors, errors


# the page's own words (not the citizen's, not the city's place names) in Cyrillic, and any
# element of the desk whose text does not fit its box
CHROME_CHECK = """() => {
  const citizens = "#messages, #quick-replies, .q-snippet, .summary, .q-district, #place,"
    + " .district, .map-district-label, #dispatch-where, #history-list, .leaflet-tooltip";
  const cyrillic = [];
  const root = document.querySelector("main") || document.body;
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const host = n.parentElement;
    if (!/[\\u0400-\\u04FF]/.test(n.textContent) || host.closest(citizens)) continue;
    if (host.closest(".hidden")) continue;
    if (host.closest("script, style, .langs")) continue;
    cyrillic.push((host.id || host.className || host.tagName) + ": " + n.textContent.trim());
  }
  const overflowing = [];
  const boxes = ".operator button, .operator select, .operator label, .operator h2,"
    + " .operator h3, .operator th, .presence-bar > *, .close-bar > *, .map-legend li";
  for (const e of document.querySelectorAll(boxes)) {
    if (!e.offsetParent || e.closest(".visually-hidden")) continue;
    if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "auto")
      overflowing.push((e.id || e.className) + ": " + e.textContent.trim().slice(0, 40));
  }
  return { cyrillic, overflowing, wide: document.documentElement.scrollWidth };
}"""


async def test_the_desk_in_english_fits_and_speaks_english(
    city: Center, chromium: Browser, artifacts: Path
) -> None:
    await city.add_operator("john")
    ctx = await chromium.new_context(viewport=VIEW, locale="en-US")
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(city.url + "/login?lang=en")
        await page.locator("input[name=username]").fill("john")
        await page.locator("input[name=password]").fill(PASSWORD)
        await page.locator("#login").click()
        await page.wait_for_url(city.url + "/", timeout=WAIT_MS)
        await expect(page.locator("body")).to_have_attribute("data-connection", "open")
        await expect(page.locator("#go-ready")).to_have_text("Ready")
        fight = await city.report(
            "Во дворе драка, мужчина с ножом", device_id="device-en-1", language="ru",
            location=located(),
        )  # fmt: skip
        await expect(page.locator(f"#queue tr[data-id='{fight}']")).to_be_visible()
        await page.screenshot(path=artifacts / "en-1-queue.png")
        shown = await page.evaluate(CHROME_CHECK)
        assert not shown["cyrillic"] and not shown["overflowing"], shown

        await page.locator("#go-ready").click()
        await expect(page.locator("#offer")).to_be_visible()
        await expect(page.locator("#offer-countdown")).to_have_text(re.compile(r"^(1\d|20) s$"))
        await page.screenshot(path=artifacts / "en-2-offer.png")
        shown = await page.evaluate(CHROME_CHECK)
        assert not shown["cyrillic"] and not shown["overflowing"], shown

        await page.locator("#accept").click()
        await expect(page.locator("#current")).to_have_attribute("data-contact", fight)
        await page.wait_for_function("() => DispatchMap.map && DispatchMap.map.getZoom() > 0")
        await expect(page.locator("#dispatch-units tbody tr[data-unit]")).to_have_count(2)
        await expect(page.locator("#place .nearest")).to_contain_text("near camera CAM-A1")
        await expect(page.locator("#eta-note")).to_contain_text("over the 7 min target")
        await expect(page.locator("#incident-type option[value=weapon]")).to_have_text("Weapon")
        await within_viewport(
            page, "#queue", "#current-meta", "#place", "#messages", "#reply-text", "#reply",
            "#incident-type", "#outcome", "#close", "#dispatch-map",
            "#dispatch-units button.dispatch-send",
        )  # fmt: skip
        await page.screenshot(path=artifacts / "en-3-contact.png")
        shown = await page.evaluate(CHROME_CHECK)
        assert not shown["cyrillic"] and not shown["overflowing"], shown
        assert shown["wide"] <= VIEW["width"], shown

        await page.locator("body").click(position={"x": 5, "y": 760})
        await page.keyboard.press("?")
        await expect(page.locator("#help dd")).to_contain_text(["Accept the offer"])
        await page.screenshot(path=artifacts / "en-4-keys.png")
        assert not errors, errors
    finally:
        await ctx.close()
