"""A 102 call is never lost to a database cut: a call that comes and goes (or, registered
before, hangs up) while PostgreSQL is unreachable becomes, once it answers, one abandoned
contact with its callback task; a caller still waiting when it answers is queued like any
other. Real Asterisk, sipp and PostgreSQL (through a TCP relay that the test cuts)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from contact.persistence.migrate import upgrade
from contact.simulate.chaos import Relay
from tests.integration.test_voice_harness import (
    Parties,
    Pbx,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx

pytestmark = pytest.mark.timeout(120)

# shorter than the telephony lease (4 s): the node keeps driving Asterisk through the cut
CUT_S = 2.0


@pytest.fixture
async def relay(postgres_database_url: str) -> AsyncIterator[Relay]:
    url = make_url(postgres_database_url)
    r = Relay(url.host or "127.0.0.1", url.port or 5432)
    await r.start()
    yield r
    await r.stop()


async def _rows(database: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def test_calls_that_come_during_a_database_cut_are_registered_once_it_answers(
    pbx: Pbx, parties: Parties, tmp_path: Path, relay: Relay, postgres_database_url: str
) -> None:
    await upgrade(postgres_database_url)
    through = make_url(postgres_database_url).set(host="127.0.0.1", port=relay.port)
    settings = voice_settings(tmp_path, pbx)
    settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(
                update={"url": through.render_as_string(hide_password=False)}
            )
        }
    )
    vc = await start_voice_center(settings)
    voice = vc.telephony.voice
    try:
        # registered before the cut, hangs up during it: its end waits for the database
        await parties.caller(caller="+77015550303", hold_ms=1500)
        await vc.until(lambda: len(voice.book) == 1, what="the first call registered")
        relay.cut()
        gone = await parties.caller(caller="+77015550101", hold_ms=600)
        await parties.caller(caller="+77015550202", hold_ms=8000)  # still there after the cut
        assert await gone.sipp.done(within_s=15) == 0  # hung up while the database was cut
        await vc.until(lambda: voice.book.awaiting() == 3, within_s=CUT_S, what="3 kept")
        relay.mend()

        async def settled() -> bool:
            rows = await _rows(
                postgres_database_url,
                "SELECT citizen, state, channel FROM contacts ORDER BY citizen, channel",
            )
            return len(rows) == 5

        await vc.until(settled, within_s=30, what="the calls and callback tasks stored")
        contacts = await _rows(
            postgres_database_url,
            "SELECT citizen, state, channel FROM contacts ORDER BY citizen, channel",
        )
        seen = [(r["citizen"], r["state"], r["channel"]) for r in contacts]
        assert seen == [
            ("+77015550101", "queued", "callback"),
            ("+77015550101", "abandoned", "voice"),
            ("+77015550202", "queued", "voice"),
            ("+77015550303", "queued", "callback"),
            ("+77015550303", "abandoned", "voice"),
        ], seen
        callbacks = await _rows(postgres_database_url, "SELECT reason FROM callbacks")
        assert [r["reason"] for r in callbacks] == ["abandoned", "abandoned"]
        assert vc.telephony.voice.book.awaiting() == 0
    finally:
        relay.mend()
        await vc.center.client.close()


async def test_a_cut_longer_than_the_lease_loses_no_call(
    pbx: Pbx, parties: Parties, tmp_path: Path, relay: Relay, postgres_database_url: str
) -> None:
    """The node loses the telephony lease during the cut (it cannot renew it) and its waiting
    signals with it; it takes the lease again once the database answers, and Asterisk's own
    record of the calls gives back the one that came and went meanwhile."""
    await upgrade(postgres_database_url)
    through = make_url(postgres_database_url).set(host="127.0.0.1", port=relay.port)
    settings = voice_settings(tmp_path, pbx)
    settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(
                update={"url": through.render_as_string(hide_password=False)}
            )
        }
    )
    vc = await start_voice_center(settings)
    try:
        relay.cut()
        gone = await parties.caller(caller="+77015550505", hold_ms=600)
        assert await gone.sipp.done(within_s=15) == 0
        await vc.until(
            lambda: not vc.telephony.leadership.valid(), within_s=15, what="the lease lost"
        )
        relay.mend()

        async def settled() -> bool:
            rows = await _rows(postgres_database_url, "SELECT state, channel FROM contacts")
            return len(rows) == 2

        await vc.until(settled, within_s=30, what="the call and its callback task stored")
        contacts = await _rows(
            postgres_database_url,
            "SELECT citizen, state, channel FROM contacts ORDER BY channel",
        )
        seen = [(r["citizen"], r["state"], r["channel"]) for r in contacts]
        assert seen == [
            ("+77015550505", "queued", "callback"),
            ("+77015550505", "abandoned", "voice"),
        ], seen
    finally:
        relay.mend()
        await vc.center.client.close()
