"""Hot queries are bounded by what they need, not by history (DESIGN: "measured on a database
holding a year of history").

The same present (tests/history.py: 60 contacts of the last 25 minutes, grouped, half waiting)
sits on top of no history and of a million past contacts, on SQLite and PostgreSQL. Every
statement a probe runs is captured as the driver got it and explained on both databases:
- its plan reads the history tables only through an index search (never a full scan), and
  the index a probe is meant to use is in the plan;
- the work does not grow with history: SQLite's virtual-machine steps (a progress handler
  counts them) and PostgreSQL's rows touched (EXPLAIN ANALYZE: rows out and rows filtered
  away, per node) on a million past contacts stay within twice those on none, plus a little
  for one more level of each B-tree.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from contact.config import DatabaseSettings
from contact.dispatch.grouping import grid_cell
from contact.dispatch.sql import SqlDispatchRepository
from contact.dispatch.sql.incidents import _open_candidates
from contact.domain.model import OPEN_STATES, WAITING_STATES, ChannelKind
from contact.persistence.calls import SqlCallRepository
from contact.persistence.database import SqlDatabase
from tests.conftest import POSTGRES_ADMIN_URL
from tests.history import NOW, PROBE, postgres_history, sqlite_history

# the first build of the cached databases seeds a million rows per backend (tens of seconds)
pytestmark = pytest.mark.timeout(900)

HISTORY = int(os.environ.get("CONTACT_TEST_HISTORY", "1000000"))
TABLES = (
    "contacts",
    "messages",
    "incidents",
    "incident_dispatch",
    "incident_contacts",
    "calls",
    "dispatches",
)
CITIZEN = "+770142"  # five past contacts of this citizen in the big database, none open
SQLITE_STEP_LIMIT = 20_000_000  # a full scan of a history table is far above; stop there


@dataclass
class Probe:
    name: str
    run: Callable[[SqlDatabase], Awaitable[object]]
    indexes: tuple[str, ...]  # each must appear in some statement's plan on the big database


WINDOW_S = timedelta(seconds=1800)


async def _grouping(db: SqlDatabase) -> object:
    async with db._store.engine.connect() as conn:  # read only: the candidates of PROBE
        return await conn.run_sync(
            lambda sync: _open_candidates(sync, (NOW - WINDOW_S, NOW + WINDOW_S), *PROBE, 600.0)
        )


PROBES = [
    Probe("grouping", _grouping, ("ix_incident_contacts_cell_received_at_lat_lon",)),
    Probe("queue page", lambda db: db.queue.waiting_page(20), ("ix_contacts_state",)),
    Probe(
        "queue rebuild",
        lambda db: db.contacts.in_states(WAITING_STATES),
        ("ix_contacts_state",),
    ),
    Probe(
        "unplaced at start",
        lambda db: db.contacts.in_states(OPEN_STATES),
        ("ix_contacts_state",),
    ),
    Probe(
        "open contact of a citizen",
        lambda db: db.registries.sources.open_contact(ChannelKind.APP_SOS, CITIZEN),
        ("ix_contacts_citizen_created_at",),
    ),
    Probe(
        "a citizen's history",
        lambda db: db.registries.sources.history(
            CITIZEN, frozenset({ChannelKind.APP, ChannelKind.APP_SOS}), 50
        ),
        ("ix_contacts_citizen_created_at",),
    ),
    # pages smaller than the present, so that history does not merely fill them up
    Probe("recent contacts", lambda db: db.contacts.recent(20), ("ix_contacts_created_at",)),
    Probe(
        "a contact's messages",
        lambda db: db.contacts.messages("w007"),
        ("ix_messages_contact_id_created_at",),
    ),
    Probe(
        "open incidents page",
        lambda db: SqlDispatchRepository(db.store).open_incidents(20),
        ("ix_incidents_state_created_at_id", "ix_incident_contacts_incident_id"),
    ),
    Probe(
        "response times of the last day",
        lambda db: SqlDispatchRepository(db.store).arrivals(NOW - timedelta(days=1), NOW),
        ("ix_dispatches_arrived_at",),
    ),
    Probe(
        "dispatches of the last day",
        lambda db: SqlDispatchRepository(db.store).dispatch_counts(NOW - timedelta(days=1), NOW),
        ("ix_dispatches_dispatched_at",),
    ),
    Probe(
        "supervisor figures of the last day",
        lambda db: db.stats.contacts(NOW - timedelta(days=1), NOW),
        ("ix_contacts_created_at",),
    ),
    Probe(
        "live calls",
        lambda db: SqlCallRepository(db._store).live(),
        ("ix_calls_state_started_at",),
    ),
]


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)


async def capture(url: str, probe: Probe) -> list[tuple[str, Any]]:
    """The statements (as the driver got them, with their parameters) the probe runs."""
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    seen = Captured()

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.statements.append((statement, params))

    # reads through Store.read_sync run on SQLite's sqlite3 twin of the engine: listened too
    engines = [db._store.engine.sync_engine, db._store._sync_engine]
    for engine in engines:
        if engine is not None:
            event.listen(engine, "before_cursor_execute", record)
    try:
        await probe.run(db)
    finally:
        await db.close()
    assert seen.statements, f"{probe.name} ran no SELECT"
    return seen.statements


@dataclass
class Explained:
    plans: list[str]  # one text per statement
    work: int  # SQLite: VM steps; PostgreSQL: rows touched


def explain_sqlite(path: Path, statements: list[tuple[str, Any]]) -> Explained:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += 1
        return 1 if steps > SQLITE_STEP_LIMIT else 0

    plans = []
    try:
        for statement, params in statements:
            rows = con.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            plans.append("\n".join(str(r[3]) for r in rows))
            con.set_progress_handler(tick, 1)
            try:
                con.execute(statement, params).fetchall()
            finally:
                con.set_progress_handler(None, 1)
    finally:
        con.close()
    return Explained(plans, steps)


def _pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


async def explain_postgres(url: str, statements: list[tuple[str, Any]]) -> Explained:
    con = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    plans, touched = [], 0
    try:
        for statement, params in statements:
            raw = await con.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, *params
            )
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            plans.append(json.dumps(plan))
            for node in _pg_nodes(plan):
                loops = node.get("Actual Loops", 1)
                if "Relation Name" in node:  # a scan: what it read, kept or not
                    touched += loops * (
                        node.get("Actual Rows", 0)
                        + node.get("Rows Removed by Filter", 0)
                        + node.get("Rows Removed by Index Recheck", 0)
                    )
    finally:
        await con.close()
    return Explained(plans, touched)


def full_scans(backend: str, plans: list[str]) -> list[str]:
    """Reads of a whole history table. An index walked in order under a LIMIT ("SCAN t USING
    INDEX i", an Index Scan without a condition) is not one by itself: the work bound tells
    whether it stops early."""
    found = []
    for plan in plans:
        if backend == "sqlite":
            for line in plan.splitlines():
                words = line.split()
                if words[:1] == ["SCAN"] and words[1] in TABLES and "INDEX" not in words:
                    found.append(line)
        else:
            for node in _pg_nodes(json.loads(plan)):
                table = node.get("Relation Name")
                if table in TABLES and node["Node Type"] in ("Seq Scan", "Parallel Seq Scan"):
                    found.append(f"{node['Node Type']} on {table}")
    return found


@pytest.fixture(scope="session")
def sqlite_dbs() -> tuple[Path, Path]:
    """(no history, a million past contacts): cached files, built on first use."""

    async def build() -> tuple[Path, Path]:
        return await sqlite_history(0), await sqlite_history(HISTORY)

    return asyncio.run(build())


@pytest.fixture(scope="session")
def postgres_dbs() -> tuple[str, str]:
    """(no history, a million past contacts): cached databases, built on first use."""

    async def build() -> tuple[str, str]:
        try:
            await (await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)).close()
        except Exception as exc:
            pytest.fail(f"PostgreSQL is required and not reachable ({exc!r})", pytrace=False)
        return (
            await postgres_history(POSTGRES_ADMIN_URL, 0),
            await postgres_history(POSTGRES_ADMIN_URL, HISTORY),
        )

    return asyncio.run(build())


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
async def test_sqlite_plans_and_work_do_not_grow_with_history(
    sqlite_dbs: tuple[Path, Path], probe: Probe
) -> None:
    empty, year = sqlite_dbs
    small = explain_sqlite(empty, await capture(f"sqlite+aiosqlite:///{empty}", probe))
    big = explain_sqlite(year, await capture(f"sqlite+aiosqlite:///{year}", probe))
    assert full_scans("sqlite", big.plans) == [], "\n\n".join(big.plans)
    for index in probe.indexes:
        assert any(index in plan for plan in big.plans), (index, big.plans)
    assert big.work <= 2 * small.work + 2_000, (small.work, big.work, big.plans)


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
async def test_postgres_plans_and_work_do_not_grow_with_history(
    postgres_dbs: tuple[str, str], probe: Probe
) -> None:
    empty, year = postgres_dbs
    small = await explain_postgres(empty, await capture(empty, probe))
    big = await explain_postgres(year, await capture(year, probe))
    assert full_scans("postgres", big.plans) == [], "\n\n".join(big.plans)
    for index in probe.indexes:
        assert any(index in plan for plan in big.plans), (index, big.plans)
    assert big.work <= 2 * small.work + 50, (small.work, big.work, big.plans)


def test_the_million_is_there(sqlite_dbs: tuple[Path, Path]) -> None:
    """The big database holds the history the tests above claim (a seeding slip would make
    every bound trivially true)."""
    con = sqlite3.connect(f"file:{sqlite_dbs[1]}?mode=ro", uri=True)
    try:
        for table, rows in (("contacts", HISTORY), ("incident_contacts", HISTORY)):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= rows
    finally:
        con.close()


async def test_grouping_reads_only_the_window_nearby_not_a_busy_window_elsewhere(
    sqlite_dbs: tuple[Path, Path], tmp_path: Path
) -> None:
    """100 reports a second fill a 30-minute window with 180,000 members: grouping one more
    contact reads the members of its own few cells (dispatch/grouping.py's grid), so 20,000 of
    them across the rest of the city add nothing to its work."""
    empty = sqlite_dbs[0]
    busy = tmp_path / "busy.db"
    shutil.copyfile(empty, busy)
    at = (NOW - timedelta(seconds=60)).strftime("%Y-%m-%d %H:%M:%S.000000")
    elsewhere = [
        (43.30 + (k % 100) * 0.0005, 76.80 + (k // 100) * 0.0005) for k in range(20_000)
    ]  # 5-11 km north of the probe, in the same window
    con = sqlite3.connect(busy)
    try:
        con.executemany(
            "INSERT INTO incident_contacts (contact_id, incident_id, lat, lon, cell,"
            " received_at, joined_at, how) VALUES (?, 'w000', ?, ?, ?, ?, ?, 'grouped')",
            [
                (f"b{k}", lat, lon, grid_cell(lat, lon), at, at)
                for k, (lat, lon) in enumerate(elsewhere)
            ],
        )
        con.commit()
    finally:
        con.close()
    grouping = PROBES[0]
    quiet = explain_sqlite(empty, await capture(f"sqlite+aiosqlite:///{empty}", grouping))
    loud = explain_sqlite(busy, await capture(f"sqlite+aiosqlite:///{busy}", grouping))
    assert loud.work <= 2 * quiet.work + 2_000, (quiet.work, loud.work, loud.plans)
