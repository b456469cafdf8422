"""Operators reshaping incidents: merge two into one, split contacts out into a new one, and
set an incident's state (open, dispatched, closed). Each is one store call and one event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contact.bus import MessageBus
from contact.dispatch.commands import MergeIncidents, SetIncidentState, SplitIncident
from contact.dispatch.ports import IncidentStore
from contact.domain import events as ev
from contact.domain.model import IncidentState, new_id
from contact.errors import Conflict


class IncidentEditing:
    def __init__(
        self, *, repo: IncidentStore, bus: MessageBus, now: Callable[[], datetime]
    ) -> None:
        self._repo = repo
        self._bus = bus
        self.now = now

    def register(self, bus: MessageBus) -> None:
        bus.register(MergeIncidents, self.merge)
        bus.register(SplitIncident, self.split)
        bus.register(SetIncidentState, self.set_incident_state)

    async def merge(self, command: MergeIncidents) -> tuple[str, ...]:
        moved = await self._repo.merge(command.incident_id, command.other_id, self.now())
        await self._bus.publish(
            ev.IncidentsMerged(
                incident_id=command.incident_id,
                merged_id=command.other_id,
                contact_ids=moved,
                operator_id=command.operator_id,
            )
        )
        return moved

    async def split(self, command: SplitIncident) -> str:
        new_incident_id = new_id()
        await self._repo.split(
            command.incident_id, command.contact_ids, new_incident_id, self.now()
        )
        await self._bus.publish(
            ev.IncidentSplit(
                incident_id=command.incident_id,
                new_incident_id=new_incident_id,
                contact_ids=tuple(command.contact_ids),
                operator_id=command.operator_id,
            )
        )
        return new_incident_id

    async def set_incident_state(self, command: SetIncidentState) -> IncidentState:
        view = await self._repo.incident(command.incident_id)
        if view.merged_into is not None:
            raise Conflict(
                f"this incident was merged into {view.merged_into}", error_id="incident_merged"
            )
        previous = await self._repo.set_incident_state(
            command.incident_id, command.state, self.now()
        )
        if previous is not command.state:
            await self._bus.publish(
                ev.IncidentStateChanged(
                    incident_id=command.incident_id,
                    state=command.state.value,
                    previous=previous.value,
                    operator_id=command.operator_id,
                )
            )
        return previous


__all__ = ["IncidentEditing"]
