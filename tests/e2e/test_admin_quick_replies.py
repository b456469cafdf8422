"""An admin edits the operators' quick replies in Debian's Chromium and an operator uses the new
one at once: the admin reaches the page from the top bar, a submit without the text comes back
with what was typed and the cursor in the field to correct, the reply is added; the operator,
working a Kazakh Telegram contact, finds it first among her quick-reply buttons, clicks it and
sends it. Screenshots: under $CONTACT_TEST_ARTIFACTS, else <tmp>/contact-artifacts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, ViewportSize, expect

from contact.domain.commands import RegisterContact
from contact.domain.model import ChannelKind, Language, Role
from tests.e2e.test_operator_browser import connected, log_in
from tests.support import Center

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WAIT_MS = 15_000  # waits on a condition: generous, a loaded machine can take seconds
LABEL, TEXT = "Күтіңіз", "Біраз күте тұрыңыз, жасақ жолда."


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("CONTACT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()))
    where = root / "contact-artifacts" / request.node.name
    where.mkdir(parents=True, exist_ok=True)
    return Path(where)


async def test_an_admin_adds_a_reply_and_the_operator_sends_it(
    center: Center, chromium: Browser, artifacts: Path
) -> None:
    await center.add_operator("admin", role=Role.ADMIN)
    await center.add_operator("aigerim")
    view: ViewportSize = {"width": 1366, "height": 768}

    # the admin: from the supervisor's room to the quick replies, by the top bar
    admin_ctx = await chromium.new_context(viewport=view, locale="ru-RU")
    admin = await admin_ctx.new_page()
    await log_in(admin, center, "admin")
    await admin.wait_for_url(center.url + "/supervisor")
    nav = admin.get_by_role("navigation", name="Разделы")
    await nav.get_by_role("link", name="Быстрые ответы").click()
    await admin.wait_for_url(center.url + "/admin/quick-replies")
    await expect(admin.locator("h1")).to_have_text("Быстрые ответы операторов")
    await expect(nav.get_by_role("link", name="Быстрые ответы")).to_have_attribute(
        "aria-current", "page"
    )

    # a submit without the text: refused beside the field, nothing typed is lost
    await admin.get_by_label("Язык ответа").select_option("kk")
    await admin.get_by_label("Название кнопки").fill(LABEL)
    await admin.get_by_label("Порядок").fill("0")
    await admin.get_by_role("button", name="Добавить ответ").click()
    await expect(admin.locator("#qr-errors")).to_contain_text("Введите текст ответа.")
    text_box = admin.get_by_label("Текст ответа")
    await expect(text_box).to_be_focused()
    await expect(text_box).to_have_attribute("aria-invalid", "true")
    await expect(admin.get_by_label("Название кнопки")).to_have_value(LABEL)
    await expect(admin.get_by_label("Язык ответа")).to_have_value("kk")
    await expect(admin.get_by_label("Порядок")).to_have_value("0")
    await admin.screenshot(path=artifacts / "1-refused.png", full_page=True)

    await text_box.fill(TEXT)
    await admin.get_by_role("button", name="Добавить ответ").click()
    await expect(admin.get_by_role("status")).to_have_text("Ответ добавлен.")
    kk = admin.locator("#qr-list-kk tbody tr")
    await expect(kk.first.locator(".qr-label")).to_have_text(LABEL)
    await expect(kk.first.locator(".qr-text")).to_have_text(TEXT)
    await expect(admin.locator("#qr-list-kk h2")).to_contain_text("5 из 200")
    await admin.screenshot(path=artifacts / "2-added.png", full_page=True)

    # the operator, on a Kazakh Telegram chat: the new reply is the first button
    op_ctx = await chromium.new_context(viewport=view, locale="ru-RU")
    op = await op_ctx.new_page()
    await log_in(op, center, "aigerim")
    await op.wait_for_url(center.url + "/")
    await connected(op)
    assert await op.get_by_role("navigation", name="Разделы").count() == 0  # admins' only
    chat = await center.container.bus.execute(
        RegisterContact(
            channel=ChannelKind.TELEGRAM,
            text="Сәлеметсіз бе, көмек керек",
            citizen="tg:5150",
            language=Language.KK,
        )
    )
    await expect(op.locator(f"#queue tr[data-id='{chat.contact_id}']")).to_be_visible()
    await op.locator("#go-ready").click()
    await expect(op.locator("#offer")).to_be_visible()
    await op.locator("#accept").click()
    await expect(op.locator("#current")).to_have_attribute("data-contact", chat.contact_id)
    first = op.locator("#quick-replies .qr").first
    await expect(first).to_contain_text(LABEL)
    await expect(first).to_have_attribute("aria-keyshortcuts", "Alt+1")
    await first.click()
    await expect(op.locator("#reply-text")).to_have_value(TEXT)
    await op.keyboard.press("Control+Enter")
    await expect(op.locator("#messages .msg.out .text")).to_have_text([TEXT])
    await op.screenshot(path=artifacts / "3-operator.png")
    await op_ctx.close()
    await admin_ctx.close()
