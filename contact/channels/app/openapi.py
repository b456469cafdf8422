"""OpenAPI paths of the citizen app channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import APP_KEY, OBJ, error_responses, json_content, operation

DEVICE = {
    "name": "X-Device-Id",
    "in": "header",
    "required": False,
    "description": "the device id (a registered device may send X-Device-Token instead)",
    "schema": {"type": "string"},
}

REPORT_FIELDS: dict[str, Any] = {
    "type": "object",
    "required": ["text", "device_id"],
    "properties": {
        "text": {"type": "string", "maxLength": 4000},
        "device_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$"},
        "language": {"type": "string", "enum": ["kk", "ru"]},
        "kind": {"type": "string", "enum": ["report", "info"]},
        "lat": {"type": "number"},
        "lon": {"type": "number"},
        "accuracy_m": {"type": "number"},
        "location": {
            "type": "object",
            "properties": {
                "lat": {"type": "number"},
                "lon": {"type": "number"},
                "accuracy_m": {"type": "number"},
            },
        },
    },
}


PATHS: dict[str, Any] = {
    "/api/v1/app/reports": {
        "post": operation(
            "A citizen's report; answered after it is stored. A replay with the same "
            "Idempotency-Key answers the stored report (Idempotent-Replayed: true) and is never "
            "rate-limited; the same key with another body is 422 idempotency_key_reused, and 409 "
            "idempotency_key_in_flight while the first is being handled. 429 (Retry-After) per "
            "device, client address and API key",
            {
                "202": json_content(
                    {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                    },
                    "stored and queued",
                ),
                **error_responses(400, 401, 409, 413, 415, 422, 429, 503),
            },
            security=APP_KEY,
            parameters=[
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 100},
                }
            ],
            body={
                "application/json": {"schema": REPORT_FIELDS},
                "multipart/form-data": {
                    "schema": {
                        **REPORT_FIELDS,
                        "properties": {
                            **REPORT_FIELDS["properties"],
                            "photo": {
                                "type": "string",
                                "format": "binary",
                                "description": "JPEG, PNG, WebP or HEIC, at most 5 MB",
                            },
                        },
                    }
                },
            },
            tags=["citizen app"],
        )
    },
    "/api/v1/app/reports/{report_id}": {
        "get": operation(
            "A report's status and the operator's replies",
            {"200": json_content(OBJ), **error_responses(401, 404, 422, 503)},
            security=APP_KEY,
            parameters=[
                {
                    "name": "report_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                DEVICE,
            ],
            tags=["citizen app"],
        )
    },
    "/api/v1/app/ws": {
        "get": operation(
            "WebSocket: replies and status changes of this device's reports and SOS calls",
            {"101": {"description": "switching protocols"}, **error_responses(401, 403, 422)},
            security=APP_KEY,
            parameters=[
                {
                    "name": "device_id",
                    "in": "query",
                    "required": False,
                    "description": "an unregistered device's id",
                    "schema": {"type": "string"},
                },
                {
                    "name": "device_token",
                    "in": "query",
                    "required": False,
                    "description": "a registered device's token (or the X-Device-Token header)",
                    "schema": {"type": "string"},
                },
            ],
            tags=["citizen app"],
        )
    },
}


# --- devices, SOS and history ---------------------------------------------------------------

DEVICE_TOKEN = {
    "name": "X-Device-Token",
    "in": "header",
    "required": True,
    "description": "the token POST /api/v1/app/devices returned",
    "schema": {"type": "string"},
}
SOS_ID = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
LOCATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "accuracy_m": {"type": "number", "minimum": 0},
    },
}
SOS_ANSWER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string"},
        "call": {
            "type": "object",
            "description": "what the app's video call needs (CONTACT_APP_SOS_*)",
            "properties": {
                "sip_uri": {"type": "string"},
                "ws_url": {"type": "string"},
                "ice_servers": {"type": "array", "items": {"type": "object"}},
                "headers": {"type": "object"},
                "video": {"type": "boolean"},
            },
        },
        "location_url": {"type": "string"},
        "ws_url": {"type": "string"},
    },
}

PATHS.update(
    {
        "/api/v1/app/devices": {
            "post": operation(
                "Register a device: its token is returned once (with the current "
                "X-Device-Token, the call replaces the token)",
                {
                    "201": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "device_id": {"type": "string"},
                                "device_token": {"type": "string"},
                                "registered_at": {"type": "string"},
                            },
                        },
                        "registered",
                    ),
                    "200": json_content(OBJ, "token replaced"),
                    **error_responses(400, 401, 409, 413, 415, 422, 429, 503),
                },
                security=APP_KEY,
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["device_id"],
                            "properties": {
                                "device_id": REPORT_FIELDS["properties"]["device_id"],
                                "platform": {
                                    "type": "string",
                                    "enum": ["android", "ios", "web", "other"],
                                },
                                "language": {"type": "string", "enum": ["kk", "ru"]},
                            },
                        }
                    }
                },
                tags=["citizen app"],
            )
        },
        "/api/v1/app/history": {
            "get": operation(
                "The device's reports and SOS calls since it registered, newest first",
                {"200": json_content(OBJ), **error_responses(401, 422, 503)},
                security=APP_KEY,
                parameters=[
                    DEVICE_TOKEN,
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1},
                    },
                ],
                tags=["citizen app"],
            )
        },
        "/api/v1/app/sos": {
            "post": operation(
                "SOS: an SOS-priority contact, answered after it is stored with what the app "
                "needs for its video call; a second SOS while one is open returns it (200)",
                {
                    "202": json_content(SOS_ANSWER, "stored and queued"),
                    "200": json_content(SOS_ANSWER, "the device's open SOS"),
                    **error_responses(400, 401, 413, 415, 422, 429, 503),  # 422: a reused key
                },
                security=APP_KEY,
                parameters=[
                    DEVICE_TOKEN,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 100},
                    },
                ],
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "location": LOCATION,
                                "language": {"type": "string", "enum": ["kk", "ru"]},
                                "text": {"type": "string", "maxLength": 4000},
                            },
                        }
                    }
                },
                tags=["citizen app"],
            )
        },
        "/api/v1/app/sos/{contact_id}": {
            "get": operation(
                "An SOS call's status, replies, location and call details",
                {"200": json_content(OBJ), **error_responses(401, 404, 503)},
                security=APP_KEY,
                parameters=[SOS_ID, DEVICE_TOKEN],
                tags=["citizen app"],
            )
        },
        "/api/v1/app/sos/{contact_id}/location": {
            "post": operation(
                "A live location update during the SOS (contact.located for the operator)",
                {"200": json_content(OBJ), **error_responses(400, 401, 404, 409, 415, 422, 429)},
                security=APP_KEY,
                parameters=[SOS_ID, DEVICE_TOKEN],
                body={"application/json": {"schema": LOCATION}},
                tags=["citizen app"],
            )
        },
        "/api/v1/app/sos/{contact_id}/cancel": {
            "post": operation(
                "Withdraw an SOS pressed by mistake (before an operator answered)",
                {"200": json_content(OBJ), **error_responses(401, 404, 409)},
                security=APP_KEY,
                parameters=[SOS_ID, DEVICE_TOKEN],
                tags=["citizen app"],
            )
        },
    }
)
