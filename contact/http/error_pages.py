"""Errors as pages for people: a browser that asks for HTML on a page route (not the API,
webhooks, probes or the WebSocket, which keep their JSON errors, the public contract) gets a
page in its user's language (kk, ru or en): the one chosen on the pages (`?lang`, the
language cookie), else the browser's Accept-Language, else Russian."""

from __future__ import annotations

from aiohttp import web

from contact.domain.model import UiLanguage
from contact.http.errors import is_page
from contact.http.pages import LANG_COOKIE, render_page, ui_language

# statuses with their own title; any other 4xx reads as a bad request, any 5xx as ours
_TITLED = frozenset({400, 403, 404, 405, 413, 429, 500, 503})


def wants_page(request: web.Request) -> bool:
    """A browser navigating (Accept: text/html), not a script calling an API route."""
    return is_page(request) and "text/html" in request.headers.get("Accept", "")


def page_language(request: web.Request) -> UiLanguage:
    if "lang" in request.query or LANG_COOKIE in request.cookies:
        return ui_language(request)
    return accept_language(request.headers.get("Accept-Language", ""))


def accept_language(header: str) -> UiLanguage:
    """The first of kk, ru and en the browser prefers (by q), else Russian."""
    ranked: list[tuple[float, int, UiLanguage]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        try:
            ranked.append((-q, i, UiLanguage(tag.split("-")[0].strip().lower())))
        except ValueError:
            continue
    return min(ranked)[2] if ranked else UiLanguage.RU


def page_for(request: web.Request, status: int) -> web.Response | None:
    """The errors middleware's `ERROR_PAGE`: a page for a person, None for a script."""
    return error_page(request, status) if wants_page(request) else None


def error_page(request: web.Request, status: int) -> web.Response:
    key = status if status in _TITLED else 500 if status >= 500 else 400
    return render_page(
        "error.html",
        request,
        page_language(request),
        status=status,
        error_title=f"ui.error_{key}",
        error_text=f"ui.error_{key}_text",
    )
