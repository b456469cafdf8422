"""Call recordings: every answered call is recorded by the dialplan (MixMonitor,
[contact-record], from the moment an operator answers to the end, holds and transfers
included; with CONTACT_RECORD_WAITING = yes from the arrival) into
<recording dir>/<UTC date>/<uniqueid>.wav. contact links the file to the contact when the call
ends (one row, measured), serves it to the contact's operator and supervisors (audited) and
purges it after the retention period (`contact retention purge`, audited)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contact.bus import MessageBus
from contact.config import AsteriskSettings
from contact.domain import events as ev
from contact.errors import Conflict, NotFound, Unavailable
from contact.ports import AuditLog, CallRepository, Recording

log = logging.getLogger(__name__)

WAV_HEADER = 44
WAV_BYTES_PER_S = 16000  # MixMonitor's .wav: 8 kHz, 16-bit, mono
SETTLE_S = 1.5  # MixMonitor closes the file shortly after the hangup
# a recording's row waits this long for a database that is away (a cut, a failover): without
# it the file would be found by nobody and never purged
STORE_PATIENCE_S = 600.0
STORE_RETRY_MAX_S = 10.0


class RecordingService:
    def __init__(
        self,
        *,
        settings: AsteriskSettings,
        calls: CallRepository,
        audit: AuditLog,
        bus: MessageBus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._calls = calls
        self._audit = audit
        self._bus = bus
        self._clock = clock
        # the rows on their way: this service's own tasks, not the voice term's, so a node
        # that stops driving Asterisk (its lease lost in a database cut) still stores them
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def directory(self) -> Path:
        return self._settings.effective_recording_dir.expanduser()

    def file(self, recording: Recording) -> Path:
        """The recording's file, never outside the recording directory."""
        base = self.directory.resolve()
        path = (base / recording.path).resolve()
        if not path.is_relative_to(base):
            raise NotFound("no such recording", error_id="recording_not_found")
        return path

    def track(self, recording: Recording) -> None:
        """The call ended: its recording is measured and stored in the background (closed),
        on until it is stored or stop()."""
        # a fresh context: started inside a bus handler, the task must not inherit that
        # handler's queue of pending events (RecordingStored would be lost with it)
        task = asyncio.create_task(
            self.closed(recording), name="recording-closed", context=contextvars.Context()
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def stop(self) -> None:
        """The node stops: rows still waiting for the database are logged, by file."""
        for task in list(self._pending):
            task.cancel()
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def closed(self, recording: Recording) -> None:
        """The call ended: wait for MixMonitor to close the file, then record its size."""
        path = self.file(recording)
        size = -1
        for _ in range(3):  # MixMonitor writes the last frames and closes within ~100 ms
            await asyncio.sleep(SETTLE_S / 3)
            try:
                current = path.stat().st_size
            except OSError:
                continue
            if current == size:
                break
            size = current
        recording.size_bytes = max(size, 0)
        if recording.ended_at is None:
            recording.ended_at = datetime.fromtimestamp(self._clock(), UTC)
        if not await self._stored(recording):
            return
        if self._bus is not None:
            await self._bus.publish(
                ev.RecordingStored(
                    contact_id=recording.contact_id,
                    recording_id=recording.id,
                    size_bytes=recording.size_bytes,
                    duration_s=round(
                        max(0, recording.size_bytes - WAV_HEADER) / WAV_BYTES_PER_S, 1
                    ),
                )
            )

    async def _stored(self, recording: Recording) -> bool:
        """One write, once measured; waited for while the database is away. False when it
        was stored before, or the database stayed away past STORE_PATIENCE_S (logged)."""
        try:
            return await self._store(recording)
        except asyncio.CancelledError:
            log.error(
                "a recording's file is not linked to its contact: the node stopped before the "
                "database stored it (file %s)",
                recording.path,
            )
            raise

    async def _store(self, recording: Recording) -> bool:
        delay, waited = 0.5, 0.0
        while True:
            try:
                await self._calls.add_recording(recording)
                if waited:
                    log.info("a recording stored after %.1f s without the database", waited)
                return True
            except Conflict:
                return False
            except Unavailable:
                if waited >= STORE_PATIENCE_S:
                    log.error(
                        "a recording's file is not linked to its contact: the database stayed "
                        "away for %.0f s (file %s)",
                        waited,
                        recording.path,
                    )
                    return False
                if not waited:
                    log.warning("a recording waits for the database to be stored")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, STORE_RETRY_MAX_S)

    async def purge(self, *, days: int | None = None, dry_run: bool = False) -> list[Recording]:
        """Delete the files of recordings older than the retention period; the rows stay (with
        purged_at) so the audit trail and the contact still say a recording existed."""
        keep = days if days is not None else self._settings.retention_days
        now = datetime.fromtimestamp(self._clock(), UTC)
        expired = await self._calls.recordings_before(now - timedelta(days=keep))
        if dry_run:
            return expired
        for recording in expired:
            try:
                path = self.file(recording)
            except NotFound:
                path = None
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            recording.purged_at = now
            await self._calls.save_recording(recording)
            await self._audit.append(
                "system:retention",
                "recording.purge",
                recording.contact_id,
                {
                    "recording_id": recording.id,
                    "started_at": recording.started_at.isoformat(),
                    "retention_days": keep,
                },
            )
        strays = self._sweep(now - timedelta(days=keep))
        if strays:  # files whose row was never written (a node died as its call ended)
            await self._audit.append(
                "system:retention",
                "recording.purge_files",
                None,
                {"files": strays, "retention_days": keep},
            )
        if expired or strays:
            log.info(
                "retention: %d recordings and %d stray files purged (older than %d days)",
                len(expired),
                strays,
                keep,
            )
        return expired

    def _sweep(self, before: datetime) -> int:
        base = self.directory
        if not base.is_dir():
            return 0
        count = 0
        for path in base.glob("*/*.wav"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < before.timestamp():
                    path.unlink()
                    count += 1
        return count
