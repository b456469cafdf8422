"""An incident as a NENA EIDO-shaped JSON document (NENA-STA-021, Emergency Incident Data
Object), for handing an incident to another centre or archiving it.

"Shaped": the component names and the way components refer to each other (`$id` / `$ref`)
follow the EIDO JSON binding; the content is what `contact` knows. It is not validated against
the official schema (not shipped here). Mapping:

- incidentComponent: the incident (tracking id urn:emergency:uid:incidentid:<id>:<centre>,
  category, state, merged-into as a merge link);
- callComponent: one per contact (channel, received, answered, closed);
- locationComponent: the incident's place and each contact's own, WGS84 points;
- agencyComponent: the centre, and the police department of the district;
- emergencyResourceComponent: each unit sent, with its dispatch timestamps and status;
- notesComponent: each contact's summary (the first words of the report).

Pure: the HTTP handler gathers the records and audits the export (it carries personal data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contact.dispatch.model import DispatchRecord, DistrictRecord, IncidentView, UnitRecord
from contact.domain.model import Contact, IncidentState

EIDO_VERSION = "1.0"
STATE_TEXT = {
    IncidentState.OPEN: "Active",
    IncidentState.DISPATCHED: "Active",
    IncidentState.CLOSED: "Closed",
}
CATEGORY_TEXT = {
    "fire": "Fire",
    "violence": "Assault",
    "traffic": "TrafficCollision",
    "theft": "Theft",
    "medical": "Medical",
    "noise": "Disturbance",
}


def _ts(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") if at is not None else None


def _point(lat: float, lon: float, radius_m: float | None) -> dict[str, Any]:
    point: dict[str, Any] = {"point": {"latitude": lat, "longitude": lon}}
    if radius_m is not None:
        return {"wgs84Circle": {**point, "radius": radius_m, "uom": "m"}}
    return {"wgs84Point": point["point"]}


def tracking_id(incident_id: str, centre: str) -> str:
    return f"urn:emergency:uid:incidentid:{incident_id}:{centre}"


def build_eido(
    view: IncidentView,
    *,
    contacts: Sequence[Contact],
    dispatches: Sequence[DispatchRecord],
    units: Mapping[str, UnitRecord],
    district: DistrictRecord | None,
    centre: str,
    now: datetime,
) -> dict[str, Any]:
    incident = view.incident
    inc_ref = f"incident-{incident.id}"
    centre_ref = "agency-centre"
    locations: list[dict[str, Any]] = []
    if incident.location is not None:
        locations.append(
            {
                "$id": f"location-{incident.id}",
                "locationTypeDescriptionRegistryText": "CurrentIncident",
                "locationByValue": _point(
                    incident.location.lat, incident.location.lon, incident.location.accuracy_m
                ),
            }
        )
    agencies: list[dict[str, Any]] = [
        {
            "$id": centre_ref,
            "agencyIdentifier": f"urn:nena:agency:{centre}",
            "agencyName": "Police 102 contact centre",
            "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatching"],
            "agencyTypeRegistryText": ["Police"],
        }
    ]
    if district is not None:
        agencies.append(
            {
                "$id": f"agency-{district.id}",
                "agencyIdentifier": f"urn:nena:agency:{centre}:{district.id}",
                "agencyName": district.department,
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyTypeRegistryText": ["Police"],
                "agencyJurisdictionText": {
                    "kk": district.name_kk,
                    "ru": district.name_ru,
                    **({"en": district.name_en} if district.name_en else {}),
                },
                "incidentOwningAgencyIndicator": True,
            }
        )
    calls = []
    notes = []
    for contact in contacts:
        call_ref = f"call-{contact.id}"
        call: dict[str, Any] = {
            "$id": call_ref,
            "callIdentifier": f"urn:emergency:uid:callid:{contact.id}:{centre}",
            "callTypeDescriptionRegistryText": contact.channel.value,
            "callPriorityNumber": int(contact.priority),
            "callStartTimestamp": _ts(contact.created_at),
            "callAnswerTimestamp": _ts(contact.answered_at),
            "callEndTimestamp": _ts(contact.closed_at),
            "languageCode": contact.language.value if contact.language else None,
            "incidentReference": {"$ref": inc_ref},
        }
        if contact.location is not None:
            loc_ref = f"location-{contact.id}"
            locations.append(
                {
                    "$id": loc_ref,
                    "locationTypeDescriptionRegistryText": "Caller",
                    "locationSourceText": contact.location.source.value,
                    "locationByValue": _point(
                        contact.location.lat, contact.location.lon, contact.location.accuracy_m
                    ),
                }
            )
            call["locationReference"] = [{"$ref": loc_ref}]
        calls.append(call)
        if contact.summary:
            notes.append(
                {
                    "$id": f"note-{contact.id}",
                    "noteDateTimeStamp": _ts(contact.created_at),
                    "noteText": contact.summary,
                    "callReference": {"$ref": call_ref},
                }
            )
    resources = []
    for d in dispatches:
        unit = units.get(d.unit_id)
        resources.append(
            {
                "$id": f"resource-{d.id}",
                "emergencyResourceIdentifier": unit.callsign if unit else d.unit_id,
                "emergencyResourceTypeRegistryText": "Patrol"
                + (unit.kind.value if unit else "car").title(),
                "primaryUnitStatusRegistryText": _resource_status(d),
                "dispatchTimestamp": _ts(d.dispatched_at),
                "acknowledgedTimestamp": _ts(d.acknowledged_at),
                "enRouteTimestamp": _ts(d.en_route_at),
                "onSceneTimestamp": _ts(d.arrived_at),
                "clearedTimestamp": _ts(d.cleared_at),
                "responseTimeSeconds": round(d.response_s, 1) if d.response_s is not None else None,
                "callReference": {"$ref": f"call-{d.contact_id}"},
                "agencyReference": {"$ref": f"agency-{district.id}" if district else centre_ref},
            }
        )
    incident_component: dict[str, Any] = {
        "$id": inc_ref,
        "incidentTrackingIdentifier": tracking_id(incident.id, centre),
        "incidentCreationTimestamp": _ts(incident.created_at),
        "lastUpdateTimeStamp": _ts(view.updated_at),
        "incidentStatusCommonRegistryText": [STATE_TEXT[incident.state]],
        "incidentTypeCommonRegistryText": CATEGORY_TEXT.get(incident.category or "", "Unknown"),
        "incidentTypeInternalText": incident.category,
        "callReference": [{"$ref": f"call-{c.id}"} for c in contacts],
        "locationReference": [{"$ref": f"location-{incident.id}"}] if incident.location else [],
        "updatedByAgencyReference": {"$ref": centre_ref},
    }
    if view.merged_into is not None:
        incident_component["mergeInformation"] = [
            {
                "incidentTrackingIdentifier": tracking_id(view.merged_into, centre),
                "incidentMergeDirectionCode": "MergedInto",
            }
        ]
    if view.closed_at is not None:
        incident_component["incidentClosedTimestamp"] = _ts(view.closed_at)
    return {
        "$schema": "urn:nena:schema:json:eido:1.0",
        "eidoMessageIdentifier": (
            f"urn:emergency:uid:eidoid:{incident.id}-{int(now.timestamp())}:{centre}"
        ),
        "$id": f"eido-{incident.id}",
        "eidoVersion": EIDO_VERSION,
        "lastUpdateTimeStamp": _ts(now),
        "sendingSystemIdentifier": f"urn:nena:system:contact:{centre}",
        "incidentComponent": incident_component,
        "callComponent": calls,
        "locationComponent": locations,
        "agencyComponent": agencies,
        "emergencyResourceComponent": resources,
        "notesComponent": notes,
    }


def _resource_status(d: DispatchRecord) -> str:
    if d.cleared_at is not None:
        return "Cleared" if d.arrived_at is not None else "Cancelled"
    if d.arrived_at is not None:
        return "OnScene"
    if d.en_route_at is not None:
        return "EnRoute"
    if d.acknowledged_at is not None:
        return "Acknowledged"
    return "Dispatched"


__all__ = ["EIDO_VERSION", "build_eido", "tracking_id"]
