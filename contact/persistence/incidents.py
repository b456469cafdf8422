"""Incidents: what happened, grouping the contacts about it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from contact.domain.model import Incident, IncidentState
from contact.errors import Conflict, NotFound
from contact.persistence._mapping import location_columns, to_location
from contact.persistence.engine import Store
from contact.persistence.tables import IncidentRow


class SqlIncidentRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, incident: Incident) -> None:
        try:
            async with self._store.write() as session:
                session.add(IncidentRow(id=incident.id, **_columns(incident)))
        except IntegrityError as error:
            raise Conflict(
                f"incident {incident.id} already exists", details={"incident_id": incident.id}
            ) from error

    async def get(self, incident_id: str) -> Incident:
        async with self._store.read() as session:
            row = await session.get(IncidentRow, incident_id)
        if row is None:
            raise _not_found(incident_id)
        return Incident(
            id=row.id,
            created_at=row.created_at,
            state=IncidentState(row.state),
            category=row.category,
            location=to_location(
                row.lat, row.lon, row.accuracy_m, row.location_source, row.address
            ),
            contact_ids=[str(contact_id) for contact_id in json.loads(row.contact_ids)],
        )

    async def save(self, incident: Incident) -> None:
        async with self._store.write() as session:
            row = await session.get(IncidentRow, incident.id)
            if row is None:
                raise _not_found(incident.id)
            for name, value in _columns(incident).items():
                setattr(row, name, value)


def _not_found(incident_id: str) -> NotFound:
    return NotFound(f"incident {incident_id} not found", details={"incident_id": incident_id})


def _columns(incident: Incident) -> dict[str, Any]:
    return {
        "created_at": incident.created_at,
        "state": incident.state.value,
        "category": incident.category,
        **location_columns(incident.location),
        "contact_ids": json.dumps(list(incident.contact_ids)),
    }
