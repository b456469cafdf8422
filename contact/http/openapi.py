"""The OpenAPI 3.1 document at /api/v1/openapi.json. A test checks that every route the app
serves is described here and that the document is valid."""

from __future__ import annotations

from typing import Any

from aiohttp import web

ERROR = {"$ref": "#/components/schemas/Error"}


def _err(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": "error", "content": {"application/json": {"schema": ERROR}}}
        for code in codes
    }


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OBJ: dict[str, Any] = {"type": "object"}
CONTACT_ID = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
SESSION: list[dict[str, list[str]]] = [{"session": []}]
APP_KEY: list[dict[str, list[str]]] = [{"appKey": []}]
CSRF = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}
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


def _op(
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


def document() -> dict[str, Any]:
    post_op = {"security": SESSION, "parameters": [CONTACT_ID, CSRF]}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": _op(
                "State of each component",
                {"200": _json(OBJ, "up or degraded"), "503": _json(OBJ, "down")},
                tags=["ops"],
            )
        },
        "/metrics": {
            "get": _op(
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
        "/api/v1/openapi.json": {"get": _op("This document", {"200": _json(OBJ)}, tags=["ops"])},
        "/api/v1/app/reports": {
            "post": _op(
                "A citizen's report; answered after it is stored",
                {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
                        },
                        "stored and queued",
                    ),
                    **_err(400, 401, 413, 415, 422, 429, 503),
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
            "get": _op(
                "A report's status and the operator's replies",
                {"200": _json(OBJ), **_err(401, 404, 422, 503)},
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
            "get": _op(
                "WebSocket: replies and status changes of this device's reports",
                {"101": {"description": "switching protocols"}, **_err(401, 422)},
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
        "/api/v1/me": {
            "get": _op(
                "The logged-in operator",
                {"200": _json(OBJ), **_err(401)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/api/v1/me/presence": {
            "post": _op(
                "Go ready or away",
                {"200": _json(OBJ), **_err(401, 403, 409, 415, 422)},
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
            "get": _op(
                "Waiting contacts in queue order (no citizen data)",
                {"200": _json(OBJ), **_err(401)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/api/v1/contacts/{contact_id}": {
            "get": _op(
                "A contact with messages and attachments (audited)",
                {"200": _json(OBJ), **_err(401, 403, 404)},
                security=SESSION,
                parameters=[CONTACT_ID],
                tags=["operators"],
            )
        },
        "/api/v1/contacts/{contact_id}/attachments/{attachment_id}": {
            "get": _op(
                "An attachment's bytes (audited)",
                {
                    "200": {
                        "description": "the file",
                        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_err(401, 403, 404),
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
                **_op(
                    "Accept the contact offered to me",
                    {"200": _json(OBJ), **_err(401, 403, 404, 409)},
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/decline": {
            "post": {
                **_op(
                    "Pass on the offer; the contact keeps its place",
                    {"200": _json(OBJ), **_err(401, 403, 404, 409)},
                    tags=["operators"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/reply": {
            "post": {
                **_op(
                    "Reply to the citizen",
                    {"201": _json(OBJ), **_err(401, 403, 404, 409, 415, 422)},
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
                **_op(
                    "Close (or wrap up) the contact",
                    {"200": _json(OBJ), **_err(401, 403, 404, 409, 415, 422)},
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
            "get": _op(
                "Depth by priority, waits, operators, answer share",
                {"200": _json(OBJ), **_err(401, 403)},
                security=SESSION,
                tags=["supervisors"],
            )
        },
        "/ws": {
            "get": _op(
                "Operator WebSocket (topics queue, operator:<id>, supervisor, contact:<id>)",
                {"101": {"description": "switching protocols"}, **_err(401, 403)},
                security=SESSION,
                tags=["operators"],
            )
        },
        "/login": {
            "get": _op("Login page", {"200": {"description": "HTML"}}, tags=["pages"]),
            "post": _op(
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
            "post": _op(
                "Log out", {"303": {"description": "to login"}}, security=SESSION, tags=["pages"]
            )
        },
        "/": {
            "get": _op(
                "Operator page",
                {"200": {"description": "HTML"}, "303": {"description": "to login"}},
                security=SESSION,
                tags=["pages"],
            )
        },
        "/contacts/{contact_id}": {
            "get": _op(
                "A contact's page",
                {"200": {"description": "HTML"}},
                security=SESSION,
                parameters=[CONTACT_ID],
                tags=["pages"],
            )
        },
        "/supervisor": {
            "get": _op(
                "Supervisor page",
                {"200": {"description": "HTML"}, "403": {"description": "role"}},
                security=SESSION,
                tags=["pages"],
            )
        },
    }
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


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document())


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_json)
