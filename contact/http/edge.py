"""What the device channels' HTTP edges share: bounded bodies, JSON that cannot crash the
parser, keyed rate limits, constant-time key checks. Every refusal is a ContactError with a
stable id, so a bad request is a clear 4xx and never a 500."""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler, Middleware

from contact import text_policy
from contact.errors import (
    BadRequest,
    ContactError,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)
from contact.http.client_address import Network, client_address
from contact.http.keys import PROXIES

CHUNK = 64 * 1024
T = TypeVar("T")
MAX_FORM_FIELD = 64 * 1024


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadTooLarge(
            f"the body is larger than {max_bytes} bytes", error_id="payload_too_large"
        )
    data = bytearray()
    while chunk := await request.content.read(CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise PayloadTooLarge(
                f"the body is larger than {max_bytes} bytes", error_id="payload_too_large"
            )
    return bytes(data)


def decode_json_object(raw: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """A JSON object from bytes, its text as contact.text_policy keeps it; malformed, too deeply
    nested, a non-finite number or not an object is a 4xx."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("the body is empty; send a JSON object", error_id="bad_json")
    try:
        data = text_policy.loads(raw)  # text cleaned, numbers finite: one policy, every edge
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON", error_id="bad_json") from None
    if not isinstance(data, dict):
        raise Unprocessable("the body must be a JSON object", error_id="not_an_object")
    return data


def require_json(request: web.Request, *, allow_empty: bool = False) -> None:
    if allow_empty and not request.body_exists:
        return
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send application/json", error_id="json_required")


async def read_json_object(
    request: web.Request, max_bytes: int, *, allow_empty: bool = False
) -> dict[str, Any]:
    require_json(request, allow_empty=allow_empty)
    return decode_json_object(await read_body(request, max_bytes), allow_empty=allow_empty)


async def read_multipart(
    request: web.Request,
    reader: Callable[[web.Request, int], Awaitable[T]],
    max_bytes: int,
) -> T:
    """A multipart body read by `reader`; whatever aiohttp's parser raises on bytes it cannot
    read (a truncated part or header, a header without a colon, an unknown
    Content-Transfer-Encoding, bad base64 or gzip) is a 400, never a 500."""
    try:
        return await reader(request, max_bytes)
    except (ContactError, web.HTTPException):  # already a clear answer (a 413 among them)
        raise
    except Exception as exc:  # the parser of hostile bytes: any failure is the body's
        reason = type(exc).__name__
        raise BadRequest(f"malformed multipart body ({reason})", error_id="bad_multipart") from None


async def read_form(request: web.Request) -> dict[str, str]:
    """A form's text fields (urlencoded or multipart), as contact.text_policy keeps text; a
    body aiohttp cannot parse is a 400, never a 500. Files are ignored."""

    async def parse(request: web.Request, _: int) -> dict[str, str]:
        form: dict[str, str] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    raise BadRequest("nested multipart is not supported", error_id="bad_multipart")
                data = bytearray()
                while chunk := await part.read_chunk(CHUNK):
                    data += chunk
                    if len(data) > MAX_FORM_FIELD:
                        raise PayloadTooLarge(
                            "a form field is too large", error_id="field_too_large"
                        )
                if part.filename is None:
                    form[text_policy.clean(part.name)] = text_policy.decode_bytes(
                        part.decode(bytes(data))
                    )
            return form
        for name, value in (await request.post()).items():
            if isinstance(value, str):
                form[text_policy.clean(name)] = text_policy.clean(value)
        return form

    return await read_multipart(request, parse, 0)


Check = Callable[[web.Request], Awaitable[None]]


def guard(check: Check) -> Middleware:
    """A channel's sub-application middleware: `check` runs before every request to one of its
    routes (an app key, a device's signature, a site's key, a rate limit), so no handler starts
    with it. A request that matches no route (404, 405) is left to the error answer."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is None:
            await check(request)
        return await handler(request)

    return middleware


def key_matches(sent: str, keys: Iterable[str]) -> bool:
    """Constant time per key; every configured key is compared (no early exit on a hit)."""
    sent_bytes = sent.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:
        found |= hmac.compare_digest(sent_bytes, key.encode())
    return found and bool(sent)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(
        data,
        status=status,
        headers=dict(headers or {}),
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


def remote_address(request: web.Request) -> str:
    """The client's address for per-address limits: behind the trusted TLS proxies
    (CONTACT_HTTP_TRUSTED_PROXIES) the forwarded one, else the peer's."""
    proxies: tuple[Network, ...] = request.config_dict[PROXIES]
    return client_address(request, proxies) or "unknown"


class RateLimiter:
    """At most `limit` hits per key within a sliding `window_s`, in-process (per node).

    Memory is bounded: at most `max_keys` keys are tracked, the least recently used dropped
    first (a flood of distinct keys forgets old ones rather than growing without end).
    """

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        what: str = "requests",
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_s
        self._what = what
        self._max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def check(self, key: str) -> None:
        """Refuse (TooManyRequests) when `key` is over its limit, else count one hit."""
        self.peek(key)
        self._hits[key].append(self._clock())

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window_s(self) -> float:
        return self._window

    def recent(self, key: str) -> deque[float]:
        """The times of `key`'s hits still in the window (the key tracked from now on)."""
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        return hits

    def hit(self, key: str) -> None:
        """Count one hit of `key`, refusing nothing."""
        self.recent(key).append(self._clock())

    def take_back(self, key: str) -> None:
        """Uncount `key`'s latest hit: a request counted before it turned out not to be one
        the limit is for (an app report found to be a replay, or refused)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def peek(self, key: str) -> None:
        """Refuse when `key` is over its limit, counting nothing: several limits on one request
        are all looked at before any of them counts it."""
        now = self._clock()
        hits = self.recent(key)
        if len(hits) >= self._limit:
            retry = max(1, int(self._window - (now - hits[0])) + 1)
            raise TooManyRequests(
                f"too many {self._what}; retry in {retry} s",
                error_id="rate_limited",
                details={"retry_after_s": retry},
            )
