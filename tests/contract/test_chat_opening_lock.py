"""The conversation's opening lock across nodes (contact/channels/chat/opening.py) on SQLite
and PostgreSQL: two nodes' holders of one conversation take turns, other conversations do not
wait, a dead holder's lock frees itself, and nothing is left in the leases table."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from contact.channels.chat.opening import LeasedOpening
from contact.config import DatabaseSettings
from contact.domain.model import ChannelKind
from contact.persistence.leases import SqlLeaseStore
from contact.persistence.migrate import upgrade

TG = ChannelKind.TELEGRAM


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_database_url"
    )
    return url


@pytest.fixture
async def nodes(database: str) -> AsyncIterator[list[SqlLeaseStore]]:
    """Two nodes' lease stores on one database."""
    url = database
    await upgrade(url)
    stores = [SqlLeaseStore.open(DatabaseSettings(url=url)) for _ in range(2)]
    yield stores
    for store in stores:
        await store.close()


async def _rows(store: SqlLeaseStore) -> int:
    async with store._store.read() as session:  # the table's row count, as a DBA would look
        return int((await session.exec(text("SELECT count(*) FROM leases"))).one()[0])  # type: ignore[call-overload]


async def test_two_nodes_take_turns_on_one_conversation_and_leave_no_row(
    nodes: list[SqlLeaseStore],
) -> None:
    a, b = LeasedOpening(nodes[0]), LeasedOpening(nodes[1])
    order: list[str] = []

    async def opens(lock: LeasedOpening, name: str, citizen: str) -> None:
        async with lock.hold(TG, citizen):
            order.append(f"{name} in")
            await asyncio.sleep(0.3)
            order.append(f"{name} out")

    first = asyncio.create_task(opens(a, "a", "555"))
    await asyncio.sleep(0.1)
    await asyncio.gather(opens(b, "b", "555"), opens(b, "other", "777"))
    await first
    assert order.index("a out") < order.index("b in")  # one conversation: one at a time
    assert order.index("other in") < order.index("a out")  # another one does not wait
    assert await _rows(nodes[0]) == 0


async def test_a_dead_holder_s_lock_frees_itself(nodes: list[SqlLeaseStore]) -> None:
    dead = LeasedOpening(nodes[0], lease_s=0.5)
    held = dead.hold(TG, "555")
    await held.__aenter__()  # its node dies holding it: never released
    alive = LeasedOpening(nodes[1], lease_s=0.5)
    async with asyncio.timeout(5):
        async with alive.hold(TG, "555"):
            pass
