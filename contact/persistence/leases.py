"""Leases in the shared database (the `leases` table): one node per job only one may do.

A claim is one statement: an INSERT … ON CONFLICT DO UPDATE … WHERE the lease is the
claimant's, released or expired, RETURNING what it became (SQLite ≥ 3.35 and PostgreSQL both
run it). Expiry is by the database's clock, evaluated inside that statement, so nodes whose
clocks disagree still agree on who holds a lease. The store has a connection pool of its own:
a pool busy with intake never delays a renewal.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import select

from contact.config import DatabaseSettings
from contact.persistence.engine import Store, create_engine
from contact.persistence.tables_leases import LeaseRow
from contact.ports import LeaseState


class _EpochNow(FunctionElement[float]):
    """The database's clock, in seconds since the epoch (sub-millisecond on both backends)."""

    type = Float()
    inherit_cache = True
    name = "epoch_now"


@compiles(_EpochNow, "postgresql")
def _epoch_now_postgresql(_element: Any, _compiler: Any, **_kw: Any) -> str:
    # the transaction's start: one statement per transaction here, so the statement's time
    return "CAST(EXTRACT(EPOCH FROM now()) AS DOUBLE PRECISION)"


@compiles(_EpochNow, "sqlite")
def _epoch_now_sqlite(_element: Any, _compiler: Any, **_kw: Any) -> str:
    # 'now' is fixed for the whole statement; julianday keeps the milliseconds
    return "((julianday('now') - 2440587.5) * 86400.0)"


_T = LeaseRow.__table__  # type: ignore[attr-defined]


class SqlLeaseStore:
    def __init__(self, store: Store, *, owned: bool = False) -> None:
        self._store = store
        self._owned = owned  # its own engine, closed with it (else the node's store)

    @classmethod
    def open(cls, settings: DatabaseSettings) -> SqlLeaseStore:
        """A store with an engine of its own (no I/O until the first claim)."""
        return cls(Store(create_engine(settings)), owned=True)

    async def claim(self, name: str, holder: str, ttl_s: float) -> LeaseState:
        now = _EpochNow()
        insert = sqlite_insert if self._store.is_sqlite else pg_insert
        row = insert(_T).values(
            name=name,
            holder=holder,
            epoch=1,
            acquired_at=now,
            renewed_at=now,
            expires_at=now + ttl_s,
        )
        mine = _T.c.holder == holder
        statement = row.on_conflict_do_update(
            index_elements=[_T.c.name],
            set_={
                "holder": row.excluded.holder,
                "epoch": case((mine, _T.c.epoch), else_=_T.c.epoch + 1),
                "acquired_at": case((mine, _T.c.acquired_at), else_=row.excluded.acquired_at),
                "renewed_at": row.excluded.renewed_at,
                "expires_at": row.excluded.expires_at,
            },
            where=or_(mine, _T.c.holder.is_(None), _T.c.expires_at <= now),
        ).returning(_T.c.holder, _T.c.epoch, _T.c.expires_at - now)
        async with self._store.write() as session:
            claimed: tuple[Any, ...] | None = None
            row_claimed = (await session.exec(statement)).first()
            if row_claimed is not None:
                claimed = tuple(row_claimed)
            else:  # someone else holds it: who, and for how long
                held = select(_T.c.holder, _T.c.epoch, _T.c.expires_at - now)
                claimed = (await session.exec(held.where(_T.c.name == name))).first()
        if claimed is None:  # pragma: no cover - the upsert makes the row
            return LeaseState(name=name, holder=None, epoch=0, expires_in_s=0.0)
        current, epoch, expires_in = claimed
        return LeaseState(
            name=name, holder=current, epoch=int(epoch), expires_in_s=float(expires_in)
        )

    async def release(self, name: str, holder: str) -> None:
        now = _EpochNow()
        async with self._store.write() as session:
            await session.exec(
                update(_T)
                .where(_T.c.name == name, _T.c.holder == holder)
                .values(holder=None, renewed_at=now, expires_at=now)
            )

    async def drop(self, name: str, holder: str) -> None:
        """Release and forget the lease if `holder` has it: for short locks named after many
        things (a citizen's conversation), which must not leave a row each behind."""
        async with self._store.write() as session:
            await session.exec(delete(_T).where(_T.c.name == name, _T.c.holder == holder))

    async def close(self) -> None:
        if self._owned:
            await self._store.close()
