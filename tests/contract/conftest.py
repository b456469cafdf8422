"""What every contract suite shares: the backend each test runs on."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["fake", "sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for the test fake, else an empty database of this test's own (its URL resolved
    here, outside the event loop: the PostgreSQL fixture runs its own)."""
    if request.param == "fake":
        return None
    name = "sqlite_url" if request.param == "sqlite" else "postgres_database_url"
    return str(request.getfixturevalue(name))
