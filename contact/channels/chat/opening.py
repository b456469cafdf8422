"""One new contact per conversation, across nodes.

A conversation's items are handled in order on one node (the inbox's lanes), but two nodes can
each hold items of the same citizen: the messenger's retries of webhooks a node answered 503
(the database cut, a node killed) reach whichever node, and a retried item is handled where it
lands. Two such items, each finding no open contact, opened two contacts for one citizen.
Opening a contact is therefore done under the conversation's lock: the second finds the first
one's contact when it gets the lock and joins it.

On one node (the embedded defaults) the lock is in-process. Over PostgreSQL it is a short
lease in the database every node shares (contact/persistence/leases.py), named after a hash of
the conversation (no citizen id in an infrastructure table), dropped when released so that a
city's citizens leave no row behind; a holder that dies leaves it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

from contact.bus import KeyedLocks
from contact.domain.model import ChannelKind
from contact.persistence.leases import SqlLeaseStore

log = logging.getLogger(__name__)

LEASE_S = 15.0  # longer than opening a contact takes; a dead holder's lock is free after it
RETRY_S = 0.05


def _name(channel: ChannelKind, citizen: str) -> str:
    digest = hashlib.sha256(f"{channel.value}:{citizen}".encode()).hexdigest()[:32]
    return f"chat-open:{digest}"


class LocalOpening:
    """One node: an asyncio lock per conversation."""

    def __init__(self) -> None:
        self._locks = KeyedLocks()

    @contextlib.asynccontextmanager
    async def hold(self, channel: ChannelKind, citizen: str) -> AsyncIterator[None]:
        async with self._locks.hold(_name(channel, citizen)):
            yield


class LeasedOpening:
    """Several nodes: a lease per conversation in the shared database."""

    def __init__(self, leases: SqlLeaseStore, *, lease_s: float = LEASE_S) -> None:
        self._leases = leases
        self._lease_s = lease_s
        self._local = LocalOpening()  # this node's own contenders wait here, not in the database

    @contextlib.asynccontextmanager
    async def hold(self, channel: ChannelKind, citizen: str) -> AsyncIterator[None]:
        async with self._local.hold(channel, citizen):
            name, me = _name(channel, citizen), uuid.uuid4().hex
            held = await self._claim(name, me)
            try:
                yield
            finally:
                if held:
                    with contextlib.suppress(Exception):  # it expires all the same
                        await self._leases.drop(name, me)

    async def _claim(self, name: str, me: str) -> bool:
        """Wait for the lease (a holder that died frees it after LEASE_S). Past that, the
        contact is opened without it, logged: a stuck lock must not hold a citizen's message."""
        deadline = time.monotonic() + self._lease_s + 1.0
        while True:
            state = await self._leases.claim(name, me, self._lease_s)
            if state.holder == me:
                return True
            if time.monotonic() >= deadline:
                log.warning("a chat contact opened without its conversation's lock (held on)")
                return False
            await asyncio.sleep(RETRY_S)
