"""The DispatchRepository contract: the test fake (tests/fakes_dispatch.py) and the SQL
adapter on SQLite and on PostgreSQL (migrated schemas) give the same answers.

Every test runs on the three; the service's unit tests (tests/unit/dispatch/
test_dispatch_service.py) run on the fake, which this suite keeps honest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contact.config import DatabaseSettings
from contact.dispatch.cameras import Camera
from contact.dispatch.grouping import Candidate, Match, choose_incident
from contact.dispatch.model import (
    DispatchRecord,
    DispatchState,
    DistrictRecord,
    NewContact,
    UnitRecord,
)
from contact.dispatch.ports import Chooser, DispatchRepository
from contact.dispatch.sql import CAMERA_BATCH, SqlDispatchRepository
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.domain.model import IncidentState, Location
from contact.errors import Conflict, ContactError, NotFound
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from tests.fakes_dispatch import FakeDispatchRepository

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
LAT, LON = 43.238, 76.889


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def repo(backend: str | None) -> AsyncIterator[DispatchRepository]:
    if backend is None:
        yield FakeDispatchRepository()
        return
    await upgrade(backend)
    db = await SqlDatabase.open(DatabaseSettings(url=backend))
    try:
        yield SqlDispatchRepository(db.store)
    finally:
        await db.close()


def unit(uid: str, callsign: str, **fields: object) -> UnitRecord:
    values: dict[str, object] = {
        "id": uid,
        "callsign": callsign,
        "kind": UnitKind.CAR,
        "status": UnitStatus.AVAILABLE,
        "status_at": at(0),
    }
    values.update(fields)
    return UnitRecord(**values)  # type: ignore[arg-type]


def dispatch_of(
    did: str,
    unit_id: str,
    contact_id: str,
    incident_id: str | None = None,
    *,
    district: str | None = "almaly",
    dispatched: float = 30,
) -> DispatchRecord:
    return DispatchRecord(
        id=did,
        contact_id=contact_id,
        incident_id=incident_id,
        unit_id=unit_id,
        operator_id="op-1",
        district_id=district,
        lat=LAT,
        lon=LON,
        eta_s=100.0,
        eta_source="estimate",
        state=DispatchState.ACTIVE,
        received_at=at(0),
        dispatched_at=at(dispatched),
    )


async def codes(error: type[ContactError], awaitable: object) -> str:
    with pytest.raises(error) as raised:
        await awaitable  # type: ignore[misc]
    return raised.value.error_id


# --- units ------------------------------------------------------------------------------------


async def test_units_registry(repo: DispatchRepository) -> None:
    a = unit("u-a", "A-2", crew=("Әлия", "Иван"), district_id="almaly", department="d1")
    b = unit("u-b", "A-1", kind=UnitKind.FOOT)
    await repo.add_unit(a, "hash-a")
    await repo.add_unit(b, None)
    assert await repo.get_unit("u-a") == a
    assert [u.callsign for u in await repo.units()] == ["A-1", "A-2"]
    assert await repo.unit_by_callsign("A-1") == b
    assert await repo.unit_by_callsign("Z-9") is None
    assert await codes(Conflict, repo.add_unit(unit("u-a", "A-3"), None)) == "unit_exists"
    assert await codes(Conflict, repo.add_unit(unit("u-c", "A-1"), None)) == "unit_exists"
    assert await codes(NotFound, repo.get_unit("nope")) == "unit_not_found"

    # registry fields change; status, position, dispatch do not
    await repo.update_unit(
        replace(a, callsign="A-9", crew=("Bek",), active=False, status=UnitStatus.ON_SCENE)
    )
    updated = await repo.get_unit("u-a")
    assert (updated.callsign, updated.crew, updated.active, updated.status) == (
        "A-9",
        ("Bek",),
        False,
        UnitStatus.AVAILABLE,
    )
    assert await codes(Conflict, repo.update_unit(replace(b, callsign="A-9"))) == "unit_exists"
    assert await codes(NotFound, repo.update_unit(unit("nope", "N-1"))) == "unit_not_found"

    # tokens: none for an inactive or unknown unit
    assert await repo.unit_token_hash("u-a") is None  # inactive now
    assert await repo.unit_token_hash("u-b") is None  # never issued
    await repo.set_unit_token("u-b", "hash-b")
    assert await repo.unit_token_hash("u-b") == "hash-b"
    assert await repo.unit_token_hash("nope") is None
    assert await codes(NotFound, repo.set_unit_token("nope", "h")) == "unit_not_found"


async def test_positions_newest_wins(repo: DispatchRepository) -> None:
    await repo.add_unit(unit("u-a", "A-1"), None)
    await repo.add_unit(unit("u-b", "A-2"), None)
    await repo.save_positions([])
    new = UnitPosition(43.2, 76.9, at(10), 5.0)
    old = UnitPosition(43.1, 76.8, at(5), None)
    await repo.save_positions([("u-a", new), ("u-a", old), ("u-b", old), ("ghost", new)])
    assert (await repo.get_unit("u-a")).position == new  # the late older fix is ignored
    assert (await repo.get_unit("u-b")).position == old
    newer = UnitPosition(43.3, 77.0, at(20), 1.0)
    await repo.save_positions([("u-a", newer)])
    assert (await repo.get_unit("u-a")).position == newer
    await repo.save_positions([("u-a", UnitPosition(1.0, 1.0, None, None))])  # no time: ignored
    assert (await repo.get_unit("u-a")).position == newer


# --- dispatches and the status machine --------------------------------------------------------


async def test_dispatch_claims_an_available_unit_once(repo: DispatchRepository) -> None:
    await repo.add_unit(unit("u-a", "A-1"), None)
    await repo.add_unit(unit("u-off", "A-2", active=False), None)
    claimed = await repo.dispatch(dispatch_of("d-1", "u-a", "c-1", "i-1"))
    assert (claimed.status, claimed.status_at, claimed.dispatch_id) == (
        UnitStatus.DISPATCHED,
        at(30),
        "d-1",
    )
    assert await repo.get_unit("u-a") == claimed
    assert await codes(Conflict, repo.dispatch(dispatch_of("d-2", "u-a", "c-2"))) == (
        "unit_not_available"
    )
    assert await codes(Conflict, repo.dispatch(dispatch_of("d-3", "u-off", "c-2"))) == (
        "unit_not_available"
    )
    assert await codes(NotFound, repo.dispatch(dispatch_of("d-4", "nope", "c-2"))) == (
        "unit_not_found"
    )
    assert await repo.get_dispatch("d-1") == dispatch_of("d-1", "u-a", "c-1", "i-1")
    assert await codes(NotFound, repo.get_dispatch("d-2")) == "dispatch_not_found"
    assert [d.id for d in await repo.dispatches(unit_id="u-a")] == ["d-1"]


async def test_status_machine_follows_the_dispatch(repo: DispatchRepository) -> None:
    await repo.add_unit(unit("u-a", "A-1"), None)
    await repo.add_unit(unit("u-b", "A-2"), None)
    await repo.dispatch(dispatch_of("d-a", "u-a", "c-1", "i-1"))
    await repo.dispatch(dispatch_of("d-b", "u-b", "c-2", "i-1", dispatched=40))

    change = await repo.set_status("u-a", UnitStatus.EN_ROUTE, at(60), "unit", "u-a")
    assert change.changed and change.previous is UnitStatus.DISPATCHED
    assert change.unit.status is UnitStatus.EN_ROUTE and change.unit.status_at == at(60)
    assert change.dispatch is not None and change.dispatch.en_route_at == at(60)

    again = await repo.set_status("u-a", UnitStatus.EN_ROUTE, at(61), "unit", None)
    assert not again.changed and again.unit.status_at == at(60)  # a retried report
    assert again.dispatch == change.dispatch

    assert await codes(
        Conflict, repo.set_status("u-a", UnitStatus.TRANSPORTING, at(62), "unit", None)
    ) == ("unit_status_not_allowed")
    assert await codes(
        Conflict, repo.set_status("u-a", UnitStatus.DISPATCHED, at(62), "unit", None)
    ) == ("unit_status_not_allowed")  # only an operator's dispatch makes a unit dispatched
    assert await codes(
        NotFound, repo.set_status("nope", UnitStatus.EN_ROUTE, at(62), "unit", None)
    ) == ("unit_not_found")

    arrived = await repo.set_status("u-a", UnitStatus.ON_SCENE, at(300), "geofence", None)
    assert arrived.dispatch is not None
    assert (arrived.dispatch.arrived_at, arrived.dispatch.response_s) == (at(300), 300.0)
    assert arrived.dispatch.first_on_scene
    second = await repo.set_status("u-b", UnitStatus.ON_SCENE, at(320), "unit", None)
    assert second.dispatch is not None and not second.dispatch.first_on_scene

    done = await repo.set_status("u-a", UnitStatus.AVAILABLE, at(900), "unit", None)
    assert done.unit.dispatch_id is None and done.dispatch is not None
    assert (done.dispatch.state, done.dispatch.cleared_at) == (DispatchState.COMPLETED, at(900))
    assert await repo.get_dispatch("d-a") == done.dispatch
    assert [d.id for d in await repo.dispatches(incident_id="i-1", active_only=True)] == ["d-b"]

    history = await repo.status_history("u-a")
    assert [(s, t) for s, t, _ in history] == [
        ("available", at(900)),
        ("on_scene", at(300)),
        ("en_route", at(60)),
        ("dispatched", at(30)),
        ("available", at(0)),
    ]
    assert [src for _, _, src in history] == ["unit", "geofence", "unit", "operator", "cli"]
    assert len(await repo.status_history("u-a", limit=2)) == 2


async def test_recall_before_arrival_cancels(repo: DispatchRepository) -> None:
    await repo.add_unit(unit("u-a", "A-1"), None)
    await repo.dispatch(dispatch_of("d-a", "u-a", "c-1"))
    first = await repo.acknowledge("u-a", "d-a", at(35))
    assert first[1] and first[0].acknowledged_at == at(35)
    again = await repo.acknowledge("u-a", "d-a", at(36))
    assert not again[1] and again[0].acknowledged_at == at(35)
    assert await codes(NotFound, repo.acknowledge("u-b", "d-a", at(36))) == "dispatch_not_found"
    assert await codes(NotFound, repo.acknowledge("u-a", "d-x", at(36))) == "dispatch_not_found"

    change = await repo.set_status("u-a", UnitStatus.OUT_OF_SERVICE, at(50), "operator", "op")
    assert change.dispatch is not None and change.dispatch.state is DispatchState.CANCELLED
    assert change.unit.dispatch_id is None and change.unit.status is UnitStatus.OUT_OF_SERVICE
    assert await codes(Conflict, repo.acknowledge("u-a", "d-a", at(51))) == "dispatch_cancelled"
    assert await repo.dispatches(active_only=True) == []


async def test_dispatch_queries_and_figures(repo: DispatchRepository) -> None:
    for n in range(3):
        await repo.add_unit(unit(f"u-{n}", f"A-{n}"), None)
    await repo.dispatch(dispatch_of("d-0", "u-0", "c-0", "i-0", dispatched=10))
    await repo.dispatch(dispatch_of("d-1", "u-1", "c-1", None, district=None, dispatched=20))
    await repo.dispatch(dispatch_of("d-2", "u-2", "c-2", "i-0", dispatched=5))
    assert [d.id for d in await repo.dispatches()] == ["d-2", "d-0", "d-1"]
    assert [d.id for d in await repo.dispatches(contact_ids=["c-1"], incident_id="i-0")] == [
        "d-2",
        "d-0",
        "d-1",
    ]
    assert [d.id for d in await repo.dispatches(contact_ids=["c-1", "c-0"])] == ["d-0", "d-1"]
    assert [d.id for d in await repo.dispatches(incident_id="i-0", unit_id="u-2")] == ["d-2"]

    await repo.set_dispatch_incident("c-1", "i-9")
    assert (await repo.get_dispatch("d-1")).incident_id == "i-9"

    await repo.set_status("u-0", UnitStatus.ON_SCENE, at(200), "unit", None)
    await repo.set_status("u-2", UnitStatus.ON_SCENE, at(250), "unit", None)  # not first
    await repo.set_status("u-1", UnitStatus.ON_SCENE, at(400), "unit", None)
    assert sorted(await repo.arrivals(at(0), at(1000)), key=lambda a: a[2]) == [
        ("almaly", 200.0, at(200)),
        (None, 400.0, at(400)),
    ]
    assert await repo.arrivals(at(201), at(400)) == []  # [since, until)
    assert await repo.dispatch_counts(at(0), at(1000)) == {"almaly": 2, None: 1}
    assert await repo.dispatch_counts(at(5), at(20)) == {"almaly": 2}


# --- incidents --------------------------------------------------------------------------------


def new_contact(cid: str, seconds: float, north_m: float = 0.0, **fields: object) -> NewContact:
    values: dict[str, object] = {
        "contact_id": cid,
        "lat": LAT + north_m / 111_320.0,
        "lon": LON,
        "accuracy_m": 20.0,
        "received_at": at(seconds),
        "category": None,
        "district_id": "almaly",
        "department": "d1",
        "outside_districts": False,
    }
    values.update(fields)
    return NewContact(**values)  # type: ignore[arg-type]


def chooser(c: NewContact, radius_m: float = 200.0, window_s: float = 900.0) -> Chooser:
    def choose(candidates: list[Candidate], categories: dict[str, str | None]) -> Match | None:
        return choose_incident(
            lat=c.lat,
            lon=c.lon,
            at=c.received_at,
            category=c.category,
            candidates=candidates,
            incident_categories=categories,
            radius_m=radius_m,
            window_s=window_s,
        )

    return choose


async def place(repo: DispatchRepository, c: NewContact) -> str:
    result = await repo.group(c, c.received_at - timedelta(seconds=900), chooser(c), 400.0)
    return result.incident_id


async def test_the_chooser_sees_the_nearest_member_of_each_incident(
    repo: DispatchRepository,
) -> None:
    """A crowd of one incident nearby comes back as its nearest member (the most recent among
    equals), and a smaller incident nearer still is chosen over it."""
    big = new_contact("big-0", 0, north_m=300, category="fire")
    crowd = (await repo.group(big, at(-900), lambda c, k: None, 400.0)).incident_id
    for k in range(1, 40):
        member = new_contact(f"big-{k}", k, north_m=300 - k * 5, category="fire")
        assert (await repo.group(member, at(-900), chooser(member), 400.0)).incident_id == crowd
    twin = new_contact("big-twin", 50, north_m=105, category="fire")  # as near as big-39
    assert (await repo.group(twin, at(-900), chooser(twin), 400.0)).incident_id == crowd
    small = new_contact("small", 60, north_m=-60, category="fire")
    lone = (await repo.group(small, at(-900), lambda c, k: None, 400.0)).incident_id

    seen: list[list[tuple[str, str]]] = []

    def spy(candidates: list[Candidate], categories: dict[str, str | None]) -> Match | None:
        seen.append(sorted((c.incident_id, c.contact_id) for c in candidates))
        return chooser(here)(candidates, categories)

    here = new_contact("here", 70, category="fire")
    joined = await repo.group(here, at(-900), spy, 400.0)
    assert seen == [sorted([(crowd, "big-twin"), (lone, "small")])]
    assert joined.incident_id == lone
    assert joined.distance_m is not None and 55 < joined.distance_m < 65


async def test_a_contact_placed_late_is_judged_by_the_window_around_its_own_arrival(
    repo: DispatchRepository,
) -> None:
    """Placed after a restart, a contact that arrived before an incident's members is grouped
    by those within the window after its arrival; a nearer member outside it does not hide
    them (the nearest member of each incident is taken within the window)."""
    inside = new_contact("inside", 600, north_m=100, category="fire")
    crowd = (await repo.group(inside, at(-300), lambda c, k: None, 400.0)).incident_id
    outside = new_contact("outside", 1_200, north_m=20, category="fire")
    assert (await repo.group(outside, at(300), chooser(outside), 400.0)).incident_id == crowd

    late = new_contact("late", 0, category="fire")
    joined = await repo.group(late, at(-900), chooser(late), 400.0)
    assert joined.incident_id == crowd
    assert joined.distance_m is not None and 95 < joined.distance_m < 105


async def test_grouping_joins_nearby_contacts(repo: DispatchRepository) -> None:
    first = new_contact("c-1", 0, category="fire")
    created = await repo.group(first, at(-900), chooser(first), 400.0)
    assert created.created and not created.already and created.distance_m is None

    near = new_contact("c-2", 60, north_m=100, category=None, district_id="other")
    joined = await repo.group(near, at(-840), chooser(near), 400.0)
    assert (joined.incident_id, joined.created) == (created.incident_id, False)
    assert joined.distance_m is not None and 95 < joined.distance_m < 105

    repeated = await repo.group(near, at(-840), chooser(near), 400.0)
    assert repeated.already and repeated.incident_id == created.incident_id

    far = new_contact("c-3", 61, north_m=2_000)
    assert (await repo.group(far, at(-839), chooser(far), 400.0)).created

    # what the store hands the chooser: members inside the window and the box only
    seen: list[list[str]] = []

    def spy(candidates: list[Candidate], categories: dict[str, str | None]) -> Match | None:
        seen.append(sorted(c.contact_id for c in candidates))
        assert categories == {created.incident_id: "fire"}
        return None

    late = new_contact("c-4", 100, north_m=50)
    await repo.group(late, at(30), spy, 400.0)  # c-1 (at 0) is before the window
    assert seen == [["c-2"]]

    view = await repo.incident(created.incident_id)
    assert view.incident.contact_ids == ["c-1", "c-2"]
    assert view.incident.category == "fire" and view.incident.state is IncidentState.OPEN
    assert view.incident.created_at == at(0) and view.last_contact_at == at(60)
    assert view.incident.location == Location(LAT, LON, 20.0)
    assert (view.district_id, view.department, view.outside_districts) == ("almaly", "d1", False)
    assert [(m.contact_id, m.how, m.joined_at) for m in view.members] == [
        ("c-1", "created", at(0)),
        ("c-2", "grouped", at(60)),
    ]
    assert await repo.incident_of_contact("c-2") == created.incident_id
    assert await repo.incident_of_contact("nobody") is None
    assert await codes(NotFound, repo.incident("nope")) == "incident_not_found"


async def test_closed_incidents_take_no_new_contacts(repo: DispatchRepository) -> None:
    first = await place(repo, new_contact("c-1", 0))
    assert await repo.set_incident_state(first, IncidentState.CLOSED, at(10)) is (
        IncidentState.OPEN
    )
    view = await repo.incident(first)
    assert view.closed_at == at(10) and view.updated_at == at(10)
    second = await place(repo, new_contact("c-2", 20, north_m=10))
    assert second != first
    assert await repo.set_incident_state(first, IncidentState.OPEN, at(30)) is (
        IncidentState.CLOSED
    )
    assert (await repo.incident(first)).closed_at is None
    assert await codes(NotFound, repo.set_incident_state("nope", IncidentState.OPEN, at(1))) == (
        "incident_not_found"
    )


async def test_open_incidents_newest_first_by_page(repo: DispatchRepository) -> None:
    ids = [await place(repo, new_contact(f"c-{n}", n * 10, north_m=n * 5_000)) for n in range(5)]
    await repo.set_incident_state(ids[1], IncidentState.DISPATCHED, at(100))
    await repo.set_incident_state(ids[2], IncidentState.CLOSED, at(100))
    page = await repo.open_incidents(2)
    assert [v.incident.id for v in page] == [ids[4], ids[3]]
    last = page[-1].incident
    rest = await repo.open_incidents(10, before=(last.created_at, last.id))
    assert [v.incident.id for v in rest] == [ids[1], ids[0]]


async def test_merge_and_split(repo: DispatchRepository) -> None:
    a = await place(repo, new_contact("c-1", 0, category="fire"))
    await place(repo, new_contact("c-2", 10, north_m=50))
    b = await place(repo, new_contact("c-3", 20, north_m=3_000, category="theft"))
    await repo.add_unit(unit("u-a", "A-1"), None)
    await repo.dispatch(dispatch_of("d-1", "u-a", "c-3", b))

    assert await codes(Conflict, repo.merge(a, a, at(30))) == "same_incident"
    assert await codes(NotFound, repo.merge(a, "nope", at(30))) == "incident_not_found"
    moved = await repo.merge(a, b, at(30))
    assert moved == ("c-3",)
    target, source = await repo.incident(a), await repo.incident(b)
    assert target.incident.contact_ids == ["c-1", "c-2", "c-3"]
    assert target.incident.state is IncidentState.DISPATCHED  # c-3's unit is on its way
    assert target.updated_at == at(30) and target.last_contact_at == at(20)
    assert (source.incident.state, source.merged_into, source.closed_at) == (
        IncidentState.CLOSED,
        a,
        at(30),
    )
    assert source.incident.contact_ids == [] and source.members == ()
    assert [(m.contact_id, m.how) for m in target.members][-1] == ("c-3", "merged")
    assert await repo.incident_of_contact("c-3") == a
    assert (await repo.get_dispatch("d-1")).incident_id == a
    assert await codes(Conflict, repo.merge(a, b, at(31))) == "incident_closed"

    assert await codes(Conflict, repo.split(a, ["c-9"], "i-new", at(40))) == "not_in_incident"
    assert await codes(Conflict, repo.split(a, ["c-1", "c-2", "c-3"], "i-new", at(40))) == (
        "split_needs_two_sides"
    )
    assert await codes(Conflict, repo.split(b, ["c-3"], "i-new", at(40))) == "incident_closed"
    await repo.split(a, ["c-3"], "i-new", at(40))
    stay, new = await repo.incident(a), await repo.incident("i-new")
    assert stay.incident.contact_ids == ["c-1", "c-2"] and new.incident.contact_ids == ["c-3"]
    assert stay.incident.state is IncidentState.OPEN  # the dispatch went with c-3
    assert new.incident.state is IncidentState.DISPATCHED
    assert (stay.incident.category, new.incident.category) == ("fire", "theft")
    assert new.incident.created_at == at(40) and new.last_contact_at == at(20)
    assert stay.last_contact_at == at(10) and stay.updated_at == at(40)
    assert new.incident.location is not None and stay.incident.location is not None
    assert new.incident.location.lat == pytest.approx(LAT + 3_000 / 111_320.0)
    assert stay.incident.location.lat == pytest.approx(LAT)
    assert (new.district_id, new.department) == ("almaly", "d1")
    assert [(m.contact_id, m.how) for m in new.members] == [("c-3", "split")]
    assert await repo.incident_of_contact("c-3") == "i-new"
    assert (await repo.get_dispatch("d-1")).incident_id == "i-new"


# --- cameras and districts --------------------------------------------------------------------


def camera(cid: str, **fields: object) -> Camera:
    values: dict[str, object] = {
        "id": cid,
        "lat": LAT,
        "lon": LON,
        "heading_deg": 90.0,
        "fov_deg": 60.0,
        "range_m": 100.0,
        "stream_url": f"rtsp://cams/{cid}",
    }
    values.update(fields)
    return Camera(**values)  # type: ignore[arg-type]


async def test_cameras_import_and_read(repo: DispatchRepository) -> None:
    assert await repo.cameras_version() == (0, None)
    assert len(await repo.camera_table()) == 0
    done: list[int] = []
    many = [camera(f"C{n:05d}") for n in range(CAMERA_BATCH + 3)]
    assert await repo.import_cameras(many, at(0), progress=done.append) == len(many)
    assert done == [CAMERA_BATCH, CAMERA_BATCH + 3]
    assert await repo.cameras_version() == (len(many), at(0))

    changed = camera("C00001", snapshot_url="https://s/1.jpg", district="медеу", range_m=5.0)
    await repo.import_cameras([changed, camera("B-1")], at(10))
    cameras = await repo.cameras()
    assert cameras[0] == camera("B-1") and cameras[2] == changed
    assert await repo.cameras_version() == (len(many) + 1, at(10))

    await repo.import_cameras([camera("Ж-1"), changed], at(20), replace_all=True)
    table = await repo.camera_table()
    assert list(table) == [changed, camera("Ж-1")] == await repo.cameras()
    assert await repo.cameras_version() == (2, at(20))


async def test_camera_health(repo: DispatchRepository) -> None:
    await repo.record_snapshot("C1", False, at(1), "timeout")
    await repo.record_snapshot("C1", False, at(2), "x" * 400)
    await repo.record_snapshot("C2", False, at(3), None)
    await repo.record_snapshot("C3", True, at(4))
    await repo.record_snapshot("C4", False, at(5), "gone")
    await repo.record_snapshot("C4", True, at(6))
    health = await repo.camera_health()
    assert [(h.camera_id, h.consecutive_failures) for h in health] == [("C1", 2), ("C2", 1)]
    c1 = health[0]
    assert (c1.ok_count, c1.failure_count, c1.last_ok_at, c1.last_failure_at) == (
        0,
        2,
        None,
        at(2),
    )
    assert c1.last_error == "x" * 300 and health[1].last_error == ""
    assert [h.camera_id for h in await repo.camera_health(limit=1)] == ["C1"]


async def test_districts_replace_the_city(repo: DispatchRepository) -> None:
    assert await repo.districts_version() == (0, None)
    square = {"type": "Polygon", "coordinates": [[[76, 43], [77, 43], [77, 44], [76, 43]]]}
    one = DistrictRecord("b", "Б", "Б-ру", "dep-b", square, 1)
    two = DistrictRecord("a", "А", "А-ру", "dep-a", square, 1)
    zero = DistrictRecord("z", "Z", "Z", "dep-z", square, 0)
    await repo.replace_districts([one, two, zero], at(0))
    assert await repo.districts() == [zero, two, one]
    assert await repo.districts_version() == (3, at(0))
    await repo.replace_districts([one], at(5))
    assert await repo.districts() == [one]
    assert await repo.districts_version() == (1, at(5))
