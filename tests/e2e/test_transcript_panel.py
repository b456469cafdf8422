"""The live transcript of a call in a real browser, without Asterisk: the center gets the
transcript API and projection by hand (the plugin installs them only beside telephony), the
stored segments go through the real store, and the live ones are published on the real bus
as the recognition pipeline publishes them. The operator who took the voice contact reads the
stored segments, then the caller's partial (outside the live region), then the final, and the
degraded notice; a keyword.alert of the transcript marks the words.

Screenshot for a human look: /tmp/contact-transcript.png."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import BrowserContext, Route, expect

from contact.bootstrap import build
from contact.domain import events as ev
from contact.domain.commands import RegisterContact
from contact.domain.model import ChannelKind, Priority, Role, new_id
from contact.http.app import create_app
from contact.i18n import text
from contact.persistence.transcripts import Segment, SqlTranscriptStore
from contact.transcribe import PLUGIN as TRANSCRIBE
from contact.transcribe import TRANSCRIPTION_PART
from contact.transcribe.engine import VoskEngine
from contact.transcribe.projection import TranscriptProjection
from contact.transcribe.service import Transcription
from tests.e2e.test_operator_browser import connected, log_in, open_page
from tests.support import Center, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
SHOT = "/tmp/contact-transcript.png"
TELEPHONY_ON = """new MutationObserver((_, obs) => {
  const live = document.getElementById("sv-live");
  if (live) { live.dataset.telephony = "on"; obs.disconnect(); }
}).observe(document, { childList: true, subtree: true });"""
SUPERVISOR_SHOT = "/tmp/contact-transcript-supervisor.png"


@pytest_asyncio.fixture(loop_scope="module")
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    """A whole center on a real port, with transcripts but no telephony."""
    settings = make_settings(tmp_path)
    container = await build(settings)
    transcription = Transcription(
        settings=settings,
        engine=VoskEngine(settings.models.dir),
        store=SqlTranscriptStore(container.db.store),
        bus=container.bus,
        registry=None,
    )
    await transcription.store.prepare()
    TranscriptProjection(container.broadcast).register(container.bus)
    container.provide(TRANSCRIPTION_PART, transcription)
    container.plugins = (*container.plugins, TRANSCRIBE)  # its routes, without its install
    app = create_app(container)
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    try:
        yield Center(container, client)
    finally:
        await client.close()
        transcription.pool.shutdown()


def segment(contact_id: str, speaker: str, said: str, start_s: float) -> Segment:
    now = datetime.now(UTC)
    return Segment(
        new_id(), contact_id, speaker, "ru", said, (), start_s, start_s + 1, 0.9, now, now
    )


async def test_the_operator_reads_the_call_as_it_is_spoken(
    center: Center, context: BrowserContext
) -> None:
    await center.add_operator("aigerim")
    page, errors = await open_page(context)
    await log_in(page, center, "aigerim")
    await page.wait_for_url(center.url + "/", timeout=WAIT_MS)
    await connected(page)

    registered = await center.container.bus.execute(
        RegisterContact(channel=ChannelKind.VOICE, text="")
    )
    call = registered.contact_id
    store = center.container.get(TRANSCRIPTION_PART).store
    await store.add(segment(call, "caller", "Алло, полиция?", 0.0))
    await store.add(segment(call, "operator", "Полиция, слушаю вас", 1.5))

    await page.locator("#go-ready").click()
    await expect(page.locator("#offer")).to_be_visible()
    await page.locator("#accept").click()
    panel = page.locator("#transcript")
    await expect(panel).to_be_visible()
    await expect(panel.locator("h3")).to_have_text("Транскрипт")
    finals = panel.locator("ol.tr-segments li")
    await expect(finals).to_have_text(
        ["Заявитель: Алло, полиция?", "Оператор: Полиция, слушаю вас"]
    )
    await expect(panel.locator("ol.tr-segments")).to_have_attribute("aria-live", "polite")

    bus = center.container.bus
    await bus.publish(ev.TranscriptPartial(contact_id=call, speaker="caller", text="у соседа"))
    partial = panel.locator(".tr-partial[data-speaker=caller]")
    await expect(partial).to_be_visible()
    await expect(partial).to_contain_text("Заявитель")
    await expect(partial).to_contain_text("у соседа")
    await expect(finals).to_have_count(2)  # a partial is not a final: not in the live list

    final = "у соседа пистолет"
    await bus.publish(
        ev.TranscriptSegmentStored(
            contact_id=call,
            segment_id=new_id(),
            speaker="caller",
            language="ru",
            text=final,
            start_s=3.0,
            end_s=5.0,
            confidence=0.8,
        )
    )
    await expect(finals.last).to_have_text(f"Заявитель: {final}")
    await expect(finals).to_have_count(3)
    await expect(partial).to_be_hidden()  # the final replaced it

    await bus.publish(
        ev.KeywordAlerted(
            contact_id=call,
            category="weapon",
            words=("пистолет",),
            source="transcript",
            priority=Priority.SOS,
        )
    )
    await expect(finals.last.locator("mark.kw")).to_have_text("пистолет")
    await expect(finals.last.locator(".kw[data-category=weapon]")).to_have_text("⚠ Оружие")

    await bus.publish(
        ev.TranscriptDegraded(
            contact_id=call, speaker="caller", level="partials_dropped", reason="behind"
        )
    )
    await expect(panel.locator(".tr-notice")).to_have_text(
        "⚠ " + text("transcript.partials_dropped", "ru")
    )
    await expect(page.locator("#messages li")).to_have_count(0)  # the notice is no message

    await page.screenshot(path=SHOT, full_page=True)
    print("screenshot:", SHOT)
    # a reload brings the stored segments back (the live final was not stored: two)
    await page.reload()
    await connected(page)
    await expect(page.locator("#transcript ol.tr-segments li")).to_have_count(2)
    assert not errors, errors


async def test_the_supervisor_reads_a_live_call(center: Center, context: BrowserContext) -> None:
    await center.add_operator("erzhan", role=Role.SUPERVISOR)
    registered = await center.container.bus.execute(
        RegisterContact(channel=ChannelKind.VOICE, text="")
    )
    call = registered.contact_id
    store = center.container.get(TRANSCRIPTION_PART).store
    await store.add(segment(call, "caller", "Алло, полиция?", 0.0))
    page, errors = await open_page(context)
    now = datetime.now(UTC).isoformat()
    live = {  # the live calls list comes from Asterisk, absent here: the page gets one call
        "total": 1,
        "calls": [
            {"contact_id": call, "kind": "voice", "state": "holding", "operator_id": None,
             "language": "ru", "started_at": now, "answered_at": None}
        ],
    }  # fmt: skip

    async def calls(route: Route) -> None:
        await route.fulfill(json=live)

    await page.route(lambda url: "/api/v1/calls?" in url, calls)
    # as a center with telephony renders the room (a fulfilled document would be another
    # origin to Chromium's local network checks: the attribute is set as the page is parsed)
    await page.add_init_script(TELEPHONY_ON)
    await log_in(page, center, "erzhan")
    await page.wait_for_url(center.url + "/supervisor", timeout=WAIT_MS)
    await connected(page)
    toggle = page.locator(f'#sv-calls tr[data-id="{call}"] button.tr-toggle')
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    panel = page.locator("#sv-transcript")
    finals = panel.locator("ol.tr-segments li")
    await expect(finals).to_have_text(["Заявитель: Алло, полиция?"])

    bus = center.container.bus
    await bus.publish(ev.TranscriptPartial(contact_id=call, speaker="caller", text="горит"))
    await expect(panel.locator(".tr-partial[data-speaker=caller]")).to_contain_text("горит")
    await bus.publish(
        ev.TranscriptSegmentStored(
            contact_id=call, segment_id=new_id(), speaker="caller", language="ru",
            text="горит квартира", start_s=2.0, end_s=3.0, confidence=0.8,
        )
    )  # fmt: skip
    await expect(finals.last).to_have_text("Заявитель: горит квартира")
    await toggle.click()
    await expect(panel).to_be_hidden()

    await page.locator("#sv-tr-q").fill("полиция")
    await page.locator("#sv-tr-search-form button").click()
    found = page.locator("#sv-tr-results li")
    await expect(found).to_have_count(1)
    await expect(found).to_have_attribute("data-contact", call)
    await expect(found.locator("mark.kw")).to_have_text("полиция")
    await page.screenshot(path=SUPERVISOR_SHOT, full_page=True)
    print("screenshot:", SUPERVISOR_SHOT)
    await page.locator("#sv-tr-q").fill("вертолёт")
    await page.locator("#sv-tr-search-form button").click()
    await expect(page.locator("#sv-tr-status")).to_have_text("Ничего не найдено")
    await expect(found).to_have_count(0)
    assert not errors, errors
