"""Operators: accounts, skills and the last known presence."""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from contact.domain.model import (
    Capability,
    Gender,
    Language,
    Operator,
    Presence,
    Role,
    Skills,
    UiLanguage,
    utcnow,
)
from contact.errors import Conflict, NotFound
from contact.persistence.engine import Store
from contact.persistence.prepared import Prepared
from contact.persistence.tables import OperatorRow
from contact.ports import Credentials


class SqlOperatorRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, operator: Operator, password_hash: str) -> None:
        row = OperatorRow(
            id=operator.id,
            username=operator.username,
            display_name=operator.display_name,
            role=operator.role.value,
            languages=_join(operator.skills.languages),
            capabilities=_join(operator.skills.capabilities),
            endpoint=operator.endpoint,
            active=operator.active,
            password_hash=password_hash,
            ui_language=operator.ui_language.value if operator.ui_language else None,
            gender=None if operator.gender is Gender.OTHER else operator.gender.value,
            created_at=utcnow(),
        )
        try:
            async with self._store.write() as session:
                session.add(row)
        except IntegrityError as error:
            raise Conflict(
                f"username {operator.username!r} is taken (or the operator id exists)",
                details={"username": operator.username, "operator_id": operator.id},
            ) from error

    async def get(self, operator_id: str) -> Operator:
        # every presence change reads her skills: one hop on the driver's cursor
        rows = await self._store.read_sync(
            lambda conn: _OPERATOR.records(conn, {"id": operator_id})
        )
        if not rows:
            raise _not_found(operator_id)
        return _to_operator(rows[0])

    async def by_username(self, username: str) -> Credentials | None:
        async with self._store.read() as session:
            row = (
                await session.exec(select(OperatorRow).where(OperatorRow.username == username))
            ).first()
        if row is None:
            return None
        return Credentials(operator=_to_operator(row), password_hash=row.password_hash)

    async def all(self) -> list[Operator]:
        async with self._store.read() as session:
            rows = (
                await session.exec(select(OperatorRow).order_by(col(OperatorRow.username)))
            ).all()
        return [_to_operator(row) for row in rows]

    async def set_password(self, operator_id: str, password_hash: str) -> None:
        async with self._store.write() as session:
            row = await session.get(OperatorRow, operator_id)
            if row is None:
                raise _not_found(operator_id)
            row.password_hash = password_hash

    async def set_endpoint(self, operator_id: str, endpoint: str | None) -> None:
        """The operator's phone (e.g. PJSIP/op1): the demo wires its operators' softphones."""
        async with self._store.write() as session:
            row = await session.get(OperatorRow, operator_id)
            if row is None:
                raise _not_found(operator_id)
            row.endpoint = endpoint

    async def set_preferences(
        self, operator_id: str, ui_language: UiLanguage | None, gender: Gender
    ) -> None:
        """The language of her pages and the form texts about her take (per user)."""
        async with self._store.write() as session:
            row = await session.get(OperatorRow, operator_id)
            if row is None:
                raise _not_found(operator_id)
            row.ui_language = ui_language.value if ui_language else None
            row.gender = None if gender is Gender.OTHER else gender.value

    async def set_presence(self, operator_id: str, presence: Presence) -> None:
        # four times in every contact's life (offered, busy, wrap-up, ready): one hop
        values = {"b_id": operator_id, "presence": presence.value}
        if not await self._store.write_sync(lambda conn: _SET_PRESENCE.count(conn, values)):
            raise _not_found(operator_id)

    async def presences(self) -> dict[str, Presence]:
        """Operators whose presence was ever recorded."""
        statement = select(OperatorRow.id, OperatorRow.presence).where(
            col(OperatorRow.presence).is_not(None)
        )
        async with self._store.read() as session:
            rows = (await session.exec(statement)).all()
        return {operator_id: Presence(presence) for operator_id, presence in rows if presence}


_OPERATORS = OperatorRow.__table__  # type: ignore[attr-defined]
_OPERATOR = Prepared(sa_select(_OPERATORS).where(_OPERATORS.c.id == bindparam("id")))
_SET_PRESENCE = Prepared(
    update(_OPERATORS)
    .where(_OPERATORS.c.id == bindparam("b_id"))
    .values(presence=bindparam("presence"))
)


def _not_found(operator_id: str) -> NotFound:
    return NotFound(f"operator {operator_id} not found", details={"operator_id": operator_id})


def _join(values: frozenset[Language] | frozenset[Capability]) -> str:
    return ",".join(sorted(v.value for v in values))


def _split(value: str) -> list[str]:
    return [part for part in value.split(",") if part]


def _to_operator(row: OperatorRow) -> Operator:
    return Operator(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        skills=Skills(
            languages=frozenset(Language(v) for v in _split(row.languages)),
            capabilities=frozenset(Capability(v) for v in _split(row.capabilities)),
        ),
        endpoint=row.endpoint,
        active=row.active,
        ui_language=UiLanguage(row.ui_language) if row.ui_language else None,
        gender=Gender(row.gender) if row.gender else Gender.OTHER,
    )
