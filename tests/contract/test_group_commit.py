"""Intake's storage path on both backends: Store.write_sync with group commit on SQLite (units
waiting at a moment share one transaction, each in a savepoint) and the statements compiled
once and run on the driver's cursor (Prepared)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import IntegrityError

from contact.persistence.prepared import Prepared
from contact.persistence.tables import MessageRow

_INSERT_MESSAGE = Prepared(insert(MessageRow.__table__))  # type: ignore[attr-defined]


async def _probe(store: Any) -> None:
    await store.write_sync(
        lambda conn: conn.execute(text("CREATE TABLE probe (n INTEGER PRIMARY KEY)"))
    )


async def _numbers(store: Any) -> list[int]:
    async with store.read() as session:
        return [r[0] for r in (await session.exec(text("SELECT n FROM probe ORDER BY n"))).all()]


async def test_a_failing_unit_is_rolled_back_alone_and_gets_its_own_error(db: Any) -> None:
    store = db._store
    await _probe(store)

    def insert_n(n: int) -> Any:
        def work(conn: Connection) -> int:
            conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})
            if n == 5:
                conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": 100})
                raise ValueError("unit 5 changed its mind")
            return n

        return work

    outcomes = await asyncio.gather(
        *(store.write_sync(insert_n(n)) for n in range(10)), return_exceptions=True
    )
    assert outcomes[:5] == [0, 1, 2, 3, 4] and outcomes[6:] == [6, 7, 8, 9]
    assert isinstance(outcomes[5], ValueError)
    assert await _numbers(store) == [0, 1, 2, 3, 4, 6, 7, 8, 9]  # nothing of unit 5


async def test_prepared_statements_raise_what_core_raises(db: Any) -> None:
    store = db._store
    at = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    values = {
        "id": "m1",
        "contact_id": "no-such-contact",  # the foreign key refuses it
        "direction": "inbound",
        "text": "x",
        "author": None,
        "external_id": None,
        "created_at": at,
    }
    with pytest.raises(IntegrityError):
        await store.write_sync(lambda conn: _INSERT_MESSAGE.run(conn, values))
    naive = {**values, "created_at": datetime(2026, 1, 1)}
    with pytest.raises(ValueError, match="naive datetime refused"):
        await store.write_sync(lambda conn: _INSERT_MESSAGE.run(conn, naive))
    with pytest.raises(KeyError):  # every column named: no silent default
        await store.write_sync(lambda conn: _INSERT_MESSAGE.run(conn, {"id": "m2"}))


async def test_sqlite_units_waiting_together_share_one_transaction(sqlite_url: str) -> None:
    from contact.config import DatabaseSettings
    from contact.persistence.database import SqlDatabase
    from contact.persistence.migrate import upgrade

    await upgrade(sqlite_url)
    db = await SqlDatabase.open(DatabaseSettings(url=sqlite_url))
    try:
        store = db._store
        await _probe(store)

        def insert_n(n: int) -> Any:
            def work(conn: Connection) -> int:
                conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})
                return id(conn.get_transaction())

            return work

        transactions = await asyncio.gather(*(store.write_sync(insert_n(n)) for n in range(20)))
        assert len(set(transactions)) == 1  # one commit, one fsync for the 20

        # in the order submitted, each seeing the writes of those before it
        def insert_after_max(conn: Connection) -> int:
            top = conn.execute(text("SELECT max(n) FROM probe")).scalar_one()
            conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": top + 1})
            return int(top + 1)

        got = await asyncio.gather(*(store.write_sync(insert_after_max) for _ in range(20)))
        assert got == list(range(20, 40))

        # and nobody hears of success before the COMMIT: a commit that fails fails them all
        def breaks_the_commit(conn: Connection) -> None:
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))  # checked only at COMMIT
            conn.execute(
                text(
                    "INSERT INTO messages (id, contact_id, direction, text, created_at) "
                    "VALUES ('m1', 'no-such-contact', 'inbound', 'x', '2026-01-01 00:00:00')"
                )
            )

        outcomes = await asyncio.gather(
            store.write_sync(insert_n(100)),
            store.write_sync(breaks_the_commit),
            store.write_sync(insert_n(101)),
            return_exceptions=True,
        )
        assert all(isinstance(o, IntegrityError) for o in outcomes), outcomes
        assert await _numbers(store) == list(range(40))
    finally:
        await db.close()


async def test_prepared_rows_store_times_as_the_orm_does(db: Any) -> None:
    """A time written by the prepared path reads back and compares like one the ORM wrote: on
    SQLite both are the dialect's text form (a whole second without its `.000000` would sort
    before the same instant written by the ORM and fall out of half-open periods)."""
    from contact.domain.model import ChannelKind, Contact, ContactState, Priority, new_id

    at = datetime.fromisoformat("2026-12-07T03:00:00+00:00")
    contact = Contact(
        id=new_id(),
        channel=ChannelKind.VOICE,
        priority=Priority.VOICE,
        created_at=at,
        state=ContactState.QUEUED,
        queued_at=at,
    )
    await db.contacts.add(contact)  # the prepared path
    async with db._store.read() as session:
        raw = (
            await session.exec(
                text("SELECT count(*) FROM contacts WHERE created_at >= :at AND id = :id"),
                params={"at": at, "id": contact.id},
            )
        ).one()[0]
    assert raw == 1
    assert (await db.contacts.get(contact.id)).created_at == at
