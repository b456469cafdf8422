"""A year of history in a database, seeded in seconds, for the growth tests and bench.

`n` past contacts (closed or abandoned, every 30 s back from HISTORY_END, spread over a city
the size of Almaty), each with a message, its own incident (mostly still open: nobody closes
them) and its grouping membership, and a call for every fourth one. Bulk SQL (INSERT … SELECT
over a numbers table), not the repositories: a million rows take seconds, not an hour.

Databases are cached by SEED_VERSION and the hash of the migrations: a SQLite file under
~/.cache/contact/history/ and a PostgreSQL database named contact_history_<hash>_<n>, built
under a temporary name and renamed when complete, so a crashed or concurrent build is never
mistaken for a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HISTORY_END = datetime(2026, 11, 30, tzinfo=UTC)  # the newest past contact is just before
NOW = HISTORY_END + timedelta(days=1)  # when the probes run: history is all outside any window
PROBE = (43.238, 76.945)  # the point the grouping probe asks about
SEED_VERSION = 2  # bump when what is seeded changes: the cached databases are rebuilt
STEP_S = 30  # one past contact every 30 s: a million is 347 days
CACHE = Path(os.environ.get("CONTACT_HISTORY_CACHE", Path.home() / ".cache/contact/history"))
TABLES = (
    "contacts",
    "messages",
    "incidents",
    "incident_dispatch",
    "incident_contacts",
    "calls",
    "dispatches",
)


def cache_key() -> str:
    """Of this file and the migrations of the `contact` imported (a benchmark may import an
    older checkout's: its schema gets databases of its own)."""
    import contact

    migrations = Path(contact.__file__).parent / "persistence/migrations/versions"
    digest = hashlib.sha256(f"seed {SEED_VERSION}".encode())
    for path in sorted(migrations.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def _numbers(ts: str, count: str) -> str:
    """SELECT of the numbers table: each past contact's number, id suffix, time and place,
    computed once (the inserts below reuse them)."""
    return (
        f"SELECT n, {ts.format(s=f'n * {STEP_S}')} AS at,"
        " 43.15 + ((n * 7919) % 20011) * 0.00001 AS lat,"
        " 76.80 + ((n * 104729) % 30011) * 0.00001 AS lon"
        f" FROM {count}"
    )


def _statements(pad: str, false: str) -> list[str]:
    """INSERT … SELECT … FROM nums for both dialects; `pad` is the dialect's zero-padded
    number (ids in index order make the inserts append), `false` its false. A dispatch (arrived,
    first on scene) for every fourth contact."""
    channel = (
        "CASE n % 4 WHEN 0 THEN 'voice' WHEN 1 THEN 'app' WHEN 2 THEN 'telegram' ELSE 'app_sos' END"
    )
    h, i = f"'h' || {pad}", f"'i' || {pad}"
    true = "1" if false == "0" else "true"
    # dispatch/grouping.py's grid_cell (CAST truncates on SQLite: floor of what is positive)
    floor = "CAST({} AS INTEGER)" if false == "0" else "floor({})"
    cell = f"{floor.format('(lat + 90.0) * 100')} * 36000 + {floor.format('(lon + 180.0) * 100')}"
    return [
        "INSERT INTO contacts (id, channel, state, priority, language, citizen, lat, lon,"
        " accuracy_m, location_source, summary, incident_id, created_at, queued_at,"
        " answered_at, closed_at, disposition)"
        f" SELECT {h}, {channel}, CASE n % 10 WHEN 0 THEN 'abandoned' ELSE 'closed' END,"
        " n % 6, 'ru', '+7701' || (n % 200000), lat, lon, 30.0, 'gps', 'history',"
        f" {i}, at, at, at, at, 'done' FROM nums",
        "INSERT INTO messages (id, contact_id, direction, text, created_at)"
        f" SELECT 'm' || {pad}, {h}, 'in', 'history', at FROM nums",
        "INSERT INTO incidents (id, created_at, state, contact_ids, lat, lon)"
        f" SELECT {i}, at, CASE n % 10 WHEN 0 THEN 'closed' ELSE 'open' END,"
        f" '[\"' || {h} || '\"]', lat, lon FROM nums",
        "INSERT INTO incident_dispatch (incident_id, outside_districts, last_contact_at,"
        f" updated_at) SELECT {i}, {false}, at, at FROM nums",
        "INSERT INTO incident_contacts (contact_id, incident_id, lat, lon, cell, received_at,"
        f" joined_at, how) SELECT {h}, {i}, lat, lon, {cell}, at, at, 'created' FROM nums",
        "INSERT INTO calls (id, contact_id, uniqueid, channel, direction, kind, state,"
        " started_at, ended_at, end_reason, dropped)"
        f" SELECT 'c' || {pad}, {h}, 'u' || {pad}, 'PJSIP/trunk-' || n, 'in', 'voice', 'ended',"
        f" at, at, 'caller_hangup', {false} FROM nums WHERE n % 4 = 0",
        "INSERT INTO dispatches (id, contact_id, incident_id, unit_id, operator_id, lat, lon,"
        " state, received_at, dispatched_at, arrived_at, cleared_at, response_s,"
        " first_on_scene)"
        f" SELECT 'd' || {pad}, {h}, {i}, 'unit-' || (n % 300), 'operator', lat, lon,"
        f" 'completed', at, at, at, at, 300.0, {true} FROM nums WHERE n % 4 = 1",
    ]


def seed_sqlite(path: Path, n: int) -> None:
    """History into a migrated SQLite file (stdlib sqlite3: no ORM in the way)."""
    end = HISTORY_END.strftime("%Y-%m-%d %H:%M:%S")
    # SQLAlchemy's form of a timestamp on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff', naive UTC
    ts = f"(datetime('{end}', '-' || ({{s}}) || ' seconds') || '.000000')"
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")  # a cache: a crash leaves a file never renamed
        con.execute("PRAGMA cache_size=-262144")  # 256 MB: index inserts stay in memory
        con.execute(
            "CREATE TEMP TABLE nums AS"
            f" WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {int(n)})"
            f" {_numbers(ts, 's')}"
        )
        # indexes are built once after the rows (a sort), not row by row
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({', '.join(repr(t) for t in TABLES)})"
        ).fetchall()
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        for statement in _statements("printf('%07d', n)", "0"):
            con.execute(statement)
        for _, sql in indexes:
            con.execute(sql)
        # no ANALYZE: contact never runs it on SQLite, so the planner works from its defaults
        # there as it does here (statistics averaged over a few states would tell it that
        # "queued" is as common as "closed")
        con.commit()
    finally:
        con.close()


async def seed_postgres(plain_url: str, n: int) -> None:
    """History into a migrated PostgreSQL database (asyncpg, one transaction)."""
    import asyncpg

    end = HISTORY_END.isoformat()
    ts = f"(TIMESTAMPTZ '{end}' - ({{s}}) * INTERVAL '1 second')"
    con = await asyncpg.connect(plain_url, timeout=10)
    try:
        async with con.transaction():
            await con.execute(
                "CREATE TEMP TABLE nums AS"
                f" {_numbers(ts, f'generate_series(1::bigint, {int(n)}) AS n')}"
            )
            await con.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # the rows are made consistent: skip the per-row foreign key triggers
            await con.execute("SET LOCAL session_replication_role = replica")
            # indexes are built once after the rows (a sort), not row by row; those behind
            # constraints (primary keys, unique) stay
            indexes = await con.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
                " AND tablename = ANY($1::text[])"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
                list(TABLES),
            )
            for row in indexes:
                await con.execute(f'DROP INDEX "{row["indexname"]}"')
            for statement in _statements("lpad(n::text, 7, '0')", "false"):
                await con.execute(statement)
            for row in indexes:
                await con.execute(row["indexdef"])
        await con.execute("VACUUM ANALYZE")
    finally:
        await con.close()


WINDOW = 60  # contacts of the last 25 minutes, the same in every database
NEAR = 20  # of which this many around PROBE


async def seed_window(url: str) -> None:
    """The present, through the repositories (the way intake writes it): WINDOW located
    contacts of the last 25 minutes, half of them waiting, each with a message, a live call
    for every tenth, placed into incidents by the real grouping."""
    from contact.config import DatabaseSettings
    from contact.dispatch.model import NewContact
    from contact.domain.model import (
        ChannelKind,
        Contact,
        ContactState,
        Location,
        Message,
        MessageDirection,
        Priority,
    )
    from contact.persistence.calls import SqlCallRepository
    from contact.persistence.database import SqlDatabase
    from contact.ports import Call

    db = await SqlDatabase.open(DatabaseSettings(url=url))
    calls = SqlCallRepository(db._store)
    dispatch_repo = dispatch_repository(db)
    try:
        for k in range(WINDOW):
            at = NOW - timedelta(seconds=25 * k)
            near = k < NEAR
            lat = PROBE[0] + (k % 5 - 2) * 0.0004 if near else 43.15 + (k * 0.031) % 0.2
            lon = PROBE[1] + (k // 5 - 2) * 0.0004 if near else 76.80 + (k * 0.047) % 0.3
            waiting = k % 2 == 0
            contact = Contact(
                id=f"w{k:03d}",
                channel=ChannelKind.APP,
                priority=list(Priority)[k % 6],
                created_at=at,
                state=ContactState.QUEUED if waiting else ContactState.CLOSED,
                citizen=f"+7702{k:07d}",
                location=Location(lat, lon, 20.0),
                summary="window",
                queued_at=at,
                closed_at=None if waiting else at,
            )
            message = Message(
                id=f"wm{k:03d}",
                contact_id=contact.id,
                direction=MessageDirection.INBOUND,
                text="window",
                created_at=at,
            )
            await db.contacts.add(contact, message)
            new = NewContact(contact.id, lat, lon, 20.0, at, None, None, None, False)
            await dispatch_repo.group(new, at - timedelta(seconds=1800), _nearest, 600.0)
            if k % 10 == 0:
                await calls.add(
                    Call(
                        id=f"wc{k:03d}",
                        contact_id=contact.id,
                        uniqueid=f"wu{k:03d}",
                        channel=f"PJSIP/trunk-w{k:03d}",
                        direction="in",
                        kind="voice",
                        started_at=at,
                    )
                )
    finally:
        await db.close()


def dispatch_repository(db: Any) -> Any:
    """`db`'s dispatch repository in any checkout: an attribute of the database in older ones
    (bench/_history_probe.py measures those too), dispatch's own SQL adapter on the shared
    Store since the repository moved into contact.dispatch."""
    found = getattr(db, "dispatch", None)
    if found is not None:
        return found
    from contact.dispatch.sql import SqlDispatchRepository

    return SqlDispatchRepository(db.store)


def _nearest(candidates: list[Any], _categories: dict[str, str | None]) -> Any:
    """Join the first candidate's incident (the probes only read what grouping wrote)."""
    from contact.dispatch.grouping import Match

    return Match(candidates[0].incident_id, candidates[0].contact_id, 0.0) if candidates else None


async def sqlite_history(n: int) -> Path:
    """A migrated SQLite file with `n` past contacts (cached)."""
    from contact.persistence.migrate import upgrade

    final, building = _sqlite_paths(n)
    if building is None:
        return final
    await upgrade(f"sqlite+aiosqlite:///{building}")
    if n:
        seed_sqlite(building, n)
    await seed_window(f"sqlite+aiosqlite:///{building}")
    _finish_sqlite(building, final)
    return final


def _sqlite_paths(n: int) -> tuple[Path, Path | None]:
    """(the cached file, a new file to build it in; None when the cache has it)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    final = CACHE / f"sqlite-{cache_key()}-{n}.db"
    if final.exists():
        return final, None
    return final, CACHE / f"building-{uuid.uuid4().hex[:8]}.db"


def _finish_sqlite(building: Path, final: Path) -> None:
    """One self-contained file (no WAL beside it), renamed into place when complete."""
    con = sqlite3.connect(building)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    for extra in ("-wal", "-shm"):
        Path(f"{building}{extra}").unlink(missing_ok=True)
    building.replace(final)
    # a cache of another schema is of no further use: ~1 GB each (an hour's grace for a
    # benchmark of an older checkout that may still read its own)
    for stale in CACHE.glob("sqlite-*.db"):
        if stale != final and time.time() - stale.stat().st_mtime > 3600:
            stale.unlink(missing_ok=True)


async def postgres_history(admin_url: str, n: int) -> str:
    """The asyncpg URL of a migrated PostgreSQL database with `n` past contacts (cached).
    `admin_url` is a plain postgresql:// URL of a database to run CREATE DATABASE from."""
    import asyncpg

    from contact.persistence.migrate import upgrade

    name = f"contact_history_{cache_key()}_{n}"
    base = admin_url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            building = f"contact_building_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{building}"')
            try:
                await upgrade(
                    f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{building}"
                )
                if n:
                    await seed_postgres(f"{base}/{building}", n)
                await seed_window(
                    f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{building}"
                )
                # another session may have finished first: its copy is as good
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await admin.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            finally:
                await admin.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    finally:
        await admin.close()
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


__all__ = [
    "HISTORY_END",
    "NEAR",
    "NOW",
    "PROBE",
    "WINDOW",
    "cache_key",
    "postgres_history",
    "seed_postgres",
    "seed_sqlite",
    "seed_window",
    "sqlite_history",
]
