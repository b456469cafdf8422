"""WebRTC end to end: the operator's browser softphone and the citizen app's video call, on the
real Asterisk of asterisk-config/ (tests/e2e/webrtc.py: AsteriskRunner on free ports, its own
run directory) and Debian's Chromium with a fake camera and microphone.

- the operator page's softphone fetches its SIP identity from /api/v1/me/softphone, registers
  over Asterisk's WebSocket and shows it (ru, kk); an operator without an endpoint sees
  "unavailable";
- contact's own flow for the citizen app's video call: a citizen page
  (tests/e2e/citizen_app.html: the same JsSIP bundle, the app-demo endpoint) video-calls 102;
  the dialplan announces ContactCall with Media: video; contact (telephony on, as `contact
  serve` runs it) makes it a video contact and offers it to the ready operator in her page; she
  accepts; contact originates her leg with video (the caller's codec) into
  [contact-operator-wait], her softphone rings as a video call, she answers; contact redirects
  the caller into [contact-connect], which bridges them; both browsers decode video and receive
  audio, and each sends its own camera (getStats); she hangs up: both calls end, the contact
  goes to wrap-up;
- a call contact marks `X-Contact-Answer: auto` (the operator accepted in the page) is answered
  by the softphone without a click.

Needs Asterisk (provisioned on first use by scripts/asterisk-rootfs.sh), Chromium and the JsSIP
bundle (`make setup`): without them these tests FAIL, never skip. Figures are printed (-s).
Screenshots for a human look: /tmp/contact-video-ringing.png (a video call ringing at the
operator), /tmp/contact-video-call.png (during the call).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Route, expect

from contact.domain.model import ContactState
from contact.http.softphone import BUNDLE
from contact.ports import CallState
from contact.telephony.runner import AsteriskRunner
from tests.e2e.webrtc import (
    Ami,
    add_operator,
    asterisk_center,
    flowing,
    new_tab,
    operator_tab,
    telephony_center,
    wait_stats,
)
from tests.e2e.webrtc import ami as ami
from tests.e2e.webrtc import asterisk as asterisk
from tests.e2e.webrtc import webrtc_chromium as webrtc_chromium
from tests.integration.test_voice_harness import VoiceCenter
from tests.ports import free_tcp_port
from tests.support import Center

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    # provisioning a fresh machine (debootstrap) takes about a minute on first use
    pytest.mark.timeout(300),
]

CALL_SHOT = "/tmp/contact-video-call.png"
RINGING_SHOT = "/tmp/contact-video-ringing.png"
CITIZEN_PAGE = Path(__file__).with_name("citizen_app.html")
CHANNEL = re.compile(r"^PJSIP/app-demo-[0-9a-f]{8}$")


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
    port = free_tcp_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module")
async def center(tmp_path: Path, asterisk: AsteriskRunner) -> AsyncIterator[Center]:
    """A whole center that knows this Asterisk; the test drives the calls."""
    running = await asterisk_center(tmp_path, asterisk)
    try:
        yield running
    finally:
        await running.client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def voice(tmp_path: Path, asterisk: AsteriskRunner) -> AsyncIterator[VoiceCenter]:
    """A center that drives this Asterisk's calls itself (contact's own flow)."""
    running = await telephony_center(tmp_path, asterisk, offer_timeout_s=20.0)
    try:
        yield running
    finally:
        await running.center.client.close()


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
    voice: VoiceCenter,
    webrtc_chromium: Browser,
    asterisk: AsteriskRunner,
    ami: Ami,
    citizen_site: str,
) -> None:
    center = voice.center
    await add_operator(center, "dana", "PJSIP/op1")
    operator = await operator_tab(webrtc_chromium, center, "dana")
    op = operator.page
    await expect(op.locator("#sp-state")).to_have_attribute("data-state", "registered")
    await expect(op.locator("body")).to_have_attribute("data-connection", "open")
    await op.locator("#go-ready").click()
    await expect(op.locator("#presence")).to_have_attribute("data-presence", "ready")

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
    caller = call["Channel"]
    assert CHANNEL.match(caller), caller

    # contact makes it a video contact and offers it to her, in her page
    offer = op.locator("#offer")
    await expect(offer).to_be_visible()
    offered_s = time.monotonic() - calling
    await expect(op.locator("#offer-body")).to_contain_text("Видеовызов из приложения")
    live = voice.telephony.voice.live_calls()
    assert [c.kind for c in live] == ["video"] and live[0].uniqueid == call["Uniqueid"]
    contact_id = live[0].contact_id
    contact = await center.container.db.contacts.get(contact_id)
    assert contact.channel.value == "video"
    await voice.until(lambda: _language_is(center, contact_id, "kk"), what="X-Language: kk")

    # she accepts: contact rings her softphone, as a video call
    accepting = time.monotonic()
    await op.locator("#accept").click()
    panel = op.locator("#call")
    await expect(panel).to_have_attribute("data-call", "ringing")
    ringing_s = time.monotonic() - accepting
    await expect(panel).to_have_attribute("data-media", "video")  # her INVITE offers video
    await expect(op.locator("#call-title")).to_have_text("Входящий видеозвонок")
    await expect(op).to_have_title(re.compile("Входящий видеозвонок"))
    await expect(op.locator("#call-answer")).to_be_focused()
    await expect(op.locator("#current")).to_be_visible()  # the contact she works on
    # (Newchannel is not sent to contact's AMI user: asterisk-config/manager.conf)
    dial = await ami.wait_for(
        lambda e: (
            e.get("Event") == "DialBegin" and str(e.get("DestChannel", "")).startswith("PJSIP/op1-")
        )
    )
    leg = {"Channel": dial["DestChannel"]}
    await op.screenshot(path=RINGING_SHOT, full_page=True)

    answering = time.monotonic()
    await op.locator("#call-answer").click()
    await expect(panel).to_have_attribute("data-call", "active")
    answered_s = time.monotonic() - answering
    await expect(op.locator("#call-title")).to_have_text("Видеозвонок")
    await expect(app.locator("body")).to_have_attribute("data-call", "active")

    # contact bridges them in [contact-connect]: both sides decode video and receive audio, and
    # each one's own camera goes out (her framesEncoded here, decoded on the citizen's side)
    bridged = await ami.wait_for(
        lambda e: e.get("Event") == "BridgeEnter" and e.get("Uniqueid") == call["Uniqueid"]
    )
    assert bridged["Context"] == "contact-connect"
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
        assert after["video"]["framesEncoded"] > before["video"]["framesEncoded"]
        assert after["audio"]["packetsReceived"] > before["audio"]["packetsReceived"]
    formats = await asterisk.cli(f"core show channel {leg['Channel']}")
    assert re.search(r"NativeFormats: \(.*vp8", formats), formats
    live_call = voice.telephony.voice.live_call(contact_id)
    assert live_call is not None and live_call.state == CallState.CONNECTED
    await asyncio.sleep(0.5)  # the timer shows a second or two: a realistic picture
    await op.screenshot(path=CALL_SHOT, full_page=True)
    mute = op.locator("#call-mute")
    await mute.click()
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(mute).to_have_text("Включить микрофон")
    await mute.click()
    await expect(mute).to_have_text("Выключить микрофон")

    # she hangs up: both calls end, in the browsers and in Asterisk; the contact to wrap-up
    hanging = time.monotonic()
    await op.locator("#call-hangup").click()
    await expect(panel).to_have_attribute("data-call", "ended")
    await expect(op.locator("#call-title")).to_have_text("Звонок завершён")
    await expect(app.locator("body")).to_have_attribute("data-call", "ended")
    for channel in (caller, leg["Channel"]):

        def hung_up(e: dict[str, Any], c: str = channel) -> bool:
            return e.get("Event") == "Hangup" and e.get("Channel") == c

        await ami.wait_for(hung_up)
    ended_s = time.monotonic() - hanging
    await expect(panel).to_be_hidden()  # and the panel gets out of the way
    assert await op.evaluate("Softphone.stats()") is None
    await voice.until(
        lambda: _state_is(center, contact_id, ContactState.WRAP_UP), what="the contact in wrap-up"
    )
    print(
        f"\napp registered {app_registered_s * 1000:.0f} ms; call() → ContactCall "
        f"{announced_s * 1000:.0f} ms, → offer in her page {offered_s * 1000:.0f} ms; "
        f"accept click → her phone ringing {ringing_s * 1000:.0f} ms; "
        f"answer → confirmed {answered_s * 1000:.0f} ms, → ≥10 frames both ways "
        f"{media_s * 1000:.0f} ms; hang-up → both ended {ended_s * 1000:.0f} ms; "
        f"bridge technology: {bridged.get('BridgeTechnology')}\n"
        f"operator received: {op_later}\ncitizen received: {app_later}"
    )
    assert not operator.errors, operator.errors
    assert not citizen.errors, citizen.errors
    await op.context.close()
    await app.context.close()


async def _state_is(center: Center, contact_id: str, state: ContactState) -> bool:
    return (await center.container.db.contacts.get(contact_id)).state is state


async def _language_is(center: Center, contact_id: str, language: str) -> bool:
    found = (await center.container.db.contacts.get(contact_id)).language
    return found is not None and found.value == language


async def test_phone_answers_by_itself_when_contact_says_so(
    center: Center, webrtc_chromium: Browser, ami: Ami
) -> None:
    """The operator accepted the contact in the page: contact rings her phone with
    X-Contact-Answer: auto and it answers without a second click; Asterisk hangs up, it ends."""
    await add_operator(center, "saule", "PJSIP/op1")
    operator = await operator_tab(webrtc_chromium, center, "saule")
    op = operator.page
    await expect(op.locator("#sp-state")).to_have_attribute("data-state", "registered")
    # a ChannelId of our own, like contact's
    leg = f"{time.time():.0f}.{time.monotonic_ns() % 1_000_000}"
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
