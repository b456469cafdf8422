"""The hash-chained audit log detects edits, deletions and insertions made behind its back.

Tampering is done the way an intruder would: plain SQL on the database file.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from contact.config import DatabaseSettings
from contact.persistence.audit import chain_hash
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import upgrade
from contact.ports import AuditEntry, AuditProblem

GENESIS = "0" * 64


@pytest.fixture
async def log_db(tmp_path: Path) -> AsyncIterator[tuple[SqlDatabase, Path]]:
    path = tmp_path / "contact.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    yield db, path
    await db.close()


async def append_six(db: SqlDatabase) -> list[AuditEntry]:
    entries = []
    for n in range(1, 7):
        entries.append(
            await db.audit.append(
                f"op-{n % 2}",
                "contact.view" if n % 2 else "contact.accept",
                subject=f"contact-{n % 3}",
                details={"n": n, "note": "көрілді / просмотрено", "nested": {"b": [1, 2.5]}},
            )
        )
    return entries


def tamper(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, params)


def row(path: Path, seq: int) -> dict[str, object]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        found = conn.execute("SELECT * FROM audit_log WHERE seq = ?", (seq,)).fetchone()
    return dict(found)


def forge_hash(fields: dict[str, object]) -> str:
    at = datetime.fromisoformat(str(fields["at"])).replace(tzinfo=UTC)
    return chain_hash(
        int(str(fields["seq"])),
        at,
        str(fields["actor"]),
        str(fields["action"]),
        None if fields["subject"] is None else str(fields["subject"]),
        json.loads(str(fields["details"])),
        str(fields["prev_hash"]),
    )


async def test_an_untouched_chain_verifies(log_db: tuple[SqlDatabase, Path]) -> None:
    db, _ = log_db
    assert await db.audit.verify() == []
    assert await db.audit.head() == (0, GENESIS)

    entries = await append_six(db)

    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert await db.audit.verify() == []
    assert await db.audit.head() == (6, entries[-1].hash)
    assert await db.audit.entries(limit=3) == entries[:2:-1]  # newest first
    assert [e.seq for e in await db.audit.entries(subject="contact-0")] == [6, 3]


async def test_the_hash_is_sha256_of_sorted_key_json(log_db: tuple[SqlDatabase, Path]) -> None:
    # the format an outside verifier reimplements
    db, _ = log_db
    entry = await db.audit.append("op-1", "contact.view", "c-1", {"z": 1, "a": "ә"})
    canonical = json.dumps(
        {
            "seq": 1,
            "at": entry.at.isoformat(timespec="microseconds"),
            "actor": "op-1",
            "action": "contact.view",
            "subject": "c-1",
            "details": {"a": "ә", "z": 1},
            "prev_hash": GENESIS,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert entry.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert entry.at.tzinfo is UTC


async def test_an_edited_field_is_reported_at_its_seq(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")

    assert await db.audit.verify() == [AuditProblem(3, "edited")]


async def test_edited_details_are_reported(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "UPDATE audit_log SET details = '{\"n\": 2}' WHERE seq = 2")
    tamper(path, "UPDATE audit_log SET details = 'not json' WHERE seq = 5")

    assert await db.audit.verify() == [AuditProblem(2, "edited"), AuditProblem(5, "edited")]


async def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(
    log_db: tuple[SqlDatabase, Path],
) -> None:
    db, path = log_db
    await append_six(db)
    forged = row(path, 3) | {"actor": "mallory"}
    tamper(
        path, "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 3", forge_hash(forged)
    )

    assert await db.audit.verify() == [AuditProblem(4, "broken link")]


async def test_a_deleted_middle_row_is_detected(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "DELETE FROM audit_log WHERE seq = 3")

    assert await db.audit.verify() == [AuditProblem(3, "deleted"), AuditProblem(4, "broken link")]


async def test_renumbering_after_a_deletion_is_detected(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "DELETE FROM audit_log WHERE seq = 3")
    for seq in (4, 5, 6):
        tamper(path, "UPDATE audit_log SET seq = ? WHERE seq = ?", seq - 1, seq)

    problems = await db.audit.verify()

    assert AuditProblem(3, "broken link") in problems
    assert AuditProblem(6, "deleted") in problems  # the head still says 6


async def test_a_forged_row_is_detected(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    entries = await append_six(db)
    forged: dict[str, object] = {
        "seq": 7,
        "at": "2025-01-01 00:00:00.000000",
        "actor": "op-1",
        "action": "contact.close",
        "subject": "contact-1",
        "details": "{}",
        "prev_hash": entries[-1].hash,
    }
    forged["hash"] = forge_hash(forged)  # a perfectly chained row, only the head disagrees
    columns = ", ".join(forged)
    tamper(
        path,
        f"INSERT INTO audit_log ({columns}) VALUES ({', '.join('?' * len(forged))})",
        *forged.values(),
    )

    assert await db.audit.verify() == [AuditProblem(7, "inserted")]


async def test_a_forged_row_far_ahead_is_detected(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(
        path,
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "VALUES (1000000000, '2025-01-01 00:00:00.000000', 'x', 'y', NULL, '{}', ?, ?)",
        GENESIS,
        GENESIS,
    )

    assert await db.audit.verify() == [
        AuditProblem(1000000000, "edited"),
        AuditProblem(1000000000, "broken link"),
        AuditProblem(1000000000, "inserted"),
    ]


async def test_a_forged_head_far_ahead_is_reported_within_bounds(
    log_db: tuple[SqlDatabase, Path],
) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "UPDATE audit_head SET seq = 1000000000000")

    problems = await db.audit.verify()

    assert problems == [AuditProblem(seq, "deleted") for seq in range(7, 1007)]


async def test_a_truncated_tail_is_detected_by_the_head(log_db: tuple[SqlDatabase, Path]) -> None:
    db, path = log_db
    await append_six(db)
    tamper(path, "DELETE FROM audit_log WHERE seq >= 5")

    assert await db.audit.verify() == [AuditProblem(5, "deleted"), AuditProblem(6, "deleted")]


async def test_a_replaced_last_row_is_detected_by_the_head(
    log_db: tuple[SqlDatabase, Path],
) -> None:
    db, path = log_db
    await append_six(db)
    forged = row(path, 6) | {"action": "contact.view"}
    tamper(
        path,
        "UPDATE audit_log SET action = ?, hash = ? WHERE seq = 6",
        forged["action"],
        forge_hash(forged),
    )

    assert await db.audit.verify() == [AuditProblem(6, "edited")]


async def test_a_deleted_head_is_reported_and_appends_go_on(
    log_db: tuple[SqlDatabase, Path],
) -> None:
    db, path = log_db
    entries = await append_six(db)
    tamper(path, "DELETE FROM audit_head")

    assert await db.audit.verify() == [AuditProblem(0, "deleted")]
    seventh = await db.audit.append("system", "contact.close")
    assert (seventh.seq, seventh.prev_hash) == (7, entries[-1].hash)
    assert await db.audit.verify() == []


# --- several writers --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def shared_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """One database two SqlDatabase instances (as two server processes would) share."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    session_url: str = request.getfixturevalue("postgres_url")  # fails when PostgreSQL is down
    base, session_db = session_url.rsplit("/", 1)
    name = f"{session_db}_{uuid.uuid4().hex[:8]}"
    admin_url = session_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_concurrent_appenders_keep_one_unbroken_chain(shared_url: str) -> None:
    await upgrade(shared_url)
    first = await SqlDatabase.open(DatabaseSettings(url=shared_url))
    second = await SqlDatabase.open(DatabaseSettings(url=shared_url))
    try:
        appended = await asyncio.gather(
            *(
                db.audit.append(f"node-{i}", "contact.view", f"c-{n}", {"n": n})
                for n in range(50)
                for i, db in enumerate((first, second))
            )
        )

        assert sorted(e.seq for e in appended) == list(range(1, 101))
        assert await first.audit.verify() == []
        last = max(appended, key=lambda e: e.seq)
        assert await second.audit.head() == (100, last.hash)
    finally:
        await first.close()
        await second.close()
