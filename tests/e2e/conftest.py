"""Browser fixtures: Debian's Chromium driven by Playwright, and a center on a real port.

The browser is required, never optional: without /usr/bin/chromium these tests FAIL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from tests.support import Center, make_settings, start_center

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    """Playwright's expect waits on a condition: 15 s, not its 5 s default, so a loaded
    machine (a full run beside other work) does not fail a page that is only slow. A module
    may set its own after this one (the rota panel reads every 15 s: 20 s)."""
    expect.set_options(timeout=15_000)


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is required for the browser tests (apt-get install chromium)",
            pytrace=False,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, one per module (never `playwright install`, which downloads one and
    fails here). Tests using it run on the module's event loop:
    `pytestmark = pytest.mark.asyncio(loop_scope="module")`."""
    need_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=15_000
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    """A whole center (SQLite file, in-process queue) on a real port."""
    running = await start_center(make_settings(tmp_path))
    try:
        yield running
    finally:
        await running.client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (cookies, storage) for one test."""
    ctx = await chromium.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    try:
        yield ctx
    finally:
        await ctx.close()
