"""OpenAPI paths of the transcript API (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import OBJ, SESSION, error_responses, json_content, operation

CONTACT = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
TAGS = ["transcripts"]

PATHS: dict[str, Any] = {
    "/api/v1/contacts/{contact_id}/transcript": {
        "get": operation(
            "A call's transcript: stored segments of both legs (speaker caller/operator, word "
            "times and confidences) and the legs transcribed live now (its operator, "
            "supervisors; audited)",
            {"200": json_content(OBJ), **error_responses(401, 403, 404)},
            security=SESSION,
            parameters=[CONTACT],
            tags=TAGS,
        )
    },
    "/api/v1/transcripts/search": {
        "get": operation(
            "Full-text search over every transcript, newest first (supervisors; audited)",
            {"200": json_content(OBJ), **error_responses(401, 403, 422)},
            security=SESSION,
            parameters=[
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                },
            ],
            tags=TAGS,
        )
    },
}
