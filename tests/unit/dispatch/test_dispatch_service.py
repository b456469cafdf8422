"""DispatchService on the fake store (tests/fakes_dispatch.py, held to the SQL adapter by
tests/contract/test_dispatch_repository.py): suggestions by ETA, dispatch, recall, the unit's
status machine with its events, arrival by geofence, incident grouping, merge and split, the
response report, and the errors an operator or a unit can run into."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from contact.broadcast import MemoryBroadcast
from contact.bus import MessageBus
from contact.config import DispatchSettings
from contact.dispatch.cameras import Camera
from contact.dispatch.city_map import CityMap
from contact.dispatch.commands import (
    AcknowledgeDispatch,
    CancelDispatch,
    DispatchUnit,
    MergeIncidents,
    ReportUnitStatus,
    SetIncidentState,
    SplitIncident,
)
from contact.dispatch.geo import destination, haversine_m
from contact.dispatch.model import DispatchState, DistrictRecord, UnitRecord
from contact.dispatch.service import UNIT_TOPIC, DispatchService
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.domain import events as ev
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    IncidentState,
    Location,
    Priority,
)
from contact.errors import Conflict, NotFound, Unprocessable
from tests.fakes import FakeContactRepository, ManualClock
from tests.fakes_dispatch import FakeDispatchRepository

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
SCENE = (43.238, 76.889)


@dataclass
class Room:
    service: DispatchService
    repo: FakeDispatchRepository
    contacts: FakeContactRepository
    bus: MessageBus
    clock: ManualClock
    events: list[Any] = field(default_factory=list)
    shared: list[dict[str, Any]] = field(default_factory=list)

    def seen(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def now(self, seconds: float = 0.0) -> datetime:
        return datetime.fromtimestamp(self.clock.now + seconds, UTC)


@pytest.fixture
async def room() -> Room:
    contacts = FakeContactRepository()
    repo = FakeDispatchRepository(contacts)
    bus = MessageBus()
    broadcast = MemoryBroadcast()
    clock = ManualClock(T0.timestamp())
    service = DispatchService(
        repo=repo,
        contacts=contacts,
        bus=bus,
        broadcast=broadcast,
        settings=DispatchSettings(),
        clock=clock,
    )
    service.register(bus)
    found = Room(service, repo, contacts, bus, clock)

    async def record(event: Any) -> None:
        found.events.append(event)

    async def shared(topic: str, payload: Any) -> None:
        if topic == UNIT_TOPIC:
            found.shared.append(dict(payload))

    bus.subscribe_all(record)
    broadcast.listen(shared)
    return found


async def add_unit(
    room: Room,
    uid: str,
    north_m: float | None,
    *,
    kind: UnitKind = UnitKind.CAR,
    status: UnitStatus = UnitStatus.AVAILABLE,
    active: bool = True,
    age_s: float = 0.0,
) -> UnitRecord:
    position = None
    if north_m is not None:
        p = destination(SCENE[0], SCENE[1], 0.0, north_m)
        position = UnitPosition(p.lat, p.lon, room.now(-age_s), 10.0)
    unit = UnitRecord(
        id=uid,
        callsign=uid.upper(),
        kind=kind,
        status=status,
        status_at=room.now(-3600),
        position=position,
        active=active,
    )
    await room.repo.add_unit(unit, None)
    await room.service.reload_units()
    return unit


async def add_contact(
    room: Room, cid: str, north_m: float = 0.0, *, located: bool = True, summary: str = ""
) -> Contact:
    p = destination(SCENE[0], SCENE[1], 0.0, north_m)
    contact = Contact(
        id=cid,
        channel=ChannelKind.VOICE,
        priority=Priority.VOICE,
        created_at=room.now(-60),
        state=ContactState.CONNECTED,
        location=Location(p.lat, p.lon, 10.0) if located else None,
        summary=summary,
    )
    if cid in room.contacts.contacts:  # the same contact again, as it is now
        await room.contacts.save(contact)
    else:
        await room.contacts.add(contact)
    return contact


# --- suggestions ------------------------------------------------------------------------------


async def test_suggestion_ranks_available_units_by_eta(room: Room) -> None:
    await add_unit(room, "far", 3_000)
    await add_unit(room, "near", 500)
    await add_unit(room, "walker", 400, kind=UnitKind.FOOT)  # nearer, but slow
    await add_unit(room, "busy", 100, status=UnitStatus.EN_ROUTE)
    await add_unit(room, "off", 100, active=False)
    await add_unit(room, "stale", 100, age_s=3_600)  # its last fix is an hour old
    await add_unit(room, "lost", None)  # no position at all

    ranked = await room.service.rank(*SCENE)
    assert [u.unit_id for u in ranked] == ["near", "far", "walker"]
    assert [u.eta_s for u in ranked] == sorted(u.eta_s for u in ranked)
    near = ranked[0]
    assert near.distance_m == pytest.approx(500, abs=1)
    assert near.eta_s == pytest.approx(
        room.service.eta_model.eta_s(near.distance_m, UnitKind.CAR), abs=0.1
    )
    assert {u.eta_source for u in ranked} == {"estimate"}
    assert [u.unit_id for u in await room.service.rank(*SCENE, top_n=1)] == ["near"]

    contact = await add_contact(room, "c-1")
    suggestion = await room.service.suggest(contact, "i-1")
    assert suggestion.contact_id == "c-1" and suggestion.incident_id == "i-1"
    assert [u.unit_id for u in suggestion.units] == ["near", "far", "walker"]
    assert suggestion.district_id is None and not suggestion.outside_districts  # no map


async def test_a_located_contact_is_placed_and_suggested(room: Room) -> None:
    await add_unit(room, "near", 500)
    await room.service.start()
    try:
        await room.bus.publish(
            ev.ContactReceived(
                contact_id="c-1",
                channel=ChannelKind.APP,
                priority=Priority.VOICE,
                language=None,
                citizen=None,
                location=Location(*SCENE),
                summary="пожар",
            )
        )
        for _ in range(200):
            if room.seen(ev.DispatchSuggested):
                break
            await asyncio.sleep(0.01)
    finally:
        await room.service.stop()
    (created,) = room.seen(ev.IncidentCreated)
    (suggested,) = room.seen(ev.DispatchSuggested)
    assert created.contact_id == "c-1"
    assert suggested.incident_id == created.incident_id
    assert [u.unit_id for u in suggested.units] == ["near"]
    assert await room.repo.incident_of_contact("c-1") == created.incident_id


# --- dispatch, recall, status -----------------------------------------------------------------


async def test_dispatch_claims_the_unit_and_marks_the_incident(room: Room) -> None:
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    record = await room.bus.execute(
        DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op")
    )
    assert record.unit_id == "near" and record.state is DispatchState.ACTIVE
    assert record.eta_s == pytest.approx(room.service.eta_model.eta_s(500, UnitKind.CAR), abs=1)
    assert record.incident_id is not None  # grouped on the way: it had no incident yet
    assert room.contacts.contacts["c-1"].incident_id == record.incident_id

    unit = room.service.unit("near")
    assert unit is not None and unit.status is UnitStatus.DISPATCHED
    assert unit.dispatch_id == record.id
    assert await room.service.rank(*SCENE) == []  # a dispatched unit is not suggested
    assert room.shared[-1]["status"] == "dispatched"
    assert room.shared[-1]["scene"] == {"lat": record.lat, "lon": record.lon}

    (dispatched,) = room.seen(ev.UnitDispatched)
    assert (dispatched.dispatch_id, dispatched.callsign, dispatched.operator_id) == (
        record.id,
        "NEAR",
        "op",
    )
    (status,) = room.seen(ev.UnitStatusChanged)
    assert (status.status, status.previous, status.source) == (
        "dispatched",
        "available",
        "operator",
    )
    (incident,) = room.seen(ev.IncidentStateChanged)
    assert (incident.state, incident.previous) == ("dispatched", "open")
    view = await room.repo.incident(record.incident_id)
    assert view.incident.state is IncidentState.DISPATCHED


async def test_sending_the_unit_already_on_its_way_again_answers_that_dispatch(
    room: Room,
) -> None:
    """A retry whose answer was lost, or a double click: the same unit to the same contact is
    the dispatch already made (no second record, no events), not "unit not available"."""
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    first = await room.bus.execute(DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op"))
    before = len(room.events)
    again = await room.bus.execute(DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op"))
    assert again == first
    assert len(room.events) == before
    assert [d.id for d in await room.repo.dispatches(contact_ids=["c-1"])] == [first.id]


async def test_double_dispatch_and_unknowns_fail_loud(room: Room) -> None:
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    await add_contact(room, "c-2", 50)
    await add_contact(room, "nowhere", located=False)
    await room.bus.execute(DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op-1"))
    before = len(room.events)

    with pytest.raises(Conflict) as busy:
        await room.bus.execute(DispatchUnit(contact_id="c-2", unit_id="near", operator_id="op-2"))
    assert busy.value.error_id == "unit_not_available"
    with pytest.raises(NotFound) as unit:
        await room.bus.execute(DispatchUnit(contact_id="c-2", unit_id="nope", operator_id="op"))
    assert unit.value.error_id == "unit_not_found"
    with pytest.raises(NotFound):
        await room.bus.execute(DispatchUnit(contact_id="ghost", unit_id="near", operator_id="op"))
    with pytest.raises(Conflict) as nowhere:
        await room.bus.execute(DispatchUnit(contact_id="nowhere", unit_id="near", operator_id="op"))
    assert nowhere.value.error_id == "no_location"
    # a failed command publishes nothing (the bus drops its events), though c-2 was grouped
    # on the way to the refused claim
    assert room.events[before:] == []
    assert await room.repo.incident_of_contact("c-2") is not None
    assert [d.contact_id for d in await room.repo.dispatches()] == ["c-1"]


async def test_unit_reports_move_it_to_the_scene(room: Room) -> None:
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    record = await room.bus.execute(
        DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op")
    )

    ack = await room.bus.execute(AcknowledgeDispatch(unit_id="near", dispatch_id=record.id))
    assert ack.acknowledged_at == room.now()
    await room.bus.execute(AcknowledgeDispatch(unit_id="near", dispatch_id=record.id))
    assert len(room.seen(ev.UnitAcknowledged)) == 1  # told once

    room.clock.advance(30)
    change = await room.bus.execute(ReportUnitStatus(unit_id="near", status="en_route"))
    assert change.changed and change.unit.status is UnitStatus.EN_ROUTE
    retry = await room.bus.execute(ReportUnitStatus(unit_id="near", status="en_route"))
    assert not retry.changed
    assert [e.status for e in room.seen(ev.UnitStatusChanged)] == ["dispatched", "en_route"]

    for wrong, error in (("flying", "invalid_status"), ("dispatched", "invalid_status")):
        with pytest.raises(Unprocessable) as refused:
            await room.bus.execute(ReportUnitStatus(unit_id="near", status=wrong))
        assert refused.value.error_id == error
    with pytest.raises(Conflict) as skipped:
        await room.bus.execute(ReportUnitStatus(unit_id="near", status="transporting"))
    assert skipped.value.error_id == "unit_status_not_allowed"

    room.clock.advance(200)
    await room.bus.execute(ReportUnitStatus(unit_id="near", status="on_scene"))
    (arrived,) = room.seen(ev.UnitArrived)
    assert arrived.dispatch_id == record.id and arrived.first_on_scene
    assert arrived.response_s == pytest.approx(60 + 230)  # from the contact's creation
    assert arrived.travel_s == pytest.approx(230) and arrived.within_target

    await room.bus.execute(ReportUnitStatus(unit_id="near", status="available"))
    done = await room.repo.get_dispatch(record.id)
    assert done.state is DispatchState.COMPLETED
    unit = room.service.unit("near")
    assert unit is not None and unit.status is UnitStatus.AVAILABLE and unit.dispatch_id is None
    assert [u.unit_id for u in await room.service.rank(*SCENE)] == ["near"]  # back in service


async def test_recall_cancels_the_dispatch(room: Room) -> None:
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    record = await room.bus.execute(
        DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op")
    )
    change = await room.bus.execute(CancelDispatch(dispatch_id=record.id, operator_id="op-2"))
    assert change.unit.status is UnitStatus.AVAILABLE
    assert change.dispatch is not None and change.dispatch.state is DispatchState.CANCELLED
    last = room.seen(ev.UnitStatusChanged)[-1]
    assert (last.status, last.source, last.dispatch_id) == ("available", "operator", record.id)
    assert room.seen(ev.UnitArrived) == []

    with pytest.raises(Conflict) as over:
        await room.bus.execute(CancelDispatch(dispatch_id=record.id, operator_id="op"))
    assert over.value.error_id == "dispatch_over"
    with pytest.raises(NotFound) as unknown:
        await room.bus.execute(CancelDispatch(dispatch_id="nope", operator_id="op"))
    assert unknown.value.error_id == "dispatch_not_found"
    with pytest.raises(Conflict) as cancelled:
        await room.bus.execute(AcknowledgeDispatch(unit_id="near", dispatch_id=record.id))
    assert cancelled.value.error_id == "dispatch_cancelled"


async def test_arrival_by_geofence_and_positions(room: Room) -> None:
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    await room.bus.execute(DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op"))
    scene = await room.repo.dispatches()
    lat, lon = scene[0].lat, scene[0].lon

    room.clock.advance(60)
    outside = destination(lat, lon, 0.0, 200)
    await room.service.update_position("near", outside.lat, outside.lon, 5.0)
    assert room.seen(ev.UnitArrived) == []
    late = room.now(-30)  # an older fix arriving after a newer one changes nothing
    kept = await room.service.update_position("near", lat, lon, 5.0, late)
    assert kept.position is not None and kept.position.lat == pytest.approx(outside.lat)
    assert room.seen(ev.UnitArrived) == []

    room.clock.advance(60)
    inside = destination(lat, lon, 90.0, 20)
    await room.service.update_position("near", inside.lat, inside.lon, 5.0)
    (arrived,) = room.seen(ev.UnitArrived)
    assert arrived.unit_id == "near"
    assert room.seen(ev.UnitStatusChanged)[-1].source == "geofence"
    assert haversine_m(inside.lat, inside.lon, lat, lon) < DispatchSettings().arrival_radius_m

    assert await room.service.flush_positions() == 1
    stored = (await room.repo.get_unit("near")).position
    assert stored is not None and stored.lat == pytest.approx(inside.lat)
    with pytest.raises(NotFound):
        await room.service.update_position("nope", lat, lon)
    with pytest.raises(Unprocessable):
        await room.service.update_position("near", 91.0, lon)
    with pytest.raises(Unprocessable):
        await room.service.update_position("near", lat, lon, 1e9)


# --- incidents --------------------------------------------------------------------------------


async def test_contacts_about_one_place_make_one_incident(room: Room) -> None:
    first = await room.service.group(await add_contact(room, "c-1", summary="пожар"))
    near = await room.service.group(await add_contact(room, "c-2", 80))
    far = await room.service.group(await add_contact(room, "c-3", 5_000))
    again = await room.service.group(await add_contact(room, "c-1", summary="пожар"))
    assert first.created and not near.created and far.created
    assert near.incident_id == first.incident_id != far.incident_id
    assert again.already and again.incident_id == first.incident_id
    (grouped,) = room.seen(ev.ContactGrouped)
    assert grouped.contact_id == "c-2" and grouped.distance_m == pytest.approx(80, abs=1)
    assert [e.contact_id for e in room.seen(ev.IncidentCreated)] == ["c-1", "c-3"]
    view = await room.repo.incident(first.incident_id)
    assert view.incident.contact_ids == ["c-1", "c-2"]


async def test_merge_split_and_state(room: Room) -> None:
    a = (await room.service.group(await add_contact(room, "c-1"))).incident_id
    await room.service.group(await add_contact(room, "c-2", 50))
    b = (await room.service.group(await add_contact(room, "c-3", 5_000))).incident_id

    moved = await room.bus.execute(MergeIncidents(incident_id=a, other_id=b, operator_id="op"))
    assert moved == ("c-3",)
    (merged,) = room.seen(ev.IncidentsMerged)
    assert (merged.incident_id, merged.merged_id, merged.contact_ids) == (a, b, ("c-3",))
    with pytest.raises(Conflict) as closed:
        await room.bus.execute(MergeIncidents(incident_id=a, other_id=b, operator_id="op"))
    assert closed.value.error_id == "incident_closed"
    with pytest.raises(Conflict) as gone:
        await room.bus.execute(
            SetIncidentState(incident_id=b, state=IncidentState.OPEN, operator_id="op")
        )
    assert gone.value.error_id == "incident_merged"

    new = await room.bus.execute(
        SplitIncident(incident_id=a, contact_ids=("c-3",), operator_id="op")
    )
    (split,) = room.seen(ev.IncidentSplit)
    assert (split.incident_id, split.new_incident_id, split.contact_ids) == (a, new, ("c-3",))
    assert await room.repo.incident_of_contact("c-3") == new
    with pytest.raises(Conflict) as alone:
        await room.bus.execute(
            SplitIncident(incident_id=new, contact_ids=("c-3",), operator_id="op")
        )
    assert alone.value.error_id == "split_needs_two_sides"

    previous = await room.bus.execute(
        SetIncidentState(incident_id=a, state=IncidentState.CLOSED, operator_id="op")
    )
    assert previous is IncidentState.OPEN
    await room.bus.execute(
        SetIncidentState(incident_id=a, state=IncidentState.CLOSED, operator_id="op")
    )
    (changed,) = room.seen(ev.IncidentStateChanged)  # the same state again: no event
    assert (changed.incident_id, changed.state, changed.previous) == (a, "closed", "open")
    with pytest.raises(NotFound):
        await room.bus.execute(
            SetIncidentState(incident_id="nope", state=IncidentState.OPEN, operator_id="op")
        )


# --- the response report ----------------------------------------------------------------------


async def test_response_report_per_district(room: Room) -> None:
    for n, north in enumerate((500, 800, 1_200)):
        await add_unit(room, f"u{n}", north)
        await add_contact(room, f"c{n}", n * 5_000)
        await room.bus.execute(DispatchUnit(contact_id=f"c{n}", unit_id=f"u{n}", operator_id="op"))
    room.clock.advance(240)
    await room.bus.execute(ReportUnitStatus(unit_id="u0", status="on_scene"))  # 300 s
    room.clock.advance(300)
    await room.bus.execute(ReportUnitStatus(unit_id="u1", status="on_scene"))  # 600 s
    report = await room.service.response_report(room.now(-3600), room.now(1))
    overall = report["overall"]
    assert (overall["dispatches"], overall["arrivals"], overall["within_target"]) == (3, 2, 1)
    assert overall["median_s"] == pytest.approx(450.0) and overall["max_s"] == 600.0
    assert overall["within_target_ratio"] == 0.5
    assert [r["district_id"] for r in report["districts"]] == [None]  # no district map
    assert report["target_s"] == DispatchSettings().response_target_s


# --- the city map and the report's districts --------------------------------------------------


async def test_the_map_follows_imports_within_its_bound(room: Room) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[76.8, 43.1], [77.0, 43.1], [77.0, 43.3], [76.8, 43.3], [76.8, 43.1]]],
    }
    await room.repo.replace_districts(
        [DistrictRecord("almaly", "Алмалы", "Алмалинский", "dep-1", square, 0)], room.now()
    )
    cameras = [
        Camera(f"K{n}", SCENE[0], SCENE[1] + n * 1e-4, 0.0, 360.0, 100.0, f"rtsp://k/{n}")
        for n in range(3)
    ]
    await room.repo.import_cameras(cameras, room.now())
    assert await room.service.reload_map()
    assert not await room.service.reload_map()  # nothing changed since
    assert len(room.service.cameras) == 3
    assert {s.camera.id for s in room.service.cameras_around(*SCENE).seeing} == {"K0", "K1", "K2"}
    district = room.service.locate(*SCENE)
    assert district is not None and district.id == "almaly"
    assert room.service.locate(44.0, 78.0) is None

    # a node never loads more cameras than cameras_max: the index it has stays
    bounded = CityMap(room.repo, DispatchSettings(cameras_max=3))
    assert await bounded.reload()
    await room.repo.import_cameras([*cameras, replace(cameras[0], id="K9")], room.now(1))
    assert not await bounded.reload()
    assert len(bounded.cameras) == 3 and bounded.cameras.get("K9") is None

    # the suggestion and the report name the district
    await add_unit(room, "near", 500)
    await add_contact(room, "c-1")
    suggestion = await room.service.suggest(await room.contacts.get("c-1"))
    assert (suggestion.district_id, suggestion.department) == ("almaly", "dep-1")
    await room.bus.execute(DispatchUnit(contact_id="c-1", unit_id="near", operator_id="op"))
    room.clock.advance(100)
    await room.bus.execute(ReportUnitStatus(unit_id="near", status="on_scene"))
    report = await room.service.response_report(room.now(-3600), room.now(1))
    (row,) = report["districts"]
    assert (row["district_id"], row["name_kk"], row["department"]) == ("almaly", "Алмалы", "dep-1")
    assert row["median_s"] == pytest.approx(160.0)
