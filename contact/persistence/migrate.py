"""Schema migrations (Alembic), configured in code so they run from any working directory and
from an installed package: `contact db upgrade` calls `upgrade`, status checks `schema_status`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from contact.config import DatabaseSettings, Settings
from contact.persistence.engine import BEGIN_IMMEDIATE, create_engine, translate_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant shared by every node: concurrent `contact db upgrade` runs take turns.
_UPGRADE_LOCK_KEY = 0x636F6E74616374  # "contact"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # attributes, not the ini option: a password's "%" would trip configparser
        config.attributes["url"] = url
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _engine(url: str) -> AsyncEngine:
    # NullPool: a one-off command should leave no pooled connection behind
    return create_engine(DatabaseSettings(url=url), poolclass=NullPool)


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision`; a no-op when it is there already."""
    engine = _engine(url)
    config = alembic_config(url)
    try:
        with translate_errors():
            async with engine.connect() as conn:
                # SQLite: BEGIN IMMEDIATE, so a second migrator waits instead of failing
                await conn.execution_options(**{BEGIN_IMMEDIATE: True})
                async with conn.begin():
                    if conn.dialect.name == "postgresql":
                        await conn.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY}
                        )
                    # one transaction for all steps: a failed upgrade leaves the old schema
                    await conn.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


def _sqlite_file_exists(url: URL) -> bool:
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return True  # nothing on disk to look at: let the engine answer
    return Path(path).expanduser().exists()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection  # env.py runs on it (see env.py)
    command.upgrade(config, revision)


async def schema_status(url: str) -> tuple[str | None, str]:
    """(current revision of the database or None when never migrated, head revision)."""
    database = make_url(DatabaseSettings(url=url).url)
    if database.get_backend_name() == "sqlite" and not _sqlite_file_exists(database):
        return None, head_revision()  # asking must not create an empty database file
    engine = _engine(url)
    try:
        with translate_errors():
            async with engine.connect() as conn:
                current = await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
    finally:
        await engine.dispose()
    return current, head_revision()


async def prepare_database(settings: Settings) -> None:
    """Embedded SQLite migrates itself; a shared PostgreSQL must be migrated on purpose
    (`contact db upgrade`) so several nodes never race a migration."""
    if settings.database.is_sqlite:
        await upgrade(settings.database.url)
        return
    current, head = await schema_status(settings.database.url)
    if current != head:
        raise SystemExit(
            f"database schema is at {current or 'nothing'}, code needs {head}: "
            "run `contact db upgrade` first"
        )
