"""What the device channels' HTTP edges share: bounded bodies, JSON that cannot crash the
parser, keyed rate limits, constant-time key checks. Every refusal is a ContactError with a
stable id, so a bad request is a clear 4xx and never a 500."""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from contact.errors import (
    BadRequest,
    PayloadTooLarge,
    TooManyRequests,
    Unprocessable,
    UnsupportedMediaType,
)

CHUNK = 64 * 1024


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
    """A JSON object from bytes; malformed, too deeply nested or not an object is a 4xx."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("the body is empty; send a JSON object", error_id="bad_json")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
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
    return request.remote or "unknown"


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
        if len(hits) >= self._limit:
            retry = max(1, int(self._window - (now - hits[0])) + 1)
            raise TooManyRequests(
                f"too many {self._what}; retry in {retry} s",
                error_id="rate_limited",
                details={"retry_after_s": retry},
            )
        hits.append(now)
