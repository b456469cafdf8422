"""Store.write_sync on SQLite (its sqlite3 twin, in a worker thread) and on PostgreSQL (the
async engine): committed when the work returns, rolled back when it raises, seen by the async
sessions at once, and in line with the other writers of the process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, text


def _store(db: Any) -> Any:
    return db._store


async def test_work_is_committed_and_seen_by_async_readers(db: Any) -> None:
    store = _store(db)

    def work(conn: Connection) -> int:
        conn.execute(text("CREATE TABLE sync_probe (n INTEGER)"))
        conn.execute(text("INSERT INTO sync_probe VALUES (1), (2)"))
        return int(conn.execute(text("SELECT count(*) FROM sync_probe")).scalar_one())

    assert await store.write_sync(work) == 2
    async with store.read() as session:
        assert (await session.exec(text("SELECT sum(n) FROM sync_probe"))).scalar_one() == 3


async def test_work_that_raises_leaves_nothing(db: Any) -> None:
    store = _store(db)
    await store.write_sync(lambda conn: conn.execute(text("CREATE TABLE sync_probe (n INTEGER)")))

    def fails(conn: Connection) -> None:
        conn.execute(text("INSERT INTO sync_probe VALUES (1)"))
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        await store.write_sync(fails)
    async with store.read() as session:
        assert (await session.exec(text("SELECT count(*) FROM sync_probe"))).scalar_one() == 0


async def test_sync_and_async_writers_interleave_without_losing_a_write(db: Any) -> None:
    store = _store(db)
    await store.write_sync(lambda conn: conn.execute(text("CREATE TABLE sync_probe (n INTEGER)")))

    async def async_insert(i: int) -> None:
        async with store.write() as session:
            await session.exec(text("INSERT INTO sync_probe VALUES (:n)").bindparams(n=i))

    async def sync_insert(i: int) -> None:
        await store.write_sync(
            lambda conn: conn.execute(text("INSERT INTO sync_probe VALUES (:n)"), {"n": i})
        )

    await asyncio.gather(*(async_insert(i) if i % 2 else sync_insert(i) for i in range(40)))
    async with store.read() as session:
        total = (await session.exec(text("SELECT count(*), sum(n) FROM sync_probe"))).one()
    assert tuple(total) == (40, sum(range(40)))


async def test_a_database_error_is_translated_like_the_async_writers(db: Any) -> None:
    store = _store(db)
    statement = "SELECT * FROM no_such_table"
    with pytest.raises(Exception) as by_async:
        async with store.write() as session:
            await session.exec(text(statement))
    with pytest.raises(Exception) as by_sync:
        await store.write_sync(lambda conn: conn.execute(text(statement)))
    assert type(by_sync.value) is type(by_async.value)
    assert str(by_sync.value) == str(by_async.value)
