"""Shared fixtures. Services are real: a test that needs Redis or PostgreSQL FAILS when it is
missing (never skips). `make test` starts them first (scripts/ensure-services.sh)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

REDIS_URL = os.environ.get("CONTACT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "CONTACT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _need(service: str, error: BaseException) -> None:
    pytest.fail(
        f"{service} is required and not reachable ({error!r}). "
        "Run the tests with `make test`, which starts it.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        _need("Redis", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, so tests (and parallel runs) never share keys."""
    import redis

    prefix = f"contact-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this test session, dropped afterwards. Yields an asyncpg URL."""
    import asyncpg

    name = f"contact_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _need("PostgreSQL", exc)
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    yield f"postgresql+asyncpg://{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of this test's own on each backend (contract suites run on both)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_url")
        return
    yield request.getfixturevalue("postgres_database_url")


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (fails when PostgreSQL is down)."""
    base, session_db = postgres_url.rsplit("/", 1)
    name = f"{session_db}_{uuid.uuid4().hex[:8]}"
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(plain, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[object]:
    """A migrated SqlDatabase on each backend."""
    from contact.config import DatabaseSettings
    from contact.persistence.database import SqlDatabase
    from contact.persistence.migrate import upgrade

    await upgrade(database_url)
    database = await SqlDatabase.open(DatabaseSettings(url=database_url))
    yield database
    await database.close()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/contact.db"


@pytest.fixture
async def center(tmp_path: object) -> AsyncIterator[object]:
    """A whole center on embedded defaults (SQLite file, in-process queue) on a real port."""
    from pathlib import Path

    from tests.support import make_settings, start_center

    running = await start_center(make_settings(Path(str(tmp_path))))
    yield running
    await running.client.close()
