"""The dispatch service: who gets there first, sending them, following them to the scene, and
which contacts are about one incident.

- Units live in memory as a `UnitTable` (ranking in microseconds) kept in step with the
  database: every change is written first, then applied here and broadcast as the unit's whole
  state on the internal topic `dispatch:unit`, so every node's table follows (state, not
  deltas: pub/sub may drop a message, the next one repairs it). A periodic reload repairs the
  rest. Positions are applied at once and written in batches.
- A contact with a location (ContactReceived, ContactLocated) gets its district, joins or
  opens an incident, and a suggestion (`dispatch.suggested`): the top N available units by
  ETA, road ETAs from the routing server when configured (estimate on its failure).
- DispatchUnit claims the unit in one conditional UPDATE: two operators cannot both send it.
- A unit's arrival (its own report, or its position within `arrival_radius_m` of the scene)
  records the response time: contact received -> first unit on scene, against 7 minutes.

Beside it, each on the same store port (ports.py): the city map in memory (city_map.py), the
operators' incident edits (incidents.py), the response report (reports.py), and a unit's
state as JSON (unit_json.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from contact.bus import MessageBus
from contact.config import DispatchSettings
from contact.dispatch.cameras import CameraIndex, CameraView
from contact.dispatch.city_map import CityMap
from contact.dispatch.commands import (
    AcknowledgeDispatch,
    CancelDispatch,
    DispatchUnit,
    ReportUnitStatus,
)
from contact.dispatch.districts import District, DistrictIndex
from contact.dispatch.geo import LatLon, haversine_m
from contact.dispatch.grouping import categorize, choose_incident
from contact.dispatch.incidents import IncidentEditing
from contact.dispatch.model import (
    ASSIGNED,
    DispatchRecord,
    DispatchState,
    DistrictRecord,
    GroupResult,
    NewContact,
    StatusChange,
    UnitRecord,
)
from contact.dispatch.osrm import OsrmRouter
from contact.dispatch.ports import ContactReader, DispatchRepository
from contact.dispatch.reports import response_report
from contact.dispatch.unit_json import parse_time, unit_from_state, unit_state
from contact.dispatch.units import EtaModel, UnitKind, UnitPosition, UnitStatus, UnitTable
from contact.domain import events as ev
from contact.domain.model import (
    MAX_ACCURACY_M,
    OPEN_STATES,
    Contact,
    IncidentState,
    Priority,
    new_id,
    plausible_accuracy,
)
from contact.errors import Conflict, ContactError, NotFound, Unprocessable
from contact.ports import Broadcast

log = logging.getLogger(__name__)

UNIT_TOPIC = "dispatch:unit"  # internal: unit state between nodes (no browser subscribes)
FUTURE_SLACK_S = 60.0  # a device clock this far ahead is believed; further, we use ours


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class DispatchService:
    def __init__(
        self,
        *,
        repo: DispatchRepository,
        contacts: ContactReader,
        bus: MessageBus,
        broadcast: Broadcast,
        settings: DispatchSettings,
        router: OsrmRouter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._contacts = contacts
        self._bus = bus
        self._broadcast = broadcast
        self._settings = settings
        self._router = router
        self._clock = clock
        self.eta_model = EtaModel(
            road_factor=settings.road_factor,
            car_kmh=settings.car_kmh,
            bike_kmh=settings.bike_kmh,
            foot_kmh=settings.foot_kmh,
        )
        self._units: dict[str, UnitRecord] = {}
        self._table = UnitTable()
        self._scenes: dict[str, tuple[float, float]] = {}  # unit id -> where it is sent
        # cameras and districts in memory, re-read when an import changed them (city_map.py)
        self.map = CityMap(repo, settings)
        self._dirty: dict[str, UnitPosition] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # placing a contact (incident grouping, unit suggestion) runs off the intake path: a
        # citizen's acknowledgement and the operator's screen never wait for it. Unplaced
        # contacts are durable (no incident yet) and re-queued at start.
        self._placements: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._geofencing: set[str] = set()
        self._position_listeners: list[Callable[[UnitRecord], Awaitable[None]]] = []
        self.suggestions = 0
        # merge, split, an incident's state: the operators' edits (incidents.py)
        self.incidents = IncidentEditing(repo=repo, bus=bus, now=self.now)

    # --- wiring ---------------------------------------------------------------------------

    def on_assigned_position(self, listener: Callable[[UnitRecord], Awaitable[None]]) -> None:
        """`listener(unit)` whenever this node learns a position of a unit working a dispatch
        (from the unit, MQTT, or another node); a fix may be told twice, listeners dedupe."""
        self._position_listeners.append(listener)

    def register(self, bus: MessageBus) -> None:
        bus.subscribe(ev.ContactReceived, self._on_received)
        bus.subscribe(ev.ContactLocated, self._on_located)
        # an intake that wants units now (school alarm, kiosk, app SOS; the device channels)
        requested = getattr(ev, "SuggestionRequested", None)
        if requested is not None:
            bus.subscribe(requested, self._on_requested)
        bus.register(DispatchUnit, self.dispatch_unit)
        bus.register(CancelDispatch, self.cancel_dispatch)
        bus.register(AcknowledgeDispatch, self.acknowledge)
        bus.register(ReportUnitStatus, self.report_status)
        self.incidents.register(bus)
        self._broadcast.listen(self._on_broadcast)

    async def start(self) -> None:
        await self.reload_units()
        await self.reload_map(force=True)
        self._tasks = [
            asyncio.create_task(self._flush_loop(), name="dispatch.positions"),
            asyncio.create_task(self._reload_loop(), name="dispatch.reload"),
            asyncio.create_task(self._placement_loop(), name="dispatch.placements"),
        ]
        await self._requeue_unplaced()

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(ContactError):
            await self.flush_positions()

    def now(self) -> datetime:
        return _at(self._clock())

    # --- the in-memory view ----------------------------------------------------------------

    @property
    def cameras(self) -> CameraIndex:
        return self.map.cameras

    @property
    def districts(self) -> DistrictIndex:
        return self.map.districts

    def district_record(self, district_id: str | None) -> DistrictRecord | None:
        return self.map.district_record(district_id)

    def units(self) -> list[UnitRecord]:
        return sorted(self._units.values(), key=lambda u: u.callsign)

    def unit(self, unit_id: str) -> UnitRecord | None:
        return self._units.get(unit_id)

    def _apply(self, unit: UnitRecord, scene: tuple[float, float] | None = None) -> None:
        known = self._units.get(unit.id)
        if known is not None and _newer(known.position, unit.position):
            unit = replace(unit, position=known.position)  # never step back in time
        self._units[unit.id] = unit
        self._table.upsert(unit.as_unit())
        if unit.status in ASSIGNED and scene is not None:
            self._scenes[unit.id] = scene
        elif unit.status not in ASSIGNED:
            self._scenes.pop(unit.id, None)

    async def _share(self, unit: UnitRecord) -> None:
        """This unit's whole state to every node (this one included)."""
        scene = self._scenes.get(unit.id)
        try:
            await self._broadcast.publish(UNIT_TOPIC, unit_state(unit, scene))
        except ContactError:
            log.warning("unit state not shared with other nodes (broadcast down)")

    async def _on_broadcast(self, topic: str, payload: Mapping[str, Any]) -> None:
        if topic != UNIT_TOPIC:
            return
        unit, scene = unit_from_state(payload)
        self._apply(unit, scene)
        await self._moved(unit.id)

    async def reload_units(self) -> None:
        units = await self._repo.units()
        active = {
            d.unit_id: (d.lat, d.lon)
            for u in units
            if u.dispatch_id is not None
            for d in [await self._repo.get_dispatch(u.dispatch_id)]
        }
        for unit in units:
            self._apply(unit, active.get(unit.id))
        for gone in set(self._units) - {u.id for u in units}:
            del self._units[gone]
            self._table.remove(gone)

    async def reload_map(self, *, force: bool = False) -> bool:
        """Re-read cameras and districts when an import (here or on another node, or the CLI)
        changed them. True when something was reloaded."""
        return await self.map.reload(force=force)

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.reload_check_s)
            try:
                await self.reload_map()
                await self.reload_units()
            except ContactError as exc:
                log.warning("dispatch reload failed: %s", exc.message)
            except Exception:
                log.exception("dispatch reload failed")

    # --- positions -------------------------------------------------------------------------

    async def update_position(
        self, unit_id: str, lat: float, lon: float, accuracy_m: float | None = None,
        at: datetime | None = None, *, share: bool = True,
    ) -> UnitRecord:  # fmt: skip
        """A unit's new position: ranked at once, stored in the next batch, and checked
        against its scene (arrival by geofence). `share`: tell the other nodes (positions
        from MQTT reach every node by themselves)."""
        unit = self._units.get(unit_id)
        if unit is None:
            raise NotFound(f"unit {unit_id} not found", error_id="unit_not_found")
        now = self.now()
        if at is None or at > now + timedelta(seconds=FUTURE_SLACK_S):
            at = now
        try:
            position = UnitPosition(lat, lon, at, accuracy_m)
        except ValueError as exc:
            raise Unprocessable(str(exc), error_id="invalid_position") from None
        if accuracy_m is not None and plausible_accuracy(accuracy_m) is None:
            raise Unprocessable(
                f"accuracy_m must be a number of metres from 0 to {MAX_ACCURACY_M:.0f}",
                error_id="invalid_position",
            )
        if unit.position is not None and unit.position.at is not None and unit.position.at > at:
            return unit  # an older fix arriving late
        unit = replace(unit, position=position)
        self._apply(unit)
        self._dirty[unit_id] = position
        if share:
            await self._share(unit)
        await self._moved(unit_id)
        await self._check_arrival(unit)
        return unit

    async def position_from_payload(self, unit_id: str, data: Mapping[str, Any]) -> UnitRecord:
        lat, lon = data.get("lat"), data.get("lon")
        accuracy = data.get("accuracy_m")
        for name, value in (("lat", lat), ("lon", lon)):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Unprocessable(f"{name} must be a number", error_id="invalid_position")
        if accuracy is not None and (
            not isinstance(accuracy, int | float) or isinstance(accuracy, bool)
        ):
            raise Unprocessable("accuracy_m must be a number", error_id="invalid_position")
        return await self.update_position(
            unit_id,
            float(lat),  # type: ignore[arg-type]
            float(lon),  # type: ignore[arg-type]
            float(accuracy) if accuracy is not None else None,
            parse_time(data.get("at")),
        )

    async def mqtt_position(self, unit_id: str, data: dict[str, Any]) -> None:
        lat, lon = data.get("lat"), data.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            raise ValueError("lat and lon must be numbers")
        accuracy = data.get("accuracy_m")
        await self.update_position(
            unit_id,
            float(lat),
            float(lon),
            float(accuracy) if isinstance(accuracy, int | float) else None,
            parse_time(data.get("at")),
            share=False,
        )

    async def flush_positions(self) -> int:
        dirty, self._dirty = self._dirty, {}
        if not dirty:
            return 0
        try:
            await self._repo.save_positions(list(dirty.items()))
        except ContactError:
            for unit_id, position in dirty.items():  # keep them for the next try
                self._dirty.setdefault(unit_id, position)
            raise
        return len(dirty)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.position_flush_s)
            try:
                await self.flush_positions()
            except ContactError as exc:
                log.warning("unit positions not stored yet: %s", exc.message)
            except Exception:
                log.exception("unit positions not stored")

    async def _moved(self, unit_id: str) -> None:
        """Tell the position listeners, if the unit works a dispatch (the others are many and
        of no interest to an operator's map)."""
        unit = self._units.get(unit_id)
        if (
            not self._position_listeners
            or unit is None
            or unit.dispatch_id is None
            or unit.position is None
            or unit.status not in ASSIGNED
        ):
            return
        for listener in self._position_listeners:
            try:
                await listener(unit)
            except Exception:
                log.exception("position listener %r failed", listener)

    async def _check_arrival(self, unit: UnitRecord) -> None:
        scene = self._scenes.get(unit.id)
        radius = self._settings.arrival_radius_m
        if (
            scene is None
            or radius <= 0
            or unit.position is None
            or unit.status not in (UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE)
            or unit.id in self._geofencing
        ):
            return
        if haversine_m(unit.position.lat, unit.position.lon, *scene) > radius:
            return
        self._geofencing.add(unit.id)
        try:
            await self._bus.execute(
                ReportUnitStatus(unit_id=unit.id, status=UnitStatus.ON_SCENE, source="geofence")
            )
        except Conflict:
            pass  # another node (or the unit itself) got there first
        finally:
            self._geofencing.discard(unit.id)

    # --- suggestions -----------------------------------------------------------------------

    def locate(self, lat: float, lon: float) -> District | None:
        return self.map.locate(lat, lon)

    async def rank(
        self, lat: float, lon: float, top_n: int | None = None
    ) -> list[ev.SuggestedUnit]:
        """Available units by ETA to the point, best first: the great-circle best
        `suggest_candidates`, re-ranked by road time when a routing server answers."""
        n = top_n or self._settings.suggest_top_n
        point = LatLon(lat, lon)
        wanted = max(n, self._settings.suggest_candidates) if self._router else n
        ranked = self._table.rank(point, wanted * 2, self.eta_model)
        oldest = self.now() - timedelta(seconds=self._settings.max_position_age_s)
        fresh = [
            r
            for r in ranked
            if (u := self._units.get(r.unit_id)) is not None
            and u.position is not None
            and (u.position.at is None or u.position.at >= oldest)
        ][:wanted]
        lines = [
            ev.SuggestedUnit(
                unit_id=r.unit_id,
                callsign=self._units[r.unit_id].callsign,
                kind=self._units[r.unit_id].kind.value,
                eta_s=round(r.eta_s, 1),
                distance_m=round(r.distance_m, 1),
                eta_source="estimate",
            )
            for r in fresh
        ]
        if self._router is not None and lines:
            origins = [self._units[line.unit_id].position for line in lines]
            legs = await self._router.legs([o for o in origins if o is not None], point)
            if legs is not None and len(legs) == len(lines):
                lines = [
                    replace(line, eta_s=round(eta, 1), eta_source="road")
                    if (eta := self._road_eta(UnitKind(line.kind), leg.duration_s, leg.distance_m))
                    is not None
                    else line
                    for line, leg in zip(lines, legs, strict=True)
                ]
                lines.sort(key=lambda line: (line.eta_s, line.distance_m, line.unit_id))
        return lines[:n]

    def _road_eta(
        self, kind: UnitKind, duration_s: float | None, distance_m: float | None
    ) -> float | None:
        if kind is UnitKind.CAR and duration_s is not None:
            return duration_s
        if distance_m is not None:  # on foot or by bike: the road distance at their own pace
            return distance_m / (self.eta_model.speed_kmh(kind) / 3.6)
        return None

    async def suggest(
        self, contact: Contact, incident_id: str | None = None
    ) -> ev.DispatchSuggested:
        assert contact.location is not None
        lat, lon = contact.location.lat, contact.location.lon
        district = self.locate(lat, lon)
        units = await self.rank(lat, lon)
        self.suggestions += 1
        return ev.DispatchSuggested(
            contact_id=contact.id,
            incident_id=incident_id or contact.incident_id,
            district_id=district.id if district else None,
            department=district.department if district else None,
            outside_districts=district is None and len(self.map.districts) > 0,
            units=tuple(units),
        )

    def cameras_around(self, lat: float, lon: float) -> CameraView:
        return self.map.cameras_around(lat, lon)

    # --- contacts arriving -----------------------------------------------------------------

    async def _on_received(self, event: ev.ContactReceived) -> None:
        if event.location is None or event.priority is Priority.INFO:
            return
        contact = Contact(  # what placing needs, from the event: no read back
            id=event.contact_id,
            channel=event.channel,
            priority=event.priority,
            created_at=event.occurred_at,
            language=event.language,
            citizen=event.citizen,
            location=event.location,
            summary=event.summary,
        )
        self._placements.put_nowait(lambda: self._place(contact))

    async def _on_located(self, event: ev.ContactLocated) -> None:
        async def place() -> None:
            contact = await self._contacts.get(event.contact_id)
            if contact.priority is not Priority.INFO:
                await self._place(contact)

        self._placements.put_nowait(place)

    async def _on_requested(self, event: Any) -> None:
        async def place() -> None:
            contact = await self._contacts.get(event.contact_id)
            if contact.location is None:
                contact = replace(contact, location=event.location)
            await self._place(contact)

        self._placements.put_nowait(place)

    async def _placement_loop(self) -> None:
        while True:
            place = await self._placements.get()
            try:
                await place()
            except Exception:
                log.exception("placing a contact failed; it is retried at the next start")

    async def _requeue_unplaced(self) -> None:
        """Contacts stored but never placed (the process stopped first) are placed now."""
        for contact in await self._contacts.in_states(OPEN_STATES):
            if (
                contact.location is not None
                and contact.incident_id is None
                and contact.priority is not Priority.INFO
            ):
                self._placements.put_nowait(functools.partial(self._place, contact))

    async def _place(self, contact: Contact) -> None:
        if contact.location is None:
            return
        grouped = await self.group(contact)
        suggestion = await self.suggest(contact, grouped.incident_id)
        await self._bus.publish(suggestion)

    async def group(self, contact: Contact) -> GroupResult:
        """Put a located contact into its incident (joining one nearby or opening one)."""
        assert contact.location is not None
        location = contact.location
        category = categorize(contact.summary)
        district = self.locate(location.lat, location.lon)
        settings = self._settings
        received = contact.created_at
        new = NewContact(
            contact_id=contact.id,
            lat=location.lat,
            lon=location.lon,
            accuracy_m=location.accuracy_m,
            received_at=received,
            category=category,
            district_id=district.id if district else None,
            department=district.department if district else None,
            outside_districts=district is None and len(self.map.districts) > 0,
        )
        result = await self._repo.group(
            new,
            received - timedelta(seconds=settings.group_window_s),
            lambda candidates, categories: choose_incident(
                lat=location.lat,
                lon=location.lon,
                at=received,
                category=category,
                candidates=candidates,
                incident_categories=categories,
                radius_m=settings.group_radius_m,
                window_s=settings.group_window_s,
                accuracy_m=location.accuracy_m,
            ),
            # choose_incident's reach is at most twice the radius (accuracy slack)
            near_m=2 * settings.group_radius_m,
        )
        if result.already:
            return result
        if result.created:
            await self._bus.publish(
                ev.IncidentCreated(
                    incident_id=result.incident_id,
                    contact_id=contact.id,
                    category=category,
                    district_id=new.district_id,
                )
            )
        else:
            await self._bus.publish(
                ev.ContactGrouped(
                    incident_id=result.incident_id,
                    contact_id=contact.id,
                    distance_m=round(result.distance_m, 1)
                    if result.distance_m is not None
                    else None,
                )
            )
        return result

    # --- commands --------------------------------------------------------------------------

    async def dispatch_unit(self, command: DispatchUnit) -> DispatchRecord:
        contact = await self._contacts.get(command.contact_id)
        if contact.location is None:
            raise Conflict("the contact has no location to send a unit to", error_id="no_location")
        unit = self._units.get(command.unit_id) or await self._repo.get_unit(command.unit_id)
        incident_id = await self._repo.incident_of_contact(contact.id)
        if incident_id is None:
            incident_id = (await self.group(contact)).incident_id
        lat, lon = contact.location.lat, contact.location.lon
        district = self.locate(lat, lon)
        eta = self._eta_for(unit, lat, lon)
        record = DispatchRecord(
            id=new_id(),
            contact_id=contact.id,
            incident_id=incident_id,
            unit_id=unit.id,
            operator_id=command.operator_id,
            district_id=district.id if district else None,
            lat=lat,
            lon=lon,
            eta_s=eta,
            eta_source="estimate" if eta is not None else None,
            state=DispatchState.ACTIVE,
            received_at=contact.created_at,
            dispatched_at=self.now(),
        )
        try:
            claimed = await self._repo.dispatch(record)
        except Conflict:
            # the same unit already on its way to this contact: a retry whose answer was lost
            # (or a double click) gets that dispatch, as the first answer said, not a refusal
            # that would send the operator looking for another unit
            sent = await self._on_its_way(unit.id, contact.id)
            if sent is None:
                raise
            return sent
        self._apply(claimed, (lat, lon))
        await self._share(claimed)
        await self._bus.publish(
            ev.UnitDispatched(
                dispatch_id=record.id,
                unit_id=unit.id,
                callsign=unit.callsign,
                contact_id=contact.id,
                incident_id=incident_id,
                operator_id=command.operator_id,
                eta_s=eta,
                channel=contact.channel,
                citizen=contact.citizen,
            )
        )
        await self._bus.publish(
            ev.UnitStatusChanged(
                unit_id=unit.id,
                status=UnitStatus.DISPATCHED.value,
                previous=UnitStatus.AVAILABLE.value,
                source="operator",
                dispatch_id=record.id,
                contact_id=contact.id,
            )
        )
        view = await self._repo.incident(incident_id)
        if view.incident.state is IncidentState.OPEN:
            await self._repo.set_incident_state(incident_id, IncidentState.DISPATCHED, self.now())
            await self._bus.publish(
                ev.IncidentStateChanged(
                    incident_id=incident_id,
                    state=IncidentState.DISPATCHED.value,
                    previous=IncidentState.OPEN.value,
                    operator_id=command.operator_id,
                )
            )
        return record

    async def _on_its_way(self, unit_id: str, contact_id: str) -> DispatchRecord | None:
        unit = await self._repo.get_unit(unit_id)
        if unit.dispatch_id is None:
            return None
        sent = await self._repo.get_dispatch(unit.dispatch_id)
        active = sent.state is DispatchState.ACTIVE and sent.contact_id == contact_id
        return sent if active else None

    def _eta_for(self, unit: UnitRecord, lat: float, lon: float) -> float | None:
        if unit.position is None:
            return None
        distance = haversine_m(unit.position.lat, unit.position.lon, lat, lon)
        return round(self.eta_model.eta_s(distance, unit.kind), 1)

    async def cancel_dispatch(self, command: CancelDispatch) -> StatusChange:
        dispatch = await self._repo.get_dispatch(command.dispatch_id)
        if dispatch.state is not DispatchState.ACTIVE:
            raise Conflict("this dispatch is over", error_id="dispatch_over")
        return await self.report_status(
            ReportUnitStatus(
                unit_id=dispatch.unit_id,
                status=UnitStatus.AVAILABLE,
                source="operator",
                actor=command.operator_id,
            )
        )

    async def acknowledge(self, command: AcknowledgeDispatch) -> DispatchRecord:
        dispatch, first = await self._repo.acknowledge(
            command.unit_id, command.dispatch_id, self.now()
        )
        if first:
            await self._bus.publish(
                ev.UnitAcknowledged(
                    dispatch_id=dispatch.id,
                    unit_id=dispatch.unit_id,
                    contact_id=dispatch.contact_id,
                )
            )
        return dispatch

    async def report_status(self, command: ReportUnitStatus) -> StatusChange:
        try:
            status = UnitStatus(command.status)
        except ValueError:
            allowed = ", ".join(s.value for s in UnitStatus)
            raise Unprocessable(
                f"status must be one of {allowed}", error_id="invalid_status"
            ) from None
        if status is UnitStatus.DISPATCHED:
            raise Unprocessable(
                "a unit is dispatched by an operator, not by a report",
                error_id="invalid_status",
            )
        at = self.now()
        change = await self._repo.set_status(
            command.unit_id, status, at, command.source, command.actor
        )
        if not change.changed:
            return change
        dispatch = change.dispatch
        scene = (dispatch.lat, dispatch.lon) if dispatch is not None else None
        self._apply(change.unit, scene)
        await self._share(change.unit)
        await self._bus.publish(
            ev.UnitStatusChanged(
                unit_id=change.unit.id,
                status=status.value,
                previous=change.previous.value,
                source=command.source,
                dispatch_id=dispatch.id if dispatch else None,
                contact_id=dispatch.contact_id if dispatch else None,
            )
        )
        if (
            status is UnitStatus.ON_SCENE
            and dispatch is not None
            and dispatch.arrived_at == at
            and dispatch.response_s is not None
        ):
            await self._bus.publish(
                ev.UnitArrived(
                    dispatch_id=dispatch.id,
                    unit_id=dispatch.unit_id,
                    contact_id=dispatch.contact_id,
                    incident_id=dispatch.incident_id,
                    district_id=dispatch.district_id,
                    response_s=round(dispatch.response_s, 1),
                    travel_s=round((at - dispatch.dispatched_at).total_seconds(), 1),
                    within_target=dispatch.response_s <= self._settings.response_target_s,
                    first_on_scene=dispatch.first_on_scene,
                )
            )
        return change

    # --- reports ---------------------------------------------------------------------------

    async def response_report(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Response times (contact received -> first unit on scene) per district."""
        return response_report(
            await self._repo.arrivals(since, until),
            await self._repo.dispatch_counts(since, until),
            since=since,
            until=until,
            target_s=self._settings.response_target_s,
            district=self.district_record,
        )


def _newer(mine: UnitPosition | None, theirs: UnitPosition | None) -> bool:
    """Is the position we hold newer than the one offered (from the database or a peer)?"""
    if mine is None:
        return False
    if theirs is None:
        return True
    return mine.at is not None and (theirs.at is None or mine.at > theirs.at)


__all__ = ["UNIT_TOPIC", "DispatchService", "parse_time", "unit_from_state", "unit_state"]
