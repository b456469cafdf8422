"""What the operator's dispatch panel and its map show for one contact, as JSON
(`GET /api/v1/contacts/{id}/dispatch`, described by PANEL_SCHEMA in dispatch/openapi.py).

Everything the map draws comes with its coordinates: the contact with its accuracy, each
suggested and dispatched unit's last position, each camera with its view cone (heading, field
of view, range), so the browser needs no second request to place them.
"""

from __future__ import annotations

from typing import Any

from contact.dispatch.cameras import CameraSighting
from contact.dispatch.model import DispatchRecord
from contact.dispatch.projection import dispatch_json
from contact.dispatch.service import DispatchService
from contact.dispatch.units import UnitPosition
from contact.domain.model import Contact
from contact.http.views import location_json

API = "/api/v1"


def position_json(position: UnitPosition | None) -> dict[str, Any] | None:
    if position is None:
        return None
    return {
        "lat": position.lat,
        "lon": position.lon,
        "accuracy_m": position.accuracy_m,
        "at": position.at.isoformat() if position.at else None,
    }


def camera_json(s: CameraSighting, include_score: bool) -> dict[str, Any]:
    camera = s.camera
    body = {
        "id": camera.id,
        "lat": camera.lat,
        "lon": camera.lon,
        "heading_deg": camera.heading_deg,
        "fov_deg": camera.fov_deg,
        "range_m": camera.range_m,
        "distance_m": round(s.distance_m, 1),
        "off_axis_deg": round(s.off_axis_deg, 1),
        "sees": s.sees,
        "district_id": camera.district,
        "snapshot": f"{API}/cameras/{camera.id}/snapshot" if camera.snapshot_url else None,
    }
    if include_score:
        body["score"] = round(s.score, 3) if s.score is not None else None
    return body


def dispatch_with_unit(service: DispatchService, d: DispatchRecord) -> dict[str, Any]:
    """A dispatch with its unit as it is now: call sign, status, last position."""
    body = dispatch_json(d)
    unit = service.unit(d.unit_id)
    body["callsign"] = unit.callsign if unit else None
    body["unit_status"] = unit.status.value if unit else None
    body["unit_kind"] = unit.kind.value if unit else None
    body["unit_position"] = position_json(unit.position) if unit else None
    return body


async def panel_json(
    service: DispatchService,
    contact: Contact,
    incident_id: str | None,
    dispatches: list[DispatchRecord],
    response_target_s: float,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": contact.id,
        "incident_id": incident_id,
        "has_location": contact.location is not None,
        "location": location_json(contact.location),
        "district": None,
        "outside_districts": False,
        "suggestion": [],
        "dispatches": [dispatch_with_unit(service, d) for d in dispatches],
        "cameras": {"seeing": [], "others": []},
        "response_target_s": response_target_s,
    }
    if contact.location is None:
        return body
    suggestion = await service.suggest(contact, incident_id)
    record = service.district_record(suggestion.district_id)
    if record is not None:
        body["district"] = {
            "id": record.id,
            "name_kk": record.name_kk,
            "name_ru": record.name_ru,
            "name_en": record.name_en or record.name_ru,
            "department": record.department,
        }
    body["outside_districts"] = suggestion.outside_districts
    body["suggestion"] = [
        {
            "unit_id": u.unit_id,
            "callsign": u.callsign,
            "kind": u.kind,
            "eta_s": u.eta_s,
            "distance_m": u.distance_m,
            "eta_source": u.eta_source,
            "position": position_json(unit.position if unit else None),
        }
        for u in suggestion.units
        for unit in [service.unit(u.unit_id)]
    ]
    view = service.cameras_around(contact.location.lat, contact.location.lon)
    body["cameras"] = {
        "seeing": [camera_json(s, True) for s in view.seeing],
        "others": [camera_json(s, False) for s in view.others],
    }
    return body
