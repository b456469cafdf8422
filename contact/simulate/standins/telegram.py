"""A local stand-in for the Telegram Bot API, over real HTTP (aiohttp).

It speaks what the bot uses — getMe, getUpdates (long polling; 409 while a webhook is set),
setWebhook / deleteWebhook / getWebhookInfo, sendMessage, answerCallbackQuery, getFile and
the file download at /file/bot<token>/<path> — and plays the citizen's side: it builds
realistic updates and delivers them either as webhook POSTs (with the
X-Telegram-Bot-Api-Secret-Token header, like Telegram) or through getUpdates. Everything the
bot sent is kept in `sent` for tests to look at. Usable by tests and benchmarks alike;
`contact simulate` runs it next to the center it drives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web

from contact.simulate.standins.server import StandIn

TOKEN = "123456789:AAStandInTokenForTests_0123456789ab"
SECRET = "stand-in-webhook-secret_0123"


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


class BotApiStandIn(StandIn):
    def __init__(self, token: str = TOKEN, secret: str = SECRET) -> None:
        self.token = token
        self.secret = secret
        super().__init__()  # `sent`: sendMessage parameters, in order
        self.answered: list[str] = []  # callback query ids
        self.calls: Counter[str] = Counter()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id → (file_path, content)
        self.blocked: set[int] = set()  # chats whose user blocked the bot (403)
        self.fail_sends = 0  # the next N sendMessage calls answer 500
        self.rate_limit_sends = 0  # the next N sendMessage calls answer 429 retry_after 1
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self._updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(100_000)
        self._message_ids = itertools.count(1)
        self._bot_message_ids = itertools.count(10_000)
        self._file_ids = itertools.count(1)

    # --- server --------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = (
                    value if isinstance(value, str | bytes | bytearray) else value.file.read()
                )
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        self.calls[method] += 1
        params = await self._params(request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        response: web.Response = await handler(params)
        return response

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        for path, content in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        return _error(404, "Not Found")

    # --- Bot API methods -----------------------------------------------------------------

    async def _api_getMe(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {"id": 123456789, "is_bot": True, "first_name": "Polis 102", "username": "p102bot"}
        )

    async def _api_setWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook_url = params.get("url") or None
        self.webhook_secret = params.get("secret_token")
        return _ok(True)

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook_url = None
        return _ok(True)

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> web.Response:
        return _ok(
            {
                "url": self.webhook_url or "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        )

    async def _api_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook_url:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not self._updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        limit = int(params.get("limit") or 100)
        return _ok(self._updates[:limit])

    async def _api_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        if self.fail_sends > 0:
            self.fail_sends -= 1
            return _error(500, "Internal Server Error")
        if self.rate_limit_sends > 0:
            self.rate_limit_sends -= 1
            return _error(429, "Too Many Requests: retry after 1", retry_after=1)
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        message_id = next(self._bot_message_ids)
        self._took({**params, "chat_id": chat_id, "message_id": message_id})
        return _ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": 123456789, "is_bot": True, "first_name": "Polis 102"},
                "text": params.get("text", ""),
            }
        )

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        self.answered.append(str(params.get("callback_query_id")))
        return _ok(True)

    async def _api_getFile(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        path, content = self.files[file_id]
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(content),
                "file_path": path,
            }
        )

    # --- the citizen's side --------------------------------------------------------------

    def add_file(self, content: bytes, path: str) -> str:
        file_id = f"AgAC-file-{next(self._file_ids)}"
        self.files[file_id] = (f"{path}/{file_id}", content)
        return file_id

    def user(self, chat_id: int, **extra: Any) -> dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "Азамат", **extra}

    def message(
        self, chat_id: int, text: str | None = None, *, language_code: str = "ru", **fields: Any
    ) -> dict[str, Any]:
        """A private-chat message update from citizen `chat_id`."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Азамат"},
            "from": self.user(chat_id, language_code=language_code),
            **fields,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": next(self._update_ids), "message": message}

    def location(self, chat_id: int, lat: float, lon: float, **extra: Any) -> dict[str, Any]:
        return self.message(chat_id, location={"latitude": lat, "longitude": lon, **extra})

    def live_location(
        self, chat_id: int, message_id: int, lat: float, lon: float
    ) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "edited_message": {
                "message_id": message_id,
                "date": int(time.time()) - 60,
                "edit_date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": self.user(chat_id),
                "location": {"latitude": lat, "longitude": lon, "live_period": 900},
            },
        }

    def photo(self, chat_id: int, content: bytes, caption: str | None = None) -> dict[str, Any]:
        small = self.add_file(content[:100], "photos")
        big = self.add_file(content, "photos")
        sizes = [
            {"file_id": small, "file_unique_id": "s", "width": 90, "height": 60, "file_size": 100},
            {
                "file_id": big,
                "file_unique_id": "b",
                "width": 1280,
                "height": 853,
                "file_size": len(content),
            },
        ]
        extra = {"caption": caption} if caption else {}
        return self.message(chat_id, photo=sizes, **extra)

    def media(
        self, chat_id: int, kind: str, content: bytes, mime_type: str, **fields: Any
    ) -> dict[str, Any]:
        """voice, video, audio, document, video_note …"""
        file_id = self.add_file(content, kind)
        data = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "mime_type": mime_type,
            **fields,
        }
        fields_of_kind: dict[str, Any] = {kind: data}
        return self.message(chat_id, **fields_of_kind)

    def callback(self, chat_id: int, data: str) -> dict[str, Any]:
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cbq-{next(self._message_ids)}",
                "from": self.user(chat_id),
                "chat_instance": "42",
                "data": data,
                "message": {
                    "message_id": next(self._bot_message_ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": "…",
                },
            },
        }

    async def deliver(
        self, update: dict[str, Any], *, url: str | None = None, secret: str | None = None
    ) -> int:
        """As Telegram does: a webhook POST when one is set (or `url` given), else queued for
        getUpdates (answers 200 then)."""
        target = url or self.webhook_url
        if target is None:
            self._updates.append(update)
            self._new_update.set()
            return 200
        assert self._session is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret or self.webhook_secret or self.secret}
        async with self._session.post(target, json=update, headers=headers) as response:
            await response.read()
            return response.status

    def pending_updates(self) -> int:
        return len(self._updates)

    def sent_to(self, chat_id: int) -> list[str]:
        return [str(m.get("text", "")) for m in self.sent if m["chat_id"] == chat_id]
