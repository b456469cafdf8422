"""A reload in the middle of listen-in, on a real Asterisk with real sipp phones and the
supervisor's browser softphone (as tests/e2e/test_supervisor_softphone.py). The listening leg
is the page's own WebRTC call: a reload ends it (Asterisk hangs the spy leg up at once), so the
reloaded page must show the call as it is, not listened to, with nothing stale, and listening
again is one click.

Needs Asterisk, sipp, Chromium and the JsSIP bundle: without them this FAILS, never skips.
Screenshots are test artifacts: under $CONTACT_TEST_ARTIFACTS, else <tmp>/contact-artifacts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from contact.domain.model import Role
from contact.ports import CallState
from tests.e2e.test_operator_workspace import artifacts as artifacts
from tests.e2e.test_supervisor_softphone import CALLER_HZ, OPERATOR_HZ, hearing, spy_leg_up
from tests.e2e.test_supervisor_softphone import parties as parties
from tests.e2e.test_supervisor_softphone import voice as voice
from tests.e2e.webrtc import Ami, add_operator, operator_tab, wait_stats
from tests.e2e.webrtc import ami as ami
from tests.e2e.webrtc import asterisk as asterisk
from tests.e2e.webrtc import webrtc_chromium as webrtc_chromium
from tests.integration.test_voice_harness import Parties, VoiceCenter

DESK_HZ = 1500.0  # the supervisor's desk phone

pytestmark = [
    pytest.mark.browser,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(300),
]


async def test_a_reload_while_listening_in(
    voice: VoiceCenter, parties: Parties, webrtc_chromium: Browser, ami: Ami, artifacts: Path
) -> None:
    center = voice.center
    op_phone = await parties.phone(OPERATOR_HZ)
    op = await voice.operator("aigerim", op_phone)
    await op.ready()
    await add_operator(center, "boss", "PJSIP/sup1", role=Role.SUPERVISOR)
    tab = await operator_tab(webrtc_chromium, center, "boss", lands_on="/supervisor")
    page = tab.page
    await expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered")
    await parties.caller(CALLER_HZ, hold_ms=90_000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    row = page.locator(f"#sv-calls tr[data-id='{contact_id}']")
    await expect(row).to_have_attribute("data-state", "connected")

    clicking = time.monotonic()
    await row.locator("button[data-mode=listen]").click()
    await expect(page.locator("#call")).to_have_attribute("data-call", "active")
    await spy_leg_up(ami, clicking)
    await wait_stats(page, "Softphone.stats()", hearing)
    await page.screenshot(path=artifacts / "listening.png")

    # the reload: the spy leg lived in the page, it ends with it (no ChanSpy left behind on
    # the call, nobody listening unseen); the reloaded page shows exactly that, and the call
    reloading = time.monotonic()
    await page.reload()
    await ami.wait_for(
        lambda e: (
            e.get("Event") == "Hangup"
            and str(e.get("Channel", "")).startswith("PJSIP/sup1-")
            and e["_at"] >= reloading
        )
    )
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    await expect(page.locator("#sp-state")).to_have_attribute("data-state", "registered")
    await expect(row).to_have_attribute("data-state", "connected")
    await expect(row.locator(".who")).to_have_text("Aigerim")
    await expect(row).not_to_have_class("spying")
    await expect(row.locator("button[data-mode=listen]")).to_have_attribute("aria-pressed", "false")
    await expect(page.locator("#call")).not_to_have_attribute("data-call", "active")
    await page.screenshot(path=artifacts / "after-reload.png")
    live = voice.telephony.voice.live_call(contact_id)
    assert live is not None and live.state == CallState.CONNECTED  # the call went on

    # one click listens again; "leave the call" stops it; the call still goes on
    again = time.monotonic()
    await row.locator("button[data-mode=listen]").click()
    await expect(page.locator("#call")).to_have_attribute("data-call", "active")
    await expect(page.locator("#call")).to_have_attribute("data-spy", "listen")
    await expect(row).to_have_class("spying")
    await spy_leg_up(ami, again)
    await wait_stats(page, "Softphone.stats()", hearing)
    await page.screenshot(path=artifacts / "listening-again.png")
    await page.locator("#call-hangup").click()
    await expect(page.locator("#call")).to_have_attribute("data-call", "ended")
    await expect(row).not_to_have_class("spying")
    live = voice.telephony.voice.live_call(contact_id)
    assert live is not None and live.state == CallState.CONNECTED
    audit = await center.container.db.audit.entries(subject=contact_id)
    assert [e.details.get("mode") for e in audit if e.action == "call.spy"] == ["listen", "listen"]
    assert not tab.errors, tab.errors
    await op.close()
    await page.context.close()


async def test_a_reload_while_listening_from_a_desk_phone(
    voice: VoiceCenter, parties: Parties, webrtc_chromium: Browser, ami: Ami, artifacts: Path
) -> None:
    """A supervisor whose phone is a desk phone (a sipp phone here): its spy leg outlives her
    page. The server is the truth (GET /api/v1/calls lists each call's spy legs): her page,
    reloaded, shows she is on the call and stops it (the leg hangs up, the call goes on)."""
    center = voice.center
    op_phone = await parties.phone(OPERATOR_HZ)
    desk_phone = await parties.phone(DESK_HZ)
    op = await voice.operator("dina", op_phone)
    await op.ready()
    boss = await voice.operator("chief", desk_phone, role=Role.SUPERVISOR)
    tab = await operator_tab(webrtc_chromium, center, "chief", lands_on="/supervisor")
    page = tab.page
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    caller = await parties.caller(CALLER_HZ, hold_ms=90_000)
    offer = await op.next_offer(within_s=10)
    contact_id = offer["data"]["contact"]["id"]
    await op.post(f"/api/v1/contacts/{contact_id}/accept")
    await op.next_event("call.connected", within_s=10)
    row = page.locator(f"#sv-calls tr[data-id='{contact_id}']")
    await expect(row).to_have_attribute("data-state", "connected")

    clicking = time.monotonic()
    await row.locator("button[data-mode=listen]").click()
    await expect(page.locator("#sv-spy-status")).to_have_text(
        "Звонок придёт на ваш рабочий телефон"
    )
    await ami.wait_for(
        lambda e: (
            e.get("Event") == "ChanSpyStart"
            and str(e.get("SpyerChannel", "")).startswith("PJSIP/sipp-sup-")
            and e["_at"] >= clicking
        )
    )
    await voice.until(
        lambda: desk_phone.rtp.heard(clicking).size > 4000, within_s=10, what="audio at the desk"
    )
    # the server says who listens; the page shows it
    listed = (await boss.get("/api/v1/calls"))["calls"]
    assert [
        (c["contact_id"], [(s["supervisor_id"], s["mode"]) for s in c["spies"]]) for c in listed
    ] == [(contact_id, [(boss.operator_id, "listen")])]
    await expect(row).to_have_class("spying")
    await expect(row.locator("button.spy-stop")).to_have_text("Отключиться от звонка")

    # reloaded: the leg is still up (a desk phone), and the page says so
    reloading = time.monotonic()
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-connection", "open")
    await expect(row).to_have_class("spying")
    await expect(row.locator("button[data-mode=listen]")).to_have_attribute("aria-pressed", "true")
    await page.screenshot(path=artifacts / "desk-phone-after-reload.png")
    assert desk_phone.rtp.heard(reloading).size > 0  # still listening through the reload

    # she stops it from the page: the spy leg hangs up, the call goes on
    stopping = time.monotonic()
    await row.locator("button.spy-stop").click()
    await ami.wait_for(
        lambda e: (
            e.get("Event") == "Hangup"
            and str(e.get("Channel", "")).startswith("PJSIP/sipp-sup-")
            and e["_at"] >= stopping
        )
    )
    await expect(row).not_to_have_class("spying")
    await expect(row.locator("button.spy-stop")).to_have_count(0)
    assert (await boss.get("/api/v1/calls"))["calls"][0]["spies"] == []
    live = voice.telephony.voice.live_call(contact_id)
    assert live is not None and live.state == CallState.CONNECTED
    t0 = time.monotonic()
    await asyncio.sleep(1.0)
    assert op_phone.rtp.hears(CALLER_HZ, t0) > 0.5 and caller.rtp.hears(OPERATOR_HZ, t0) > 0.5
    audit = await center.container.db.audit.entries(subject=contact_id)
    actions = [(e.actor, e.action) for e in sorted(audit, key=lambda e: e.seq)]
    assert [a for a in actions if a[1].startswith("call.spy")] == [
        (boss.operator_id, "call.spy"),
        (boss.operator_id, "call.spy_stop"),
    ]
    assert not tab.errors, tab.errors
    await op.close()
    await boss.close()
    await page.context.close()
