"""Reads of the operator's page beyond one contact: the previews of queue rows (their contacts
and the caller's first transcribed words, one query each for a whole page) and a caller's
history. Every read is bounded: by primary key for at most a page of ids, or by the
(citizen, created_at) index with a limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import col, select

from contact.domain.model import Contact
from contact.persistence.contacts import _to_contact
from contact.persistence.engine import Store
from contact.persistence.tables import ContactRow
from contact.persistence.tables_channels import ChatConversationRow
from contact.persistence.tables_transcripts import TranscriptSegmentRow

MAX_IDS = 100
SEGMENTS_PER_CONTACT = 3


class SqlWorkspaceReads:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def contacts(self, ids: Sequence[str]) -> list[Contact]:
        wanted = list(dict.fromkeys(ids))[:MAX_IDS]
        if not wanted:
            return []
        statement = select(ContactRow).where(col(ContactRow.id).in_(wanted))
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [_to_contact(r) for r in rows]

    async def first_caller_words(self, ids: Sequence[str]) -> dict[str, str]:
        """The first recognised utterances of the caller of each contact (calls only)."""
        wanted = list(dict.fromkeys(ids))[:MAX_IDS]
        if not wanted:
            return {}
        statement = (
            select(TranscriptSegmentRow.contact_id, TranscriptSegmentRow.text)
            .where(
                col(TranscriptSegmentRow.contact_id).in_(wanted),
                TranscriptSegmentRow.speaker == "caller",
            )
            .order_by(col(TranscriptSegmentRow.created_at))
            .limit(SEGMENTS_PER_CONTACT * len(wanted))
        )
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        words: dict[str, list[str]] = {}
        for contact_id, text in rows:
            said = words.setdefault(contact_id, [])
            if len(said) < SEGMENTS_PER_CONTACT:
                said.append(text)
        return {k: " ".join(v) for k, v in words.items()}

    async def chat_names(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The names messenger users go by, for (channel, citizen) pairs (the primary key)."""
        wanted = list(dict.fromkeys(keys))[:MAX_IDS]
        if not wanted:
            return {}
        statement = select(
            ChatConversationRow.channel,
            ChatConversationRow.citizen,
            ChatConversationRow.display_name,
        ).where(
            tuple_(col(ChatConversationRow.channel), col(ChatConversationRow.citizen)).in_(wanted)
        )
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return {(ch, ci): name for ch, ci, name in rows if name}

    async def history(
        self, citizen: str, *, before: datetime, since: datetime, limit: int
    ) -> list[Contact]:
        """Earlier contacts of the same number, device or handle (any channel), newest first."""
        statement = (
            select(ContactRow)
            .where(
                ContactRow.citizen == citizen,
                col(ContactRow.created_at) < before,
                col(ContactRow.created_at) >= since,
            )
            .order_by(col(ContactRow.created_at).desc(), col(ContactRow.id).desc())
            .limit(limit)
        )
        async with self._store.read() as tx:
            rows = (await tx.exec(statement)).all()
        return [_to_contact(r) for r in rows]
