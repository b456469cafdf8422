"""OpenAPI paths of the telephony API (merged into /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from contact.http.openapi import CSRF, LIMIT, OBJ, SESSION, error_responses, json_content, operation

CONTACT = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
TAGS = ["telephony"]


def _post(summary: str, codes: tuple[int, ...], body: dict[str, Any] | None = None) -> Any:
    op = operation(
        summary,
        {"200": json_content(OBJ), **error_responses(*codes)},
        security=SESSION,
        parameters=[CONTACT, CSRF],
        body={"application/json": {"schema": body}} if body is not None else None,
        tags=TAGS,
    )
    return {"post": op}


_ACTION = (401, 403, 404, 409, 503)

PATHS: dict[str, Any] = {
    "/api/v1/calls": {
        "get": operation(
            "Live calls, the oldest `limit` and their total, each with the supervisors' spy "
            "legs on it (`spies`: supervisor_id, mode, started_at) (supervisors; no citizen data)",
            {"200": json_content(OBJ), **error_responses(401, 403, 422)},
            security=SESSION,
            parameters=[LIMIT],
            tags=TAGS,
        )
    },
    "/api/v1/telephony/status": {
        "get": operation(
            "The AMI link: up or down, reconnections, last resync, live calls (supervisors)",
            {"200": json_content(OBJ), **error_responses(401, 403)},
            security=SESSION,
            tags=TAGS,
        )
    },
    "/api/v1/calls/{contact_id}": {
        "get": operation(
            "A contact's calls and recordings (its operator, supervisors)",
            {"200": json_content(OBJ), **error_responses(401, 403, 404)},
            security=SESSION,
            parameters=[CONTACT],
            tags=TAGS,
        )
    },
    "/api/v1/calls/{contact_id}/hangup": _post(
        "End the call (its operator, or a supervisor); the contact goes to wrap-up", _ACTION
    ),
    "/api/v1/calls/{contact_id}/hold": _post("Put the caller on hold (music)", _ACTION),
    "/api/v1/calls/{contact_id}/resume": _post(
        "Take the caller back from hold (the phone rings again if it was put down)", _ACTION
    ),
    "/api/v1/calls/{contact_id}/transfer": _post(
        "Transfer to a service (101, 103, 104, 112) with X-Incident-Id: blind, or attended "
        "(consult first, then complete or cancel); a failed transfer puts the caller back",
        (*_ACTION, 415, 422),
        {
            "type": "object",
            "required": ["target"],
            "properties": {
                "target": {"type": "string", "enum": ["101", "103", "104", "112"]},
                "mode": {"type": "string", "enum": ["blind", "attended"], "default": "blind"},
            },
        },
    ),
    "/api/v1/calls/{contact_id}/transfer/complete": _post(
        "Attended transfer: bridge the caller with the answered service", _ACTION
    ),
    "/api/v1/calls/{contact_id}/transfer/cancel": _post(
        "Attended transfer: drop the consultation, back to the caller", _ACTION
    ),
    "/api/v1/calls/{contact_id}/callback": {
        "post": operation(
            "Call the citizen back (a callback task connected to me): my phone rings, then "
            "theirs, through the trunk",
            {"202": json_content(OBJ), **error_responses(*_ACTION, 422)},
            security=SESSION,
            parameters=[CONTACT, CSRF],
            tags=TAGS,
        )
    },
    "/api/v1/calls/{contact_id}/spy/stop": _post(
        "Supervisors: hang up my spy legs on this call (a desk phone's too; audited)", _ACTION
    ),
    "/api/v1/calls/{contact_id}/spy": {
        "post": operation(
            "Supervisors: listen, whisper (to the operator: coaching) or barge in; the "
            "supervisor's phone rings (audited)",
            {"202": json_content(OBJ), **error_responses(*_ACTION, 415, 422)},
            security=SESSION,
            parameters=[CONTACT, CSRF],
            body={
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["mode"],
                        "properties": {
                            "mode": {"type": "string", "enum": ["listen", "whisper", "barge"]}
                        },
                    }
                }
            },
            tags=TAGS,
        )
    },
    "/api/v1/recordings/{recording_id}": {
        "get": operation(
            "A call recording (WAV) for the contact's operator or a supervisor (audited)",
            {
                "200": {
                    "description": "the recording",
                    "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
                },
                **error_responses(401, 403, 404, 410),
            },
            security=SESSION,
            parameters=[
                {
                    "name": "recording_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            tags=TAGS,
        )
    },
}
