"""Operator login sessions (only the hash of the cookie token is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from contact.domain.model import Role
from contact.errors import Conflict, NotFound
from contact.persistence.engine import Store
from contact.persistence.prepared import Prepared
from contact.persistence.tables import OperatorRow, SessionRow
from contact.ports import Session


class SqlSessionRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(self, session: Session) -> None:
        row = SessionRow(
            token_hash=session.token_hash,
            operator_id=session.operator_id,
            role=session.role.value,
            csrf_token=session.csrf_token,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
        )
        try:
            async with self._store.write() as tx:
                tx.add(row)
        except IntegrityError as error:
            async with self._store.read() as tx:
                if await tx.get(OperatorRow, session.operator_id) is None:
                    raise NotFound(
                        f"operator {session.operator_id} not found",
                        details={"operator_id": session.operator_id},
                    ) from error
            raise Conflict("the session already exists") from error

    async def get(self, token_hash: str) -> Session | None:
        # before every request of a logged-in page: one hop on the driver's cursor
        rows = await self._store.read_sync(
            lambda conn: _SESSION.records(conn, {"token": token_hash})
        )
        return _session(rows[0]) if rows else None

    async def for_operator(self, operator_id: str) -> list[Session]:
        """The operator's stored sessions, expired ones included (expiry is the reader's)."""
        statement = select(SessionRow).where(col(SessionRow.operator_id) == operator_id)
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [_session(row) for row in rows]

    async def touch(self, token_hash: str, at: datetime) -> None:
        """Record activity; a session deleted meanwhile (logout elsewhere) stays deleted."""
        async with self._store.write() as tx:
            await tx.exec(
                update(SessionRow)
                .where(col(SessionRow.token_hash) == token_hash)
                .values(last_seen_at=at)
            )

    async def delete(self, token_hash: str) -> None:
        async with self._store.write() as tx:
            await tx.exec(delete(SessionRow).where(col(SessionRow.token_hash) == token_hash))

    async def delete_for_operator(self, operator_id: str) -> None:
        async with self._store.write() as tx:
            await tx.exec(delete(SessionRow).where(col(SessionRow.operator_id) == operator_id))


_SESSIONS = SessionRow.__table__  # type: ignore[attr-defined]
_SESSION = Prepared(sa_select(_SESSIONS).where(_SESSIONS.c.token_hash == bindparam("token")))


def _session(row: SessionRow) -> Session:
    return Session(
        token_hash=row.token_hash,
        operator_id=row.operator_id,
        role=Role(row.role),
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
    )
