"""What the WebRTC browser tests run on (no tests here): the real Asterisk of asterisk-config/
(AsteriskRunner on free ports, its own run directory), Debian's Chromium with a fake camera and
microphone, a raw AMI connection to watch events, centers that know this Asterisk (with or
without contact driving its calls), logged-in tabs and getStats helpers.

Test modules import the fixtures they use by name, like tests/integration/test_voice_*.py do
with test_voice_harness. Asterisk, Chromium or the JsSIP bundle missing makes the tests FAIL,
never skip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from panoramisk import Manager  # type: ignore[import-untyped]
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from contact.config import AsteriskSettings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.http.softphone import BUNDLE
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.integration.test_voice_harness import Ami as Ami  # the e2e tests' AMI client
from tests.integration.test_voice_harness import VoiceCenter, start_voice_center
from tests.ports import free_tcp_port, free_udp_port
from tests.support import PASSWORD, Center, make_settings, start_center

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
RTP_RANGE = (31400, 31599)  # away from the defaults and from the other Asterisk tests
WEBRTC_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


# ---------------------------------------------------------------------- services
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asterisk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsteriskRunner]:
    settings = AsteriskSettings(
        run_dir=tmp_path_factory.mktemp("asterisk") / "run",
        ami_port=free_tcp_port(),
        http_port=free_tcp_port(),
        sip_port=free_udp_port(),
        rtp_start=RTP_RANGE[0],
        rtp_end=RTP_RANGE[1],
    )
    runner = AsteriskRunner(settings, DEFAULT_CONFIG_DIR)
    try:
        await runner.provision()
        started = time.monotonic()
        await runner.up()
    except AsteriskError as exc:
        pytest.fail(f"Asterisk is required and could not run: {exc} {exc.details}", pytrace=False)
    print(f"\nasterisk booted in {time.monotonic() - started:.2f} s")
    try:
        yield runner
    finally:
        await runner.down()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def webrtc_chromium() -> AsyncIterator[Browser]:
    """Chromium with a fake camera and microphone (a test pattern and a beep)."""
    need_chromium()
    if not BUNDLE.is_file():
        pytest.fail(f"{BUNDLE} is missing: run `make setup` (npm ci && npm run build in web/)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=WEBRTC_ARGS, timeout=15_000
        )
        try:
            yield browser
        finally:
            await browser.close()


async def asterisk_center(tmp_path: Path, asterisk: AsteriskRunner) -> Center:
    """A whole center that knows this Asterisk (its WebSocket, its generated passwords) but
    does not drive its calls: the test does, through its own AMI connection."""
    settings = make_settings(tmp_path).model_copy(update={"asterisk": asterisk.settings})
    return await start_center(settings)


async def telephony_center(tmp_path: Path, asterisk: AsteriskRunner, **routing: Any) -> VoiceCenter:
    """A center that drives this Asterisk's calls, as `contact serve` with
    CONTACT_ASTERISK_ENABLED=true does: AMI logged in and the first resync done. Only one at a
    time per Asterisk."""
    settings = make_settings(tmp_path, **routing)
    settings = settings.model_copy(
        update={"asterisk": asterisk.settings.model_copy(update={"enabled": True})}
    )
    return await start_voice_center(settings)


@pytest_asyncio.fixture(loop_scope="module")
async def ami(asterisk: AsteriskRunner) -> AsyncIterator[Ami]:
    s = asterisk.settings
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=s.ami_host,
        port=s.ami_port,
        username=s.ami_username,
        secret=asterisk.ami_secret,
        ping_delay=10,
    )
    client = Ami(manager)
    manager.register_event("*", client.on_event)
    await manager.connect()
    try:
        yield client
    finally:
        manager.close()


# ---------------------------------------------------------------------- people and tabs
async def add_operator(
    center: Center, username: str, endpoint: str | None, role: Role = Role.OPERATOR
) -> str:
    operator = Operator(
        id=new_id(),
        username=username,
        display_name=username.title(),
        role=role,
        skills=Skills(frozenset(Language), frozenset(Capability)),
        endpoint=endpoint,
    )
    await center.container.db.operators.add(operator, hash_password(PASSWORD))
    return operator.id


@dataclass
class Tab:
    page: Page
    errors: list[str]


async def new_tab(context: BrowserContext) -> Tab:
    """A tab whose uncaught errors and CSP violations are collected."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return Tab(page, errors)


async def operator_tab(browser: Browser, center: Center, username: str, lands_on: str = "/") -> Tab:
    """A logged-in tab of its own profile (operators land on /, supervisors on /supervisor)."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 860},
        locale="ru-RU",
        permissions=["camera", "microphone"],
    )
    tab = await new_tab(context)
    await tab.page.goto(center.url + "/login")
    await tab.page.locator("input[name=username]").fill(username)
    await tab.page.locator("input[name=password]").fill(PASSWORD)
    await tab.page.locator("#login").click()
    await tab.page.wait_for_url(center.url + lands_on, timeout=WAIT_MS)
    return tab


# ---------------------------------------------------------------------- media
async def wait_stats(
    page: Page, script: str, ok: Callable[[dict[str, Any]], bool], within: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    stats: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        stats = await page.evaluate(script)
        if stats and ok(stats):
            return stats
        await asyncio.sleep(0.2)
    raise AssertionError(f"media did not flow in {within} s: {stats}")


def flowing(stats: dict[str, Any]) -> bool:
    """Video decoded and sent, audio received: a video call working in this direction."""
    audio, video = stats["audio"], stats["video"]
    return (
        (video.get("framesDecoded") or 0) >= 10
        and (video.get("bytesReceived") or 0) > 0
        and (audio.get("packetsReceived") or 0) >= 25
        and (video.get("framesEncoded") or 0) > 0
    )
