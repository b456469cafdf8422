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
LIMIT = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "page size (default 100)",
    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
}
CURSOR = {
    "name": "cursor",
    "in": "query",
    "required": False,
    "description": "next_cursor of the previous page",
    "schema": {"type": "string", "maxLength": 200},
}
QUEUE_PAGE: dict[str, Any] = {
    "type": "object",
    "required": ["contacts", "total", "next_cursor", "offered_to_me", "offer_expires_at"],
    "properties": {
        "contacts": {"type": "array", "items": OBJ, "description": "this page, in queue order"},
        "total": {"type": "integer", "description": "every waiting contact"},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        "offered_to_me": {
            "type": ["object", "null"],
            "description": "the contact offered to the caller, on whichever page it stands",
        },
        "offer_expires_at": {
            "type": ["string", "null"],
            "description": "when that offer moves on (ISO 8601), null without one",
        },
    },
}


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
                "State of each component: anonymous callers get only the statuses; the node "
                "and each component's details need the metrics token or a supervisor session",
                {"200": json_content(OBJ, "up or degraded"), "503": json_content(OBJ, "down")},
                security=[{}, {"metricsToken": []}, {"session": []}],
                tags=["ops"],
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics (CONTACT_HTTP_METRICS_TOKEN as Bearer, or as the Basic "
                "password)",
                {
                    "200": {
                        "description": "Prometheus text",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **error_responses(401),
                },
                security=[{"metricsToken": []}, {"metricsBasic": []}],
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
                "Go ready or away; ready is refused (409 contact_open, in kk/ru) while a contact "
                "is connected or in wrap-up with her",
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
        "/api/v1/me/preferences": {
            "post": operation(
                "Her own pages' language (kk, ru, en; null: the browser's) and the form texts "
                "about her take (female, male, other: neutral wording); a key left out is kept",
                {"200": json_content(OBJ), **error_responses(401, 403, 415, 422)},
                security=SESSION,
                parameters=[CSRF],
                body={
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "ui_language": {
                                    "type": ["string", "null"],
                                    "enum": ["kk", "ru", "en", None],
                                },
                                "gender": {"type": "string", "enum": ["female", "male", "other"]},
                            },
                        }
                    }
                },
                tags=["operators"],
            )
        },
        "/api/v1/queue": {
            "get": operation(
                "Waiting contacts in queue order, one page (no citizen data)",
                {"200": json_content(QUEUE_PAGE), **error_responses(401, 422)},
                security=SESSION,
                parameters=[LIMIT, CURSOR],
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
                "Depth by priority, waits, operators (`limit` of them, by name), answer share",
                {"200": json_content(OBJ), **error_responses(401, 403, 422)},
                security=SESSION,
                parameters=[LIMIT],
                tags=["supervisors"],
            )
        },
        "/api/v1/supervisor/in-progress": {
            "get": operation(
                "Contacts in progress (connected, wrap-up) with operator, state, age, orphan "
                "marks; the oldest answered first, paged by limit (1-200, default 50) and the "
                "previous page's next_cursor",
                {"200": json_content(OBJ), **error_responses(401, 403, 422)},
                security=SESSION,
                parameters=[
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                tags=["supervisors"],
            )
        },
        "/api/v1/contacts/{contact_id}/reassign": {
            "post": {
                **operation(
                    "Supervisor: hand a contact in progress to an operator present (operator_id) "
                    "or back to its place in the queue (operator_id null); calls in progress "
                    "stay (409 live_call)",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409, 415, 422)},
                    body={
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["operator_id"],
                                "properties": {"operator_id": {"type": ["string", "null"]}},
                            }
                        }
                    },
                    tags=["supervisors"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/force-close": {
            "post": {
                **operation(
                    "Supervisor: close a contact in progress, with a reason (audited)",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409, 415, 422)},
                    body={
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["reason"],
                                "properties": {"reason": {"type": "string", "maxLength": 500}},
                            }
                        }
                    },
                    tags=["supervisors"],
                ),
                **post_op,
            }
        },
        "/api/v1/contacts/{contact_id}/take-over": {
            "post": {
                **operation(
                    "Supervisor: become the holder of a contact in progress (its details)",
                    {"200": json_content(OBJ), **error_responses(401, 403, 404, 409)},
                    tags=["supervisors"],
                ),
                **post_op,
            }
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
    paths.update(triage_paths())
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
                # /metrics and the details of /healthz (Prometheus bearer or basic auth)
                "metricsToken": {"type": "http", "scheme": "bearer"},
                "metricsBasic": {"type": "http", "scheme": "basic"},
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


ENTRY = {
    "type": "object",
    "required": ["term", "lang", "category", "weight"],
    "properties": {
        "term": {"type": "string", "description": "ru: any form (lemmatised); kk: a stem"},
        "lang": {"enum": ["ru", "kk"]},
        "category": {"type": "string", "description": "weapon, fire, … (GET lists them)"},
        "weight": {"type": "number", "minimum": 0.1, "maximum": 3.0},
    },
}
ENTRIES = {
    "type": "object",
    "required": ["entries"],
    "properties": {
        "entries": {"type": "array", "items": ENTRY},
        "version": {"type": "integer", "description": "PUT: the version read (409 if stale)"},
    },
}


def triage_paths() -> dict[str, Any]:
    admin: dict[str, Any] = {"security": SESSION, "tags": ["triage"]}
    body = {"application/json": {"schema": ENTRIES}}
    term_params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in ("lang", "category", "term")
    ]
    return {
        "/api/v1/triage/lexicon": {
            "get": operation(
                "The triage lexicon in use: version, categories, entries (supervisor, admin)",
                {"200": json_content(OBJ), **error_responses(401, 403)},
                **admin,
            ),
            "put": operation(
                "Replace the whole lexicon (admin; validated, audited, in use at once)",
                {"200": json_content(OBJ), **error_responses(400, 401, 403, 409, 415, 422)},
                parameters=[CSRF],
                body=body,
                **admin,
            ),
        },
        "/api/v1/triage/lexicon/entries": {
            "post": operation(
                "Add entries or change their weight (admin; validated, audited)",
                {"201": json_content(OBJ), **error_responses(400, 401, 403, 409, 415, 422)},
                parameters=[CSRF],
                body=body,
                **admin,
            )
        },
        "/api/v1/triage/lexicon/entries/{lang}/{category}/{term}": {
            "delete": operation(
                "Remove one entry (admin; audited)",
                {"200": json_content(OBJ), **error_responses(401, 403, 404, 409)},
                parameters=[*term_params, CSRF],
                **admin,
            )
        },
    }


OPENAPI_DOC: web.AppKey[dict[str, Any]] = web.AppKey("openapi_doc", dict)


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_DOC])


def setup(app: web.Application, channel_paths: Mapping[str, Any]) -> None:
    app[OPENAPI_DOC] = document(channel_paths)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
