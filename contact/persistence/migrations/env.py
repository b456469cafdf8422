"""Alembic environment.

`contact.persistence.migrate` hands over an open connection (config.attributes["connection"])
already inside the transaction it locked; env.py then runs the migrations on it. Run by the
alembic CLI instead, it opens its own connection to the URL configured or CONTACT_DATABASE_URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from contact.config import DatabaseSettings
from contact.persistence.engine import create_engine
from contact.schema import metadata  # every table, the features' own included

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    return DatabaseSettings(url=url).url if url else DatabaseSettings().url


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():  # a no-op inside the caller's transaction
        context.run_migrations()


async def _run_standalone(url: str) -> None:
    engine = create_engine(DatabaseSettings(url=url), poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_standalone(_url()))
    else:
        _run(connection)
