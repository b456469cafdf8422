"""Outbound calls to the Bot API through aiogram 3: messages, callback answers, files, polling,
the webhook. The only module that imports aiogram (it is imported when the channel is on, so
a center without Telegram does not pay aiogram's start-up). aiogram's exceptions are
translated here, once: DeliveryError for sends, chat.MediaError for files,
TelegramUnavailable for everything else.

`api_base` points the bot at another Bot API server: a self-hosted one, or the stand-in of the
tests (`Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from contact.channels.chat.media import MediaError
from contact.channels.chat.outbox import DeliveryError, Sent
from contact.channels.chat.ports import Conversation, Delivery, DeliveryStatus
from contact.config import TelegramSettings
from contact.errors import ContactError, Unavailable

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 20
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class TelegramUnavailable(Unavailable):
    error_id = "telegram_unavailable"


def _reason(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return str(message)[:300]


class TelegramClient:
    def __init__(self, settings: TelegramSettings) -> None:
        self._settings = settings
        self._bot: Bot | None = None

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise TelegramUnavailable("the Telegram client is not started")
        return self._bot

    async def start(self) -> None:
        assert self._settings.token is not None
        session = AiohttpSession(api=TelegramAPIServer.from_base(self._settings.api_base))
        self._bot = Bot(self._settings.token.get_secret_value(), session=session)
        if self._settings.mode == "webhook" and self._settings.webhook_url:
            secret = self._settings.webhook_secret
            try:
                await self.bot.set_webhook(
                    self._settings.webhook_url,
                    secret_token=secret.get_secret_value() if secret else None,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=REQUEST_TIMEOUT_S,
                )
            except AiogramError as error:  # the webhook may be set by hand later: keep serving
                log.error("setWebhook failed: %s", _reason(error))

    async def stop(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            await bot.session.close()

    # --- messages ------------------------------------------------------------------------

    async def send_text(
        self,
        chat_id: int | str,
        text: str,
        *,
        buttons: Sequence[Sequence[Mapping[str, str]]] = (),
        location_button: str | None = None,
    ) -> int:
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None
        if buttons:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=b["text"], callback_data=b["data"]) for b in row]
                    for row in buttons
                ]
            )
        elif location_button:
            markup = ReplyKeyboardMarkup(
                keyboard=[[KeyboardButton(text=location_button, request_location=True)]],
                resize_keyboard=True,
            )
        sent = await self.bot.send_message(
            chat_id, text, reply_markup=markup, request_timeout=REQUEST_TIMEOUT_S
        )
        return sent.message_id

    async def answer_callback(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id, request_timeout=REQUEST_TIMEOUT_S)
        except AiogramError as error:  # only stops the button's spinner: never worth a retry
            log.info("answerCallbackQuery failed: %s", _reason(error))

    # --- files ---------------------------------------------------------------------------

    async def fetch_file(self, file_id: str, max_bytes: int) -> bytes:
        try:
            info = await self.bot.get_file(file_id, request_timeout=REQUEST_TIMEOUT_S)
            if info.file_size is not None and info.file_size > max_bytes:
                raise MediaError(f"larger than {max_bytes} bytes", retry=False)
            if not info.file_path:
                raise MediaError("Telegram gave no file path", retry=False)
            buffer = io.BytesIO()
            await self.bot.download_file(info.file_path, buffer, timeout=60)
        except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as error:
            raise MediaError(_reason(error), retry=True) from None
        except (TelegramAPIError, ClientDecodeError) as error:
            raise MediaError(_reason(error), retry=False) from None
        except AiogramError as error:
            raise MediaError(_reason(error), retry=True) from None
        except (OSError, TimeoutError) as error:
            raise MediaError(_reason(error), retry=True) from None
        data = buffer.getvalue()
        if len(data) > max_bytes:
            raise MediaError(f"larger than {max_bytes} bytes", retry=False)
        return data

    # --- polling and the webhook ---------------------------------------------------------

    async def get_updates(self, offset: int | None, timeout_s: int) -> list[dict[str, Any]]:
        """Raw updates (as JSON objects, like a webhook carries them); confirms all below
        `offset`. TelegramUnavailable on any failure (the poller backs off)."""
        try:
            updates = await self.bot.get_updates(
                offset=offset,
                timeout=timeout_s,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=timeout_s + REQUEST_TIMEOUT_S,
            )
        except AiogramError as error:
            raise TelegramUnavailable(f"getUpdates failed: {_reason(error)}") from None
        return [
            u.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
            for u in updates
        ]

    async def delete_webhook(self) -> None:
        try:
            await self.bot.delete_webhook(request_timeout=REQUEST_TIMEOUT_S)
        except AiogramError as error:
            raise TelegramUnavailable(f"deleteWebhook failed: {_reason(error)}") from None


class TelegramSender:
    """The Outbox's sender: renders a delivery's body as one sendMessage."""

    def __init__(self, client: TelegramClient) -> None:
        self._client = client

    async def send(self, delivery: Delivery, conversation: Conversation) -> Sent:
        body = delivery.body
        try:
            message_id = await self._client.send_text(
                conversation.address,
                str(body.get("text", "")),
                buttons=body.get("buttons") or (),
                location_button=body.get("location_button"),
            )
        except TelegramRetryAfter as error:
            raise DeliveryError(
                _reason(error), retry=True, retry_after_s=error.retry_after
            ) from None
        except (TelegramNetworkError, TelegramServerError) as error:
            raise DeliveryError(_reason(error), retry=True) from None
        except TelegramForbiddenError as error:
            raise DeliveryError(
                f"the citizen blocked the bot: {_reason(error)}", retry=False
            ) from None
        except (TelegramAPIError, ClientDecodeError) as error:
            raise DeliveryError(_reason(error), retry=False) from None
        except ContactError as error:  # the client is stopping
            raise DeliveryError(error.message, retry=True) from None
        except (AiogramError, OSError, TimeoutError) as error:
            raise DeliveryError(_reason(error), retry=True) from None
        return Sent(external_id=str(message_id), status=DeliveryStatus.SENT)
