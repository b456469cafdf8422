"""Paged lists of the REST API: `?limit=` and an opaque `?cursor=` (the key of the last item
of the previous page, handed back as `next_cursor`). Keyset paging: an item arriving or
leaving between two pages neither repeats nor skips another."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from contact.errors import Unprocessable

PAGE_DEFAULT = 100  # a list's page when the client names none: more than a screen shows
PAGE_MAX = 500
_CURSOR_MAX = 300

K = TypeVar("K")


def page_limit(request: web.Request, default: int = PAGE_DEFAULT, most: int = PAGE_MAX) -> int:
    """`?limit=` of a paged list: 1..most, `default` when absent."""
    raw = request.query.get("limit")
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= most:
        raise Unprocessable(
            f"limit must be a whole number from 1 to {most}",
            error_id="invalid_limit",
            details={"max": most},
        )
    return int(raw)


def encode_cursor(*key: Any) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_cursor(request: web.Request, parse: Callable[[list[Any]], K]) -> K | None:
    """The key in `?cursor=`, None when absent; `parse` turns the decoded list into the key
    (raising ValueError or TypeError for one this server did not make): 422 invalid_cursor."""
    cursor = request.query.get("cursor")
    if cursor is None:
        return None
    try:
        if len(cursor) > _CURSOR_MAX:
            raise ValueError("too long")
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(decoded, list):
            raise ValueError("not a key")
        return parse(decoded)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable(
            "the cursor is not one this server gave", error_id="invalid_cursor"
        ) from None


__all__ = ["PAGE_DEFAULT", "PAGE_MAX", "encode_cursor", "page_cursor", "page_limit"]
