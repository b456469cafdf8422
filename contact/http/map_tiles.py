"""The operator map's background tiles: what the page is told, and the CSP that lets them in.

Police networks and this machine are often offline, so tiles are optional: with no
CONTACT_HTTP_MAP_TILE_URL the map (web/static/dispatch-map.js, Leaflet) draws its markers on
a plain background and the pages load no image from anywhere but themselves. With one, the
pages' img-src gains exactly that tile server's origin, nothing wider.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from contact.config import HttpSettings
from contact.http.errors import CSP_IMG
from contact.http.keys import CONTAINER

log = logging.getLogger(__name__)

LEAFLET = Path(__file__).resolve().parents[2] / "web" / "static" / "dist" / "leaflet.min.js"


def page_context(settings: HttpSettings) -> dict[str, Any]:
    """Template values of the map (data attributes of its element; Jinja escapes them)."""
    return {
        "map_tile_url": settings.map_tile_url,
        "map_tile_attribution": settings.map_tile_attribution,
    }


def setup(app: web.Application) -> None:
    settings = app[CONTAINER].settings.http
    origin = settings.map_tile_origin
    if origin is not None:
        app[CSP_IMG] = (*app.get(CSP_IMG, ()), origin)
    if not LEAFLET.is_file():
        log.warning("%s is missing (cd web && npm ci && npm run build): no map", LEAFLET)
