"""ContactError: the one exception type that crosses our seams.

Foreign exceptions (aiohttp, redis, sqlalchemy, panoramisk) are translated into these once,
at the edge. HTTP maps them to `{"error": {"id", "message"}}` with `status`.
"""

from __future__ import annotations

from typing import Any


class ContactError(Exception):
    error_id = "internal"
    status = 500

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, error_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if error_id is not None:
            self.error_id = error_id

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.error_id, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class BadRequest(ContactError):
    error_id = "bad_request"
    status = 400


class Unauthorized(ContactError):
    error_id = "unauthorized"
    status = 401


class Forbidden(ContactError):
    error_id = "forbidden"
    status = 403


class NotFound(ContactError):
    error_id = "not_found"
    status = 404


class Conflict(ContactError):
    """The request is valid but the contact or operator is not in a state that allows it."""

    error_id = "conflict"
    status = 409


class PayloadTooLarge(ContactError):
    error_id = "payload_too_large"
    status = 413


class UnsupportedMediaType(ContactError):
    error_id = "unsupported_media_type"
    status = 415


class Unprocessable(ContactError):
    error_id = "invalid"
    status = 422


class TooManyRequests(ContactError):
    error_id = "rate_limited"
    status = 429


class Unavailable(ContactError):
    """A backing service (database, Redis) is down."""

    error_id = "unavailable"
    status = 503


class ConfigError(ContactError):
    """The configuration cannot run (a plugin switched on without one it requires)."""

    error_id = "config"
    status = 500
