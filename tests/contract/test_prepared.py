"""Prepared statements on both backends: rows come back as a Core result would give them
(aware UTC datetimes from SQLite's text too), a name bound in two places takes one value, and
event listeners see each statement as the driver gets it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, event, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import col

from contact.dispatch.sql.tables import IncidentDispatchRow
from contact.persistence.prepared import Prepared

AT = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
_INSERT = Prepared(insert(IncidentDispatchRow.__table__))  # type: ignore[attr-defined]
_SINCE = Prepared(
    sa_select(  # type: ignore[call-overload]
        IncidentDispatchRow.incident_id,
        IncidentDispatchRow.last_contact_at,
        IncidentDispatchRow.outside_districts,
    )
    .where(col(IncidentDispatchRow.last_contact_at) >= bindparam("p_since"))
    .order_by(col(IncidentDispatchRow.incident_id))
)


def _touch(greatest: Any) -> Prepared:
    at = bindparam("p_at", type_=IncidentDispatchRow.__table__.c.updated_at.type)  # type: ignore[attr-defined]
    return Prepared(
        update(IncidentDispatchRow)
        .where(col(IncidentDispatchRow.incident_id) == bindparam("p_id"))
        .values(
            last_contact_at=greatest(col(IncidentDispatchRow.last_contact_at), at), updated_at=at
        )
    )


_TOUCH = {"sqlite": _touch(func.max), "postgresql": _touch(func.greatest)}


def _row(incident_id: str, at: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "district_id": None,
        "department": None,
        "outside_districts": incident_id == "b",
        "last_contact_at": at,
        "updated_at": at,
        "closed_at": None,
        "merged_into": None,
    }


async def test_rows_are_processed_and_a_twice_bound_name_takes_one_value(db: Any) -> None:
    store = db._store

    def work(conn: Connection) -> list[tuple[Any, ...]]:
        _INSERT.run(conn, _row("a", AT))
        _INSERT.run(conn, _row("b", AT + timedelta(minutes=5)))
        touch = _TOUCH[conn.dialect.name]
        touch.run(conn, {"p_id": "a", "p_at": AT + timedelta(minutes=10)})
        touch.run(conn, {"p_id": "b", "p_at": AT})  # never steps back: greatest of the two
        return _SINCE.rows(conn, {"p_since": AT + timedelta(minutes=1)})

    rows = await store.write_sync(work)
    assert rows == [
        ("a", AT + timedelta(minutes=10), False),
        ("b", AT + timedelta(minutes=5), True),
    ]
    assert all(row[1].tzinfo is not None for row in rows)
    assert (
        await store.read_sync(lambda conn: _SINCE.rows(conn, {"p_since": AT + timedelta(hours=1)}))
        == []
    )


async def test_listeners_see_prepared_statements(db: Any) -> None:
    store = db._store
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    # the twin engine runs write_sync on SQLite; the async engine's sync side on PostgreSQL
    engine = store._sync_engine or store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await store.write_sync(lambda conn: _SINCE.rows(conn, {"p_since": AT}))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any("incident_dispatch" in statement for statement in seen)
