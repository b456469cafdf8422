"""OpenAPI paths of the citizen app channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import APP_KEY, OBJ, error_responses, json_content, operation

DEVICE = {"name": "X-Device-Id", "in": "header", "required": True, "schema": {"type": "string"}}

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
            "A citizen's report; answered after it is stored",
            {
                "202": json_content(
                    {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                    },
                    "stored and queued",
                ),
                **error_responses(400, 401, 413, 415, 422, 429, 503),
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
            "WebSocket: replies and status changes of this device's reports",
            {"101": {"description": "switching protocols"}, **error_responses(401, 422)},
            security=APP_KEY,
            parameters=[
                {
                    "name": "device_id",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            tags=["citizen app"],
        )
    },
}
