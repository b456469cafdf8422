"""The supervisor's page with its own browser softphone, on a real Asterisk (tests/e2e/webrtc.py)
and a live 102 call between real sipp phones (tests/integration/test_voice_harness.py: the
caller plays 600 Hz, the operator's desk phone 1000 Hz).

The supervisor (endpoint PJSIP/sup1, a WebRTC one of asterisk-config/pjsip.conf) logs in; the
page's softphone registers; the live call shows in the page with its operator; a click on
"listen" asks contact (POST /api/v1/calls/{id}/spy), which rings the supervisor's endpoint into
ChanSpy with `X-Contact-Answer: auto` and `X-Contact-Spy: listen`; the page answers by itself,
shows the mode and who hears the supervisor (nobody: the microphone is off), and the browser
receives the call's audio (getStats: packets and audio energy growing). Switching to whisper
rings a new leg; "leave the call" hangs the spy leg up while the call goes on; when the call
itself ends, so does the spy leg. Every spy is audited.

Needs Asterisk, sipp, Chromium and the JsSIP bundle: without them this FAILS, never skips.
Figures are printed (-s). Screenshot for a human look: /tmp/contact-supervisor-listen.png.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from contact.domain.model import Role
from contact.ports import CallState
from contact.telephony.runner import AsteriskRunner
from tests.e2e.webrtc import (
    Ami,
    add_operator,
    operator_tab,
    telephony_center,
    wait_stats,
)
from tests.e2e.webrtc import ami as ami
from tests.e2e.webrtc import asterisk as asterisk
from tests.e2e.webrtc import webrtc_chromium as webrtc_chromium
from tests.integration.test_voice_harness import Parties, Pbx, VoiceCenter

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    # provisioning a fresh machine (debootstrap) takes about a minute on first use
    pytest.mark.timeout(300),
]

LISTEN_SHOT = "/tmp/contact-supervisor-listen.png"
CALLER_HZ, OPERATOR_HZ = 600.0, 1000.0


@pytest_asyncio.fixture(loop_scope="module")
async def voice(tmp_path: Path, asterisk: AsteriskRunner) -> AsyncIterator[VoiceCenter]:
    """A center that drives this Asterisk's calls itself (contact's own flow)."""
    running = await telephony_center(tmp_path, asterisk, offer_timeout_s=10.0)
    try:
        yield running
    finally:
        await running.center.client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def parties(asterisk: AsteriskRunner, tmp_path: Path) -> AsyncIterator[Parties]:
    if shutil.which("sipp") is None:
        pytest.fail("sipp is required (apt-get install sip-tester)", pytrace=False)
    p = Parties(Pbx(asterisk, asterisk.settings), tmp_path)
    try:
        yield p
    finally:
        await p.close()


def hearing(stats: dict[str, Any]) -> bool:
    """The call's audio arrives, and it is sound, not silence."""
    audio = stats["audio"]
    return (audio.get("packetsReceived") or 0) >= 25 and (audio.get("totalAudioEnergy") or 0) > 0


async def spy_leg_up(ami: Ami, since: float) -> dict[str, Any]:
    """ChanSpy started on the supervisor's endpoint (a newer one than `since`)."""
    return await ami.wait_for(
        lambda e: (
            e.get("Event") == "ChanSpyStart"
            and str(e.get("SpyerChannel", "")).startswith("PJSIP/sup1-")
            and e["_at"] >= since
        )
    )


async def call_row_state(page: Page, contact_id: str) -> str | None:
    return await page.locator(f"#sv-calls tr[data-id='{contact_id}']").get_attribute("data-state")


async def test_supervisor_listens_in_her_browser_switches_mode_and_leaves(
    voice: VoiceCenter, parties: Parties, webrtc_chromium: Browser, ami: Ami
) -> None:
    center = voice.center
    op_phone = await parties.phone(OPERATOR_HZ)
    op = await voice.operator("aigerim", op_phone)
    await op.ready()
    boss_id = await add_operator(center, "boss", "PJSIP/sup1", role=Role.SUPERVISOR)
    tab = await operator_tab(webrtc_chromium, center, "boss", lands_on="/supervisor")
    page = tab.page
    await expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered")
    await expect(page.locator("#sp-state")).to_have_text("На линии")
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    await expect(page.locator("#sv-live")).to_be_visible()
    await expect(page.locator("#sv-calls-empty")).to_have_text("Сейчас звонков нет")

    # a 102 call, answered by the operator's desk phone: it shows live in the room
    caller = await parties.caller(CALLER_HZ, hold_ms=60_000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    row = page.locator(f"#sv-calls tr[data-id='{contact_id}']")
    await expect(row).to_have_attribute("data-state", "connected")
    await expect(row.locator(".state")).to_have_text("Разговор")
    await expect(row.locator(".who")).to_have_text("Aigerim")
    await expect(page.locator("#sv-live-count")).to_have_text("1")

    # listen: one click, the page's softphone answers by itself and the call's audio arrives
    panel = page.locator("#call")
    clicking = time.monotonic()
    await row.locator("button[data-mode=listen]").click()
    await expect(panel).to_have_attribute("data-call", "active")
    active_s = time.monotonic() - clicking
    await expect(panel).to_have_attribute("data-spy", "listen")
    await expect(page.locator("#call-title")).to_have_text("Прослушивание")
    await expect(page.locator("#call-spy-note")).to_have_text(
        "Вас никто не слышит: микрофон выключен"
    )
    await expect(page.locator("#call-peer")).to_have_text("Оператор: Aigerim · Звонок 102")
    await expect(page.locator("#call-hangup")).to_have_text("Отключиться от звонка")
    await expect(page.locator("#call-mute")).to_be_hidden()  # listening: no microphone to turn on
    await expect(page.locator("#call-answer")).to_be_hidden()
    await expect(row).to_have_class("spying")
    await expect(row.locator("button[data-mode=listen]")).to_have_attribute("aria-pressed", "true")
    spied = await spy_leg_up(ami, clicking)
    assert spied["SpyeeUniqueid"] == voice.telephony.voice.live_call(contact_id).uniqueid  # type: ignore[union-attr]
    first = await wait_stats(page, "Softphone.stats()", hearing)
    hearing_s = time.monotonic() - clicking
    await asyncio.sleep(1.0)
    later = await page.evaluate("Softphone.stats()")
    assert later["audio"]["packetsReceived"] > first["audio"]["packetsReceived"]
    assert later["audio"]["totalAudioEnergy"] > first["audio"]["totalAudioEnergy"]
    assert later["audio"]["packetsSent"] > 0  # silence keeps the leg's RTP alive
    await page.screenshot(path=LISTEN_SHOT, full_page=True)

    # coach the operator instead: a new leg on the operator's channel, the microphone on
    switching = time.monotonic()
    await row.locator("button[data-mode=whisper]").click()
    await expect(panel).to_have_attribute("data-spy", "whisper")
    await expect(panel).to_have_attribute("data-call", "active")
    switched_s = time.monotonic() - switching
    await expect(page.locator("#call-title")).to_have_text("Подсказка оператору")
    await expect(page.locator("#call-spy-note")).to_have_text(
        "Вас слышит только оператор, заявитель — нет"
    )
    await expect(page.locator("#call-mute")).to_be_visible()
    await expect(row.locator("button[data-mode=whisper]")).to_have_attribute("aria-pressed", "true")
    coached = await spy_leg_up(ami, switching)
    assert coached["SpyeeUniqueid"] == voice.telephony.voice.live_call(contact_id).operator_leg  # type: ignore[union-attr]
    await wait_stats(page, "Softphone.stats()", hearing)

    # leave the call: the spy leg hangs up, the conversation goes on
    leaving = time.monotonic()
    await page.locator("#call-hangup").click()
    await expect(panel).to_have_attribute("data-call", "ended")
    await ami.wait_for(
        lambda e: (
            e.get("Event") == "Hangup"
            and str(e.get("Channel", "")).startswith("PJSIP/sup1-")
            and e["_at"] >= leaving
        )
    )
    left_s = time.monotonic() - leaving
    await expect(row).not_to_have_class("spying")
    await expect(panel).to_be_hidden()
    t0 = time.monotonic()
    await asyncio.sleep(1.0)
    assert op_phone.rtp.hears(CALLER_HZ, t0) > 0.5
    assert caller.rtp.hears(OPERATOR_HZ, t0) > 0.5
    live = voice.telephony.voice.live_call(contact_id)
    assert live is not None and live.state == CallState.CONNECTED

    # listening when the call ends: the spy leg ends with it, the room empties
    await row.locator("button[data-mode=listen]").click()
    await expect(panel).to_have_attribute("data-spy", "listen")
    await expect(panel).to_have_attribute("data-call", "active")
    await op.post(f"/api/v1/calls/{contact_id}/hangup")
    await expect(panel).to_have_attribute("data-call", "ended")
    await expect(row).to_be_hidden()
    await expect(page.locator("#sv-calls-empty")).to_be_visible()

    audit = await center.container.db.audit.entries(subject=contact_id)
    audit.sort(key=lambda e: e.seq)
    spies = [(e.actor, e.details.get("mode")) for e in audit if e.action == "call.spy"]
    assert spies == [(boss_id, "listen"), (boss_id, "whisper"), (boss_id, "listen")]

    # the same page in Kazakh
    await page.goto(center.url + "/supervisor?lang=kk")
    await expect(page.locator("#sp-state")).to_have_text("Желіде")
    await expect(page.locator("#sv-calls-empty")).to_have_text("Қазір қоңырау жоқ")
    print(
        f"\nlisten click → spy leg answered in the page {active_s * 1000:.0f} ms, → audio "
        f"arriving {hearing_s * 1000:.0f} ms; whisper click → new leg answered "
        f"{switched_s * 1000:.0f} ms; leave → spy leg gone {left_s * 1000:.0f} ms\n"
        f"supervisor received while listening: {later['audio']}"
    )
    assert not tab.errors, tab.errors
    await op.close()
    await page.context.close()
