"""SqlDatabase: the SQL store behind every repository (SQLite by default, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from contact.config import DatabaseSettings
from contact.persistence.audit import SqlAuditLog
from contact.persistence.contacts import SqlContactRepository
from contact.persistence.engine import Store, create_engine
from contact.persistence.incidents import SqlIncidentRepository
from contact.persistence.operators import SqlOperatorRepository
from contact.persistence.queue_view import SqlQueueView
from contact.persistence.quick_replies import SqlQuickReplies
from contact.persistence.registries import SqlRegistries
from contact.persistence.rota import SqlRota
from contact.persistence.sessions import SqlSessionRepository
from contact.persistence.stats import SqlStats
from contact.persistence.triage_lexicon import SqlTriageLexicon
from contact.persistence.workspace_reads import SqlWorkspaceReads


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
        # app devices, kiosks, alarm sites, camera alerts (the device channels)
        self.registries = SqlRegistries(self._store)
        self.stats = SqlStats(self._store)  # the supervisor's figures of a period
        self.queue = SqlQueueView(self._store)  # the operators' queue, a page at a time
        self.triage_lexicon = SqlTriageLexicon(self._store)  # admins' edits of triage
        self.quick_replies = SqlQuickReplies(self._store)  # the operator page's ready texts
        self.workspace = SqlWorkspaceReads(self._store)  # queue previews, a caller's history
        self.rota = SqlRota(self._store)  # the published staffing rota

    @property
    def store(self) -> Store:
        """The engine and its writer turn, for a feature's own SQL adapters (dispatch, chat,
        telephony's calls and leases, transcripts): one connection pool for the node."""
        return self._store

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
