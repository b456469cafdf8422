"""Admins edit the triage lexicon: validated, stored in the database (version +1 per edit),
audited in the hash-chained log, and in use at once on this node and, within a moment, on
every other (a broadcast on `triage:lexicon`, and a version check every `check_s` for a node
that missed it: pub/sub is at-most-once)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from contact.errors import Conflict, ContactError, NotFound
from contact.persistence.triage_lexicon import SqlTriageLexicon
from contact.ports import AuditLog, Broadcast
from contact.triage import Triage
from contact.triage.lexicon import Entry, packaged, unique

log = logging.getLogger(__name__)

TOPIC = "triage:lexicon"
SUBJECT = "triage_lexicon"
RETRIES = 3


class LexiconEditor:
    def __init__(
        self,
        *,
        triage: Triage,
        store: SqlTriageLexicon,
        audit: AuditLog,
        broadcast: Broadcast | None = None,
        clock: Callable[[], float] = time.time,
        check_s: float = 30.0,
    ) -> None:
        self._triage = triage
        self._store = store
        self._audit = audit
        self._broadcast = broadcast
        self._clock = clock
        self._check_s = check_s
        self._task: asyncio.Task[None] | None = None
        if broadcast is not None:
            broadcast.listen(self._heard)

    # --- reading ----------------------------------------------------------------------------

    async def current(self) -> tuple[int, list[Entry]]:
        version, entries = await self._store.load()
        return version, packaged() if entries is None else entries

    async def refresh(self) -> bool:
        """Use the stored lexicon when its version differs from the one in use."""
        if await self._store.version() == self._triage.version:
            return False
        version, entries = await self.current()
        self._triage.use(entries, version)
        return True

    # --- editing ----------------------------------------------------------------------------

    async def replace(self, entries: Iterable[Entry], actor: str) -> int:
        new = unique(entries)
        return await self._edit(lambda _old: new, actor, "triage.lexicon_replace", {})

    async def add(self, entries: Iterable[Entry], actor: str) -> int:
        added = unique(entries)
        return await self._edit(
            lambda old: unique([*old, *added]),
            actor,
            "triage.lexicon_add",
            {"entries": [e.as_json() for e in added]},
        )

    async def remove(self, keys: Iterable[tuple[str, str, str]], actor: str) -> int:
        """Remove entries by (lang, category, term); NotFound when one is not there."""
        wanted = set(keys)

        def without(old: list[Entry]) -> list[Entry]:
            missing = wanted - {e.key for e in old}
            if missing:
                raise NotFound(
                    "no such lexicon entry",
                    error_id="entry_not_found",
                    details={"missing": [list(k) for k in sorted(missing)]},
                )
            return [e for e in old if e.key not in wanted]

        return await self._edit(
            without,
            actor,
            "triage.lexicon_remove",
            {"entries": [list(k) for k in sorted(wanted)]},
        )

    async def _edit(
        self,
        change: Callable[[list[Entry]], list[Entry]],
        actor: str,
        action: str,
        details: Mapping[str, Any],
    ) -> int:
        for _ in range(RETRIES):
            version, old = await self.current()
            new = change(old)
            stored = await self._store.save(
                new, expected=version, by=actor, at=datetime.fromtimestamp(self._clock(), UTC)
            )
            if stored is None:
                continue  # another admin's edit came first: apply ours to theirs
            await self._audit.append(
                actor, action, SUBJECT, {**details, "version": stored, "size": len(new)}
            )
            self._triage.use(new, stored)
            if self._broadcast is not None:
                with contextlib.suppress(ContactError):
                    await self._broadcast.publish(TOPIC, {"version": stored})
            return stored
        raise Conflict("the lexicon changed meanwhile; try again", error_id="lexicon_busy")

    # --- following other nodes' edits -------------------------------------------------------

    async def _heard(self, topic: str, payload: Mapping[str, Any]) -> None:
        if topic == TOPIC and payload.get("version") != self._triage.version:
            await self.refresh()

    async def start(self) -> None:
        try:
            await self.refresh()
        except ContactError:  # the database is not up yet: the version check catches up
            log.warning("triage lexicon not read at start; the packaged one is in use")
        self._task = asyncio.create_task(self._follow(), name="triage-lexicon")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._check_s)
            try:
                await self.refresh()
            except ContactError:
                log.warning("triage lexicon version check failed; will retry")
            except Exception:
                log.exception("triage lexicon version check failed")
