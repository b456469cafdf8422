"""OpenAPI paths of the camera analytics channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.channels.camera.parse import KINDS
from contact.http.openapi import OBJ, error_responses, json_content, operation

PATHS: dict[str, Any] = {
    "/api/v1/camera-events": {
        "post": operation(
            "A video analytics alert: a contact at the camera's position with its snapshot; "
            "below the kind's threshold it is dropped, repeats within the window collapse",
            {
                "202": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "status": {"type": "string", "enum": ["queued"]},
                            "count": {"type": "integer"},
                            "camera_known": {"type": "boolean"},
                        },
                    },
                    "stored and queued",
                ),
                "200": json_content(OBJ, "ignored (below threshold) or collapsed into a contact"),
                **error_responses(400, 401, 413, 415, 422, 429, 503),
            },
            parameters=[
                {
                    "name": "X-Api-Key",
                    "in": "header",
                    "required": True,
                    "description": "one of CONTACT_CAMERA_API_KEYS",
                    "schema": {"type": "string"},
                }
            ],
            body={
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["camera_id", "kind", "confidence"],
                        "properties": {
                            "camera_id": {"type": "string"},
                            "kind": {"type": "string", "enum": list(KINDS)},
                            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                            "snapshot_url": {"type": "string", "format": "uri"},
                            "time": {"type": "string", "format": "date-time"},
                            "subject": {"type": "string", "maxLength": 100},
                            "event_id": {"type": "string", "maxLength": 100},
                        },
                    }
                }
            },
            tags=["cameras"],
        )
    }
}
