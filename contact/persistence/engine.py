"""The async engine and the transactions repositories run in.

The only module that knows SQLite from PostgreSQL, and the edge where the driver's failures
to reach the database become `Unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event, exc, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import Pool
from sqlalchemy.util import greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from contact.config import DatabaseSettings
from contact.errors import Unavailable
from contact.persistence.group_commit import GroupCommit

log = logging.getLogger(__name__)
T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
READ_THREADS = 2  # read_sync's threads on SQLite (the twin's pool keeps a connection for each)
PING_TIMEOUT_S = 5.0

# Execution option asking the SQLite BEGIN hook for BEGIN IMMEDIATE (see _sqlite_begin).
BEGIN_IMMEDIATE = "contact_begin_immediate"

# An intake acknowledged to a citizen must survive a power cut: WAL + synchronous=FULL fsyncs
# every commit. busy_timeout lets writers from other connections/processes queue, not fail.
SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # first: switching to WAL may have to wait for a lock
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)

# PostgreSQL SQLSTATE classes meaning "the database cannot be used now", not "bad request":
# connection exception, invalid authorization, invalid catalog (no such database),
# insufficient resources, operator intervention (shutdown, starting up), system error.
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "28", "3D", "53", "57", "58"})


def create_engine(
    settings: DatabaseSettings, *, poolclass: type[Pool] | None = None
) -> AsyncEngine:
    url = make_url(settings.url)
    kwargs: dict[str, Any] = {"echo": settings.echo}
    if poolclass is not None:
        kwargs["poolclass"] = poolclass
    elif url.database != ":memory:":
        # Connections kept open, not opened and closed in bursts: an overflow connection is
        # closed as soon as it is returned, which on aiosqlite ends its thread and on
        # PostgreSQL its backend (measured: 51 aiosqlite threads started in 20 s of intake).
        kwargs["pool_size"] = settings.pool_size
        kwargs["max_overflow"] = settings.pool_overflow
    if url.get_backend_name() == "sqlite":
        with translate_errors():  # a directory we may not create is a database we cannot use
            _ensure_parent_dir(url)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    if url.get_driver_name() == "asyncpg":
        # fail fast (→ Unavailable) instead of hanging a request on an unreachable host
        kwargs["connect_args"] = {"timeout": CONNECT_TIMEOUT_S}
        # A PostgreSQL restart leaves dead pooled connections. The server closes them as it
        # goes down and asyncpg notices (is_closed()): such a connection is discarded at
        # checkout, without pool_pre_ping's three round trips (BEGIN, ";", ROLLBACK) on every
        # checkout (measured: 3.8 % of the interpreter at 40 reports/s). One that dies after
        # its checkout fails its first statement: read_sync and write_sync run again once.
        # So is one still inside a transaction block (see _discard_unusable).
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine.pool, "checkout", _discard_unusable)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _discard_unusable(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled asyncpg connection that is closed, or still inside a transaction block, is
    never used again: the pool invalidates it and checks out another (a new one if none is
    left).

    A task cancelled while its BEGIN was on the wire (a timeout, a service stopping its
    tasks) leaves asyncpg holding that transaction block (its `_top_xact`) while SQLAlchemy's
    adapter, which records a transaction only once BEGIN has answered, knows of none: the
    rollback when the connection is returned is a no-op, the server stays in the transaction,
    and every later transaction on that connection became a SAVEPOINT inside it, whose
    "commit" (RELEASE SAVEPOINT) commits nothing. Intakes answered 202 were lost that way."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None:
        return
    if driver.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")
    if driver.is_in_transaction() or getattr(driver, "_top_xact", None) is not None:
        log.warning("a pooled database connection was left inside a transaction: discarded")
        raise exc.DisconnectionError("a pooled connection was left inside a transaction")


def _ensure_parent_dir(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the driver: it would defer it and cannot emit BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front (waiting up to busy_timeout). A deferred
    # one that reads first fails at once with SQLITE_BUSY when another connection wrote since.
    immediate = conn.get_execution_options().get(BEGIN_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# write_sync and read_sync without a thread of their own (PostgreSQL): the checkout, BEGIN, the
# work, COMMIT and the check-in in one greenlet, so one hop between the event loop and
# SQLAlchemy per unit instead of one per step (each driver call inside still awaits asyncpg).


def _write_unit(engine: Engine, work: Callable[[Connection], T], committing: list[bool]) -> T:
    with engine.connect() as conn:
        conn.execution_options(**{BEGIN_IMMEDIATE: True})
        with conn.begin():
            result = work(conn)
            committing[0] = True
        return result


def _read_unit(engine: Engine, work: Callable[[Connection], T], snapshot: bool) -> T:
    with engine.connect() as conn:
        if snapshot:
            conn.execution_options(isolation_level="REPEATABLE READ")
        return work(conn)  # rolled back when it closes


def is_unavailable(error: BaseException) -> bool:
    """True when `error` means the database cannot be reached or used right now."""
    if isinstance(error, OSError | exc.TimeoutError | exc.InterfaceError | exc.OperationalError):
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    return False


def _describe(error: BaseException) -> str:
    # the driver's own message only: str() of a SQLAlchemy error carries SQL and parameters,
    # which may hold a citizen's data
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    return f"{type(cause).__name__}: {cause}"


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if (
            type(error) is exc.StatementError
            and isinstance(error.orig, ValueError | TypeError)
            and error.orig is not None
        ):
            # a value refused while binding (a naive datetime): a caller's bug, raised as what
            # it is, without the statement's parameters, which may hold a citizen's data
            raise error.orig from None
        if is_unavailable(error):
            raise Unavailable(
                "the database is unavailable", details={"cause": _describe(error)}
            ) from error
        raise


class Store:
    """Transactions for the repositories. Each unit of work is one transaction.

    `write` and `read` give an async session: every statement is a round trip to the driver.
    `write_sync` and `read_sync` run a whole transaction of Core statements as one synchronous
    function, for hot paths (every intake) that take several statements per event: on SQLite
    each aiosqlite statement is a few hops between the event loop and the driver's thread
    (measured: ~0.9 ms of CPU per statement through SQLAlchemy, against ~0.07 ms for the same
    transaction in one hop).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        # SQLite in a file: the same database through the plain sqlite3 driver, for
        # write_sync's thread (an in-memory database has no twin: write_sync stays async)
        self._sync_engine = _sync_twin(engine) if self.is_sqlite else None
        # its own thread: the shared default executor may be busy while this holds the write turn
        self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
        # and the reads, apart from the writer: a read never waits behind a commit's fsync
        self._read_threads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="sqlite-read")
        self._reader = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._writer = async_sessionmaker(
            engine,
            class_=AsyncSession,
            expire_on_commit=False,
            execution_options={BEGIN_IMMEDIATE: True},
        )
        # SQLite has one writer at a time. Letting every pooled connection ask for the lock
        # makes them sleep in the busy handler while the lock sits free (measured: 85 % of
        # database thread time under load); queue this process's writers here instead and
        # leave busy_timeout to other processes.
        self._write_turn = asyncio.Lock() if self.is_sqlite else None
        self._group = (
            GroupCommit(
                self._sync_engine,
                self._sync_thread,
                self._write_turn,
                {BEGIN_IMMEDIATE: True},
            )
            if self._sync_engine is not None and self._write_turn is not None
            else None
        )

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only transaction. `snapshot`: every statement sees the same state (SQLite's
        read transactions already do; PostgreSQL needs REPEATABLE READ)."""
        with translate_errors():
            async with self._reader() as session, session.begin():
                if snapshot and not self.is_sqlite:
                    await session.connection(
                        execution_options={"isolation_level": "REPEATABLE READ"}
                    )
                yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction committed when the block ends, rolled back when it raises."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_turn is not None:
                await stack.enter_async_context(self._write_turn)
            with translate_errors():
                async with self._writer() as session, session.begin():
                    yield session

    async def write_sync(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a write transaction, committed before this returns. On SQLite
        it runs in the writer thread, in this process's turn of the one writer, together with
        the other units waiting then (GroupCommit: each in a savepoint, one commit and fsync
        for all); on PostgreSQL through the async engine (each statement still awaits the
        driver; PostgreSQL groups concurrent commits itself)."""
        with translate_errors():
            if self._group is not None:
                return await self._group.run(work)
            for attempt in range(2):
                committing = [False]  # set by _write_unit: a failure from then is not retried
                try:
                    async with self._write_turn or contextlib.nullcontext():
                        return await greenlet_spawn(
                            _write_unit, self.engine.sync_engine, work, committing
                        )
                except exc.DBAPIError as error:
                    if attempt or committing[0] or not error.connection_invalidated:
                        raise
                    log.info("a pooled database connection was dead; running the unit again")
            raise AssertionError("unreachable")

    async def read_sync(self, work: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """`work(connection)` in one read-only transaction: on SQLite in a reader thread of
        the sqlite3 twin (WAL: readers never wait for the writer), on PostgreSQL through the
        async engine. `work` must not write. `snapshot`: as for `read`."""
        engine = self._sync_engine
        with translate_errors():
            if engine is None:
                for attempt in range(2):
                    try:
                        repeatable = snapshot and not self.is_sqlite
                        return await greenlet_spawn(
                            _read_unit, self.engine.sync_engine, work, repeatable
                        )
                    except exc.DBAPIError as error:
                        if attempt or not error.connection_invalidated:
                            raise
                        log.info("a pooled database connection was dead; reading again")
                raise AssertionError("unreachable")

            def transaction() -> T:
                with engine.connect() as conn, conn.begin():
                    return work(conn)

            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._read_threads, transaction)

    @property
    def reads_in_thread(self) -> bool:
        """Whether `read_in_thread` is available (SQLite in a file)."""
        return self._sync_engine is not None

    async def read_in_thread(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a read transaction in a worker thread, through the sqlite3
        twin: for a long read (every camera at start) that should neither hop between the
        event loop and the driver's thread per fetch nor hold the loop while rows become
        columns. SQLite in a file only (`reads_in_thread`)."""
        engine = self._sync_engine
        if engine is None:
            raise RuntimeError("read_in_thread needs SQLite in a file")

        def transaction() -> T:
            with engine.connect() as conn, conn.begin():
                return work(conn)

        with translate_errors():
            return await asyncio.get_running_loop().run_in_executor(None, transaction)

    async def ping(self) -> None:
        with translate_errors():
            async with asyncio.timeout(PING_TIMEOUT_S), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._group is not None:
            await self._group.close()
        await self.engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        self._sync_thread.shutdown(wait=False)
        self._read_threads.shutdown(wait=False)


def _sync_twin(engine: AsyncEngine) -> Engine | None:
    """The async SQLite engine's database through the standard library's sqlite3 driver,
    with the same pragmas and BEGIN handling."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    url = engine.url.set(drivername="sqlite")
    twin = create_sync_engine(url, echo=engine.echo)
    event.listen(twin, "connect", _sqlite_connect)
    event.listen(twin, "begin", _sqlite_begin)
    return twin
