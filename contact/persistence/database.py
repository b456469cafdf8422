"""SqlDatabase: the SQL store behind every repository (SQLite by default, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from contact.config import DatabaseSettings
from contact.persistence.audit import SqlAuditLog
from contact.persistence.contacts import SqlContactRepository
from contact.persistence.conversations import SqlChatStore
from contact.persistence.dispatch_repo import SqlDispatchRepository
from contact.persistence.engine import Store, create_engine
from contact.persistence.incidents import SqlIncidentRepository
from contact.persistence.operators import SqlOperatorRepository
from contact.persistence.registries import SqlRegistries
from contact.persistence.sessions import SqlSessionRepository


class SqlDatabase:
    """One engine (connection pool) shared by the repositories. The schema is created by the
    migrations (`contact db upgrade`), never here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._store = Store(engine)
        self.contacts = SqlContactRepository(self._store)
        self.operators = SqlOperatorRepository(self._store)
        self.sessions = SqlSessionRepository(self._store)
        self.audit = SqlAuditLog(self._store)
        self.incidents = SqlIncidentRepository(self._store)
        self.chats = SqlChatStore(self._store)  # Telegram, WhatsApp: inbox, conversations
        self.dispatch = SqlDispatchRepository(self._store)  # units, cameras, districts, grouping
        # app devices, kiosks, alarm sites, camera alerts (the device channels)
        self.registries = SqlRegistries(self._store)

    @classmethod
    async def open(cls, settings: DatabaseSettings) -> SqlDatabase:
        # No I/O: connections are made on first use, so a node starts while the database is
        # still coming up, and ping() reports it.
        return cls(create_engine(settings))

    async def ping(self) -> None:
        """Raise Unavailable when the database cannot be reached."""
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()
