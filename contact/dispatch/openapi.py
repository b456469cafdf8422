"""OpenAPI paths of dispatch (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import (
    CSRF,
    CURSOR,
    LIMIT,
    OBJ,
    SESSION,
    error_responses,
    json_content,
    operation,
)

UNIT_TOKEN: list[dict[str, list[str]]] = [{"unitToken": []}]


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


UNIT = _path("unit_id")
CONTACT = _path("contact_id")
INCIDENT = _path("incident_id")
DISPATCH = _path("dispatch_id")
STATUSES = ["available", "en_route", "on_scene", "transporting", "out_of_service"]
POSITION = {
    "type": "object",
    "required": ["lat", "lon"],
    "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "accuracy_m": {"type": "number", "minimum": 0},
        "at": {"description": "ISO-8601 time with a zone, or epoch seconds"},
    },
}


def _op(
    summary: str,
    codes: tuple[int, ...],
    ok: str = "200",
    schema: dict[str, Any] = OBJ,
    **kw: Any,
) -> dict[str, Any]:
    return operation(summary, {ok: json_content(schema), **error_responses(*codes)}, **kw)


# --- what the operator's dispatch panel and map get (contact/dispatch/panel.py) ---------------

NUMBER = {"type": "number"}
STRING = {"type": "string"}
MAYBE_NUMBER = {"type": ["number", "null"]}
MAYBE_STRING = {"type": ["string", "null"]}
LAT_LON = {"lat": {"type": "number"}, "lon": {"type": "number"}}
UNIT_POSITION = {
    "type": ["object", "null"],
    "description": "the unit's last reported position (null until it reports)",
    "required": ["lat", "lon"],
    "properties": {**LAT_LON, "accuracy_m": MAYBE_NUMBER, "at": MAYBE_STRING},
}
DISPATCH_WITH_UNIT = {
    "type": "object",
    "required": ["id", "contact_id", "unit_id", "state", "callsign", "unit_status"],
    "properties": {
        **{
            name: MAYBE_STRING
            for name in (
                "incident_id",
                "district_id",
                "eta_source",
                "received_at",
                "dispatched_at",
                "acknowledged_at",
                "en_route_at",
                "arrived_at",
                "cleared_at",
                "callsign",
                "unit_status",
                "unit_kind",
            )
        },
        "id": STRING,
        "contact_id": STRING,
        "unit_id": STRING,
        "operator_id": STRING,
        "state": {"type": "string", "enum": ["active", "completed", "cancelled"]},
        "eta_s": MAYBE_NUMBER,
        "response_s": MAYBE_NUMBER,
        "first_on_scene": {"type": "boolean"},
        "unit_position": UNIT_POSITION,
    },
}
CAMERA = {
    "type": "object",
    "description": "a camera and its view cone: heading (0 = north, clockwise), field of view "
    "and range; `sees`: the place is inside the cone",
    "required": ["id", "lat", "lon", "heading_deg", "fov_deg", "range_m", "sees"],
    "properties": {
        **LAT_LON,
        "id": STRING,
        "heading_deg": NUMBER,
        "fov_deg": NUMBER,
        "range_m": NUMBER,
        "distance_m": NUMBER,
        "off_axis_deg": NUMBER,
        "sees": {"type": "boolean"},
        "district_id": MAYBE_STRING,
        "snapshot": {**MAYBE_STRING, "description": "the server's snapshot proxy"},
        "score": {**MAYBE_NUMBER, "description": "seeing cameras only: lower is better"},
    },
}
PANEL = {
    "type": "object",
    "required": ["contact_id", "has_location", "location", "suggestion", "dispatches", "cameras"],
    "properties": {
        "contact_id": STRING,
        "incident_id": MAYBE_STRING,
        "has_location": {"type": "boolean"},
        "location": {
            "type": ["object", "null"],
            "required": ["lat", "lon"],
            "properties": {
                **LAT_LON,
                "accuracy_m": MAYBE_NUMBER,
                "source": STRING,
                "address": MAYBE_STRING,
            },
        },
        "district": {
            "type": ["object", "null"],
            "properties": {
                "id": STRING,
                "name_kk": STRING,
                "name_ru": STRING,
                "name_en": STRING,
                "department": STRING,
            },
        },
        "outside_districts": {"type": "boolean"},
        "suggestion": {
            "type": "array",
            "description": "available units, best ETA first",
            "items": {
                "type": "object",
                "required": ["unit_id", "callsign", "kind", "eta_s", "position"],
                "properties": {
                    "unit_id": STRING,
                    "callsign": STRING,
                    "kind": {"type": "string", "enum": ["car", "foot", "bike"]},
                    "eta_s": NUMBER,
                    "distance_m": NUMBER,
                    "eta_source": {"type": "string", "enum": ["estimate", "road"]},
                    "position": UNIT_POSITION,
                },
            },
        },
        "dispatches": {"type": "array", "items": DISPATCH_WITH_UNIT},
        "cameras": {
            "type": "object",
            "properties": {
                "seeing": {"type": "array", "items": CAMERA},
                "others": {"type": "array", "items": CAMERA},
            },
        },
        "response_target_s": NUMBER,
    },
}


PATHS: dict[str, Any] = {
    "/api/v1/units": {
        "get": _op("Units with status and position", (401,), security=SESSION, tags=["dispatch"])
    },
    "/api/v1/units/{unit_id}/position": {
        "post": _op(
            "A unit reports its position (also over MQTT: <prefix>/<unit_id>/position)",
            (400, 401, 404, 415, 422),
            ok="202",
            security=UNIT_TOKEN,
            parameters=[UNIT],
            body=_body(POSITION),
            tags=["units"],
        )
    },
    "/api/v1/units/{unit_id}/status": {
        "post": _op(
            "A unit reports its status (en route, on scene …)",
            (400, 401, 404, 409, 415, 422),
            security=UNIT_TOKEN,
            parameters=[UNIT],
            body=_body(
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": STATUSES}},
                }
            ),
            tags=["units"],
        )
    },
    "/api/v1/units/{unit_id}/dispatches/{dispatch_id}/ack": {
        "post": _op(
            "The unit acknowledges its order",
            (401, 404, 409),
            security=UNIT_TOKEN,
            parameters=[UNIT, DISPATCH],
            tags=["units"],
        )
    },
    "/api/v1/units/{unit_id}/dispatch": {
        "get": _op(
            "The unit's state and current order",
            (401, 404),
            security=UNIT_TOKEN,
            parameters=[UNIT],
            tags=["units"],
        )
    },
    "/api/v1/units/{unit_id}/ws": {
        "get": operation(
            "WebSocket of a unit: orders (unit.dispatched) in; ack, status, position out",
            {"101": {"description": "switching protocols"}, **error_responses(401)},
            security=UNIT_TOKEN,
            parameters=[UNIT],
            tags=["units"],
        )
    },
    "/api/v1/contacts/{contact_id}/dispatch": {
        "get": _op(
            "The dispatch panel and its map: the place, suggested units with ETA and position, "
            "district, cameras with their view cones, dispatched units (audited)",
            (401, 403, 404),
            schema=PANEL,
            security=SESSION,
            parameters=[CONTACT],
            tags=["dispatch"],
        ),
        "post": _op(
            "Dispatch a unit to the contact (one action); the unit is told on its WebSocket. "
            "The unit already on its way to this contact again: that dispatch, unchanged",
            (401, 403, 404, 409, 415, 422),
            ok="201",
            schema=DISPATCH_WITH_UNIT,
            security=SESSION,
            parameters=[CONTACT, CSRF],
            body=_body(
                {
                    "type": "object",
                    "required": ["unit_id"],
                    "properties": {"unit_id": {"type": "string"}},
                }
            ),
            tags=["dispatch"],
        ),
    },
    "/api/v1/dispatches/{dispatch_id}/cancel": {
        "post": _op(
            "Call a unit back; it becomes available",
            (401, 403, 404, 409),
            schema=DISPATCH_WITH_UNIT,
            security=SESSION,
            parameters=[DISPATCH, CSRF],
            tags=["dispatch"],
        )
    },
    "/api/v1/cameras/{camera_id}/snapshot": {
        "get": operation(
            "A camera's current still image, fetched by the server with the camera's credentials",
            {
                "200": {
                    "description": "the image",
                    "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **error_responses(401, 404, 502, 504),
            },
            security=SESSION,
            parameters=[_path("camera_id")],
            tags=["dispatch"],
        )
    },
    "/api/v1/incidents": {
        "get": _op(
            "Open incidents, the newest first, one page (`limit`, `cursor`: next_cursor)",
            (401, 403, 422),
            security=SESSION,
            parameters=[LIMIT, CURSOR],
            tags=["incidents"],
        )
    },
    "/api/v1/incidents/{incident_id}": {
        "get": _op(
            "An incident with its contacts and dispatches (audited)",
            (401, 403, 404),
            security=SESSION,
            parameters=[INCIDENT],
            tags=["incidents"],
        )
    },
    "/api/v1/incidents/{incident_id}/merge": {
        "post": _op(
            "Merge another incident into this one",
            (401, 403, 404, 409, 415, 422),
            security=SESSION,
            parameters=[INCIDENT, CSRF],
            body=_body(
                {
                    "type": "object",
                    "required": ["incident_id"],
                    "properties": {"incident_id": {"type": "string"}},
                }
            ),
            tags=["incidents"],
        )
    },
    "/api/v1/incidents/{incident_id}/split": {
        "post": _op(
            "Move some contacts into a new incident",
            (401, 403, 404, 409, 415, 422),
            ok="201",
            security=SESSION,
            parameters=[INCIDENT, CSRF],
            body=_body(
                {
                    "type": "object",
                    "required": ["contact_ids"],
                    "properties": {"contact_ids": {"type": "array", "items": {"type": "string"}}},
                }
            ),
            tags=["incidents"],
        )
    },
    "/api/v1/incidents/{incident_id}/state": {
        "post": _op(
            "Open, mark dispatched or close an incident",
            (401, 403, 404, 409, 415, 422),
            security=SESSION,
            parameters=[INCIDENT, CSRF],
            body=_body(
                {
                    "type": "object",
                    "required": ["state"],
                    "properties": {
                        "state": {"type": "string", "enum": ["open", "dispatched", "closed"]}
                    },
                }
            ),
            tags=["incidents"],
        )
    },
    "/api/v1/incidents/{incident_id}/eido": {
        "get": _op(
            "The incident as a NENA EIDO-shaped JSON document (audited)",
            (401, 403, 404),
            security=SESSION,
            parameters=[INCIDENT],
            tags=["incidents"],
        )
    },
    "/api/v1/supervisor/response-times": {
        "get": _op(
            "Response times (received -> first unit on scene) per district vs the target",
            (400, 401, 403),
            security=SESSION,
            parameters=[
                {"name": "since", "in": "query", "schema": {"type": "string"}},
                {"name": "until", "in": "query", "schema": {"type": "string"}},
            ],
            tags=["supervisors"],
        )
    },
    "/api/v1/supervisor/cameras": {
        "get": _op(
            "Camera health (snapshot failures), MQTT and routing state",
            (401, 403),
            security=SESSION,
            tags=["supervisors"],
        )
    },
}
