"""The OpenAPI 3.1 document at /api/v1/openapi.json. A test checks that every route the app
serves is described here and that the document is valid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

ERROR = {"$ref": "#/components/schemas/Error"}


def error_responses(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
        for code in codes
    }


def json_content(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OBJ: dict[str, Any] = {"type": "object"}
CONTACT_ID = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
SESSION: list[dict[str, list[str]]] = [{"session": []}]
APP_KEY: list[dict[str, list[str]]] = [{"appKey": []}]
CSRF = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}


def operation(
    summary: str,
    responses: dict[str, Any],
    *,
    security: list[Any] | None = None,
    parameters: list[Any] | None = None,
    body: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if security is not None:
        op["security"] = security
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if tags:
        op["tags"] = tags
    return op


def document(channel_paths: Mapping[str, Any] | None = None) -> dict[str, Any]:
    post_op = {"security": SESSION, "parameters": [CONTACT_ID, CSRF]}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": operation(
                "State of each component",
                {"200": json_content(OBJ, "up or degraded"), "503": json_content(OBJ, "down")},
                tags=["ops"],
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Prometheus text",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                tags=["ops"],
            )
        },
        "/api/v1/openapi.json": {
            "get": operation("This document", {"200": json_content(OBJ)}, tags=["ops"])
        },
        "/api/v1/me": {
            "get": operation(
                "The logged-in operator",
                {"200": json_content(OBJ), **error_responses(401)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/api/v1/me/softphone": {
            "get": operation(
                "My browser softphone's SIP identity: Asterisk's WebSocket URL, SIP URI, digest "
                "user and password (audited); available false and a reason when I have none",
                {
                    "200": json_content(
                        {
                            "type": "object",
                            "required": ["available"],
                            "properties": {
                                "available": {"type": "boolean"},
                                "reason": {
                                    "type": "string",
                                    "enum": [
                                        "no_endpoint",
                                        "unknown_endpoint",
                                        "not_webrtc",
                                        "not_provisioned",
                                    ],
                                },
                                "ws_url": {"type": "string"},
                                "uri": {"type": "string"},
                                "username": {"type": "string"},
                                "password": {"type": "string"},
                                "display_name": {"type": "string"},
                                "endpoint": {"type": "string"},
                            },
                        }
                    ),
                    **error_responses(401, 403),
                },
                security=SESSION,
                tags=["operators"],
            )
        },
        "/api/v1/me/presence": {
            "post": operation(
                "Go ready or away",
                {"200": json_content(OBJ), **error_responses(401, 403, 409, 415, 422)},
                security=SESSION,
                parameters=[CSRF],
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "presence": {"type": "string", "enum": ["ready", "away"]}
                            },
                        }
                    }
                },
                tags=["operators"],
            )
        },
        "/api/v1/queue": {
            "get": operation(
                "Waiting contacts in queue order (no citizen data)",
                {"200": json_content(OBJ), **error_responses(401)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/api/v1/contacts/{contact_id}": {
            "get": operation(
                "A contact with messages and attachments (audited)",
                {"200": json_content(OBJ), **error_responses(401, 403, 404)},
                security=SESSION,
                parameters=[CONTACT_ID],
                tags=["operators"],
            )
        },
        "/api/v1/contacts/{contact_id}/attachments/{attachment_id}": {
            "get": operation(
                "An attachment's bytes (audited)",
                {
                    "200": {
                        "description": "the file",
                        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **error_responses(401, 403, 404),
                },
                security=SESSION,
                parameters=[
                    CONTACT_ID,
                    {
                        "name": "attachment_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                tags=["operators"],
            )
        },
        "/api/v1/contacts/{contact_id}/accept": {
            "post": {
                **operation(
                    "Accept the contact offered to me",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409)},
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/decline": {
            "post": {
                **operation(
                    "Pass on the offer; the contact keeps its place",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409)},
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/reply": {
            "post": {
                **operation(
                    "Reply to the citizen",
                    {"201": json_content(OBJ), **error_responses(401, 403, 404, 409, 415, 422)},
                    body={
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["text"],
                                "properties": {"text": {"type": "string", "maxLength": 4000}},
                            }
                        }
                    },
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/close": {
            "post": {
                **operation(
                    "Close (or wrap up) the contact",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409, 415, 422)},
                    body={
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "disposition": {"type": "string", "maxLength": 200},
                                    "wrap_up": {"type": "boolean"},
                                },
                            }
                        }
                    },
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/supervisor/overview": {
            "get": operation(
                "Depth by priority, waits, operators, answer share",
                {"200": json_content(OBJ), **error_responses(401, 403)},
                security=SESSION,
                tags=["supervisors"],
            )
        },
        "/ws": {
            "get": operation(
                "Operator WebSocket (topics queue, operator:<id>, supervisor, contact:<id>)",
                {"101": {"description": "switching protocols"}, **error_responses(401, 403)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/login": {
            "get": operation("Login page", {"200": {"description": "HTML"}}, tags=["pages"]),
            "post": operation(
                "Log in (form with the double-submit CSRF token)",
                {
                    "303": {"description": "to the queue"},
                    "401": {"description": "wrong credentials"},
                    "403": {"description": "CSRF"},
                    "429": {"description": "throttled"},
                },
                tags=["pages"],
            ),
        },
        "/logout": {
            "post": operation(
                "Log out", {"303": {"description": "to login"}}, security=SESSION, tags=["pages"]
            )
        },
        "/": {
            "get": operation(
                "Operator page",
                {"200": {"description": "HTML"}, "303": {"description": "to login"}},
                security=SESSION,
                tags=["pages"],
            )
        },
        "/contacts/{contact_id}": {
            "get": operation(
                "A contact's page",
                {"200": {"description": "HTML"}},
                security=SESSION,
                parameters=[CONTACT_ID],
                tags=["pages"],
            )
        },
        "/supervisor": {
            "get": operation(
                "Supervisor page",
                {"200": {"description": "HTML"}, "403": {"description": "role"}},
                security=SESSION,
                tags=["pages"],
            )
        },
    }
    paths.update(channel_paths or {})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "contact",
            "version": "1",
            "description": "Emergency contact center for a police 102 line",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "contact_session"},
                "appKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                # a patrol unit's own token (dispatch: positions, statuses, its WebSocket)
                "unitToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["id", "message"],
                            "properties": {
                                "id": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "object"},
                            },
                        }
                    },
                }
            },
        },
    }


OPENAPI_DOC: web.AppKey[dict[str, Any]] = web.AppKey("openapi_doc", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOC])


def setup(app: web.Application, channel_paths: Mapping[str, Any]) -> None:
    app[OPENAPI_DOC] = document(channel_paths)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
