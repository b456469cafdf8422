"""The dispatch panel's map and its pushes, in Debian's Chromium against a real server.

- a located report with units and cameras around it: the operator accepts it and the map shows
  the citizen at the right place with the accuracy circle, the suggested units (tooltip: call
  sign, kind, ETA) and the view cone of the camera that sees the place (read from Leaflet's own
  layers through page.evaluate);
- the panel follows without a poll (the fallback poll is 30 s; each step is given 2 s): her own
  dispatch; the unit's status report from its device; its position (moved by `unit.position`,
  no reload); a second unit sent by a supervisor from another browser;
- tiles: with CONTACT_HTTP_MAP_TILE_URL pointing at a local tile server, the map requests tiles
  there (the pages' CSP lets exactly that origin in); with none (offline), the page requests
  nothing but its own origin and says so in Kazakh.

Screenshots for a human look: /tmp/contact-dispatch-map.png (no tiles, units and a cone),
/tmp/contact-dispatch-tiles.png (with the local tiles).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import BrowserContext, Page, expect

from contact.config import HttpSettings
from contact.dispatch import DISPATCH_PART
from contact.dispatch.cameras import Camera
from contact.dispatch.geo import LatLon, destination
from contact.dispatch.registry import NewUnit, add_unit, import_cameras_into
from contact.dispatch.routes import DispatchParts
from contact.dispatch.units import UnitKind
from contact.domain.model import Role
from tests.support import PASSWORD, Center, make_settings, start_center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
PUSH_MS = 2_000  # far below the 30 s fallback poll: only a push gets there in time
MAP_SHOT = "/tmp/contact-dispatch-map.png"
TILES_SHOT = "/tmp/contact-dispatch-tiles.png"
SCENE = LatLon(43.2380, 76.9450)  # central Almaty
ACCURACY_M = 25.0
# a light grey 1×1 PNG: Leaflet scales every tile to 256 px; the test needs a real image
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGO4+/gVAAVLAqvsM8obAAAAAElFTkSuQmCC"
)

# every layer the map holds that carries a role (dispatch-map.js), as plain data
LAYERS_JS = """() => {
  const out = [];
  DispatchMap.map.eachLayer((l) => {
    const o = l.options || {};
    if (!o.role) return;
    const item = { role: o.role, unitId: o.unitId || null, cameraId: o.cameraId || null,
                   status: o.status || null, sees: o.sees ?? null };
    if (l.getLatLng) { const p = l.getLatLng(); item.lat = p.lat; item.lon = p.lng; }
    if (l instanceof L.Circle) item.radius_m = l.getRadius();
    if (l instanceof L.Polygon) item.points = l.getLatLngs()[0].map((p) => [p.lat, p.lng]);
    if (l.getTooltip && l.getTooltip()) {
      const c = l.getTooltip().getContent();
      item.tooltip = typeof c === "string" ? c : c.textContent;
    }
    if (o.role === "tiles") item.url = l._url;
    out.push(item);
  });
  return out;
}"""


IN_VIEW_JS = "(pts) => pts.every((p) => DispatchMap.map.getBounds().contains(p))"
# where the map shows a dispatched unit, and with which status (null: not shown)
DISPATCHED_JS = """(id) => {
  let found = null;
  DispatchMap.map.eachLayer((l) => {
    if (l.options.role === "dispatched" && l.options.unitId === id) {
      const p = l.getLatLng();
      found = { status: l.options.status, lat: p.lat, lon: p.lng };
    }
  });
  return found;
}"""


# --- the city around the scene ------------------------------------------------------------------


def parts_of(center: Center) -> DispatchParts:
    found: DispatchParts = center.container.get(DISPATCH_PART)
    return found


def near(metres: float, bearing: float) -> LatLon:
    return destination(SCENE.lat, SCENE.lon, bearing, metres)


@dataclass
class Unit:
    id: str
    callsign: str
    token: str
    at: LatLon


async def add_units(center: Center, *spots: tuple[str, UnitKind, LatLon]) -> list[Unit]:
    p = parts_of(center)
    units = []
    for callsign, kind, at in spots:
        record, token = await add_unit(p.repo, NewUnit(callsign, kind))
        units.append(Unit(record.id, callsign, token, at))
    await p.service.reload_units()
    for unit in units:
        await p.service.update_position(unit.id, unit.at.lat, unit.at.lon, 5.0)
    return units


async def add_cameras(center: Center) -> tuple[Camera, Camera]:
    """One camera 60 m south looking north at the scene, one 80 m west looking away."""
    south, west = near(60, 180), near(80, 270)
    sees = Camera("CAM-SEES", south.lat, south.lon, 0.0, 60.0, 150.0, "rtsp://cam.test/sees")
    away = Camera("CAM-AWAY", west.lat, west.lon, 270.0, 60.0, 150.0, "rtsp://cam.test/away")
    p = parts_of(center)
    await import_cameras_into(p.repo, [sees, away])
    await p.service.reload_map(force=True)
    return sees, away


async def unit_reports(center: Center, unit: Unit, path: str, body: dict[str, Any]) -> None:
    """What the unit's own device sends (its token, not an operator's session)."""
    async with center.client.post(
        f"/api/v1/units/{unit.id}/{path}",
        json=body,
        headers={"Authorization": f"Bearer {unit.token}"},
    ) as r:
        assert r.status in (200, 202), await r.text()


# --- the operator's page ------------------------------------------------------------------------


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)  # uncaught errors and CSP violations
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


async def operator_tab(context: BrowserContext, center: Center, username: str, lang: str) -> Tab:
    page = await context.new_page()
    tab = Tab(page)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    page.on(
        "console",
        lambda m: tab.errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("request", lambda req: tab.requests.append(req.url))
    await page.goto(f"{center.url}/login?lang={lang}")
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(PASSWORD)
    await page.locator("#login").click()
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    return tab


async def accept_located_report(tab: Tab, center: Center, device: str) -> str:
    """She goes ready, a located report arrives, she accepts it: its panel and map are open."""
    page = tab.page
    await page.locator("#go-ready").click()
    contact_id = await center.report(
        "Во дворе драка, двое мужчин",
        device_id=device,
        language="ru",
        location={"lat": SCENE.lat, "lon": SCENE.lon, "accuracy_m": ACCURACY_M},
    )
    await expect(page.locator("#offer")).to_be_visible()
    await page.locator("#accept").click()
    await expect(page.locator("#current")).to_be_visible()
    await expect(page.locator("#dispatch-map")).to_be_visible()
    await page.wait_for_function("() => DispatchMap.map && DispatchMap.map.getZoom() > 0")
    return contact_id


async def layers(page: Page, role: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(LAYERS_JS)
    return [x for x in found if role is None or x["role"] == role]


async def layer_of_unit(page: Page, unit_id: str) -> dict[str, Any] | None:
    found = [x for x in await layers(page, "dispatched") if x["unitId"] == unit_id]
    return found[0] if found else None


async def dispatched_until(
    page: Page, unit_id: str, ok: Callable[[dict[str, Any]], bool], within_s: float = 2.0
) -> dict[str, Any]:
    """The dispatched unit as the map shows it, once `ok` holds (a push has to get it there)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        found: dict[str, Any] | None = await page.evaluate(DISPATCHED_JS, unit_id)
        if found is not None and ok(found):
            return found
        if loop.time() > deadline:
            raise AssertionError(f"the map did not follow within {within_s} s: {found}")
        await asyncio.sleep(0.05)


def inside(point: LatLon, polygon: list[list[float]]) -> bool:
    """Ray casting in the lat/lon plane (a few hundred metres: flat enough)."""
    hit = False
    for (y1, x1), (y2, x2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > point.lat) != (y2 > point.lat):
            x = x1 + (point.lat - y1) * (x2 - x1) / (y2 - y1)
            if point.lon < x:
                hit = not hit
    return hit


# --- a center with or without a tile server -----------------------------------------------------


@dataclass
class TileServer:
    url: str
    asked: list[str] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="module")
async def tiles() -> AsyncIterator[TileServer]:
    """A tile server on loopback (another origin than the center's: another port)."""
    server = TileServer("")

    async def tile(request: web.Request) -> web.Response:
        server.asked.append(request.path)
        return web.Response(body=PIXEL, content_type="image/png")

    app = web.Application()
    app.router.add_get("/tiles/{z}/{x}/{y}.png", tile)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def center_with(tmp_path: Path, http: HttpSettings) -> Center:
    settings = make_settings(tmp_path)
    return await start_center(settings.model_copy(update={"http": http}))


async def stop(center: Center, context: BrowserContext) -> None:
    """Pages first: the server's shutdown would otherwise wait on their WebSockets."""
    for page in context.pages:
        await page.close()
    await center.client.close()


# --- the tests ----------------------------------------------------------------------------------


async def test_map_shows_the_place_units_and_cones_and_follows_pushes(
    tmp_path: Path, context: BrowserContext
) -> None:
    center = await center_with(tmp_path, HttpSettings())
    try:
        await center.add_operator("aigerim")
        await center.add_operator("boss", role=Role.SUPERVISOR)
        car, foot = await add_units(
            center,
            ("ALM-01", UnitKind.CAR, near(900, 45)),
            ("ALM-02", UnitKind.FOOT, near(400, 300)),
        )
        sees, away = await add_cameras(center)
        tab = await operator_tab(context, center, "aigerim", "ru")
        page = tab.page
        contact_id = await accept_located_report(tab, center, "device-map-01")

        # the citizen where she is, with her accuracy
        (marker,) = await layers(page, "contact")
        assert (marker["lat"], marker["lon"]) == pytest.approx((SCENE.lat, SCENE.lon))
        (circle,) = await layers(page, "accuracy")
        assert circle["radius_m"] == pytest.approx(ACCURACY_M)
        assert "Заявитель" in marker["tooltip"] and "±25 м" in marker["tooltip"]

        # the suggested units at their positions: call sign, kind, ETA
        await expect(page.locator("#dispatch-units tbody tr[data-unit]")).to_have_count(2)
        suggested = {x["unitId"]: x for x in await layers(page, "suggested")}
        assert set(suggested) == {car.id, foot.id}
        for unit, kind in ((car, "автопатруль"), (foot, "пеший патруль")):
            shown = suggested[unit.id]
            assert (shown["lat"], shown["lon"]) == pytest.approx((unit.at.lat, unit.at.lon))
            assert unit.callsign in shown["tooltip"] and kind in shown["tooltip"]
            assert "Прибытие:" in shown["tooltip"] and " с" in shown["tooltip"]  # never «s»

        # the camera that sees the place: its cone, from the camera over the scene; none for
        # the one looking away, which is still a grey dot
        (cone,) = await layers(page, "cone")
        assert cone["cameraId"] == sees.id
        assert cone["points"][0] == pytest.approx([sees.lat, sees.lon])
        assert inside(SCENE, cone["points"])
        # the arc lies at the range: 150 m north of a camera looking north ≈ 0.00135° latitude
        far = max(abs(lat - sees.lat) for lat, _ in cone["points"])
        assert far == pytest.approx(150 / 111_195, rel=0.02)
        cameras = {x["cameraId"]: x for x in await layers(page, "camera")}
        assert cameras[sees.id]["sees"] is True and cameras[away.id]["sees"] is False

        # every shown thing is in view, drawn as SVG (no marker images anywhere)
        points = [[SCENE.lat, SCENE.lon], [car.at.lat, car.at.lon], [foot.at.lat, foot.at.lon]]
        in_view = await page.evaluate(IN_VIEW_JS, [*points, cone["points"][0]])
        assert in_view
        pane = page.locator("#dispatch-map .leaflet-overlay-pane")
        await expect(pane.locator("path.map-suggested")).to_have_count(2)
        await expect(pane.locator("path.map-cone")).to_have_count(1)
        await expect(pane.locator("path.map-contact")).to_have_count(1)

        # 1. her dispatch: the unit leaves the suggestions and shows as sent, on the map too
        await page.locator(f"button.dispatch-send[data-unit='{car.id}']").click()
        sent = page.locator("#dispatch-sent li")
        await expect(sent).to_have_count(1, timeout=PUSH_MS)
        await expect(sent.first).to_contain_text("ALM-01 — направлен", timeout=PUSH_MS)
        sent_layer = await layer_of_unit(page, car.id)
        assert sent_layer is not None and sent_layer["status"] == "dispatched"
        assert "ALM-01" in sent_layer["tooltip"] and "направлен" in sent_layer["tooltip"]

        # 2. the unit's device says it is on its way: pushed to her panel and map
        await unit_reports(center, car, "status", {"status": "en_route"})
        await expect(sent.first).to_contain_text("в пути", timeout=PUSH_MS)
        await dispatched_until(page, car.id, lambda x: x["status"] == "en_route")

        # 3. it moves: unit.position moves its marker, without reloading the panel
        reloads = await page.locator("#dispatch").get_attribute("data-refreshed")
        moved = near(500, 45)
        await unit_reports(center, car, "position", {"lat": moved.lat, "lon": moved.lon})
        at = await dispatched_until(page, car.id, lambda x: x["lat"] != car.at.lat)
        assert (at["lat"], at["lon"]) == pytest.approx((moved.lat, moved.lon))
        assert await page.locator("#dispatch").get_attribute("data-refreshed") == reloads

        # 4. a supervisor sends the second unit from her own browser: pushed to the operator
        boss = await center.browser("boss")
        try:
            await boss.post(
                f"/api/v1/contacts/{contact_id}/dispatch", {"unit_id": foot.id}, status=201
            )
        finally:
            await boss.close()
        await expect(sent).to_have_count(2, timeout=PUSH_MS)
        await expect(page.locator("#dispatch-sent")).to_contain_text("ALM-02", timeout=PUSH_MS)
        await expect(page.locator("#dispatch-units tbody tr[data-unit]")).to_have_count(0)
        assert await layer_of_unit(page, foot.id) is not None
        assert await layers(page, "suggested") == []

        await page.screenshot(path=MAP_SHOT, full_page=True)
        assert not tab.errors, tab.errors
    finally:
        await stop(center, context)


async def test_offline_map_fetches_nothing_else(tmp_path: Path, context: BrowserContext) -> None:
    center = await center_with(tmp_path, HttpSettings())
    try:
        await center.add_operator("nurlan")
        await add_units(center, ("ALM-07", UnitKind.CAR, near(700, 90)))
        async with center.client.get("/login") as r:
            csp = r.headers["Content-Security-Policy"]
        assert "img-src 'self' data: blob:;" in csp
        tab = await operator_tab(context, center, "nurlan", "kk")
        page = tab.page
        await accept_located_report(tab, center, "device-map-02")

        # the markers on a plain background, and a word on why there are no streets
        await expect(page.locator("#dispatch-map")).to_have_class(re.compile(r"\bno-tiles\b"))
        await expect(page.locator("#dispatch-map-note")).to_have_text(
            "Карта негізі бапталмаған: тек нысандар, көшелерсіз"
        )
        (suggested,) = await layers(page, "suggested")
        assert "ALM-07" in suggested["tooltip"] and "автопатруль" in suggested["tooltip"]
        assert "Жету уақыты:" in suggested["tooltip"]
        assert await layers(page, "tiles") == []
        await expect(page.locator("#dispatch-map img")).to_have_count(0)
        await page.wait_for_timeout(500)  # a tile layer would have asked by now
        foreign = [u for u in tab.requests if not u.startswith((center.url, "data:", "blob:"))]
        assert foreign == [], foreign
        assert not tab.errors, tab.errors
    finally:
        await stop(center, context)


async def test_configured_tiles_are_requested_from_that_server(
    tmp_path: Path, context: BrowserContext, tiles: TileServer
) -> None:
    template = tiles.url + "/tiles/{z}/{x}/{y}.png"
    http = HttpSettings(map_tile_url=template, map_tile_attribution="© Test tiles <b>x</b>")
    center = await center_with(tmp_path, http)
    try:
        await center.add_operator("dana")
        async with center.client.get("/login") as r:
            csp = r.headers["Content-Security-Policy"]
        assert f"img-src 'self' data: blob: {tiles.url};" in csp
        tab = await operator_tab(context, center, "dana", "ru")
        page = tab.page
        await accept_located_report(tab, center, "device-map-03")

        (layer,) = await layers(page, "tiles")
        assert layer["url"] == template
        await expect(page.locator("#dispatch-map img.leaflet-tile-loaded").first).to_be_attached()
        assert tiles.asked, "no tile was requested"
        zoom = await page.evaluate("() => Math.round(DispatchMap.map.getZoom())")
        assert all(path.startswith(f"/tiles/{zoom}/") for path in tiles.asked[-4:])
        assert any(u.startswith(tiles.url + f"/tiles/{zoom}/") for u in tab.requests)
        # the attribution is text, never markup from the configuration
        attribution = page.locator("#dispatch-map .leaflet-control-attribution")
        await expect(attribution).to_contain_text("© Test tiles <b>x</b>")
        await expect(page.locator("#dispatch-map-note")).to_have_count(0)
        await page.screenshot(path=TILES_SHOT, full_page=True)
        assert not tab.errors, tab.errors
    finally:
        await stop(center, context)
