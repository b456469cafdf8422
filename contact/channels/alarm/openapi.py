"""OpenAPI paths of the school alarm channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.channels.alarm.parse import ALARM_KINDS
from contact.http.openapi import OBJ, error_responses, json_content, operation

PATHS: dict[str, Any] = {
    "/api/v1/alarms": {
        "post": {
            **operation(
                "A school panic button: a top-priority contact at the site, its cameras attached "
                "and a unit suggestion requested; answered after it is stored",
                {
                    "202": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "status": {"type": "string"},
                                "cameras": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "stored and queued",
                    ),
                    "200": json_content(OBJ, "joined the site's open alarm contact"),
                    **error_responses(400, 401, 403, 413, 415, 422, 429, 503),
                },
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["site_id"],
                            "properties": {
                                "site_id": {"type": "string"},
                                "zone": {"type": "string", "maxLength": 100},
                                "kind": {"type": "string", "enum": list(ALARM_KINDS)},
                                "event_id": {"type": "string", "maxLength": 100},
                            },
                        }
                    }
                },
                tags=["alarms"],
            ),
            "description": (
                "Authenticated per site: `Authorization: Bearer <site key>` (401 without a "
                "valid key, 403 when the key is another site's or the site is disabled)."
            ),
        }
    }
}
