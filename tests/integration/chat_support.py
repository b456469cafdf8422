"""Shared by the Telegram and WhatsApp integration tests: a center wired to the stand-ins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contact.channels.chat.sql import SqlChatStore
from contact.config import Settings, TelegramSettings, WhatsAppSettings
from tests.standins import telegram as tg
from tests.standins import whatsapp as wa
from tests.support import Center, make_settings


def chat_store(center: Center) -> SqlChatStore:
    """The chat store of the center's database, read without the node's cache."""
    return SqlChatStore(center.container.db.store)


def chat_settings(
    tmp_path: Path,
    *,
    telegram_url: str | None = None,
    whatsapp_url: str | None = None,
    telegram: dict[str, Any] | None = None,
    whatsapp: dict[str, Any] | None = None,
    **routing: Any,
) -> Settings:
    base = make_settings(tmp_path, **routing)
    update: dict[str, Any] = {}
    if telegram_url is not None:
        update["telegram"] = TelegramSettings(
            token=tg.TOKEN, webhook_secret=tg.SECRET, api_base=telegram_url, **(telegram or {})
        )
    if whatsapp_url is not None:
        update["whatsapp"] = WhatsAppSettings(
            verify_token=wa.VERIFY_TOKEN,
            app_secret=wa.APP_SECRET,
            access_token=wa.ACCESS_TOKEN,
            phone_number_id=wa.PHONE_NUMBER_ID,
            api_base=whatsapp_url,
            api_version=wa.VERSION,
            **(whatsapp or {}),
        )
    return base.model_copy(update=update)


def serve_env(
    tmp_path: Path, *, telegram_url: str | None = None, whatsapp_url: str | None = None
) -> dict[str, str]:
    """Environment of a `contact serve` process wired to the stand-ins."""
    env = {
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_DATA_DIR": str(tmp_path),
        "CONTACT_ROUTING_WRAP_UP_S": "0",
    }
    if telegram_url is not None:
        env.update(
            CONTACT_TELEGRAM_TOKEN=tg.TOKEN,
            CONTACT_TELEGRAM_WEBHOOK_SECRET=tg.SECRET,
            CONTACT_TELEGRAM_API_BASE=telegram_url,
        )
    if whatsapp_url is not None:
        env.update(
            CONTACT_WHATSAPP_VERIFY_TOKEN=wa.VERIFY_TOKEN,
            CONTACT_WHATSAPP_APP_SECRET=wa.APP_SECRET,
            CONTACT_WHATSAPP_ACCESS_TOKEN=wa.ACCESS_TOKEN,
            CONTACT_WHATSAPP_PHONE_NUMBER_ID=wa.PHONE_NUMBER_ID,
            CONTACT_WHATSAPP_API_BASE=whatsapp_url,
            CONTACT_WHATSAPP_API_VERSION=wa.VERSION,
        )
    return env


async def queued_contacts(browser: Any, channel: str, expected: int, within_s: float = 20.0) -> Any:
    """The waiting contacts of a channel, once there are `expected` of them (bounded)."""
    import asyncio

    found: list[Any] = []
    for _ in range(int(within_s / 0.1)):
        queue = await browser.get("/api/v1/queue")
        found = [c for c in queue["contacts"] if c["channel"] == channel]
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{len(found)} {channel} contacts in the queue, expected {expected}")
