"""OpenAPI paths of the Telegram channel (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import OBJ, error_responses, json_content, operation

PATHS: dict[str, Any] = {
    "/webhooks/telegram": {
        "post": operation(
            "Telegram Bot API webhook; answered after the update is stored",
            {
                "200": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "ok": {"type": "boolean"},
                            "duplicate": {"type": "boolean"},
                            "ignored": {"type": "string"},
                        },
                    },
                    "stored (or a redelivery, or an update the bot does not handle)",
                ),
                **error_responses(400, 401, 403, 413, 415, 422, 429, 503),
            },
            parameters=[
                {
                    "name": "X-Telegram-Bot-Api-Secret-Token",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            body={"application/json": {"schema": OBJ}},
            tags=["webhooks"],
        )
    },
}
