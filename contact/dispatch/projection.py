"""Dispatch events → WebSocket topics, and the operator actions among them → the audit log.

- `contact:<id>`: the suggestion, the units sent, their acknowledgement, statuses and arrival,
  and the incident the contact belongs to (whoever works the contact sees its dispatch). A
  unit's events also go to the other contacts of its dispatch's incident: their panels list
  that dispatch too. Positions of dispatched units: see positions.py (node-local, throttled).
- `supervisor`: every dispatch, status change, arrival (with the response time) and incident
  change, for the room.
- `unit:<id>`: the unit's own orders, with where to go and what happened (the unit's device,
  authenticated by its token); the order is audited as a disclosure of the contact's data.
"""

from __future__ import annotations

from typing import Any

from contact.broadcast import Payload
from contact.bus import MessageBus
from contact.dispatch.grouping import categorize
from contact.dispatch.model import DispatchRecord
from contact.dispatch.ports import DispatchRepository
from contact.domain import events as ev
from contact.domain.model import Contact
from contact.http.views import iso
from contact.ports import AuditLog, Broadcast, ContactRepository

CONTACT_EVENTS: tuple[type[ev.Event], ...] = (
    ev.DispatchSuggested,
    ev.UnitDispatched,
    ev.UnitAcknowledged,
    ev.UnitStatusChanged,
    ev.UnitArrived,
)
INCIDENT_EVENTS: tuple[type[ev.Event], ...] = (
    ev.IncidentCreated,
    ev.ContactGrouped,
    ev.IncidentsMerged,
    ev.IncidentSplit,
    ev.IncidentStateChanged,
)


def unit_topic(unit_id: str) -> str:
    return f"unit:{unit_id}"


def _message(event: ev.Event, body: dict[str, Any]) -> Payload:
    """The topic message of an event, encoded once for every topic it goes to."""
    payload = {**body, "type": event.name, "at": event.occurred_at.isoformat()}
    payload.pop("occurred_at", None)
    return Payload.encode(payload)


class DispatchProjection:
    def __init__(
        self,
        *,
        broadcast: Broadcast,
        contacts: ContactRepository,
        repo: DispatchRepository,
        audit: AuditLog,
    ) -> None:
        self._broadcast = broadcast
        self._contacts = contacts
        self._repo = repo
        self._audit = audit

    def register(self, bus: MessageBus) -> None:
        for event_type in CONTACT_EVENTS:
            bus.subscribe(event_type, self._contact_event)
        for event_type in INCIDENT_EVENTS:
            bus.subscribe(event_type, self._incident_event)
        bus.subscribe(ev.UnitDispatched, self._order)

    async def _contact_event(self, event: ev.Event) -> None:
        message = _message(event, event.public_dict())  # no citizen data for the supervisor
        contact_id = getattr(event, "contact_id", None)
        if contact_id:
            await self._broadcast.publish(f"contact:{contact_id}", message)
        if not isinstance(event, ev.DispatchSuggested):
            await self._broadcast.publish("supervisor", message)
        unit_id = getattr(event, "unit_id", None)
        if isinstance(event, ev.UnitStatusChanged | ev.UnitAcknowledged) and unit_id:
            await self._broadcast.publish(unit_topic(unit_id), message)
        dispatch_id = getattr(event, "dispatch_id", None)
        if dispatch_id:  # last: it reads the database
            for other in await dispatch_contacts(self._repo, dispatch_id):
                if other != contact_id:
                    await self._broadcast.publish(f"contact:{other}", message)

    async def _incident_event(self, event: ev.Event) -> None:
        message = _message(event, event.as_dict())
        await self._broadcast.publish("supervisor", message)
        contact_ids: tuple[str, ...] = ()
        if isinstance(event, ev.IncidentCreated | ev.ContactGrouped):
            contact_ids = (event.contact_id,)
        elif isinstance(event, ev.IncidentsMerged | ev.IncidentSplit | ev.IncidentStateChanged):
            incident = await self._repo.incident(event.incident_id)
            contact_ids = tuple(incident.incident.contact_ids)
            if isinstance(event, ev.IncidentSplit):
                contact_ids += tuple(event.contact_ids)
        for contact_id in dict.fromkeys(contact_ids):
            await self._broadcast.publish(f"contact:{contact_id}", message)
        operator_id = getattr(event, "operator_id", None)
        if isinstance(event, ev.IncidentsMerged | ev.IncidentSplit | ev.IncidentStateChanged):
            details: dict[str, Any] = {"type": event.name}
            if isinstance(event, ev.IncidentsMerged):
                details["merged_id"] = event.merged_id
            elif isinstance(event, ev.IncidentSplit):
                details.update(
                    new_incident_id=event.new_incident_id, contacts=len(event.contact_ids)
                )
            else:
                details.update(state=event.state, previous=event.previous)
            await self._audit.append(
                operator_id or "system", event.name, event.incident_id, details
            )

    async def _order(self, event: ev.UnitDispatched) -> None:
        """The unit's order: where and what. Its device is told on `unit:<id>`."""
        dispatch = await self._repo.get_dispatch(event.dispatch_id)
        contact = await self._contacts.get(event.contact_id)
        order = order_json(dispatch, contact)
        await self._broadcast.publish(
            unit_topic(event.unit_id), _message(event, {"dispatch": order})
        )
        await self._audit.append(
            event.operator_id,
            "unit.dispatch",
            event.contact_id,
            {"unit_id": event.unit_id, "dispatch_id": event.dispatch_id},
        )


async def dispatch_contacts(repo: DispatchRepository, dispatch_id: str) -> tuple[str, ...]:
    """The contacts whose dispatch panels list this dispatch: its own and its incident's."""
    dispatch = await repo.get_dispatch(dispatch_id)
    contact_ids = [dispatch.contact_id]
    if dispatch.incident_id is not None:
        view = await repo.incident(dispatch.incident_id)
        contact_ids.extend(view.incident.contact_ids)
    return tuple(dict.fromkeys(contact_ids))


def order_json(dispatch: DispatchRecord, contact: Contact) -> dict[str, Any]:
    """What a unit is told: where to go and what happened (the contact's summary)."""
    location = contact.location
    return {
        "dispatch_id": dispatch.id,
        "unit_id": dispatch.unit_id,
        "contact_id": dispatch.contact_id,
        "incident_id": dispatch.incident_id,
        "district_id": dispatch.district_id,
        "state": dispatch.state.value,
        "scene": {
            "lat": dispatch.lat,
            "lon": dispatch.lon,
            "accuracy_m": location.accuracy_m if location else None,
            "address": location.address if location else None,
        },
        "summary": contact.summary,
        "category": categorize(contact.summary),
        "priority": int(contact.priority),
        "received_at": iso(dispatch.received_at),
        "dispatched_at": iso(dispatch.dispatched_at),
        "acknowledged_at": iso(dispatch.acknowledged_at),
        "eta_s": dispatch.eta_s,
    }


def dispatch_json(d: DispatchRecord) -> dict[str, Any]:
    """A DispatchRecord as JSON (the REST API)."""
    return {
        "id": d.id,
        "contact_id": d.contact_id,
        "incident_id": d.incident_id,
        "unit_id": d.unit_id,
        "operator_id": d.operator_id,
        "district_id": d.district_id,
        "state": d.state.value,
        "eta_s": d.eta_s,
        "eta_source": d.eta_source,
        "received_at": iso(d.received_at),
        "dispatched_at": iso(d.dispatched_at),
        "acknowledged_at": iso(d.acknowledged_at),
        "en_route_at": iso(d.en_route_at),
        "arrived_at": iso(d.arrived_at),
        "cleared_at": iso(d.cleared_at),
        "response_s": round(d.response_s, 1) if d.response_s is not None else None,
        "first_on_scene": d.first_on_scene,
    }
