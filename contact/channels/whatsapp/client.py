"""Outbound calls to the WhatsApp Cloud API (Graph API), a thin own layer on aiohttp: send a
message, fetch a citizen's media (its sha256 checked). Graph errors are translated here,
once: DeliveryError for sends, chat.MediaError for media.

The sender keeps WhatsApp's rules: free-form messages only within 24 hours of the citizen's
last message, an approved template (CONTACT_WHATSAPP_TEMPLATE_NAME, one body parameter)
after that; the citizen addressed by their business-scoped user id (`recipient`) when known,
else by phone number (`to`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from contact.channels.chat.media import MediaError
from contact.channels.chat.outbox import DeliveryError, Sent
from contact.channels.chat.ports import Conversation, Delivery, DeliveryStatus
from contact.channels.whatsapp.parse import sha256_matches
from contact.config import WhatsAppSettings
from contact.domain.model import Language

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0
WINDOW_MARGIN_S = 15 * 60  # the last-message time is recorded at most every 5 min; be early
RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131048, 131056})
OUTSIDE_WINDOW_CODES = frozenset({131047})
MAX_TEXT = 4096
MAX_BUTTON_TITLE = 20


class GraphError(Exception):
    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def retry(self) -> bool:
        return self.status >= 500 or self.status == 429 or self.code in RATE_LIMIT_CODES


class GraphClient:
    def __init__(self, settings: WhatsAppSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise GraphError(503, None, "the WhatsApp client is not started")
        return self._session

    def _headers(self) -> dict[str, str]:
        assert self._settings.access_token is not None
        return {"Authorization": f"Bearer {self._settings.access_token.get_secret_value()}"}

    def url(self, path: str) -> str:
        s = self._settings
        return f"{s.api_base.rstrip('/')}/{s.api_version}/{path}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _json(self, response: aiohttp.ClientResponse) -> Any:
        try:
            return await response.json(content_type=None)
        except (ValueError, aiohttp.ClientError):
            return None

    async def _raise_for(self, response: aiohttp.ClientResponse) -> None:
        if response.status < 400:
            return
        data = await self._json(response)
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        message = str(error.get("message") or response.reason or "error")[:300]
        raise GraphError(response.status, code if isinstance(code, int) else None, message)

    async def send(self, payload: Mapping[str, Any]) -> str:
        """POST /{version}/{phone number id}/messages; the new message's wamid."""
        assert self._settings.phone_number_id is not None
        async with self.session.post(
            self.url(f"{self._settings.phone_number_id}/messages"),
            json=dict(payload),
            headers=self._headers(),
        ) as response:
            await self._raise_for(response)
            data = await self._json(response)
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise GraphError(502, None, "the answer carries no message id") from None

    async def fetch_media(
        self, media_id: str, expected_sha256: str | None, max_bytes: int
    ) -> bytes:
        """GET /{version}/{media id} for its URL, then the bytes (with the Bearer token),
        checked against the sha256 of the webhook (or of the media's own description)."""
        try:
            async with self.session.get(
                self.url(media_id),
                params={"phone_number_id": self._settings.phone_number_id or ""},
                headers=self._headers(),
            ) as response:
                await self._raise_for(response)
                info = await self._json(response)
            if not isinstance(info, dict) or not isinstance(info.get("url"), str):
                raise MediaError("no media URL in the answer", retry=False)
            size = info.get("file_size")
            if isinstance(size, int) and size > max_bytes:
                raise MediaError(f"larger than {max_bytes} bytes", retry=False)
            data = await self._download(info["url"], max_bytes)
        except GraphError as error:
            raise MediaError(error.message, retry=error.retry) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise MediaError(type(error).__name__, retry=True) from None
        expected = expected_sha256 or (info.get("sha256") if isinstance(info, dict) else None)
        if not isinstance(expected, str) or not expected:
            raise MediaError("no sha256 to check the file against", retry=False)
        if not sha256_matches(data, expected):
            raise MediaError("sha256 mismatch: the file was refused", retry=False)
        return data

    async def _download(self, url: str, max_bytes: int) -> bytes:
        async with self.session.get(url, headers=self._headers()) as response:
            await self._raise_for(response)
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaError(f"larger than {max_bytes} bytes", retry=False)
        return bytes(data)


def _one_line(text: str) -> str:
    # template parameters may not hold new lines, tabs or more than four spaces in a row
    return re.sub(r"\s+", " ", text).strip()[:1000]


class WhatsAppSender:
    """The Outbox's sender: text or language buttons inside the 24-hour window, the template
    outside it."""

    def __init__(
        self,
        client: GraphClient,
        settings: WhatsAppSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock

    def _recipient(self, conversation: Conversation) -> dict[str, str]:
        if conversation.user_id:
            return {"recipient": conversation.user_id}
        return {"to": conversation.wa_id or conversation.address}

    def in_window(self, conversation: Conversation) -> bool:
        last = conversation.last_inbound_at
        if last is None:
            return False
        now = datetime.fromtimestamp(self._clock(), UTC)
        return now - last < timedelta(seconds=self._settings.window_s - WINDOW_MARGIN_S)

    def free_form(self, body: Mapping[str, Any]) -> dict[str, Any]:
        text = str(body.get("text", ""))[:MAX_TEXT]
        buttons = [b for row in body.get("buttons") or () for b in row][:3]
        if buttons:
            return {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": text[:1024]},
                    "action": {
                        "buttons": [
                            {
                                "type": "reply",
                                "reply": {
                                    "id": b["data"],
                                    "title": b["text"][:MAX_BUTTON_TITLE],
                                },
                            }
                            for b in buttons
                        ]
                    },
                },
            }
        return {"type": "text", "text": {"body": text, "preview_url": False}}

    def template(self, body: Mapping[str, Any], language: Language | None) -> dict[str, Any]:
        s = self._settings
        code = s.template_language_kk if language is Language.KK else s.template_language_ru
        return {
            "type": "template",
            "template": {
                "name": s.template_name,
                "language": {"code": code},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": _one_line(str(body.get("text", "")))}
                        ],
                    }
                ],
            },
        }

    async def send(self, delivery: Delivery, conversation: Conversation) -> Sent:
        envelope = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **self._recipient(conversation),
        }
        use_template = not self.in_window(conversation)
        if use_template and not self._settings.template_name:
            raise DeliveryError(
                "more than 24 hours since the citizen's last message and no template is "
                "configured (CONTACT_WHATSAPP_TEMPLATE_NAME)",
                retry=False,
            )
        for _ in range(2):
            content = (
                self.template(delivery.body, conversation.language)
                if use_template
                else self.free_form(delivery.body)
            )
            try:
                wamid = await self._client.send({**envelope, **content})
            except GraphError as error:
                if (
                    error.code in OUTSIDE_WINDOW_CODES
                    and not use_template
                    and self._settings.template_name
                ):
                    use_template = True  # our clock and Meta's disagree: the template it is
                    continue
                retry_after = 5.0 if error.code in RATE_LIMIT_CODES or error.status == 429 else None
                raise DeliveryError(
                    f"WhatsApp {error.status} {error.code or ''}: {error.message}".replace(
                        "  ", " "
                    ),
                    retry=error.retry,
                    retry_after_s=retry_after,
                ) from None
            except (aiohttp.ClientError, TimeoutError) as error:
                raise DeliveryError(
                    f"WhatsApp unreachable: {type(error).__name__}", retry=True
                ) from None
            return Sent(external_id=wamid, status=DeliveryStatus.ACCEPTED)
        raise DeliveryError("outside the 24-hour window", retry=False)
