"""A local stand-in for the services around the operator's page: a reverse geocoder answering
as Nominatim's /reverse (or as Photon's), made slow or broken on demand, and camera stills.
It counts what it was asked, so tests see the cache and the back-off at work."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGO4+/gVAAVLAqvsM8obAAAAAElFTkSuQmCC"
)


@dataclass
class PlaceServer:
    url: str = ""
    street: str = "проспект Абая"
    house: str = "10"
    city: str = "Алматы"
    delay_s: float = 0.0  # answers this late (a geocoder under load)
    broken: bool = False  # answers 500
    reverse_hits: list[dict[str, str]] = field(default_factory=list)
    stills: dict[str, int] = field(default_factory=dict)


SERVER: web.AppKey[PlaceServer] = web.AppKey("server", PlaceServer)


async def _reverse(request: web.Request) -> web.Response:
    server: PlaceServer = request.app[SERVER]
    server.reverse_hits.append(dict(request.query))
    if server.delay_s:
        await asyncio.sleep(server.delay_s)
    if server.broken:
        return web.Response(status=500, text="down")
    if "format" in request.query:  # Nominatim
        return web.json_response(
            {
                "display_name": f"{server.house}, {server.street}, {server.city}",
                "address": {
                    "road": server.street,
                    "house_number": server.house,
                    "city": server.city,
                },
            }
        )
    return web.json_response(  # Photon
        {
            "features": [
                {
                    "properties": {
                        "street": server.street,
                        "housenumber": server.house,
                        "city": server.city,
                    }
                }
            ]
        }
    )


async def _still(request: web.Request) -> web.Response:
    server: PlaceServer = request.app[SERVER]
    name = request.match_info["name"]
    server.stills[name] = server.stills.get(name, 0) + 1
    return web.Response(body=PNG, content_type="image/png")


@asynccontextmanager
async def place_server() -> AsyncIterator[PlaceServer]:
    server = PlaceServer()
    app = web.Application()
    app[SERVER] = server
    app.router.add_get("/reverse", _reverse)
    app.router.add_get("/stills/{name}.png", _still)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield server
    finally:
        await runner.cleanup()
