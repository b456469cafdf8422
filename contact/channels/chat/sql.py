"""The chat channels' store: the durable inbox, conversations and outbound deliveries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from contact.channels.chat.ports import Conversation, Delivery, InboxDone, InboxFailure, InboxItem
from contact.domain.model import ChannelKind, Language
from contact.persistence.engine import Store
from contact.persistence.tables_channels import ChatConversationRow, ChatDeliveryRow, ChatInboxRow


class SqlChatStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _insert(self, table: Any) -> Any:
        return (sqlite_insert if self._store.is_sqlite else pg_insert)(table)

    # --- inbox ------------------------------------------------------------------------------

    async def inbox_add(self, items: Sequence[InboxItem]) -> list[int | None]:
        if not items:
            return []
        rows = [
            {
                "channel": item.channel.value,
                "external_id": item.external_id,
                "lane": item.lane,
                "payload": item.payload,
                "received_at": item.received_at,
                "attempts": 0,
            }
            for item in items
        ]
        statement = (
            self._insert(ChatInboxRow)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
            .returning(
                col(ChatInboxRow.seq), col(ChatInboxRow.channel), col(ChatInboxRow.external_id)
            )
        )
        async with self._store.write() as session:
            stored = (await session.exec(statement)).all()
        # one batch may carry the same id twice (a messenger's own duplicate): the first wins
        seqs = {(channel, external_id): seq for seq, channel, external_id in stored}
        result: list[int | None] = []
        for item in items:
            result.append(seqs.pop((item.channel.value, item.external_id), None))
        return result

    async def inbox_pending(
        self,
        channel: ChannelKind,
        *,
        received_before: datetime | None = None,
        external_ids: Sequence[str] | None = None,
    ) -> list[InboxItem]:
        statement = select(ChatInboxRow).where(
            col(ChatInboxRow.processed_at).is_(None), ChatInboxRow.channel == channel.value
        )
        if received_before is not None:
            statement = statement.where(col(ChatInboxRow.received_at) < received_before)
        if external_ids is not None:
            statement = statement.where(col(ChatInboxRow.external_id).in_(list(external_ids)))
        async with self._store.read() as session:
            rows = (await session.exec(statement.order_by(col(ChatInboxRow.seq)))).all()
        return [_to_item(row) for row in rows]

    async def inbox_done(self, done: Sequence[InboxDone], at: datetime) -> None:
        if not done:
            return
        table = ChatInboxRow.__table__  # type: ignore[attr-defined]
        statement = (
            update(table)
            .where(table.c.seq == bindparam("done_seq"))
            .values(
                processed_at=bindparam("done_at"),
                outcome=bindparam("done_outcome"),
                contact_id=bindparam("done_contact"),
            )
        )
        rows = [
            {
                "done_seq": d.seq,
                "done_at": at,
                "done_outcome": d.outcome,
                "done_contact": d.contact_id,
            }
            for d in done
        ]
        async with self._store.write() as session:
            connection = await session.connection()
            await connection.execute(statement, rows)  # one executemany

    async def inbox_attempted(self, seq: int) -> int:
        async with self._store.write() as session:
            await session.exec(
                update(ChatInboxRow)
                .where(col(ChatInboxRow.seq) == seq)
                .values(attempts=ChatInboxRow.attempts + 1)
            )
            row = await session.get(ChatInboxRow, seq)
        return 0 if row is None else row.attempts

    async def inbox_failed(self, limit: int = 100) -> list[InboxFailure]:
        statement = (
            select(ChatInboxRow)
            .where(ChatInboxRow.outcome == "failed")
            .order_by(col(ChatInboxRow.seq).desc())
            .limit(limit)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [
            InboxFailure(
                seq=row.seq or 0,
                channel=ChannelKind(row.channel),
                lane=row.lane,
                received_at=row.received_at,
                failed_at=row.processed_at,
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def inbox_retry(self, seq: int) -> bool:
        statement = (
            update(ChatInboxRow)
            .where(col(ChatInboxRow.seq) == seq, col(ChatInboxRow.outcome) == "failed")
            .values(processed_at=None, outcome=None, attempts=0)
        )
        async with self._store.write() as session:
            result = await session.exec(statement)
        return bool(result.rowcount)

    async def inbox_has(self, channel: ChannelKind, external_id: str) -> bool:
        statement = select(func.count()).where(
            ChatInboxRow.channel == channel.value, ChatInboxRow.external_id == external_id
        )
        async with self._store.read() as session:
            return bool((await session.exec(statement)).one())

    # --- conversations ----------------------------------------------------------------------

    async def conversation(self, channel: ChannelKind, citizen: str) -> Conversation | None:
        async with self._store.read() as session:
            row = await session.get(ChatConversationRow, (channel.value, citizen))
        return None if row is None else _to_conversation(row)

    async def conversation_by_wa_id(self, wa_id: str) -> Conversation | None:
        statement = (
            select(ChatConversationRow)
            .where(
                ChatConversationRow.channel == ChannelKind.WHATSAPP.value,
                ChatConversationRow.wa_id == wa_id,
            )
            .order_by(col(ChatConversationRow.updated_at).desc())
        )
        async with self._store.read() as session:
            row = (await session.exec(statement)).first()
        return None if row is None else _to_conversation(row)

    async def conversation_of_contact(
        self, channel: ChannelKind, contact_id: str
    ) -> Conversation | None:
        statement = select(ChatConversationRow).where(
            ChatConversationRow.channel == channel.value,
            ChatConversationRow.contact_id == contact_id,
        )
        async with self._store.read() as session:
            row = (await session.exec(statement)).first()
        return None if row is None else _to_conversation(row)

    async def save_conversation(self, conversation: Conversation, at: datetime) -> None:
        values = _conversation_columns(conversation)
        insert = self._insert(ChatConversationRow).values(
            **values, created_at=conversation.created_at, updated_at=at
        )
        # a save made from a copy read before another node opened the citizen's contact
        # (a new conversation is saved before its first message is taken) never takes the
        # contact away: the conversation would open a second one
        kept = func.coalesce(insert.excluded.contact_id, col(ChatConversationRow.contact_id))
        statement = insert.on_conflict_do_update(
            index_elements=["channel", "citizen"],
            set_={**values, "contact_id": kept, "updated_at": at},
        )
        async with self._store.write() as session:
            await session.exec(statement)

    # --- deliveries -------------------------------------------------------------------------

    async def add_delivery(self, delivery: Delivery) -> None:
        async with self._store.write() as session:
            session.add(
                ChatDeliveryRow(
                    id=delivery.id,
                    channel=delivery.channel.value,
                    contact_id=delivery.contact_id,
                    citizen=delivery.citizen,
                    kind=delivery.kind,
                    body=json.dumps(dict(delivery.body), ensure_ascii=False),
                    status=delivery.status,
                    external_id=delivery.external_id,
                    error=delivery.error,
                    attempts=delivery.attempts,
                    created_at=delivery.created_at,
                    updated_at=delivery.updated_at or delivery.created_at,
                )
            )

    async def update_delivery(
        self,
        delivery_id: str,
        *,
        status: str,
        at: datetime,
        external_id: str | None = None,
        error: str | None = None,
        attempts: int | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": at, "error": error}
        if external_id is not None:
            values["external_id"] = external_id
        if attempts is not None:
            values["attempts"] = attempts
        async with self._store.write() as session:
            await session.exec(
                update(ChatDeliveryRow).where(col(ChatDeliveryRow.id) == delivery_id).values(values)
            )

    async def delivery(self, delivery_id: str) -> Delivery | None:
        async with self._store.read() as session:
            row = await session.get(ChatDeliveryRow, delivery_id)
        return None if row is None else _to_delivery(row)

    async def delivery_by_external_id(
        self, channel: ChannelKind, external_id: str
    ) -> Delivery | None:
        statement = select(ChatDeliveryRow).where(
            ChatDeliveryRow.channel == channel.value, ChatDeliveryRow.external_id == external_id
        )
        async with self._store.read() as session:
            row = (await session.exec(statement)).first()
        return None if row is None else _to_delivery(row)

    async def pending_deliveries(self, channel: ChannelKind) -> list[Delivery]:
        statement = (
            select(ChatDeliveryRow)
            .where(ChatDeliveryRow.channel == channel.value, ChatDeliveryRow.status == "pending")
            .order_by(col(ChatDeliveryRow.created_at), col(ChatDeliveryRow.id))
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_delivery(row) for row in rows]

    async def deliveries(self, contact_id: str) -> list[Delivery]:
        statement = (
            select(ChatDeliveryRow)
            .where(ChatDeliveryRow.contact_id == contact_id)
            .order_by(col(ChatDeliveryRow.created_at), col(ChatDeliveryRow.id))
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_delivery(row) for row in rows]


def _to_item(row: ChatInboxRow) -> InboxItem:
    return InboxItem(
        channel=ChannelKind(row.channel),
        external_id=row.external_id,
        lane=row.lane,
        payload=row.payload,
        received_at=row.received_at,
        seq=row.seq,
        attempts=row.attempts,
    )


def _conversation_columns(c: Conversation) -> dict[str, Any]:
    return {
        "channel": c.channel.value,
        "citizen": c.citizen,
        "address": c.address,
        "language": c.language.value if c.language is not None else None,
        "language_chosen": c.language_chosen,
        "contact_id": c.contact_id,
        "user_id": c.user_id,
        "wa_id": c.wa_id,
        "display_name": c.display_name,
        "last_inbound_at": c.last_inbound_at,
    }


def _to_conversation(row: ChatConversationRow) -> Conversation:
    return Conversation(
        channel=ChannelKind(row.channel),
        citizen=row.citizen,
        address=row.address,
        created_at=row.created_at,
        language=Language(row.language) if row.language else None,
        language_chosen=row.language_chosen,
        contact_id=row.contact_id,
        user_id=row.user_id,
        wa_id=row.wa_id,
        display_name=row.display_name,
        last_inbound_at=row.last_inbound_at,
    )


def _to_delivery(row: ChatDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        channel=ChannelKind(row.channel),
        citizen=row.citizen,
        kind=row.kind,
        body=json.loads(row.body),
        created_at=row.created_at,
        contact_id=row.contact_id,
        status=row.status,
        external_id=row.external_id,
        error=row.error,
        attempts=row.attempts,
        updated_at=row.updated_at,
    )
