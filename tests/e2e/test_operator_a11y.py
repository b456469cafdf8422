"""Accessibility of the operator's page (axe-core from npm, web/node_modules/axe-core): no
serious or critical violation of WCAG 2.1 A/AA in each state an operator sees: the queue, an
offer, a chat being worked with its map, the keys overlay; in Kazakh and in Russian.

axe runs through the DevTools protocol (page.evaluate), so the page's Content-Security-Policy
stays as it is."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.test_operator_workspace import ACCURACY_M, open_desk
from tests.e2e.test_operator_workspace import city as city
from tests.e2e.test_operator_workspace import desk as desk
from tests.e2e.test_operator_workspace import places as places
from tests.integration.dispatch_support import SCENE
from tests.support import Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is required (cd web && npm install)", pytrace=False)
    return AXE.read_text()


async def violations(page: Page) -> list[dict[str, Any]]:
    await page.evaluate(axe_source())
    result: dict[str, Any] = await page.evaluate(
        """async () => axe.run(document, {
  runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  resultTypes: ["violations"],
})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("lang", ["ru", "kk"])
async def test_no_serious_violation_in_any_state(
    city: Center,
    desk: BrowserContext,
    lang: str,
) -> None:
    await city.add_operator(f"asel-{lang}")
    page, errors = await open_desk(desk, city, f"asel-{lang}")
    await page.goto(f"{city.url}/?lang={lang}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    found: dict[str, list[dict[str, Any]]] = {}
    location = {"lat": SCENE.lat, "lon": SCENE.lon, "accuracy_m": ACCURACY_M}
    await city.report("Во дворе драка, мужчина с ножом", device_id=f"d-a11y-{lang}",
                      language=lang, location=location)  # fmt: skip
    await city.report("Громкая музыка", device_id=f"d-a11y2-{lang}", language=lang)
    await expect(page.locator("#queue tbody tr .q-district")).to_have_count(1)
    found["queue"] = await violations(page)
    await page.locator("#go-ready").click()
    await expect(page.locator("#offer")).to_be_visible()
    found["offer"] = await violations(page)
    await page.locator("#accept").click()
    await expect(page.locator("#place .district")).to_be_visible()
    await expect(page.locator("#dispatch-units tbody tr[data-unit]")).to_have_count(2)
    found["contact"] = await violations(page)
    await page.screenshot(path=Path(tempfile.gettempdir()) / f"contact-operator-{lang}.png")
    await page.keyboard.press("Escape")
    await page.locator("#help-open").click()
    await expect(page.locator("#help")).to_be_visible()
    found["keys"] = await violations(page)
    await page.close()
    assert not any(found.values()), "\n".join(f"{k}: {v}" for k, v in found.items() if v)
    assert not errors, errors
