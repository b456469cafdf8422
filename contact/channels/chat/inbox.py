"""The durable inbox of the chat channels (Telegram, WhatsApp): stored first, answered after.

A webhook (or the Telegram poller) hands its items to `Inbox.put`, which returns once they are
committed: the items of every caller waiting at that moment go into one transaction (group
commit: one fsync for many messages). Only then does the messenger get its 200. Duplicates
(the messenger's own id seen before) are stored once.

An `InboxProcessor` per channel then turns each stored item into the contact it belongs to.
Items of one lane (a conversation) are handled one at a time in arrival order; lanes run
concurrently. An item is marked handled only after its effects are committed; a restart (or a
kill -9) handles every item still unmarked, and handling is idempotent (contacts and messages
dedupe on the messenger's ids), so an item acknowledged to the messenger always reaches the
queue. A database outage is waited out (an item that keeps finding the database "unavailable"
while other items are handled is no outage but a poison item). A poison item is retried a few
times, with its attempts counted in the row, and then recorded as `failed` and passed over, so
the citizen's later messages go on: counted in `contact_inbox_failed_total`, logged as an
error (its seq and the error's type, never the citizen's text), listed by
`contact inbox failed` and handed back to the processors by `contact inbox retry SEQ`.

A messenger's retry of an item stored already is a duplicate. When that item is still
unhandled, the node that took the retry hands it to its own processor at once: the commit's
answer may have been lost (the connection cut during COMMIT: the first node answered 503 and
never handed the item on), and the retry may reach another node, so nobody else is sure to
handle it before the orphan sweep (minutes). A node handling an item it already has is a
no-op, and two nodes handling the same item store its effects once (handling is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from contact.channels.chat.ports import ChatStore, InboxDone, InboxItem
from contact.domain.model import ChannelKind
from contact.errors import Unavailable

log = logging.getLogger(__name__)

MAX_BATCH = 500  # items per group commit
FAILED_AFTER = 3  # attempts at an item failing with an unexpected error
SWEEP_S = 60.0  # how often items left behind (by a node that died) are looked for
ORPHAN_AFTER_S = 300.0  # an unhandled item this old is taken over by any node


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str  # contact | message | location | language | start | status | ignored …
    contact_id: str | None = None


Handler = Callable[[InboxItem], Awaitable[Outcome]]


class RetryLater(Exception):
    """The handler could not finish now (a messenger's file server is away): try the item
    again later; it counts as an attempt, so the handler can settle for less on a late one."""


class WriteGate:
    """Orders this node's chat writes so that the inbox's commits go first.

    SQLite has one writer at a time, and a writer finding the database locked waits in
    SQLite's busy handler, which sleeps 1, 2, 5, 10 … 100 ms between tries: a webhook waiting
    there behind the handling of earlier messages answers late. So the handling of stored
    items (background) takes the gate for its database work, and the inbox's group commit
    (urgent) goes ahead of any background work that has not started yet. On PostgreSQL it
    costs nothing worth measuring.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._urgent = 0
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        self._urgent += 1
        self._no_urgent.clear()
        try:
            async with self._lock:
                yield
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._no_urgent.set()

    @contextlib.asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        while True:
            await self._no_urgent.wait()
            await self._lock.acquire()
            if not self._urgent:
                break
            self._lock.release()  # an urgent writer arrived meanwhile: it goes first
            await asyncio.sleep(0)
        try:
            yield
        finally:
            self._lock.release()


class Inbox:
    """Group-committing writer in front of ChatStore.inbox_add, feeding the processors."""

    def __init__(
        self,
        store: ChatStore,
        *,
        clock: Callable[[], float] = time.time,
        gate: WriteGate | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.gate = gate or WriteGate()
        self._waiting: list[tuple[InboxItem, asyncio.Future[int | None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._processors: dict[ChannelKind, InboxProcessor] = {}

    def attach(self, processor: InboxProcessor) -> None:
        self._processors[processor.channel] = processor

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def put(self, items: Sequence[InboxItem]) -> list[bool]:
        """Store the items durably; True for each one stored now, False for a duplicate.
        Raises Unavailable when the database cannot take them (the messenger retries)."""
        if self._task is None:
            raise Unavailable("the chat inbox is not running", error_id="inbox_stopped")
        loop = asyncio.get_running_loop()
        futures = []
        for item in items:
            future: asyncio.Future[int | None] = loop.create_future()
            self._waiting.append((item, future))
            futures.append(future)
        self._wake.set()
        # shielded: a caller that goes away (the messenger hung up) does not undo the commit
        seqs = await asyncio.shield(asyncio.gather(*futures))
        return [seq is not None for seq in seqs]

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="chat-inbox")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._waiting:
            if not future.done():
                future.set_exception(Unavailable("the server is stopping", error_id="stopping"))
        self._waiting.clear()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[InboxItem, asyncio.Future[int | None]]]) -> None:
        try:
            async with self.gate.urgent():
                seqs = await self._store.inbox_add([item for item, _ in batch])
        except Exception as error:
            if not isinstance(error, Unavailable):
                log.exception("storing %d chat items failed", len(batch))
                error = Unavailable("the inbox could not store the message", error_id="inbox")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        retried: list[InboxItem] = []
        for (item, _), seq in zip(batch, seqs, strict=True):
            if seq is None:
                retried.append(item)
                continue
            processor = self._processors.get(item.channel)
            if processor is not None:
                processor.submit(replace(item, seq=seq))
        if retried:
            await self._hand_on_retried(retried)
        for (_, future), seq in zip(batch, seqs, strict=True):
            if not future.done():
                future.set_result(seq)

    async def _hand_on_retried(self, items: list[InboxItem]) -> None:
        """Duplicates: those still unhandled go to this node's processor now (see above)."""
        by_channel: dict[ChannelKind, list[str]] = {}
        for item in items:
            by_channel.setdefault(item.channel, []).append(item.external_id)
        for channel, ids in by_channel.items():
            processor = self._processors.get(channel)
            if processor is None:
                continue
            try:
                pending = await self._store.inbox_pending(channel, external_ids=ids)
            except Exception as error:  # the orphan sweep, or the next retry, looks again
                log.warning("chat inbox: retried items not looked up (%s)", type(error).__name__)
                continue
            fresh = [found for found in pending if processor.submit(found)]
            if fresh:
                log.info("chat inbox: %d retried %s items handled here", len(fresh), channel)


class InboxProcessor:
    """Handles one channel's stored items: in order per lane, lanes concurrently."""

    def __init__(
        self,
        channel: ChannelKind,
        store: ChatStore,
        handler: Handler,
        *,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        retry_s: float = 0.5,
        gate: WriteGate | None = None,
        on_failed: Callable[[ChannelKind], None] | None = None,
    ) -> None:
        self.channel = channel
        self._on_failed = on_failed
        self._store = store
        self._gate = gate or WriteGate()
        self._handler = handler
        self._clock = clock
        self._retry_s = retry_s
        self._slots = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, deque[InboxItem]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._known: set[int] = set()  # seqs submitted and not yet marked handled in the store
        self._done: list[InboxDone] = []
        self._done_wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._background: list[asyncio.Task[None]] = []
        self._succeeded_at = 0.0  # monotonic time the handler last finished an item
        self.handled = 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        for item in await self._store.inbox_pending(self.channel):
            self.submit(item)
        self._background = [
            asyncio.create_task(self._mark_done(), name=f"{self.channel}-inbox-done"),
            asyncio.create_task(self._sweep(), name=f"{self.channel}-inbox-sweep"),
        ]

    async def stop(self) -> None:
        for task in (*self._tasks, *self._background):
            task.cancel()
        for task in (*self._tasks, *self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._background = []
        with contextlib.suppress(Exception):
            await self._flush_done()

    async def drained(self, within_s: float) -> None:
        """Until every submitted item is handled (for tests and benchmarks)."""
        async with asyncio.timeout(within_s):
            await self._idle.wait()

    # --- work -----------------------------------------------------------------------------

    def submit(self, item: InboxItem) -> bool:
        """Queue the item in its lane; False when this processor has it already."""
        assert item.seq is not None
        if item.seq in self._known:
            return False
        self._known.add(item.seq)
        self._idle.clear()
        lane = self._lanes.get(item.lane)
        if lane is not None:
            lane.append(item)
            return True
        self._lanes[item.lane] = deque([item])
        task = asyncio.create_task(
            self._run_lane(item.lane), name=f"{self.channel}-lane", context=contextvars.Context()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run_lane(self, lane: str) -> None:
        items = self._lanes[lane]
        try:
            while items:
                item = items[0]
                outcome = await self._handle(item)
                items.popleft()
                self._finished(item, outcome)
        finally:
            if not items:
                del self._lanes[lane]
            if not self._lanes:
                self._idle.set()

    async def _handle(self, item: InboxItem) -> Outcome:
        attempts = item.attempts
        delay = self._retry_s
        last_wait: float | None = None  # when this item last found the database unavailable
        while True:
            try:
                async with self._slots:  # a slot per call, not per retry: waits block no lane
                    outcome = await self._handler(replace(item, attempts=attempts))
                self._succeeded_at = time.monotonic()
                return outcome
            except asyncio.CancelledError:
                raise
            except Unavailable as error:
                # the database is away: wait, never drop. But when other items were handled
                # since this one last found it away, the database is there and this item is
                # what fails (a statement refused as "operational" for its content): that is
                # a failed attempt, or the item would hold its conversation forever
                worked_meanwhile = last_wait is not None and self._succeeded_at > last_wait
                last_wait = time.monotonic()
                if worked_meanwhile:
                    attempts = await self._failed_attempt(item, attempts, error)
                else:
                    log.warning("%s item waits: %s", self.channel, error.message)
            except RetryLater as error:
                log.warning("%s item %s retried: %s", self.channel, item.seq, error)
                attempts += 1
            except Exception as error:
                attempts = await self._failed_attempt(item, attempts, error)
            if attempts >= FAILED_AFTER:
                log.error(
                    "%s inbox item %s failed %d times: passed over, kept in chat_inbox as "
                    "failed (contact inbox failed / contact inbox retry %s)",
                    self.channel,
                    item.seq,
                    attempts,
                    item.seq,
                )
                if self._on_failed is not None:
                    self._on_failed(self.channel)
                return Outcome("failed")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _failed_attempt(self, item: InboxItem, attempts: int, error: Exception) -> int:
        """Log and count one failed attempt (in the row too, so that a restart goes on
        counting); the new count."""
        # the type only: a database error's text carries the citizen's words
        log.error(
            "%s inbox item %s failed (attempt %d): %s",
            self.channel,
            item.seq,
            attempts + 1,
            type(error).__name__,
        )
        log.debug("%s inbox item %s failed", self.channel, item.seq, exc_info=error)
        attempts += 1
        with contextlib.suppress(Exception):
            assert item.seq is not None
            attempts = max(attempts, await self._store.inbox_attempted(item.seq))
        return attempts

    def _finished(self, item: InboxItem, outcome: Outcome) -> None:
        assert item.seq is not None
        self.handled += 1
        self._done.append(InboxDone(item.seq, outcome.outcome, outcome.contact_id))
        self._done_wake.set()

    async def _mark_done(self) -> None:
        """Marks handled items in batches (a crash in between only means handling them again,
        which is idempotent)."""
        while True:
            await self._done_wake.wait()
            self._done_wake.clear()
            await asyncio.sleep(0.02)  # gather a batch
            try:
                await self._flush_done()
            except Unavailable:
                await asyncio.sleep(1.0)
                self._done_wake.set()

    async def _flush_done(self) -> None:
        done, self._done = self._done, []
        if not done:
            return
        try:
            async with self._gate.background():
                await self._store.inbox_done(done, self._now())
        except BaseException:
            self._done[:0] = done
            raise
        self._known.difference_update(d.seq for d in done)

    async def _sweep(self) -> None:
        """Items that a node which died left behind (several nodes on one database)."""
        while True:
            await asyncio.sleep(SWEEP_S)
            cutoff = self._now() - timedelta(seconds=ORPHAN_AFTER_S)
            try:
                for item in await self._store.inbox_pending(self.channel, received_before=cutoff):
                    self.submit(item)
            except Unavailable:
                continue
