"""Registries of the device channels: app devices, SOS kiosks, alarm sites, camera alert
groups, intake sources and the replay guard of signed requests. SQL for them lives here.

Cross-node safety: state changes that raise an event (a kiosk going offline or coming back, a
camera alert starting a new group) are conditional updates or row locks, so with several
nodes racing exactly one of them sees the change and raises the event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, literal_column, or_, update
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from contact.domain.model import ChannelKind, Contact, ContactState, Language, new_id
from contact.errors import Conflict, NotFound
from contact.persistence.contacts import _to_contact
from contact.persistence.engine import Store
from contact.persistence.prepared import Prepared
from contact.persistence.tables import ContactRow
from contact.persistence.tables_registries import (
    AlarmSiteRow,
    CameraAlertGroupRow,
    DeviceRow,
    IntakeSourceRow,
    KioskEventRow,
    KioskRow,
    SeenSignatureRow,
)
from contact.ports import (
    AlarmSite,
    AlertClaim,
    CameraInfo,
    Device,
    IntakeSource,
    Kiosk,
    KioskEvent,
    KioskState,
)

CLOSED_STATES = (ContactState.CLOSED.value, ContactState.ABANDONED.value)


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


# --- app devices --------------------------------------------------------------------------


class SqlDeviceRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def register(
        self, device: Device, token_hash: str, *, current_token_hash: str | None = None
    ) -> bool:
        try:
            async with self._store.write() as tx:
                row = await tx.get(DeviceRow, device.id)
                if row is None:
                    tx.add(
                        DeviceRow(
                            id=device.id,
                            token_hash=token_hash,
                            platform=device.platform,
                            language=device.language.value if device.language else None,
                            registered_at=device.registered_at,
                            last_seen_at=device.last_seen_at,
                        )
                    )
                    return True
                if current_token_hash is None or row.token_hash != current_token_hash:
                    raise Conflict(
                        "this device id is registered; send its current X-Device-Token to get "
                        "a new one, or register under a new device id",
                        error_id="device_registered",
                    )
                row.token_hash = token_hash
                row.platform = device.platform or row.platform
                if device.language is not None:
                    row.language = device.language.value
                return False
        except IntegrityError as error:  # two registrations of one id raced
            raise Conflict("this device id is registered", error_id="device_registered") from error

    # by_token and get run before an app intake with a token: one hop each (Store.read_sync),
    # not a session's several (measured: the look-up cost as much as storing the contact)

    async def by_token(self, token_hash: str) -> Device | None:
        return await self._one(col(DeviceRow.token_hash) == token_hash)

    async def get(self, device_id: str) -> Device | None:
        return await self._one(col(DeviceRow.id) == device_id)

    async def is_registered(self, device_id: str) -> bool:
        return await self._store.read_sync(lambda conn: self.registered_in(conn, device_id))

    def registered_in(self, connection: Connection, device_id: str) -> bool:
        return _DEVICE_EXISTS.scalar(connection, {"device_id": device_id}) is not None

    async def _one(self, where: Any) -> Device | None:
        statement = sa_select(DeviceRow.__table__).where(where)  # type: ignore[attr-defined]
        row = await self._store.read_sync(lambda conn: conn.execute(statement).first())
        return None if row is None else _to_device(row)

    async def touch(self, device_id: str, at: datetime) -> None:
        async with self._store.write() as tx:
            await tx.exec(
                update(DeviceRow).where(col(DeviceRow.id) == device_id).values(last_seen_at=at)
            )


_DEVICE_EXISTS = Prepared(
    sa_select(literal_column("1")).where(col(DeviceRow.id) == bindparam("device_id"))
)


def _to_device(row: Any) -> Device:  # a DeviceRow or a Core row of its table
    return Device(
        id=row.id,
        registered_at=row.registered_at,
        platform=row.platform,
        language=Language(row.language) if row.language else None,
        last_seen_at=row.last_seen_at,
    )


# --- kiosks -------------------------------------------------------------------------------


class SqlKioskRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def upsert(
        self, kiosks: Sequence[Kiosk], new_keys: Mapping[str, str], *, at: datetime
    ) -> None:
        async with self._store.write() as tx:
            for kiosk in kiosks:
                row = await tx.get(KioskRow, kiosk.id)
                key = new_keys.get(kiosk.id)
                if row is None:
                    if key is None:
                        raise ValueError(f"new kiosk {kiosk.id} needs a key")
                    tx.add(
                        KioskRow(
                            **_kiosk_columns(kiosk),
                            hmac_key=key,
                            state=KioskState.UNKNOWN,
                            created_at=at,
                            updated_at=at,
                        )
                    )
                    continue
                for name, value in _kiosk_columns(kiosk).items():
                    setattr(row, name, value)
                if key is not None:
                    row.hmac_key = key
                row.updated_at = at

    async def get(self, kiosk_id: str) -> Kiosk | None:
        async with self._store.read() as tx:
            row = await tx.get(KioskRow, kiosk_id)
        return None if row is None else _to_kiosk(row)

    async def all(self) -> list[Kiosk]:
        async with self._store.read() as tx:
            rows = (await tx.exec(select(KioskRow).order_by(col(KioskRow.id)))).all()
        return [_to_kiosk(r) for r in rows]

    async def by_sip_account(self, sip_account: str) -> Kiosk | None:
        statement = (
            select(KioskRow).where(KioskRow.sip_account == sip_account).order_by(col(KioskRow.id))
        )
        async with self._store.read() as tx:
            row = (await tx.exec(statement)).first()
        return None if row is None else _to_kiosk(row)

    async def key(self, kiosk_id: str) -> str | None:
        async with self._store.read() as tx:
            row = await tx.get(KioskRow, kiosk_id)
        return None if row is None else row.hmac_key

    async def set_key(self, kiosk_id: str, key: str, *, at: datetime) -> None:
        async with self._store.write() as tx:
            row = await tx.get(KioskRow, kiosk_id)
            if row is None:
                raise NotFound(f"kiosk {kiosk_id} not found", error_id="kiosk_not_found")
            row.hmac_key = key
            row.updated_at = at

    async def heartbeat(self, kiosk_id: str, at: datetime) -> bool:
        async with self._store.write() as tx:
            row = (
                await tx.exec(select(KioskRow).where(KioskRow.id == kiosk_id).with_for_update())
            ).first()
            if row is None:
                raise NotFound(f"kiosk {kiosk_id} not found", error_id="kiosk_not_found")
            came_back = row.state == KioskState.OFFLINE
            if row.state != KioskState.ONLINE:
                row.state = KioskState.ONLINE
                row.state_changed_at = at
            row.last_heartbeat_at = at
        return came_back

    async def mark_offline(self, silent_since: datetime, *, at: datetime) -> list[Kiosk]:
        # one conditional UPDATE: a heartbeat committed meanwhile makes the row not match, and
        # a second node running the same check finds nothing left to change
        async with self._store.write() as tx:
            ids = (
                await tx.exec(
                    update(KioskRow)
                    .where(
                        col(KioskRow.state) == KioskState.ONLINE,
                        col(KioskRow.enabled).is_(True),
                        or_(
                            col(KioskRow.last_heartbeat_at).is_(None),
                            col(KioskRow.last_heartbeat_at) < silent_since,
                        ),
                    )
                    .values(state=KioskState.OFFLINE, state_changed_at=at)
                    .returning(col(KioskRow.id))
                )
            ).all()
            if not ids:
                return []
            rows = (
                await tx.exec(
                    select(KioskRow)
                    .where(col(KioskRow.id).in_([i[0] for i in ids]))
                    .order_by(col(KioskRow.id))
                )
            ).all()
        return [_to_kiosk(r) for r in rows]

    async def add_event(self, event: KioskEvent) -> None:
        try:
            async with self._store.write() as tx:
                tx.add(
                    KioskEventRow(
                        id=event.id,
                        kiosk_id=event.kiosk_id,
                        kind=event.kind,
                        received_at=event.received_at,
                        reported_at=event.reported_at,
                        detail=event.detail,
                    )
                )
        except IntegrityError as error:
            raise NotFound(
                f"kiosk {event.kiosk_id} not found", error_id="kiosk_not_found"
            ) from error

    async def events(self, kiosk_id: str, limit: int = 50) -> list[KioskEvent]:
        statement = (
            select(KioskEventRow)
            .where(KioskEventRow.kiosk_id == kiosk_id)
            .order_by(col(KioskEventRow.received_at).desc(), col(KioskEventRow.id).desc())
            .limit(limit)
        )
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [
            KioskEvent(
                id=r.id,
                kiosk_id=r.kiosk_id,
                kind=r.kind,
                received_at=r.received_at,
                reported_at=r.reported_at,
                detail=r.detail,
            )
            for r in rows
        ]


def _kiosk_columns(kiosk: Kiosk) -> dict[str, Any]:
    return {
        "id": kiosk.id,
        "name": kiosk.name,
        "lat": kiosk.lat,
        "lon": kiosk.lon,
        "partner": kiosk.partner,
        "address": kiosk.address,
        "sip_account": kiosk.sip_account,
        "camera_id": kiosk.camera_id,
        "enabled": kiosk.enabled,
    }


def _to_kiosk(row: KioskRow) -> Kiosk:
    return Kiosk(
        id=row.id,
        name=row.name,
        lat=row.lat,
        lon=row.lon,
        partner=row.partner,
        address=row.address,
        sip_account=row.sip_account,
        camera_id=row.camera_id,
        enabled=row.enabled,
        state=row.state,
        last_heartbeat_at=row.last_heartbeat_at,
    )


# --- alarm sites --------------------------------------------------------------------------


class SqlSiteRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def upsert(
        self, sites: Sequence[AlarmSite], new_key_hashes: Mapping[str, str], *, at: datetime
    ) -> None:
        try:
            async with self._store.write() as tx:
                for site in sites:
                    row = await tx.get(AlarmSiteRow, site.id)
                    key_hash = new_key_hashes.get(site.id)
                    if row is None:
                        if key_hash is None:
                            raise ValueError(f"new site {site.id} needs a key")
                        tx.add(
                            AlarmSiteRow(
                                **_site_columns(site),
                                key_hash=key_hash,
                                created_at=at,
                                updated_at=at,
                            )
                        )
                        continue
                    for name, value in _site_columns(site).items():
                        setattr(row, name, value)
                    if key_hash is not None:
                        row.key_hash = key_hash
                    row.updated_at = at
        except IntegrityError as error:
            raise Conflict(
                "two sites would share one key; give each site its own", error_id="duplicate_key"
            ) from error

    async def get(self, site_id: str) -> AlarmSite | None:
        async with self._store.read() as tx:
            row = await tx.get(AlarmSiteRow, site_id)
        return None if row is None else _to_site(row)

    async def by_key_hash(self, key_hash: str) -> AlarmSite | None:
        async with self._store.read() as tx:
            row = (
                await tx.exec(select(AlarmSiteRow).where(AlarmSiteRow.key_hash == key_hash))
            ).first()
        return None if row is None else _to_site(row)

    async def all(self) -> list[AlarmSite]:
        async with self._store.read() as tx:
            rows = (await tx.exec(select(AlarmSiteRow).order_by(col(AlarmSiteRow.id)))).all()
        return [_to_site(r) for r in rows]

    async def set_key_hash(self, site_id: str, key_hash: str, *, at: datetime) -> None:
        async with self._store.write() as tx:
            row = await tx.get(AlarmSiteRow, site_id)
            if row is None:
                raise NotFound(f"site {site_id} not found", error_id="site_not_found")
            row.key_hash = key_hash
            row.updated_at = at


def _site_columns(site: AlarmSite) -> dict[str, Any]:
    return {
        "id": site.id,
        "name": site.name,
        "kind": site.kind,
        "lat": site.lat,
        "lon": site.lon,
        "address": site.address,
        "camera_ids": json.dumps(list(site.camera_ids)),
        "enabled": site.enabled,
    }


def _to_site(row: AlarmSiteRow) -> AlarmSite:
    return AlarmSite(
        id=row.id,
        name=row.name,
        kind=row.kind,
        lat=row.lat,
        lon=row.lon,
        address=row.address,
        camera_ids=tuple(json.loads(row.camera_ids)),
        enabled=row.enabled,
    )


# --- camera alert groups (dedupe windows) -------------------------------------------------


class SqlCameraAlertLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def claim(
        self, dedupe_key: str, camera_id: str, kind: str, at: datetime, window_s: float
    ) -> AlertClaim:
        for _ in range(3):  # a first insert may lose to another node's: then it is a repeat
            try:
                return await self._claim(dedupe_key, camera_id, kind, at, window_s)
            except IntegrityError:
                continue
        raise Conflict("camera alert contention; retry", error_id="alert_contention")

    async def _claim(
        self, dedupe_key: str, camera_id: str, kind: str, at: datetime, window_s: float
    ) -> AlertClaim:
        async with self._store.write() as tx:
            row = (
                await tx.exec(
                    select(CameraAlertGroupRow)
                    .where(CameraAlertGroupRow.dedupe_key == dedupe_key)
                    .with_for_update()
                )
            ).first()
            if row is None:
                group_id = new_id()
                tx.add(
                    CameraAlertGroupRow(
                        dedupe_key=dedupe_key,
                        group_id=group_id,
                        camera_id=camera_id,
                        kind=kind,
                        first_at=at,
                        last_at=at,
                        count=1,
                    )
                )
                await tx.flush()
                return AlertClaim(group_id=group_id, repeat=False, count=1, contact_id=None)
            # within the window either side of its first alert: another node's clock, read
            # just before the first one's but committed after it, is the same window
            if abs(at - row.first_at) <= timedelta(seconds=window_s):
                row.count += 1
                row.last_at = max(row.last_at, at)
                return AlertClaim(
                    group_id=row.group_id, repeat=True, count=row.count, contact_id=row.contact_id
                )
            # the window is over: this alert opens the next one
            row.group_id = new_id()
            row.first_at = row.last_at = at
            row.count = 1
            row.contact_id = None
            return AlertClaim(group_id=row.group_id, repeat=False, count=1, contact_id=None)

    async def bind(self, group_id: str, contact_id: str) -> None:
        async with self._store.write() as tx:
            await tx.exec(
                update(CameraAlertGroupRow)
                .where(col(CameraAlertGroupRow.group_id) == group_id)
                .values(contact_id=contact_id)
            )


# --- intake sources and contacts by citizen -----------------------------------------------


class SqlIntakeSources:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, source: IntakeSource) -> None:
        try:
            async with self._store.write() as tx:
                if await tx.get(IntakeSourceRow, source.contact_id) is not None:
                    return
                tx.add(
                    IntakeSourceRow(
                        contact_id=source.contact_id,
                        kind=source.kind,
                        source_id=source.source_id,
                        camera_ids=json.dumps(list(source.camera_ids)),
                        details=json.dumps(dict(source.details), ensure_ascii=False),
                    )
                )
        except IntegrityError as error:
            async with self._store.read() as tx:
                if await tx.get(IntakeSourceRow, source.contact_id) is not None:
                    return  # a concurrent add of the same source
            raise NotFound(
                f"contact {source.contact_id} not found", details={"contact_id": source.contact_id}
            ) from error

    async def get(self, contact_id: str) -> IntakeSource | None:
        async with self._store.read() as tx:
            row = await tx.get(IntakeSourceRow, contact_id)
        if row is None:
            return None
        return IntakeSource(
            contact_id=row.contact_id,
            kind=row.kind,
            source_id=row.source_id,
            camera_ids=tuple(json.loads(row.camera_ids)),
            details=json.loads(row.details),
        )

    async def open_contact(self, channel: ChannelKind, citizen: str) -> Contact | None:
        statement = (
            select(ContactRow)
            .where(
                ContactRow.citizen == citizen,
                ContactRow.channel == channel.value,
                col(ContactRow.state).not_in(CLOSED_STATES),
            )
            .order_by(col(ContactRow.created_at).desc(), col(ContactRow.id).desc())
            .limit(1)
        )
        async with self._store.read() as tx:
            row = (await tx.exec(statement)).first()
        return None if row is None else _to_contact(row)

    async def history(
        self,
        citizen: str,
        channels: frozenset[ChannelKind],
        limit: int = 50,
        since: datetime | None = None,
    ) -> list[Contact]:
        if not channels or limit <= 0:
            return []
        statement = select(ContactRow).where(
            ContactRow.citizen == citizen,
            col(ContactRow.channel).in_(sorted(c.value for c in channels)),
        )
        if since is not None:
            statement = statement.where(col(ContactRow.created_at) >= since)
        statement = statement.order_by(
            col(ContactRow.created_at).desc(), col(ContactRow.id).desc()
        ).limit(limit)
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [_to_contact(r) for r in rows]


# --- replay guard of signed requests ------------------------------------------------------


class SqlReplayGuard:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def first_use(self, digest: str, expires_at: datetime) -> bool:
        try:
            async with self._store.write() as tx:
                if await tx.get(SeenSignatureRow, digest) is not None:
                    return False
                tx.add(SeenSignatureRow(digest=digest, expires_at=expires_at))
        except IntegrityError:
            return False  # the same request raced in on another connection or node
        return True

    async def purge(self, now: datetime) -> int:
        async with self._store.write() as tx:
            result = await tx.exec(
                delete(SeenSignatureRow).where(col(SeenSignatureRow.expires_at) < now)
            )
        return _rowcount(result)


# --- where a camera is --------------------------------------------------------------------


# dispatch's city camera registry, read by name: the columns this lookup needs, not dispatch's
# own table class (persistence imports no feature; contact/dispatch/sql/tables.py owns it)
_CITY_CAMERAS = sa_table(
    "cameras", sa_column("id"), sa_column("lat"), sa_column("lon"), sa_column("snapshot_url")
)


class SqlCameraDirectory:
    """A camera's position from what the database knows: the city camera registry of dispatch
    (table `cameras`, read only), else a kiosk's own camera (at the kiosk), else a camera of an
    alarm site (at the site)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def camera(self, camera_id: str) -> CameraInfo | None:
        async with self._store.read() as tx:
            city = (
                await tx.exec(
                    sa_select(  # type: ignore[call-overload]
                        _CITY_CAMERAS.c.id,
                        _CITY_CAMERAS.c.lat,
                        _CITY_CAMERAS.c.lon,
                        _CITY_CAMERAS.c.snapshot_url,
                    ).where(_CITY_CAMERAS.c.id == camera_id)
                )
            ).first()
            if city is not None:
                return CameraInfo(
                    id=city.id, lat=city.lat, lon=city.lon, snapshot_url=city.snapshot_url
                )
            kiosk = (
                await tx.exec(
                    select(KioskRow)
                    .where(KioskRow.camera_id == camera_id)
                    .order_by(col(KioskRow.id))
                )
            ).first()
            if kiosk is not None:
                return CameraInfo(id=camera_id, lat=kiosk.lat, lon=kiosk.lon, name=kiosk.name)
            # sites keep a short JSON list; a LIKE narrows the rows, the JSON decides
            escaped = camera_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sites = (
                await tx.exec(
                    select(AlarmSiteRow)
                    .where(col(AlarmSiteRow.camera_ids).like(f"%{escaped}%", escape="\\"))
                    .order_by(col(AlarmSiteRow.id))
                )
            ).all()
        for site in sites:
            if camera_id in json.loads(site.camera_ids):
                return CameraInfo(id=camera_id, lat=site.lat, lon=site.lon, name=site.name)
        return None


class SqlRegistries:
    """Every registry of the device channels over one Store."""

    def __init__(self, store: Store) -> None:
        self.devices = SqlDeviceRegistry(store)
        self.kiosks = SqlKioskRegistry(store)
        self.sites = SqlSiteRegistry(store)
        self.camera_alerts = SqlCameraAlertLog(store)
        self.sources = SqlIntakeSources(store)
        self.replays = SqlReplayGuard(store)
        self.cameras = SqlCameraDirectory(store)
