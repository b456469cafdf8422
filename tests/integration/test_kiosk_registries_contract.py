"""The device channels' registries (kiosks, alarm sites, camera alert groups, app devices,
intake sources, the replay guard, the camera directory): one contract, run on SQLite and on a
real PostgreSQL, each test on a database of its own built by the migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contact.config import DatabaseSettings
from contact.dispatch.sql import SqlDispatchRepository
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Priority,
    new_id,
)
from contact.errors import Conflict, NotFound
from contact.persistence.database import SqlDatabase
from contact.ports import AlarmSite, Device, IntakeSource, Kiosk, KioskEvent, KioskState

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def second_node(database_url: str, db: SqlDatabase) -> AsyncIterator[SqlDatabase]:
    """Another node's connection pool on the same database."""
    database = await SqlDatabase.open(DatabaseSettings(url=database_url))
    yield database
    await database.close()


def kiosk(kiosk_id: str = "park-01", **fields: object) -> Kiosk:
    values: dict[str, object] = {
        "id": kiosk_id,
        "name": f"Kiosk {kiosk_id}",
        "lat": 43.25,
        "lon": 76.92,
        "partner": "Parks",
        "camera_id": f"cam-{kiosk_id}",
    }
    values.update(fields)
    return Kiosk(**values)  # type: ignore[arg-type]


# --- kiosks -------------------------------------------------------------------------------


async def test_kiosks_upsert_all_or_nothing_and_keep_keys(db: SqlDatabase) -> None:
    kiosks = db.registries.kiosks
    await kiosks.upsert([kiosk("a"), kiosk("b")], {"a": "key-a", "b": "key-b"}, at=at(0))
    assert [k.id for k in await kiosks.all()] == ["a", "b"]
    assert await kiosks.key("a") == "key-a"
    got = await kiosks.get("a")
    assert got is not None and got.state == KioskState.UNKNOWN and got.partner == "Parks"
    # an update without a key keeps the stored key; a new kiosk without one fails the batch
    with pytest.raises(ValueError):
        await kiosks.upsert([kiosk("a", name="renamed"), kiosk("c")], {}, at=at(1))
    assert (await kiosks.get("a")).name == "Kiosk a"  # type: ignore[union-attr]
    assert await kiosks.get("c") is None
    await kiosks.upsert([kiosk("a", name="renamed", enabled=False)], {}, at=at(2))
    renamed = await kiosks.get("a")
    assert renamed is not None and renamed.name == "renamed" and not renamed.enabled
    assert await kiosks.key("a") == "key-a"
    await kiosks.set_key("a", "key-a2", at=at(3))
    assert await kiosks.key("a") == "key-a2"
    with pytest.raises(NotFound):
        await kiosks.set_key("zz", "k", at=at(3))
    assert await kiosks.key("zz") is None
    await kiosks.upsert([kiosk("sip-1", sip_account="kiosk-sip-1")], {"sip-1": "k"}, at=at(4))
    by_sip = await kiosks.by_sip_account("kiosk-sip-1")
    assert by_sip is not None and by_sip.id == "sip-1"
    assert await kiosks.by_sip_account("nobody") is None


async def test_heartbeats_and_going_offline_once(db: SqlDatabase, second_node: SqlDatabase) -> None:
    kiosks = db.registries.kiosks
    await kiosks.upsert(
        [kiosk("a"), kiosk("b"), kiosk("c")], {"a": "1", "b": "2", "c": "3"}, at=at(0)
    )
    assert await kiosks.heartbeat("a", at(10)) is False  # unknown → online is no news
    assert await kiosks.heartbeat("b", at(10)) is False
    assert await kiosks.heartbeat("a", at(70)) is False
    # never-heard-from kiosks (c) are not reported offline; b fell silent
    nodes = [db.registries.kiosks, second_node.registries.kiosks]
    results = await asyncio.gather(*(n.mark_offline(at(50), at=at(200)) for n in nodes))
    assert sorted(k.id for r in results for k in r) == ["b"]  # exactly once across nodes
    assert (await kiosks.get("b")).state == KioskState.OFFLINE  # type: ignore[union-attr]
    assert await kiosks.mark_offline(at(50), at=at(201)) == []
    assert await kiosks.heartbeat("b", at(300)) is True  # came back
    assert await kiosks.heartbeat("b", at(301)) is False
    back = await kiosks.get("b")
    assert (
        back is not None and back.state == KioskState.ONLINE and back.last_heartbeat_at == at(301)
    )
    with pytest.raises(NotFound):
        await kiosks.heartbeat("nope", at(1))


async def test_a_disabled_kiosk_is_never_reported_offline(db: SqlDatabase) -> None:
    kiosks = db.registries.kiosks
    await kiosks.upsert([kiosk("a")], {"a": "k"}, at=at(0))
    await kiosks.heartbeat("a", at(1))
    await kiosks.upsert([kiosk("a", enabled=False)], {}, at=at(2))
    assert await kiosks.mark_offline(at(1000), at=at(1000)) == []


async def test_kiosk_events(db: SqlDatabase) -> None:
    kiosks = db.registries.kiosks
    await kiosks.upsert([kiosk("a")], {"a": "k"}, at=at(0))
    for i, kind in enumerate(["door_open", "door_closed"]):
        await kiosks.add_event(
            KioskEvent(id=new_id(), kiosk_id="a", kind=kind, received_at=at(i), detail="d")
        )
    assert [e.kind for e in await kiosks.events("a")] == ["door_closed", "door_open"]
    with pytest.raises(NotFound):
        await kiosks.add_event(
            KioskEvent(id=new_id(), kiosk_id="zz", kind="tamper", received_at=at(0))
        )


async def test_replay_guard(db: SqlDatabase, second_node: SqlDatabase) -> None:
    guards = [db.registries.replays, second_node.registries.replays]
    first = await asyncio.gather(*(g.first_use("d" * 64, at(300)) for g in guards))
    assert sorted(first) == [False, True]  # one node accepts it, the other sees a replay
    assert await guards[0].first_use("e" * 64, at(100)) is True
    assert await guards[0].purge(at(200)) == 1
    assert await guards[0].first_use("e" * 64, at(400)) is True  # forgotten after its window
    assert await guards[0].first_use("d" * 64, at(500)) is False


# --- alarm sites --------------------------------------------------------------------------


def site(site_id: str = "school-1", **fields: object) -> AlarmSite:
    values: dict[str, object] = {
        "id": site_id,
        "name": f"School {site_id}",
        "lat": 43.2,
        "lon": 76.9,
        "camera_ids": (f"cam-{site_id}-gate", f"cam-{site_id}_hall"),
    }
    values.update(fields)
    return AlarmSite(**values)  # type: ignore[arg-type]


async def test_sites_by_key_hash_and_unique_keys(db: SqlDatabase) -> None:
    sites = db.registries.sites
    await sites.upsert([site("s1"), site("s2")], {"s1": "a" * 64, "s2": "b" * 64}, at=at(0))
    found = await sites.by_key_hash("a" * 64)
    assert found is not None and found.id == "s1" and found.camera_ids == site("s1").camera_ids
    assert await sites.by_key_hash("c" * 64) is None
    with pytest.raises(Conflict):
        await sites.upsert([site("s3")], {"s3": "a" * 64}, at=at(1))
    assert await sites.get("s3") is None
    with pytest.raises(ValueError):
        await sites.upsert([site("s4")], {}, at=at(1))
    await sites.set_key_hash("s1", "d" * 64, at=at(2))
    assert await sites.by_key_hash("a" * 64) is None
    assert (await sites.by_key_hash("d" * 64)).id == "s1"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await sites.set_key_hash("zz", "e" * 64, at=at(2))
    assert [s.id for s in await sites.all()] == ["s1", "s2"]


async def test_camera_directory_falls_back_to_kiosks_and_sites(db: SqlDatabase) -> None:
    await db.registries.kiosks.upsert([kiosk("k1", lat=43.3, lon=76.8)], {"k1": "k"}, at=at(0))
    await db.registries.sites.upsert([site("s1", lat=43.1, lon=76.7)], {"s1": "a" * 64}, at=at(0))
    cameras = db.registries.cameras
    at_kiosk = await cameras.camera("cam-k1")
    assert at_kiosk is not None and (at_kiosk.lat, at_kiosk.lon) == (43.3, 76.8)
    at_site = await cameras.camera("cam-s1_hall")  # an underscore is no LIKE wildcard
    assert at_site is not None and (at_site.lat, at_site.lon) == (43.1, 76.7)
    assert await cameras.camera("cam-s1xhall") is None
    assert await cameras.camera("cam-s1") is None  # a prefix of an id is not the id
    assert await cameras.camera("nothing") is None


async def test_camera_directory_asks_the_city_registry_first(db: SqlDatabase) -> None:
    from contact.dispatch.cameras import Camera

    await db.registries.kiosks.upsert([kiosk("k1")], {"k1": "k"}, at=at(0))
    city = Camera(
        id="cam-k1",  # the kiosk's camera is also in the city registry, at its true place
        lat=43.2501,
        lon=76.9202,
        heading_deg=90,
        fov_deg=60,
        range_m=80,
        stream_url="rtsp://vms.example/cam-k1",
        snapshot_url="https://vms.example/cam-k1.jpg",
    )
    await SqlDispatchRepository(db.store).import_cameras([city], at(0))
    found = await db.registries.cameras.camera("cam-k1")
    assert found is not None and (found.lat, found.lon) == (43.2501, 76.9202)
    assert found.snapshot_url == "https://vms.example/cam-k1.jpg"


# --- camera alert groups ------------------------------------------------------------------


async def test_alert_groups_collapse_within_the_window(db: SqlDatabase) -> None:
    log = db.registries.camera_alerts
    first = await log.claim("k" * 64, "cam-1", "weapon", at(0), 60)
    assert not first.repeat and first.count == 1 and first.contact_id is None
    await log.bind(first.group_id, "contact-1")
    again = await log.claim("k" * 64, "cam-1", "weapon", at(59), 60)
    assert again.repeat and again.count == 2 and again.group_id == first.group_id
    assert again.contact_id == "contact-1"
    # stamped a moment before the first by a node that committed after it: the same window
    earlier = await log.claim("k" * 64, "cam-1", "weapon", at(-1), 60)
    assert earlier.repeat and earlier.count == 3 and earlier.group_id == first.group_id
    other = await log.claim("o" * 64, "cam-1", "crowd", at(59), 60)
    assert not other.repeat
    later = await log.claim("k" * 64, "cam-1", "weapon", at(61), 60)
    assert not later.repeat and later.group_id != first.group_id and later.contact_id is None


async def test_concurrent_first_alerts_start_one_group(
    db: SqlDatabase, second_node: SqlDatabase
) -> None:
    logs = [db.registries.camera_alerts, second_node.registries.camera_alerts] * 3
    claims = await asyncio.gather(*(g.claim("k" * 64, "cam-1", "weapon", at(0), 60) for g in logs))
    assert sum(not c.repeat for c in claims) == 1
    assert len({c.group_id for c in claims}) == 1
    assert sorted(c.count for c in claims) == [1, 2, 3, 4, 5, 6]


# --- devices, sources, contacts by citizen ------------------------------------------------


async def test_devices_register_rotate_and_refuse_takeover(db: SqlDatabase) -> None:
    devices = db.registries.devices
    device = Device(id="device-0001", registered_at=at(0), platform="ios", language=Language.KK)
    assert await devices.register(device, "t1" * 32) is True
    assert (await devices.by_token("t1" * 32)) == device
    with pytest.raises(Conflict):
        await devices.register(device, "t2" * 32)  # someone else with the same id
    with pytest.raises(Conflict):
        await devices.register(device, "t2" * 32, current_token_hash="xx" * 32)
    assert await devices.register(device, "t2" * 32, current_token_hash="t1" * 32) is False
    assert await devices.by_token("t1" * 32) is None
    assert (await devices.by_token("t2" * 32)).id == "device-0001"  # type: ignore[union-attr]
    await devices.touch("device-0001", at(5))
    assert (await devices.get("device-0001")).last_seen_at == at(5)  # type: ignore[union-attr]
    assert await devices.get("device-0002") is None


async def test_open_contact_history_and_sources(db: SqlDatabase) -> None:
    def contact(channel: ChannelKind, seconds: float, state: ContactState) -> Contact:
        c = Contact(
            id=new_id(),
            channel=channel,
            priority=Priority.SOS,
            created_at=at(seconds),
            state=state,
            citizen="device-0001",
        )
        return c

    old = contact(ChannelKind.APP_SOS, 0, ContactState.CLOSED)
    report = contact(ChannelKind.APP, 10, ContactState.QUEUED)
    sos = contact(ChannelKind.APP_SOS, 20, ContactState.CONNECTED)
    stranger = contact(ChannelKind.APP_SOS, 30, ContactState.QUEUED)
    stranger.citizen = "device-0002"
    for c in (old, report, sos, stranger):
        await db.contacts.add(c)
    sources = db.registries.sources
    assert (await sources.open_contact(ChannelKind.APP_SOS, "device-0001")).id == sos.id  # type: ignore[union-attr]
    assert await sources.open_contact(ChannelKind.KIOSK, "device-0001") is None
    both = frozenset({ChannelKind.APP, ChannelKind.APP_SOS})
    assert [c.id for c in await sources.history("device-0001", both)] == [sos.id, report.id, old.id]
    assert [c.id for c in await sources.history("device-0001", both, since=at(5))] == [
        sos.id,
        report.id,
    ]
    assert [c.id for c in await sources.history("device-0001", both, limit=1)] == [sos.id]
    source = IntakeSource(
        contact_id=sos.id,
        kind="device",
        source_id="device-0001",
        camera_ids=("cam-1",),
        details={"platform": "ios", "name": "Қазақ"},
    )
    await sources.add(source)
    await sources.add(IntakeSource(contact_id=sos.id, kind="kiosk", source_id="other"))
    assert await sources.get(sos.id) == source  # the first add stands
    assert await sources.get(report.id) is None
    with pytest.raises(NotFound):
        await sources.add(IntakeSource(contact_id="missing", kind="device", source_id="x"))
