"""OpenAPI paths of the SOS kiosk channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import OBJ, SESSION, error_responses, json_content, operation

KIOSK_ID = {"name": "kiosk_id", "in": "path", "required": True, "schema": {"type": "string"}}
SIGNATURE_HEADERS = [
    {
        "name": "X-Timestamp",
        "in": "header",
        "required": True,
        "description": "unix seconds; within CONTACT_KIOSK_SIGNATURE_WINDOW_S of the server",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
    {
        "name": "X-Signature",
        "in": "header",
        "required": True,
        "description": (
            "sha256=<hex HMAC-SHA256(kiosk key, timestamp + '\\n' + METHOD + '\\n' + path + "
            "'\\n' + body)>; each signed request is accepted once"
        ),
        "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"},
    },
]
AUTH_ERRORS = (401, 403, 413, 415, 429, 503)


def _signed(summary: str, ok: dict[str, Any], body: dict[str, Any] | None, *codes: int) -> Any:
    return operation(
        summary,
        {**ok, **error_responses(*sorted({*AUTH_ERRORS, *codes}))},
        parameters=[KIOSK_ID, *SIGNATURE_HEADERS],
        body={"application/json": {"schema": body}} if body is not None else None,
        tags=["kiosks"],
    )


PATHS: dict[str, Any] = {
    "/api/v1/kiosks": {
        "get": operation(
            "Every kiosk with its state (online, offline, unknown) and last heartbeat",
            {"200": json_content(OBJ), **error_responses(401, 403)},
            security=SESSION,
            tags=["kiosks"],
        )
    },
    "/api/v1/kiosks/{kiosk_id}/heartbeat": {
        "post": _signed(
            "Heartbeat; missing CONTACT_KIOSK_MISSED_HEARTBEATS of them raises kiosk.offline",
            {"200": json_content(OBJ, "recorded")},
            {"type": "object", "description": "optional status; may be empty"},
            400,
            422,
        )
    },
    "/api/v1/kiosks/{kiosk_id}/events": {
        "post": _signed(
            "A tamper, door or power event (pushed to supervisors as kiosk.alerted)",
            {"202": json_content(OBJ, "stored")},
            {
                "type": "object",
                "required": ["kind"],
                "properties": {
                    "kind": {
                        "type": "string",
                        "enum": [
                            "tamper",
                            "door_open",
                            "door_closed",
                            "power_lost",
                            "power_restored",
                        ],
                    },
                    "at": {"type": "string", "format": "date-time"},
                    "detail": {"type": "string", "maxLength": 500},
                },
            },
            400,
            422,
        )
    },
    "/api/v1/kiosks/{kiosk_id}/sos": {
        "post": _signed(
            "The SOS button (kiosks without SIP): an SOS contact at the kiosk's place",
            {
                "202": json_content(
                    {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                    },
                    "stored and queued",
                ),
                "200": json_content(OBJ, "joined the kiosk's open SOS contact"),
            },
            {
                "type": "object",
                "properties": {
                    "press_id": {"type": "string", "maxLength": 100},
                    "language": {"type": "string", "enum": ["kk", "ru"]},
                },
            },
            400,
            422,
        )
    },
}
