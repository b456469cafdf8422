"""OpenAPI paths of the WhatsApp channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import OBJ, error_responses, json_content, operation


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}


PATHS: dict[str, Any] = {
    "/webhooks/whatsapp": {
        "get": operation(
            "WhatsApp webhook verification: echoes hub.challenge when hub.verify_token matches",
            {
                "200": {
                    "description": "the challenge",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **error_responses(400, 403, 503),
            },
            parameters=[_query("hub.mode"), _query("hub.verify_token"), _query("hub.challenge")],
            tags=["webhooks"],
        ),
        "post": operation(
            "WhatsApp Cloud API notifications (messages, statuses); answered after they are stored",
            {
                "200": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "ok": {"type": "boolean"},
                            "stored": {"type": "integer"},
                            "duplicates": {"type": "integer"},
                        },
                    },
                    "stored",
                ),
                **error_responses(400, 401, 403, 413, 415, 422, 429, 503),
            },
            parameters=[
                {
                    "name": "X-Hub-Signature-256",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            body={"application/json": {"schema": OBJ}},
            tags=["webhooks"],
        ),
    },
}
