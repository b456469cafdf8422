"""Every error leaves as `{"error": {"id", "message"}}` with a fitting status; pages that need
a login redirect to it instead, and a browser asking for HTML on a page route gets an error page
in its language (error_pages.py). Foreign exceptions are translated here, once."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from contact.errors import ContactError, Unauthorized

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# origins pages may connect to besides their own (the softphone's SIP WebSocket at Asterisk)
CSP_CONNECT: web.AppKey[tuple[str, ...]] = web.AppKey("csp_connect", tuple)
# origins pages may load images from besides their own (the operator map's tile server)
CSP_IMG: web.AppKey[tuple[str, ...]] = web.AppKey("csp_img", tuple)

HTTP_ERROR_IDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def error_response(
    status: int, error_id: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    body: dict[str, Any] = {"id": error_id, "message": message}
    if details:
        body["details"] = details
    return web.json_response(
        {"error": body}, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def is_page(request: web.Request) -> bool:
    path = request.path
    return not path.startswith(("/api/", "/webhooks/", "/healthz", "/metrics", "/ws"))


# the app's error pages for people (http/error_pages.py, which renders with the pages): a
# page for this request and status, or None where the JSON error stays (API, scripts)
ERROR_PAGE: web.AppKey[Callable[[web.Request, int], web.Response | None]] = web.AppKey("error_page")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _errors_as_json(request, handler)
    if response.status >= 400 and response.content_type == "application/json":
        render = request.app.get(ERROR_PAGE)
        page = None if render is None else render(request, response.status)
        if page is not None:  # a person in a browser: a page in their language
            return page
    return response


async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Unauthorized as exc:
        if is_page(request) and request.method == "GET":
            raise web.HTTPSeeOther("/login") from None
        return error_response(exc.status, exc.error_id, exc.message, exc.details)
    except ContactError as exc:
        if exc.status >= 500:
            log.error("%s: %s", exc.error_id, exc.message)
        response = error_response(exc.status, exc.error_id, exc.message, exc.details)
        retry = exc.details.get("retry_after_s")
        if exc.status in (409, 429, 503) and isinstance(retry, int):
            response.headers["Retry-After"] = str(retry)  # RFC 9110: seconds
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error_id = HTTP_ERROR_IDS.get(exc.status, "http_error")
        message = exc.reason if exc.status != 413 else "the request body is too large"
        return error_response(exc.status, error_id, message)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error; it has been logged")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # no-referrer would make Chromium send "Origin: null" on same-site POSTs (CSRF refuses it)
    headers.setdefault("Referrer-Policy", "same-origin")
    connect: tuple[str, ...] = request.app.get(CSP_CONNECT, ())
    img: tuple[str, ...] = request.app.get(CSP_IMG, ())
    headers.setdefault("Content-Security-Policy", content_security_policy(connect, img))
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def content_security_policy(connect: Iterable[str] = (), img: Iterable[str] = ()) -> str:
    """The pages' policy: everything from the page's own origin, plus exactly the origins the
    configuration names (the SIP WebSocket for connect-src, the tile server for img-src).
    data: images are Leaflet's bundled control icons; media-src: call video and audio are
    MediaStreams (blob:/mediastream: when not srcObject)."""
    connect_src = " ".join(("'self'", *connect))
    img_src = " ".join(("'self'", "data:", "blob:", *img))
    return (
        f"default-src 'self'; img-src {img_src}; media-src 'self' blob: mediastream:; "
        f"connect-src {connect_src}; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
