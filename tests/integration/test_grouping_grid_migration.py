"""Migration 0018 on both backends: every member of an incident with a place gets the grid
cell grouping will look it up by (the same cell `grid_cell` gives, at cell edges and on both
sides of the meridian and the equator), one without a place gets none; grouping then finds
members stored before the migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from contact.config import DatabaseSettings
from contact.dispatch.grouping import grid_cell
from contact.dispatch.sql.incidents import _open_candidates
from contact.persistence.engine import create_engine
from contact.persistence.migrate import upgrade
from contact.persistence.tables import UtcDateTime

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

members = sa.table(
    "incident_contacts",
    *(sa.column(n) for n in ("contact_id", "incident_id", "lat", "lon", "how")),
    sa.column("received_at", UtcDateTime),
    sa.column("joined_at", UtcDateTime),
)
incidents = sa.table(
    "incidents",
    *(sa.column(n) for n in ("id", "state", "contact_ids", "lat", "lon")),
    sa.column("created_at", UtcDateTime),
)
PLACES = {
    "almaty": (43.238, 76.945),
    "on an edge": (43.24, 76.95),
    "just below an edge": (43.239999999, 76.949999999),
    "south and west": (-33.8688, -151.2093),
    "the antimeridian": (64.7, 179.999),
    "the pole": (90.0, 180.0),
}


async def test_0018_gives_every_located_member_its_cell(database_url: str) -> None:
    await upgrade(database_url, "0017")
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(incidents),
                [{"id": "i1", "state": "open", "contact_ids": "[]", "lat": None, "lon": None,
                  "created_at": T0}],
            )  # fmt: skip
            await conn.execute(
                sa.insert(members),
                [
                    {"contact_id": name, "incident_id": "i1", "lat": lat, "lon": lon,
                     "how": "created", "received_at": T0, "joined_at": T0}
                    for name, (lat, lon) in [*PLACES.items(), ("nowhere", (None, None))]
                ],
            )  # fmt: skip
    finally:
        await engine.dispose()

    await upgrade(database_url)
    engine = create_engine(DatabaseSettings(url=database_url))
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(sa.text("SELECT contact_id, cell FROM incident_contacts"))
            ).all()
            found = await conn.run_sync(
                lambda sync: _open_candidates(sync, (T0 - MINUTE, T0 + MINUTE), 43.238, 76.945, 50)
            )
    finally:
        await engine.dispose()
    cells = {name: cell for name, cell in rows}
    assert cells == {
        **{name: grid_cell(lat, lon) for name, (lat, lon) in PLACES.items()},
        "nowhere": None,
    }
    assert [c.contact_id for c in found[0]] == ["almaty"]
