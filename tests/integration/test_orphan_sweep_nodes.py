"""Two nodes sweeping the same PostgreSQL at once: every contact of a gone operator is requeued
exactly once (the conditional updates decide), never twice and never lost."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from contact.bootstrap import build
from contact.domain import events as ev
from contact.domain.model import (
    ChannelKind,
    Contact,
    ContactState,
    Language,
    Operator,
    Presence,
    Priority,
    Role,
    Skills,
    new_id,
)
from contact.persistence.migrate import upgrade
from tests.support import make_settings

CONTACTS = 20


async def test_two_nodes_requeue_each_orphan_once(
    tmp_path: Path, postgres_database_url: str
) -> None:
    await upgrade(postgres_database_url)
    settings = make_settings(tmp_path, database_url=postgres_database_url, orphan_after_s=0)
    nodes = [await build(settings, migrate=False) for _ in range(2)]
    try:
        reclaimed: list[list[str]] = [[], []]
        for node, seen in zip(nodes, reclaimed, strict=True):

            async def collect(event: ev.ContactReclaimed, seen: list[str] = seen) -> None:
                seen.append(event.contact_id)

            node.bus.subscribe(ev.ContactReclaimed, collect)
        db = nodes[0].db
        gone = Operator(
            id=new_id(),
            username="gone",
            display_name="Gone",
            role=Role.OPERATOR,
            skills=Skills(frozenset(Language), frozenset()),
        )
        await db.operators.add(gone, "x")
        await db.operators.set_presence(gone.id, Presence.AWAY)
        now = datetime.now(UTC)
        ids = []
        for _ in range(CONTACTS):
            c = Contact(new_id(), ChannelKind.APP, Priority.CHAT, created_at=now)
            c.transition(ContactState.QUEUED, now)
            await db.contacts.add(c)
            c.transition(ContactState.OFFERED, now)
            c.operator_id = gone.id
            c.transition(ContactState.CONNECTED, now)
            await db.contacts.save(c)
            ids.append(c.id)

        await nodes[0].sweeper.sweep()  # marks them: gone since now (orphan_after_s 0)
        acted = await asyncio.gather(*(n.sweeper.sweep() for n in nodes))
        assert sum(acted) == CONTACTS
        assert sorted(reclaimed[0] + reclaimed[1]) == sorted(ids)  # each once, on one node
        for contact_id in ids:
            contact = await db.contacts.get(contact_id)
            assert contact.state is ContactState.QUEUED and contact.operator_id is None
            assert contact.orphaned_at is None
    finally:
        for node in nodes:
            await node.stop()
