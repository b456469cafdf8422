"""What every messenger stand-in is: a real HTTP server on this machine (aiohttp) that keeps
what the center sent through it, with a client session of its own for the messenger's side
(webhook POSTs to the center). Each stand-in adds its routes (`app`) and its API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web


class StandIn:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []  # what the center sent, in order
        self._sent_event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0: a free one); the stand-in's base URL."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets if isinstance(site._server, asyncio.Server) else []
        self.url = f"http://{host}:{sockets[0].getsockname()[1]}"
        self._session = aiohttp.ClientSession()
        return self.url

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _took(self, message: dict[str, Any]) -> None:
        """One message the center sent."""
        self.sent.append(message)
        self._sent_event.set()

    async def wait_sent(
        self, predicate: Callable[[dict[str, Any]], bool], within_s: float = 5.0
    ) -> dict[str, Any]:
        """The first message the center sent that matches (waits for it, bounded)."""
        async with asyncio.timeout(within_s):
            while True:
                for message in self.sent:
                    if predicate(message):
                        return message
                self._sent_event.clear()
                await self._sent_event.wait()
