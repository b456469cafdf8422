"""The lease store's contract on SQLite, PostgreSQL (by the database's clock) and
MemoryLeaseStore (the unit tests' store, by this process's clock) alike: claim acquires, renews,
refuses a held lease, takes an expired one with a new epoch, and release frees it at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from contact.config import DatabaseSettings
from contact.persistence.leases import SqlLeaseStore
from contact.persistence.migrate import upgrade
from contact.ports import LeaseStore
from contact.telephony.leadership import MemoryLeaseStore

LEASE = "telephony:127.0.0.1:5038"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The database URL of this test's own (None: MemoryLeaseStore)."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_database_url"
    )
    return url


@pytest.fixture
async def leases(backend: str | None) -> AsyncIterator[LeaseStore]:
    if backend is None:
        yield MemoryLeaseStore()
        return
    await upgrade(backend)
    store = SqlLeaseStore.open(DatabaseSettings(url=backend))
    yield store
    await store.close()


async def test_claim_acquires_renews_refuses_expires_and_releases(leases: LeaseStore) -> None:
    first = await leases.claim(LEASE, "a", 0.6)
    assert (first.holder, first.epoch) == ("a", 1)
    assert first.expires_in_s == pytest.approx(0.6, abs=0.05)
    other = await leases.claim(LEASE, "b", 0.6)  # held: refused, and told by whom
    assert (other.holder, other.epoch) == ("a", 1) and 0 < other.expires_in_s <= 0.6
    await asyncio.sleep(0.3)
    renewed = await leases.claim(LEASE, "a", 0.6)  # renewed from now, same term
    assert (renewed.holder, renewed.epoch) == ("a", 1)
    assert renewed.expires_in_s == pytest.approx(0.6, abs=0.05)
    await asyncio.sleep(0.7)
    taken = await leases.claim(LEASE, "b", 0.6)  # expired: a new term for b
    assert (taken.holder, taken.epoch) == ("b", 2)
    late = await leases.claim(LEASE, "a", 0.6)
    assert (late.holder, late.epoch) == ("b", 2)
    await leases.release(LEASE, "a")  # not a's: nothing changes
    assert (await leases.claim(LEASE, "c", 0.6)).holder == "b"
    await leases.release(LEASE, "b")
    after = await leases.claim(LEASE, "c", 0.6)  # released: at once, no waiting
    assert (after.holder, after.epoch) == ("c", 3)
    assert (await leases.claim("telephony:10.0.0.2:5038", "a", 0.6)).epoch == 1  # its own
