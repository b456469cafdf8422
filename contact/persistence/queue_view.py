"""The waiting contacts as operators see them: one bounded page at a time, in queue order.

Queue order is `queue_score` (the time a contact joined the queue plus its priority's aging
offset), computed in SQL so the database sorts only the waiting rows (found through the state
index) and hands back one page. A page starts after the (score, id) of the last contact of the
page before: keyset paging, so a contact joining or leaving meanwhile neither repeats nor skips
another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_
from sqlmodel import col, select

from contact.domain.model import WAITING_STATES, ChannelKind, Contact, ContactState, Priority
from contact.domain.triage import CALLBACK_AFTER_VOICE_S, DEFAULT_AGING_OFFSETS
from contact.persistence.contacts import _to_contact
from contact.persistence.engine import Store
from contact.persistence.tables import ContactRow

_WAITING = sorted(s.value for s in WAITING_STATES)
_SQLITE_UNIX_EPOCH_JD = 2440587.5  # julianday('1970-01-01')


@dataclass(frozen=True, slots=True)
class QueuePage:
    contacts: list[Contact]
    total: int  # every waiting contact, not only this page's
    next_key: tuple[float, str] | None  # (score, id) of this page's last; None: the last page
    offered_to: Contact | None = None  # the contact offered to the asking operator, on any page


class SqlQueueView:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _score(self) -> Any:
        joined = func.coalesce(col(ContactRow.queued_at), col(ContactRow.created_at))
        if self._store.is_sqlite:  # timestamps are text there: seconds since 1970 by julianday
            epoch = (func.julianday(joined) - _SQLITE_UNIX_EPOCH_JD) * 86400.0
        else:
            epoch = cast(func.extract("epoch", joined), Float)
        by_priority = case(
            {int(p): float(s) for p, s in DEFAULT_AGING_OFFSETS.items()},
            value=col(ContactRow.priority),
            else_=literal(0.0),
        )
        # a callback task queues as a 102 call that rang a little later (triage.queue_score)
        callback = float(DEFAULT_AGING_OFFSETS[Priority.VOICE] + CALLBACK_AFTER_VOICE_S)
        offset = case(
            (col(ContactRow.channel) == ChannelKind.CALLBACK.value, literal(callback)),
            else_=by_priority,
        )
        return cast(epoch + offset, Float)

    async def waiting_page(
        self,
        limit: int,
        after: tuple[float, str] | None = None,
        offered_to: str | None = None,
    ) -> QueuePage:
        """Up to `limit` waiting contacts (queued or offered) in queue order, after `after`;
        with `offered_to`, also the contact offered to that operator (wherever it stands)."""
        score = self._score().label("score")
        waiting = col(ContactRow.state).in_(_WAITING)
        statement = select(ContactRow, score).where(waiting)
        if after is not None:
            at, after_id = after
            statement = statement.where(
                or_(score > at, and_(score == at, col(ContactRow.id) > after_id))
            )
        statement = statement.order_by(score, col(ContactRow.id)).limit(limit + 1)
        async with self._store.read(snapshot=True) as session:
            rows = (await session.exec(statement)).all()
            total = (await session.exec(select(func.count()).where(waiting))).one()
            mine = None
            if offered_to is not None:
                mine = (
                    await session.exec(
                        select(ContactRow)
                        .where(
                            ContactRow.state == ContactState.OFFERED.value,
                            ContactRow.operator_id == offered_to,
                        )
                        .limit(1)
                    )
                ).first()
        page = rows[:limit]
        next_key = (float(page[-1][1]), page[-1][0].id) if len(rows) > limit else None
        return QueuePage(
            [_to_contact(row) for row, _ in page],
            int(total),
            next_key,
            _to_contact(mine) if mine is not None else None,
        )


__all__ = ["QueuePage", "SqlQueueView"]
