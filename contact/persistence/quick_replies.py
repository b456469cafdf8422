"""Quick replies in the database (tables_workspace.QuickReplyRow): read by every operator's
page, edited by admins (contact/http/workspace.py audits each edit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import col, select

from contact.errors import NotFound
from contact.persistence.engine import Store
from contact.persistence.tables_workspace import QuickReplyRow

MAX_REPLIES = 200  # per language: a page of buttons, not a library


@dataclass(frozen=True, slots=True)
class QuickReply:
    id: str
    language: str
    label: str
    text: str
    position: int


def _reply(row: QuickReplyRow) -> QuickReply:
    return QuickReply(row.id, row.language, row.label, row.text, row.position)


class SqlQuickReplies:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def list(self, language: str | None = None) -> list[QuickReply]:
        statement = select(QuickReplyRow)
        if language is not None:
            statement = statement.where(QuickReplyRow.language == language)
        statement = statement.order_by(
            col(QuickReplyRow.language), col(QuickReplyRow.position), col(QuickReplyRow.id)
        ).limit(2 * MAX_REPLIES)
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [_reply(r) for r in rows]

    async def count(self, language: str) -> int:
        statement = select(func.count()).where(QuickReplyRow.language == language)
        async with self._store.read() as tx:
            return int((await tx.exec(statement)).one())

    async def put(self, reply: QuickReply, *, by: str, at: datetime) -> QuickReply:
        async with self._store.write() as tx:
            row = await tx.get(QuickReplyRow, reply.id)
            if row is None:
                row = QuickReplyRow(
                    id=reply.id,
                    language=reply.language,
                    label=reply.label,
                    text=reply.text,
                    position=reply.position,
                    updated_at=at,
                    updated_by=by,
                )
            row.language, row.label, row.text = reply.language, reply.label, reply.text
            row.position, row.updated_at, row.updated_by = reply.position, at, by
            tx.add(row)
        return reply

    async def get(self, reply_id: str) -> QuickReply:
        async with self._store.read() as tx:
            row = await tx.get(QuickReplyRow, reply_id)
        if row is None:
            raise NotFound("no such quick reply", error_id="quick_reply_not_found")
        return _reply(row)

    async def delete(self, reply_id: str) -> None:
        async with self._store.write() as tx:
            done = await tx.exec(delete(QuickReplyRow).where(col(QuickReplyRow.id) == reply_id))
        if not done.rowcount:
            raise NotFound("no such quick reply", error_id="quick_reply_not_found")
