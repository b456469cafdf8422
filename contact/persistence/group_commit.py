"""Group commit for SQLite: the synchronous transactions waiting at a moment share one commit.

With WAL and synchronous=FULL every commit is an fsync (4 ms at the median on the project's
machine, 10-25 ms with neighbours). One commit per intake caps the single writer at a few
hundred intakes per second on a quiet disk and far fewer on a busy one, and every intake waits
for the fsyncs of all those before it. Here each unit of work runs in a SAVEPOINT of its own
inside one transaction: a unit that raises is rolled back alone and gets its error, the others
commit together, and no caller hears of success before the COMMIT (its fsync) has returned.
Units run in the order they were submitted, on one connection, so a later one sees an earlier
one's writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

T = TypeVar("T")
Work = Callable[[Connection], Any]

MAX_BATCH = 256  # units in one transaction: bounds the wait of the last one behind the others


class GroupCommit:
    def __init__(
        self,
        engine: Engine,
        thread: ThreadPoolExecutor,
        turn: asyncio.Lock,
        execution_options: dict[str, Any],
    ) -> None:
        self._engine = engine
        self._thread = thread
        self._turn = turn  # the process's one writer turn, shared with the async writers
        self._options = execution_options
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # the writer thread's connection, kept between transactions: a pool checkout and
        # check-in (with its ROLLBACK) per transaction was 3.5 % of the interpreter at 50
        # reports/s. Only the writer thread touches it.
        self._conn: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)`, committed (with whatever else waits now) before this returns;
        its own exception when it raises, the commit's when the commit fails."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, future))
        if self._flusher is None or self._flusher.done():
            # a fresh context: the flusher serves every caller, not the first one's task
            self._flusher = asyncio.create_task(self._flush(), context=contextvars.Context())
        return await future

    async def close(self) -> None:
        if self._flusher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await asyncio.get_running_loop().run_in_executor(self._thread, self._release)

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.invalidated:
            self._release()
            self._conn = self._engine.connect()
            self._conn.execution_options(**self._options)
        return self._conn

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            async with self._turn:
                # a caller that gave up before its turn came (cancelled) is not written
                batch = [(w, f) for w, f in self._waiting[:MAX_BATCH] if not f.done()]
                del self._waiting[:MAX_BATCH]
                if not batch:
                    continue
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._transaction, batch)
                except BaseException as error:  # the commit (or the connection) failed: all did
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():  # its caller gave up waiting; the work is committed anyway
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _transaction(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        conn = self._connection()
        try:
            with conn.begin():
                if len(batch) == 1:  # no savepoint needed: its failure rolls back only itself
                    outcomes.append((True, batch[0][0](conn)))
                    return outcomes
                for work, _ in batch:
                    try:
                        with conn.begin_nested():
                            outcomes.append((True, work(conn)))
                    except Exception as error:
                        outcomes.append((False, error))
        except BaseException:
            self._release()  # after a failed transaction the next one starts on a fresh one
            raise
        return outcomes
