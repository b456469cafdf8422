"""A 102 call that comes and goes while no node holds the AMI link (the only node stopped, a
leader killed before its standby took over) is found in Asterisk's own record of the calls
it announced (cel_custom) by the node that takes the link: one abandoned contact with its
callback task, never two however often it resyncs or restarts. Real Asterisk and sipp."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from contact.domain.model import ChannelKind, ContactState
from tests.integration.test_telephony_failover import LEASE_S, leads, rows, two_nodes, until
from tests.integration.test_telephony_failover import pg_database as pg_database
from tests.integration.test_voice_harness import (
    Parties,
    Pbx,
    start_voice_center,
    voice_settings,
)
from tests.integration.test_voice_harness import parties as parties
from tests.integration.test_voice_harness import pbx as pbx

pytestmark = pytest.mark.timeout(120)


async def test_a_call_no_node_saw_becomes_one_abandoned_contact_with_its_callback(
    pbx: Pbx, parties: Parties, tmp_path: Path
) -> None:
    settings = voice_settings(tmp_path, pbx)
    vc = await start_voice_center(settings)  # the node's watermark: the file's end
    await vc.center.client.close()  # no node drives Asterisk now

    unseen = await parties.caller(caller="+77015550404", hold_ms=500)
    assert await unseen.sipp.done(within_s=15) == 0  # answered by the dialplan, hung up
    records = settings.asterisk.effective_call_records
    assert "+77015550404" in records.read_text()

    for _restart in range(2):  # a restart (and every resync) finds it again: nothing new
        vc = await start_voice_center(settings)
        try:
            await vc.telephony.voice.resync()
            await vc.telephony.voice.idle()
        finally:
            await vc.center.client.close()
        with sqlite3.connect(tmp_path / "c.db") as db:
            by_channel = db.execute(
                "SELECT channel, state FROM contacts WHERE citizen = ? ORDER BY channel",
                ("+77015550404",),
            ).fetchall()
            callbacks = db.execute("SELECT reason FROM callbacks").fetchall()
        assert callbacks == [("dropped",)], callbacks
        assert by_channel == [
            (ChannelKind.CALLBACK.value, ContactState.QUEUED.value),
            (ChannelKind.VOICE.value, ContactState.ABANDONED.value),
        ], by_channel


@pytest.mark.redis
@pytest.mark.postgres
async def test_a_call_while_a_killed_leaders_lease_runs_out_is_recovered_by_the_standby(
    pbx: Pbx,
    parties: Parties,
    tmp_path: Path,
    pg_database: str,
    redis_url: str,
    redis_prefix: str,
) -> None:
    a, b, _first = await two_nodes(pbx, tmp_path, pg_database, redis_url, redis_prefix)
    try:
        a.kill9()  # SIGKILL: the lease runs out before the standby may take it
        unseen = await parties.caller(caller="+77015550606", hold_ms=300)
        assert await unseen.sipp.done(within_s=15) == 0
        await leads(b, LEASE_S + 3)

        async def recovered() -> list[tuple[str, str]]:
            found = await rows(
                pg_database,
                "SELECT channel, state FROM contacts WHERE citizen = $1 ORDER BY channel",
                "+77015550606",
            )
            return [(r["channel"], r["state"]) for r in found]

        async def both() -> list[tuple[str, str]]:
            found = await recovered()
            return found if len(found) >= 2 else []

        assert await until(both, 20, "the unseen call recovered") == [
            ("callback", "queued"),
            ("voice", "abandoned"),
        ]
        # the drift checks that follow read nothing new; a second takeover neither
        b.stop()
        await a.start()
        await leads(a, LEASE_S + 3)
        await asyncio.sleep(1.0)
        assert len(await recovered()) == 2
    finally:
        a.stop()
        b.stop()
