"""PostgreSQL restarts under a running node: the pooled connections die, and no unit of work
fails because of it (without pool_pre_ping's round trips on every checkout).

pg_terminate_backend ends the backends as a restart does (the server says so and closes the
socket). A connection the node sees closed is discarded when checked out; one that dies
after its checkout fails its first statement, and read_sync / write_sync run once more.

A unit cancelled while its BEGIN is on the wire leaves its connection inside a transaction
that SQLAlchemy does not know of: that connection is discarded too, or every later commit on
it would only release a savepoint of a transaction nobody commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Connection, bindparam, event, insert, text
from sqlalchemy.sql import column, table

from contact.config import DatabaseSettings
from contact.persistence import engine as engine_module
from contact.persistence.database import SqlDatabase
from contact.persistence.engine import Store, create_engine
from contact.persistence.prepared import Prepared

POOLED = 5  # connections open in the pool before the "restart"


@pytest.fixture
async def store(postgres_database_url: str) -> AsyncIterator[Store]:
    database = await SqlDatabase.open(DatabaseSettings(url=postgres_database_url))
    store: Store = database._store
    await store.write_sync(lambda conn: conn.execute(text("CREATE TABLE probe (n INTEGER)")))
    yield store
    await database.close()


async def _fill_the_pool(store: Store) -> None:
    """POOLED connections checked out at once, then back in the pool."""
    await asyncio.gather(
        *(
            store.read_sync(lambda conn: conn.execute(text("SELECT pg_sleep(0.05)")))
            for _ in range(POOLED)
        )
    )
    assert store.engine.sync_engine.pool.checkedin() >= POOLED  # type: ignore[attr-defined]


async def _restart(url: str) -> int:
    """End every backend of the database (not this admin connection): how many."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(plain, timeout=5)
    try:
        ended: int = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    return ended


def _insert(n: int) -> Any:
    def work(conn: Connection) -> None:
        conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})

    return work


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM probe")).scalar_one())


async def _every_kind_of_unit_works(store: Any, first: int) -> None:  # text() in exec
    """The session units first: they cannot be run again (the caller's block is the unit),
    so the dead connection must not be handed to them. (The first failure of a pooled
    connection invalidates the whole pool, which would hide it.)"""
    for i in range(first, first + 2 * POOLED):  # more units than pooled connections
        async with store.write() as session:
            await session.exec(text("INSERT INTO probe VALUES (:n)").bindparams(n=-i))
        async with store.read() as session:
            assert (await session.exec(text("SELECT 1"))).scalar_one() == 1
        await store.write_sync(_insert(i))
        assert await store.read_sync(_count) > 0


async def test_a_restart_fails_no_unit(store: Store, postgres_database_url: str) -> None:
    await _fill_the_pool(store)
    assert await _restart(postgres_database_url) >= POOLED
    await asyncio.sleep(0.1)  # a restart takes longer than this: asyncpg has seen it
    await _every_kind_of_unit_works(store, 0)
    assert await store.read_sync(_count) == 4 * POOLED  # each write once


async def test_a_connection_dead_after_checkout_runs_the_unit_again(
    store: Store, postgres_database_url: str
) -> None:
    # without the checkout check, every pooled connection is handed out dead: what
    # read_sync and write_sync do then is what they do when one dies after its checkout
    pool = store.engine.sync_engine.pool
    event.remove(pool, "checkout", engine_module._discard_unusable)
    await _fill_the_pool(store)
    assert await _restart(postgres_database_url) >= POOLED
    await asyncio.sleep(0.1)  # asyncpg has seen the sockets close
    for i in range(2 * POOLED):
        await store.write_sync(_insert(i))
    assert await store.read_sync(_count) == 2 * POOLED  # each write once
    await _restart(postgres_database_url)
    await asyncio.sleep(0.1)
    assert await store.read_sync(_count) == 2 * POOLED


async def test_an_intake_whose_connection_died_after_checkout_runs_again(
    store: Store, postgres_database_url: str
) -> None:
    """The same with a unit whose first statement is a Prepared one, as every intake's is,
    on a pool of one connection: it is handed out dead, and the unit runs once more on a new
    one instead of answering 503."""
    one = Store(create_engine(DatabaseSettings(url=postgres_database_url, pool_size=1)))
    event.remove(one.engine.sync_engine.pool, "checkout", engine_module._discard_unusable)
    try:
        await one.write_sync(_prepared_insert(1))
        assert await _restart(postgres_database_url) >= 1
        await asyncio.sleep(0.1)  # asyncpg has seen the socket close
        await one.write_sync(_prepared_insert(2))
        assert await store.read_sync(_count) == 2
    finally:
        await one.close()


class _HeldReplies:
    """A TCP relay to PostgreSQL that, once armed, holds the server's replies from the moment
    a client's BEGIN passes through it until `release`."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.armed = False
        self.begin_sent = asyncio.Event()
        self._replies = asyncio.Event()
        self._replies.set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def release(self) -> None:
        self._replies.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)

        async def requests() -> None:
            while data := await reader.read(65536):
                if self.armed and b"BEGIN" in data:
                    self.armed = False
                    self._replies.clear()
                    self.begin_sent.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                await self._replies.wait()
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(requests(), replies(), return_exceptions=True)

    async def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()


_PROBE = table("probe", column("n"))
_INSERT = Prepared(insert(_PROBE).values({"n": bindparam("n")}))  # as every intake's writes


def _prepared_insert(n: int) -> Any:
    def work(conn: Connection) -> None:
        _INSERT.run(conn, {"n": n})  # the unit's first statement: it begins the transaction

    return work


async def test_a_unit_cancelled_during_its_begin_leaves_no_transaction_behind(
    store: Store, postgres_database_url: str
) -> None:
    host_and_db = postgres_database_url.rsplit("@", 1)[1]
    relay = _HeldReplies(int(host_and_db.split(":")[1].split("/")[0]))
    port = await relay.start()
    url = postgres_database_url.replace(host_and_db.split("/")[0], f"127.0.0.1:{port}")
    # one pooled connection, so the next units get the one the cancelled unit had
    one = Store(create_engine(DatabaseSettings(url=url, pool_size=1, pool_overflow=0)))
    plain = postgres_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    other = await asyncpg.connect(plain, timeout=30)
    try:
        await one.write_sync(_prepared_insert(1))
        relay.armed = True
        cancelled = asyncio.create_task(one.write_sync(_prepared_insert(2)))
        await asyncio.wait_for(relay.begin_sent.wait(), 60)
        cancelled.cancel()  # a timeout, a service stopping its tasks
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        relay.release()
        for n in (3, 4):
            await asyncio.wait_for(one.write_sync(_prepared_insert(n)), 60)
        # committed means committed: seen by every other connection
        seen = sorted(r["n"] for r in await other.fetch("SELECT n FROM probe"))
        assert seen == [1, 3, 4]
    finally:
        await other.close()
        await one.close()
        await relay.close()
