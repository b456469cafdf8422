"""The dispatch repository on SQLite and on a real PostgreSQL (migrated schemas): units and
their status machine, dispatch claims under races, positions, cameras imported in one
transaction, districts, and grouping serialised across concurrent callers."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contact.dispatch.cameras import Camera
from contact.dispatch.demo_city import generate_city
from contact.dispatch.grouping import Candidate, Match, choose_incident
from contact.dispatch.model import DispatchRecord, DispatchState, NewContact, UnitRecord
from contact.dispatch.registry import district_records
from contact.dispatch.sql import SqlDispatchRepository
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.domain.model import ChannelKind, Contact, IncidentState, Priority, new_id
from contact.errors import Conflict, NotFound
from contact.persistence.database import SqlDatabase

T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def unit(callsign: str, **fields: object) -> UnitRecord:
    values: dict[str, object] = {
        "id": new_id(),
        "callsign": callsign,
        "kind": UnitKind.CAR,
        "status": UnitStatus.AVAILABLE,
        "status_at": at(0),
    }
    values.update(fields)
    return UnitRecord(**values)  # type: ignore[arg-type]


def dispatch_of(unit_id: str, contact_id: str, incident_id: str | None = None) -> DispatchRecord:
    return DispatchRecord(
        id=new_id(),
        contact_id=contact_id,
        incident_id=incident_id,
        unit_id=unit_id,
        operator_id="op-1",
        district_id="almaly",
        lat=43.2,
        lon=76.9,
        eta_s=100.0,
        eta_source="estimate",
        state=DispatchState.ACTIVE,
        received_at=at(0),
        dispatched_at=at(30),
    )


async def test_units_register_and_refuse_a_taken_call_sign(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    a = unit("ALM-01", crew=("Серик", "Иван"), district_id="almaly")
    await repo.add_unit(a, "hash-a")
    assert await repo.get_unit(a.id) == a
    assert await repo.unit_token_hash(a.id) == "hash-a"
    assert (await repo.unit_by_callsign("ALM-01")) == a
    with pytest.raises(Conflict):
        await repo.add_unit(unit("ALM-01"), None)
    with pytest.raises(NotFound):
        await repo.get_unit("nope")
    await repo.update_unit(replace(a, active=False))
    assert (await repo.get_unit(a.id)).active is False
    assert await repo.unit_token_hash(a.id) is None  # an inactive unit cannot authenticate


async def test_a_unit_is_claimed_by_exactly_one_of_many_dispatches(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    u = unit("ALM-02")
    await repo.add_unit(u, None)
    attempts = [dispatch_of(u.id, f"contact-{i}") for i in range(8)]
    results = await asyncio.gather(*(repo.dispatch(d) for d in attempts), return_exceptions=True)
    wins = [r for r in results if isinstance(r, UnitRecord)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 7
    claimed = await repo.get_unit(u.id)
    assert claimed.status is UnitStatus.DISPATCHED
    active = await repo.dispatches(unit_id=u.id)
    assert len(active) == 1 and claimed.dispatch_id == active[0].id


async def test_status_machine_arrival_and_first_on_scene(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    first, second = unit("A-1"), unit("A-2")
    for u in (first, second):
        await repo.add_unit(u, None)
    d1 = dispatch_of(first.id, "c-1", "incident-1")
    d2 = dispatch_of(second.id, "c-2", "incident-1")
    await repo.dispatch(d1)
    await repo.dispatch(d2)
    with pytest.raises(Conflict):  # not on scene yet
        await repo.set_status(first.id, UnitStatus.TRANSPORTING, at(40), "unit", None)
    change = await repo.set_status(first.id, UnitStatus.EN_ROUTE, at(40), "unit", None)
    assert change.changed and change.previous is UnitStatus.DISPATCHED
    again = await repo.set_status(first.id, UnitStatus.EN_ROUTE, at(41), "unit", None)
    assert not again.changed  # a retried report changes nothing
    arrived = await repo.set_status(first.id, UnitStatus.ON_SCENE, at(300), "geofence", None)
    assert arrived.dispatch is not None
    assert arrived.dispatch.arrived_at == at(300)
    assert arrived.dispatch.response_s == 300.0
    assert arrived.dispatch.first_on_scene is True
    later = await repo.set_status(second.id, UnitStatus.ON_SCENE, at(400), "unit", None)
    assert later.dispatch is not None and later.dispatch.first_on_scene is False
    cleared = await repo.set_status(first.id, UnitStatus.AVAILABLE, at(900), "unit", None)
    assert cleared.unit.dispatch_id is None
    assert cleared.dispatch is not None and cleared.dispatch.state is DispatchState.COMPLETED
    arrivals = await repo.arrivals(at(0), at(1000))
    assert arrivals == [("almaly", 300.0, at(300))]
    assert await repo.dispatch_counts(at(0), at(1000)) == {"almaly": 2}
    history = [s for s, _, _ in reversed(await repo.status_history(first.id))]
    assert history == ["available", "dispatched", "en_route", "on_scene", "available"]
    # a dispatch called back before arrival is cancelled, not completed
    third = unit("A-3")
    await repo.add_unit(third, None)
    d3 = dispatch_of(third.id, "c-3")
    await repo.dispatch(d3)
    back = await repo.set_status(third.id, UnitStatus.AVAILABLE, at(50), "operator", "op-1")
    assert back.dispatch is not None and back.dispatch.state is DispatchState.CANCELLED
    with pytest.raises(Conflict):
        await repo.acknowledge(third.id, d3.id, at(60))


async def test_positions_are_batched_and_never_step_back(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    u = unit("P-1")
    await repo.add_unit(u, None)
    await repo.save_positions([(u.id, UnitPosition(43.2, 76.9, at(10), 5.0))])
    await repo.save_positions([(u.id, UnitPosition(43.0, 76.0, at(5), 5.0))])  # older: ignored
    stored = await repo.get_unit(u.id)
    assert stored.position == UnitPosition(43.2, 76.9, at(10), 5.0)


def cameras(n: int, prefix: str = "C") -> list[Camera]:
    return [
        Camera(f"{prefix}{i:05d}", 43.2 + i * 1e-5, 76.9, 90.0, 60.0, 100.0, f"rtsp://x/{i}")
        for i in range(n)
    ]


async def test_cameras_import_in_one_transaction(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    assert await repo.import_cameras(cameras(12_000), at(0)) == 12_000
    assert (await repo.cameras_version())[0] == 12_000
    # re-import updates by id; replace_all drops the ones not in the file
    changed = [Camera("C00001", 43.3, 77.0, 10.0, 90.0, 50.0, "rtsp://new", None, "medeu")]
    await repo.import_cameras(changed, at(1))
    got = {c.id: c for c in await repo.cameras()}
    assert got["C00001"] == changed[0] and len(got) == 12_000
    # a failure in the last batch (a row the database refuses) rolls back everything
    bad = cameras(11_000, "N")
    object.__setattr__(bad[-1], "stream_url", None)  # NOT NULL
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error
        await repo.import_cameras(bad, at(2), replace_all=True)
    assert len(await repo.cameras()) == 12_000
    await repo.import_cameras(cameras(10, "R"), at(3), replace_all=True)
    assert [c.id for c in await repo.cameras()] == [f"R{i:05d}" for i in range(10)]
    await repo.record_snapshot("R00001", False, at(4), "timeout")
    await repo.record_snapshot("R00001", False, at(5), "timeout")
    await repo.record_snapshot("R00002", False, at(5), "refused")
    await repo.record_snapshot("R00002", True, at(6))
    health = await repo.camera_health()
    assert [(h.camera_id, h.consecutive_failures) for h in health] == [("R00001", 2)]


async def test_camera_table_reads_back_every_camera_in_chunks(
    db: SqlDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a node loads at start: the columns read chunk by chunk (SQLite: in a worker
    thread through the driver's cursor; PostgreSQL: streamed) give back every imported camera,
    in id order, with the optional fields and non-ASCII text intact."""
    import contact.dispatch.sql.cameras as sql_cameras

    monkeypatch.setattr(sql_cameras, "CAMERA_READ_CHUNK", 7)
    repo = SqlDispatchRepository(db.store)
    assert len(await repo.camera_table()) == 0
    stored = [
        *cameras(40),
        Camera("Ж-1", 43.3, 77.0, 10.0, 360.0, 2_500.0, "rtsp://new/ж", None, "медеу"),
        Camera("Z-2", -43.3, -177.0, 0.0, 90.0, 50.0, "rtsps://x", "https://x/s.jpg", "medeu"),
    ]
    await repo.import_cameras(stored, at(0))
    table = await repo.camera_table()
    assert list(table) == sorted(stored, key=lambda c: c.id) == await repo.cameras()
    assert table[table.find("Ж-1")] == stored[-2]  # type: ignore[index]


async def test_districts_replace_the_city(db: SqlDatabase) -> None:
    repo = SqlDispatchRepository(db.store)
    city = generate_city(seed=1, cameras=10, units=0)
    records = district_records(city.districts_geojson)
    await repo.replace_districts(records, at(0))
    assert [d.id for d in await repo.districts()] == [r.id for r in records]
    await repo.replace_districts(records[:2], at(1))
    assert len(await repo.districts()) == 2
    assert (await repo.districts_version())[0] == 2


async def _contact(db: SqlDatabase, lat: float, lon: float, seconds: float) -> Contact:
    contact = Contact(
        id=new_id(), channel=ChannelKind.APP, priority=Priority.CHAT, created_at=at(seconds)
    )
    await db.contacts.add(contact)
    return contact


def _choose(lat: float, lon: float, when: datetime):  # type: ignore[no-untyped-def]
    def choose(candidates: list[Candidate], categories: dict[str, str | None]) -> Match | None:
        return choose_incident(
            lat=lat,
            lon=lon,
            at=when,
            category="fire",
            candidates=candidates,
            incident_categories=categories,
            radius_m=300,
            window_s=1800,
        )

    return choose


async def test_grouping_is_serialised_and_merge_split_keep_contacts_in_step(
    db: SqlDatabase,
) -> None:
    repo = SqlDispatchRepository(db.store)
    contacts = [await _contact(db, 43.2, 76.9, i) for i in range(6)]

    async def group(c: Contact, lat: float) -> str:
        new = NewContact(c.id, lat, 76.9, None, c.created_at, "fire", "almaly", "УП", False)
        result = await repo.group(new, at(-1800), _choose(lat, 76.9, c.created_at), near_m=600)
        return result.incident_id

    # six reports of one fire arriving at once still make one incident
    ids = await asyncio.gather(*(group(c, 43.2 + i * 1e-4) for i, c in enumerate(contacts)))
    assert len(set(ids)) == 1
    incident_id = ids[0]
    view = await repo.incident(incident_id)
    assert sorted(view.incident.contact_ids) == sorted(c.id for c in contacts)
    assert (await db.contacts.get(contacts[3].id)).incident_id == incident_id
    again = await repo.group(
        NewContact(contacts[0].id, 43.2, 76.9, None, at(0), "fire", None, None, False),
        at(-1800),
        _choose(43.2, 76.9, at(0)),
        near_m=600,
    )
    assert again.already and again.incident_id == incident_id

    far = await _contact(db, 43.3, 76.9, 10)
    other = await group(far, 43.3)
    assert other != incident_id

    new_id_ = new_id()
    await repo.split(incident_id, [contacts[4].id, contacts[5].id], new_id_, at(20))
    assert (await repo.incident_of_contact(contacts[5].id)) == new_id_
    assert (await db.contacts.get(contacts[4].id)).incident_id == new_id_
    assert len((await repo.incident(incident_id)).incident.contact_ids) == 4
    with pytest.raises(Conflict):
        await repo.split(incident_id, [c.id for c in contacts[:4]], new_id(), at(21))

    moved = await repo.merge(incident_id, new_id_, at(30))
    assert set(moved) == {contacts[4].id, contacts[5].id}
    merged = await repo.incident(new_id_)
    assert merged.merged_into == incident_id
    assert merged.incident.state is IncidentState.CLOSED and merged.incident.contact_ids == []
    assert (await db.contacts.get(contacts[5].id)).incident_id == incident_id
    with pytest.raises(Conflict):
        await repo.merge(incident_id, new_id_, at(31))
    open_ids = {v.incident.id for v in await repo.open_incidents()}
    assert open_ids == {incident_id, other}
