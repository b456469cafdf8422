"""The hash-chained audit log: who did what, tamper-evident.

Row n stores hash_n = sha256(canonical JSON of seq, at, actor, action, subject, details,
prev_hash = hash_(n-1)); the first row links to 64 zeros. The one-row audit_head remembers the
last (seq, hash), so removing rows at the tail (which leaves a valid chain) is detected too.
Appends lock the head row, which serialises them across every process sharing the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from contact.domain.model import utcnow
from contact.persistence.engine import Store
from contact.persistence.prepared import Prepared
from contact.persistence.tables import GENESIS_HASH, AuditHeadRow, AuditRow
from contact.ports import AuditEntry, AuditProblem

HEAD_ID = 1
_VERIFY_BATCH = 1000
_MAX_REPORTED_GAP = 1000  # missing seqs listed per gap


def canonical_json(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """Sorted keys, no whitespace, UTF-8 as is: one text per value, on every platform."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=default,
    )


def chain_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None,
    details: Any,
    prev_hash: str,
) -> str:
    payload = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _recomputed_hash(row: AuditRow) -> str | None:
    try:
        details = json.loads(row.details)
    except ValueError:  # the stored details are no longer JSON: edited
        return None
    return chain_hash(row.seq, row.at, row.actor, row.action, row.subject, details, row.prev_hash)


_AUDIT = AuditRow.__table__  # type: ignore[attr-defined]
_HEAD = AuditHeadRow.__table__  # type: ignore[attr-defined]
# the head row, locked until commit (PostgreSQL: FOR UPDATE; SQLite: the write transaction
# began IMMEDIATE, so it already holds the database's write lock)
_HEAD_LOCKED = Prepared(
    sa_select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == bindparam("id")).with_for_update()
)
_INSERT_ENTRY = Prepared(
    sa_insert(_AUDIT).values(
        {
            name: bindparam(name)
            for name in ("seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash")
        }
    )
)
_MOVE_HEAD = Prepared(
    sa_update(_HEAD)
    .where(_HEAD.c.id == bindparam("id"))
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)


class SqlAuditLog:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def append(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        # What is hashed is what is stored: details go through JSON once, so a verifier that
        # reads them back hashes the same value (default=str keeps odd values from failing).
        details_text = canonical_json(dict(details or {}), default=str)
        stored_details: dict[str, Any] = json.loads(details_text)
        rebuild_head = self._rebuild_head

        def work(conn: Connection) -> AuditEntry:
            # one unit on the driver's cursor (Store.write_sync): on SQLite it joins the
            # group commit instead of taking the write turn for a session of its own
            head = _HEAD_LOCKED.rows(conn, {"id": HEAD_ID})
            if not head:
                rebuild_head(conn)
                head = _HEAD_LOCKED.rows(conn, {"id": HEAD_ID})
            ((head_seq, prev_hash),) = head
            at = utcnow()
            seq = head_seq + 1
            entry_hash = chain_hash(seq, at, actor, action, subject, stored_details, prev_hash)
            _INSERT_ENTRY.run(
                conn,
                {
                    "seq": seq,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "subject": subject,
                    "details": details_text,
                    "prev_hash": prev_hash,
                    "hash": entry_hash,
                },
            )
            _MOVE_HEAD.run(conn, {"id": HEAD_ID, "seq": seq, "hash": entry_hash})
            return AuditEntry(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                details=stored_details,
                prev_hash=prev_hash,
                hash=entry_hash,
            )

        return await self._store.write_sync(work)

    def _rebuild_head(self, conn: Connection) -> None:
        """Created by the migration; rebuilt from the tail if it went missing. ON CONFLICT:
        when appenders race here, one inserts, the others wait on its row lock after."""
        tail = conn.execute(
            sa_select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1)
        ).first()
        values = {
            "id": HEAD_ID,
            "seq": tail[0] if tail is not None else 0,
            "hash": tail[1] if tail is not None else GENESIS_HASH,
        }
        insert = sqlite_insert if self._store.is_sqlite else pg_insert
        conn.execute(insert(AuditHeadRow).values(**values).on_conflict_do_nothing())

    async def entries(self, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest `limit` entries (of one subject), newest first."""
        statement = select(AuditRow).order_by(col(AuditRow.seq).desc()).limit(limit)
        if subject is not None:
            statement = statement.where(AuditRow.subject == subject)
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return [_to_entry(row) for row in rows]

    async def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry, (0, 64 zeros) for an empty log: worth printing and
        keeping elsewhere, since whoever can rewrite the database can rewrite the head too."""
        async with self._store.read() as session:
            row = await session.get(AuditHeadRow, HEAD_ID)
        return (0, GENESIS_HASH) if row is None else (row.seq, row.hash)

    async def verify(self) -> list[AuditProblem]:
        """Every problem found, in seq order. seq 0 "deleted" means the head row is gone; a
        run of missing rows is listed seq by seq, at most 1000 per run."""
        problems: list[AuditProblem] = []
        async with self._store.read(snapshot=True) as session:
            head_row = await session.get(AuditHeadRow, HEAD_ID)
            head = None if head_row is None else (head_row.seq, head_row.hash)
            expected_seq, prev_hash, after = 1, GENESIS_HASH, None
            while True:
                statement = select(AuditRow).order_by(col(AuditRow.seq)).limit(_VERIFY_BATCH)
                if after is not None:
                    statement = statement.where(col(AuditRow.seq) > after)
                rows = (await session.exec(statement)).all()
                if not rows:
                    break
                for row in rows:
                    if row.seq < 1:
                        problems.append(AuditProblem(row.seq, "inserted"))
                        continue
                    # Missing seqs the head vouches for were deleted; past the head they never
                    # existed (a forged row far ahead is reported as inserted, not as a gap).
                    last_vouched = row.seq - 1 if head is None else min(row.seq - 1, head[0])
                    problems.extend(_deleted(expected_seq, last_vouched))
                    edited = _recomputed_hash(row) != row.hash
                    if not edited and head is not None and row.seq == head[0]:
                        edited = row.hash != head[1]  # the last row replaced, chain rehashed
                    if edited:
                        problems.append(AuditProblem(row.seq, "edited"))
                    if row.prev_hash != prev_hash:
                        problems.append(AuditProblem(row.seq, "broken link"))
                    if head is not None and row.seq > head[0]:
                        problems.append(AuditProblem(row.seq, "inserted"))
                    expected_seq, prev_hash = row.seq + 1, row.hash
                after = rows[-1].seq
                session.expunge_all()  # keep memory flat however long the log is
        if head is None:
            if expected_seq > 1:
                problems.append(AuditProblem(0, "deleted"))
        else:
            problems.extend(_deleted(expected_seq, head[0]))
        problems.sort(key=lambda problem: problem.seq)  # stable: a seq's problems keep order
        return problems


def _deleted(first: int, last: int) -> list[AuditProblem]:
    # seq by seq, but bounded: a forged seq or head far ahead must not exhaust memory
    return [
        AuditProblem(seq, "deleted")
        for seq in range(first, min(last, first + _MAX_REPORTED_GAP - 1) + 1)
    ]


def _to_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        details=json.loads(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
