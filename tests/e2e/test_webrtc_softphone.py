"""WebRTC end to end: the operator's browser softphone and the citizen app's video call, on the
real Asterisk of asterisk-config/ (AsteriskRunner on free ports, its own run directory) and
Debian's Chromium with a fake camera and microphone.

- the operator page's softphone fetches its SIP identity from /api/v1/me/softphone, registers
  over Asterisk's WebSocket and shows it (ru, kk); an operator without an endpoint sees
  "unavailable";
- a citizen page (tests/e2e/citizen_app.html: the same JsSIP bundle, the app-demo endpoint)
  video-calls 102; the dialplan announces ContactCall with Media: video; the test puts the call
  through to the operator's softphone (AMI Originate of the operator's leg running
  Bridge(<caller>,x); contact itself uses [contact-connect]); the operator answers in the
  page; both browsers decode video
  and receive audio (getStats); the operator hangs up and both calls end;
- a call contact marks `X-Contact-Answer: auto` (the operator accepted in the page) is answered
  by the softphone without a click.

Needs Asterisk (provisioned on first use by scripts/asterisk-rootfs.sh), Chromium and the JsSIP
bundle (`make setup`): without them these tests FAIL, never skip. Figures are printed (-s).
Screenshots for a human look: /tmp/contact-video-ringing.png (a video call ringing at the
operator), /tmp/contact-video-call.png (during the call).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from panoramisk import Manager
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    async_playwright,
    expect,
)

from contact.config import AsteriskSettings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.http.softphone import BUNDLE
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.support import PASSWORD, Center, make_settings, start_center

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    # provisioning a fresh machine (debootstrap) takes about a minute on first use
    pytest.mark.timeout(300),
]

WAIT_MS = 10_000
CALL_SHOT = "/tmp/contact-video-call.png"
RINGING_SHOT = "/tmp/contact-video-ringing.png"
CITIZEN_PAGE = Path(__file__).with_name("citizen_app.html")
RTP_RANGE = (31400, 31599)  # away from the defaults and from the other Asterisk tests
WEBRTC_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]
CHANNEL = re.compile(r"^PJSIP/app-demo-[0-9a-f]{8}$")


def _free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------- services
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def asterisk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsteriskRunner]:
    settings = AsteriskSettings(
        run_dir=tmp_path_factory.mktemp("asterisk") / "run",
        ami_port=_free_port(),
        http_port=_free_port(),
        sip_port=_free_port(socket.SOCK_DGRAM),
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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def citizen_site() -> AsyncIterator[str]:
    """Serves the citizen app stand-in and the JsSIP bundle on 127.0.0.1 (a secure context,
    so getUserMedia works over plain http)."""

    async def page(_: web.Request) -> web.FileResponse:
        return web.FileResponse(CITIZEN_PAGE)

    async def bundle(_: web.Request) -> web.FileResponse:
        return web.FileResponse(BUNDLE)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/jssip.min.js", bundle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module")
async def center(tmp_path: Path, asterisk: AsteriskRunner) -> AsyncIterator[Center]:
    """A whole center that knows this Asterisk (its WebSocket, its generated passwords)."""
    settings = make_settings(tmp_path).model_copy(update={"asterisk": asterisk.settings})
    running = await start_center(settings)
    try:
        yield running
    finally:
        await running.client.close()


@dataclass
class Ami:
    manager: Manager
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, _manager: Manager, message: Any) -> None:
        self.events.append({**dict(message), "_at": time.monotonic()})
        self.changed.set()

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], within: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            for event in self.events:
                if match(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching AMI event in {within} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


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


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=WAIT_MS)


# ---------------------------------------------------------------------- helpers
async def add_operator(center: Center, username: str, endpoint: str | None) -> str:
    operator = Operator(
        id=new_id(),
        username=username,
        display_name=username.title(),
        role=Role.OPERATOR,
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


async def operator_tab(browser: Browser, center: Center, username: str) -> Tab:
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
    await tab.page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    return tab


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
    audio, video = stats["audio"], stats["video"]
    return (
        (video.get("framesDecoded") or 0) >= 10
        and (video.get("bytesReceived") or 0) > 0
        and (audio.get("packetsReceived") or 0) >= 25
        and (video.get("framesEncoded") or 0) > 0
    )


# ---------------------------------------------------------------------- tests
async def test_softphone_registers_and_shows_it(
    center: Center, webrtc_chromium: Browser, asterisk: AsteriskRunner
) -> None:
    await add_operator(center, "aigerim", "PJSIP/op1")
    await add_operator(center, "bolat", None)  # no softphone at his workplace
    tab = await operator_tab(webrtc_chromium, center, "aigerim")
    page = tab.page
    state = page.locator("#sp-state")
    await expect(state).to_have_attribute("data-state", "registered")
    registered_ms = await page.evaluate("performance.now()")  # since navigation started
    await expect(state).to_have_text("На линии")
    print(f"\nsoftphone registered within {registered_ms:.0f} ms of the page's navigation")

    # its identity: the endpoint's generated password, Asterisk's WebSocket; CSP lets it in
    me = await page.evaluate("fetch('/api/v1/me/softphone').then((r) => r.json())")
    assert me == {
        "available": True,
        "ws_url": f"ws://127.0.0.1:{asterisk.settings.http_port}/ws",
        "uri": "sip:op1@127.0.0.1",
        "username": "op1",
        "password": asterisk.sip_password("op1-auth"),
        "display_name": "Aigerim",
        "endpoint": "PJSIP/op1",
    }
    async with center.client.get("/") as r:  # anonymous: the login redirect carries the CSP
        csp = r.headers["Content-Security-Policy"]
    assert f"connect-src 'self' ws://127.0.0.1:{asterisk.settings.http_port};" in csp
    assert "media-src 'self' blob: mediastream:" in csp

    # Asterisk sees the browser's registration over the WebSocket
    contacts = await asterisk.cli("pjsip show contacts")
    assert re.search(r"op1/sip:\S+transport=ws", contacts), contacts

    # the same in Kazakh, after a reload (it registers again)
    await page.goto(center.url + "/?lang=kk")
    await expect(state).to_have_attribute("data-state", "registered")
    await expect(state).to_have_text("Желіде")

    # without the JsSIP bundle (web/ not built) the page works and says the phone does not
    async def not_built(route: Route) -> None:
        await route.fulfill(status=404)

    await page.route("**/static/dist/jssip.min.js", not_built)
    await page.reload()
    await expect(state).to_have_attribute("data-state", "unavailable")
    await expect(state).to_have_text("Софтфон қолжетімсіз")
    await expect(page.locator("#go-ready")).to_have_text("Дайын")

    # an operator without a WebRTC endpoint is told, and nothing breaks
    other = await operator_tab(webrtc_chromium, center, "bolat")
    await expect(other.page.locator("#sp-state")).to_have_attribute("data-state", "unavailable")
    await expect(other.page.locator("#sp-state")).to_have_text("Софтфон недоступен")
    unavailable = await other.page.evaluate("fetch('/api/v1/me/softphone').then((r) => r.json())")
    assert unavailable == {"available": False, "reason": "no_endpoint"}
    assert not tab.errors, tab.errors
    assert not other.errors, other.errors
    await page.context.close()
    await other.page.context.close()


async def test_app_video_call_reaches_the_operator_and_both_see_video(
    center: Center, webrtc_chromium: Browser, asterisk: AsteriskRunner, ami: Ami, citizen_site: str
) -> None:
    await add_operator(center, "dana", "PJSIP/op1")
    operator = await operator_tab(webrtc_chromium, center, "dana")
    op = operator.page
    await expect(op.locator("#sp-state")).to_have_attribute("data-state", "registered")

    # the citizen app registers as its device's endpoint and video-calls 102
    citizen = await new_tab(await webrtc_chromium.new_context(permissions=["camera", "microphone"]))
    app = citizen.page
    await app.goto(citizen_site)
    started = time.monotonic()
    await app.evaluate(
        "(cfg) => Citizen.register(cfg)",
        {
            "ws_url": asterisk.settings.effective_ws_url,
            "uri": "sip:app-demo@127.0.0.1",
            "username": "app-demo",
            "password": asterisk.sip_password("app-demo-auth"),
        },
    )
    app_registered_s = time.monotonic() - started
    calling = time.monotonic()
    await app.evaluate("Citizen.call('sip:102@127.0.0.1', ['X-Language: kk'])")

    # the dialplan announces a video call before answering it
    call = await ami.wait_for(
        lambda e: e.get("Event") == "UserEvent" and e.get("UserEvent") == "ContactCall"
    )
    announced_s = call["_at"] - calling
    assert call["Context"] == "app-inbound"
    assert call["Endpoint"] == "app-demo"
    assert call["Media"] == "video"
    language = await ami.wait_for(
        lambda e: e.get("UserEvent") == "ContactLanguage" and e.get("Uniqueid") == call["Uniqueid"]
    )
    assert language["Language"] == "kk"
    caller = call["Channel"]
    assert CHANNEL.match(caller), caller

    # put it through to the operator's softphone as contact does: the operator's leg runs
    # Bridge(<caller>,x), so when she hangs up the caller is hung up too
    originate = asyncio.ensure_future(
        ami.manager.send_action(
            {
                "Action": "Originate",
                "Channel": "PJSIP/op1",
                "Application": "Bridge",
                "Data": f"{caller},x",
                "Codecs": "opus,ulaw,vp8",
                "CallerID": "102 <102>",
                "Async": "true",
                "Timeout": "20000",
            }
        )
    )
    panel = op.locator("#call")
    await expect(panel).to_have_attribute("data-call", "ringing")
    ringing_s = time.monotonic() - calling
    await expect(panel).to_have_attribute("data-media", "video")
    await expect(op.locator("#call-title")).to_have_text("Входящий видеозвонок")
    await expect(op).to_have_title(re.compile("Входящий видеозвонок"))
    await expect(op.locator("#call-answer")).to_be_focused()
    await op.screenshot(path=RINGING_SHOT, full_page=True)

    answering = time.monotonic()
    await op.locator("#call-answer").click()
    await expect(panel).to_have_attribute("data-call", "active")
    answered_s = time.monotonic() - answering
    await expect(op.locator("#call-title")).to_have_text("Видеозвонок")
    await expect(app.locator("body")).to_have_attribute("data-call", "active")

    # both sides decode video and receive audio, and keep doing so
    op_stats = await wait_stats(op, "Softphone.stats()", flowing)
    media_s = time.monotonic() - answering
    app_stats = await wait_stats(app, "Citizen.stats()", flowing)
    await expect(panel).to_have_attribute("data-video", "on")
    await expect(panel).to_have_attribute("data-local", "on")
    await asyncio.sleep(1.0)
    op_later = await op.evaluate("Softphone.stats()")
    app_later = await app.evaluate("Citizen.stats()")
    for before, after in ((op_stats, op_later), (app_stats, app_later)):
        assert after["video"]["framesDecoded"] > before["video"]["framesDecoded"]
        assert after["audio"]["packetsReceived"] > before["audio"]["packetsReceived"]
    await asyncio.sleep(0.5)  # the timer shows a second or two: a realistic picture
    await op.screenshot(path=CALL_SHOT, full_page=True)
    mute = op.locator("#call-mute")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_text("Включить микрофон")
    await mute.click()
    await expect(mute).to_have_text("Выключить микрофон")
    response = await originate
    assert any(m.get("Response") == "Success" for m in response if "Event" in m), response

    # the operator hangs up: both calls end, in the browsers and in Asterisk
    hanging = time.monotonic()
    await op.locator("#call-hangup").click()
    await expect(panel).to_have_attribute("data-call", "ended")
    await expect(op.locator("#call-title")).to_have_text("Звонок завершён")
    await expect(app.locator("body")).to_have_attribute("data-call", "ended")
    for channel in (caller, "PJSIP/op1-"):
        await ami.wait_for(
            lambda e, c=channel: (
                e.get("Event") == "Hangup" and str(e.get("Channel", "")).startswith(c)
            )
        )
    ended_s = time.monotonic() - hanging
    await expect(panel).to_be_hidden()  # and the panel gets out of the way
    assert await op.evaluate("Softphone.stats()") is None
    print(
        f"\napp registered {app_registered_s * 1000:.0f} ms; call() → ContactCall "
        f"{announced_s * 1000:.0f} ms; call → operator ringing {ringing_s * 1000:.0f} ms; "
        f"answer → confirmed {answered_s * 1000:.0f} ms, → ≥10 frames both ways "
        f"{media_s * 1000:.0f} ms; hang-up → both ended {ended_s * 1000:.0f} ms\n"
        f"operator received: {op_later}\ncitizen received: {app_later}"
    )
    assert not operator.errors, operator.errors
    assert not citizen.errors, citizen.errors
    await op.context.close()
    await app.context.close()


async def test_phone_answers_by_itself_when_contact_says_so(
    center: Center, webrtc_chromium: Browser, ami: Ami
) -> None:
    """The operator accepted the contact in the page: contact rings her phone with
    X-Contact-Answer: auto and it answers without a second click; Asterisk hangs up, it ends."""
    await add_operator(center, "saule", "PJSIP/op1")
    operator = await operator_tab(webrtc_chromium, center, "saule")
    op = operator.page
    await expect(op.locator("#sp-state")).to_have_attribute("data-state", "registered")
    leg = f"{time.time():.0f}.{_free_port()}"  # a ChannelId of our own, like contact's
    ringing = time.monotonic()
    await ami.manager.send_action(
        {
            "Action": "Originate",
            "Channel": "PJSIP/op1",
            "Context": "contact-operator-wait",
            "Exten": "s",
            "Priority": "1",
            "ChannelId": leg,
            "Variable": "PJSIP_HEADER(add,X-Contact-Answer)=auto",
            "CallerID": "102 <102>",
            "Async": "true",
            "Timeout": "10000",
        }
    )
    panel = op.locator("#call")
    await expect(panel).to_have_attribute("data-call", "active")
    answered_s = time.monotonic() - ringing
    await expect(panel).to_have_attribute("data-media", "audio")
    await expect(op.locator("#call-title")).to_have_text("Разговор")
    await expect(op.locator(".call-media")).to_be_hidden()
    await wait_stats(op, "Softphone.stats()", lambda s: (s["audio"].get("packetsSent") or 0) >= 10)
    await ami.manager.send_action({"Action": "Hangup", "Channel": leg})  # by its uniqueid
    await expect(panel).to_have_attribute("data-call", "ended")
    print(f"\nauto-answered {answered_s * 1000:.0f} ms after the Originate")
    assert not operator.errors, operator.errors
    await op.context.close()
