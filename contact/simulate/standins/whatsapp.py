"""A local stand-in for the WhatsApp Cloud API (Graph API), over real HTTP (aiohttp).

It speaks what the channel uses — POST /<version>/<phone number id>/messages (Bearer token;
`to` or `recipient`), GET /<version>/<media id> (the media's URL, type, sha256, size) and the
media download (Bearer token) — and plays Meta's side of the webhook: it builds realistic
notifications (text, location, image, audio, interactive replies, statuses), signs them with
the app secret (X-Hub-Signature-256) and POSTs them to the center. Usable by tests and
benchmarks alike; `contact simulate` runs it next to the center it drives.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web

from contact.simulate.standins.server import StandIn

ACCESS_TOKEN = "EAAG-stand-in-access-token-0123456789"
APP_SECRET = "stand-in-app-secret-0123456789"
VERIFY_TOKEN = "stand-in-verify-token"
PHONE_NUMBER_ID = "106540352242922"
VERSION = "v23.0"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1"}},
        status=status,
    )


class GraphApiStandIn(StandIn):
    def __init__(
        self,
        *,
        access_token: str = ACCESS_TOKEN,
        app_secret: str = APP_SECRET,
        phone_number_id: str = PHONE_NUMBER_ID,
    ) -> None:
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        super().__init__()  # `sent`: message bodies, with "id" (the wamid) added
        self.calls: Counter[str] = Counter()
        self.media: dict[str, tuple[bytes, str]] = {}  # media id → (content, mime type)
        self.fail_sends = 0  # the next N sends answer 500
        self.outside_window: set[str] = set()  # recipients a free-form message fails for
        self._ids = itertools.count(1)

    # --- server --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        app.router.add_get("/{version}/{media_id}", self._media_info)
        app.router.add_get("/download/{media_id}", self._download)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.access_token}"

    async def _messages(self, request: web.Request) -> web.Response:
        self.calls["messages"] += 1
        if not self._authorized(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["phone_id"] != self.phone_number_id:
            return _error(400, 100, "Unsupported post request")
        body = await request.json()
        if body.get("messaging_product") != "whatsapp" or not (
            body.get("to") or body.get("recipient")
        ):
            return _error(400, 100, "Invalid parameter")
        if self.fail_sends > 0:
            self.fail_sends -= 1
            return _error(500, 1, "An unknown error occurred")
        who = str(body.get("recipient") or body.get("to"))
        if who in self.outside_window and body.get("type") != "template":
            return _error(400, 131047, "Re-engagement message: more than 24 hours have passed")
        wamid = f"wamid.HBgL{next(self._ids):012d}"
        self._took({**body, "id": wamid})
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": who, "wa_id": who}],
                "messages": [{"id": wamid}],
            }
        )

    async def _media_info(self, request: web.Request) -> web.Response:
        self.calls["media_info"] += 1
        if not self._authorized(request):
            return _error(401, 190, "Invalid OAuth access token")
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return _error(400, 100, "Unsupported get request")
        content, mime = self.media[media_id]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{self.url}/download/{media_id}",
                "mime_type": mime,
                "sha256": hashlib.sha256(content).hexdigest(),
                "file_size": len(content),
                "id": media_id,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        self.calls["download"] += 1
        if not self._authorized(request):
            return _error(401, 190, "Invalid OAuth access token")
        found = self.media.get(request.match_info["media_id"])
        if found is None:
            return _error(404, 100, "Not found")
        return web.Response(body=found[0], content_type=found[1])

    # --- Meta's side of the webhook ------------------------------------------------------

    def add_media(self, content: bytes, mime: str) -> str:
        media_id = f"{next(self._ids) + 900_000_000_000}"
        self.media[media_id] = (content, mime)
        return media_id

    def wamid(self) -> str:
        return f"wamid.HBgLNzcwMTIzNDU2NzgVAgASGBQz{next(self._ids):012d}"

    def sender(
        self, *, wa_id: str | None = None, user_id: str | None = None, name: str = "Айгерим"
    ) -> dict[str, Any]:
        contact: dict[str, Any] = {"profile": {"name": name}}
        if wa_id:
            contact["wa_id"] = wa_id
        if user_id:
            contact["user_id"] = user_id
        return contact

    def message(
        self, contact: dict[str, Any], kind: str, body: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "id": self.wamid(),
            "timestamp": str(int(time.time())),
            "type": kind,
            **extra,
        }
        if contact.get("wa_id"):
            message["from"] = contact["wa_id"]
        if contact.get("user_id"):
            message["from_user_id"] = contact["user_id"]
        if body is not None:
            message[kind] = body
        return message

    def text(self, contact: dict[str, Any], text: str) -> dict[str, Any]:
        return self.message(contact, "text", {"body": text})

    def location(
        self, contact: dict[str, Any], lat: float, lon: float, **extra: Any
    ) -> dict[str, Any]:
        return self.message(contact, "location", {"latitude": lat, "longitude": lon, **extra})

    def image(
        self,
        contact: dict[str, Any],
        content: bytes,
        caption: str | None = None,
        *,
        sha256: str | None = None,
    ) -> dict[str, Any]:
        media_id = self.add_media(content, "image/jpeg")
        body = {
            "id": media_id,
            "mime_type": "image/jpeg",
            "sha256": sha256 or hashlib.sha256(content).hexdigest(),
        }
        if caption:
            body["caption"] = caption
        return self.message(contact, "image", body)

    def audio(
        self, contact: dict[str, Any], content: bytes, *, voice: bool = True
    ) -> dict[str, Any]:
        media_id = self.add_media(content, "audio/ogg; codecs=opus")
        body = {
            "id": media_id,
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": hashlib.sha256(content).hexdigest(),
            "voice": voice,
        }
        return self.message(contact, "audio", body)

    def button_reply(self, contact: dict[str, Any], reply_id: str, title: str) -> dict[str, Any]:
        return self.message(
            contact,
            "interactive",
            {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
        )

    def notification(
        self,
        messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
        contacts: list[dict[str, Any]] = (),  # type: ignore[assignment]
        statuses: list[dict[str, Any]] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        value: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "77270000102",
                "phone_number_id": self.phone_number_id,
            },
        }
        if contacts:
            value["contacts"] = list(contacts)
        if messages:
            value["messages"] = list(messages)
        if statuses:
            value["statuses"] = list(statuses)
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}
            ],
        }

    def status(
        self, wamid: str, status: str, recipient: str, *, errors: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": recipient,
        }
        if errors:
            found["errors"] = errors
        return found

    async def post(
        self,
        url: str,
        notification: dict[str, Any] | bytes,
        *,
        signature: str | None = "valid",
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """POST a notification to the center's webhook as Meta does (signed)."""
        assert self._session is not None
        body = (
            notification if isinstance(notification, bytes) else json.dumps(notification).encode()
        )
        headers = {"Content-Type": content_type}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = sign(body, self.app_secret)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self._session.post(url, data=body, headers=headers) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = await response.text()
            return response.status, data
