"""`contact simulate --chaos` (issue 13, section 5): the city's traffic on two `contact serve`
nodes over PostgreSQL and Redis, with 102 calls through their Asterisk and every other channel
through its own edge (the app and its SOS button, Telegram and WhatsApp webhooks answered by
the stand-ins, signed kiosk presses, school alarms, camera alerts), while a node is killed
with SIGKILL, Redis comes back empty, the database link is cut for 10 s, the units' MQTT broker
goes away and Asterisk restarts. Every contact an edge acknowledged is in the database exactly
once, none left in an operator's hands, and each fault has a recovery time. The patrols drive
through the same faults: the bots send them, they report on scene and free again, half of them
report their place over the MQTT feed the broker's loss cuts; every dispatch and status report
the center acknowledged is in the database, and every unit ends out of service."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from contact.simulate.chaos import Relay

DEVICES_AND_CHATS = {  # per day, so that 40 minutes of a Friday evening has a few of each
    "telegram = 60\n": "telegram = 150\n",
    "whatsapp = 60\n": "whatsapp = 150\n",
    "kiosk = 12\n": "kiosk = 150\n",
    "alarm = 2\n": "alarm = 150\n",
    "camera = 48\n": "camera = 150\n",
    "on_scene_min = 25\n": "on_scene_min = 5\n",  # patrols free again sooner: more reports
}


def friday_night(tmp_path: Path) -> Path:
    """almaty-friday-night with more chats, kiosks, schools and cameras calling, and patrols
    back from a scene sooner."""
    text = (
        resources.files("contact.simulate") / "scenarios" / "almaty-friday-night.toml"
    ).read_text("utf-8")
    for was, now in DEVICES_AND_CHATS.items():
        assert was in text
        text = text.replace(was, now)
    path = tmp_path / "friday-night.toml"
    path.write_text(text, "utf-8")
    return path


def _contact(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("contact"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(600)
def test_two_nodes_through_every_fault_lose_and_duplicate_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    out = tmp_path / "chaos"
    done = _contact(
        *("simulate", str(friday_night(tmp_path)), "--chaos", "--nodes", "2"),
        *("--database-url", postgres_url, "--minutes", "40", "--speed", "30"),
        *("--operators", "10", "--drain-s", "20", "--seed", "3", "--out", str(out)),
        timeout=540,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text("utf-8"))
    chaos = report["chaos"]
    assert chaos["nodes"] == 2 and chaos["backend"] == "postgresql+redis"
    faults = {f["name"]: f for f in chaos["faults"]}
    for name in (
        "kill -9 a node",
        "restart Redis empty",
        "cut PostgreSQL 10 s",
        "drop the units' MQTT feed",
        "restart Asterisk",
    ):
        assert faults[name]["recovered_s"] is not None, faults[name]
        assert faults[name]["recovered_s"] > 0
    # the cut lasts 10 s: healthy again only after it
    assert faults["cut PostgreSQL 10 s"]["recovered_s"] >= 10
    books, voice = chaos["accounting"], report["voice"]
    assert report["sent"] > 50
    # 102 calls through the nodes' own Asterisk, restarted with the rest: every call the
    # dialplan answered is one contact (a caller who hung up waiting: abandoned, with its
    # callback task), also those that came and went while a node was dead or the database cut
    assert voice["driven"] and voice["calls"] > 20
    calls = voice["accounting"]
    assert calls["found_once"] == calls["answered"] == voice["answered_by_dialplan"]
    assert calls["missing"] == [] and calls["duplicated"] == [] and calls["orphaned"] == []
    assert calls["not_settled"] == [] and calls["abandoned_without_callback"] == []
    # the other contacts; only a call placed while Asterisk was down goes unanswered
    assert books["acknowledged"] + calls["answered"] == report["accepted_by_edge"]
    assert report["sent"] - report["accepted_by_edge"] == voice["calls"] - calls["answered"]
    assert books["found_once"] == books["acknowledged"]
    assert books["missing"] == [] and books["duplicated"] == [] and books["orphaned"] == []
    assert sum(books["states"].values()) == books["acknowledged"] + books["stored_unacknowledged"]
    assert report["not_waiting_or_terminal"] == []
    assert "recovered in" in done.stdout
    # every channel through its own edge, each contact acknowledged through the faults
    edges = report["edges"]
    for edge in ("app", "telegram", "whatsapp", "kiosk", "alarm", "camera"):
        assert edges[edge]["sent"] >= 2, edges
        assert edges[edge]["accepted"] == edges[edge]["sent"], edges
    assert report["carried_as_app"] == {}
    assert report["replies_to_chats"]["telegram"] >= edges["telegram"]["sent"]
    assert report["replies_to_chats"]["whatsapp"] >= edges["whatsapp"]["sent"]
    # the patrols: registered and placed, sent by the bots, half of them on the MQTT feed the
    # broker's loss cut (their fixes lost meanwhile); every dispatch and status report the
    # center acknowledged is in the database, and their last fixes too: the feed came back
    units, unit_books = report["units"], chaos["units_accounting"]
    assert units["registered"] == units["placed"] == 40 and units["over_mqtt"] == 20
    assert units["mqtt"]["outages"] == 1 and units["mqtt"]["lost"] > 0
    assert report["dispatched"] >= 2, report["no_unit_sent"]
    assert unit_books["dispatches_acknowledged"] == report["dispatched"]
    assert unit_books["dispatches_found"] == unit_books["dispatches_acknowledged"]
    assert unit_books["dispatches_missing"] == unit_books["dispatches_duplicated"] == []
    assert unit_books["statuses_reflected"] == unit_books["statuses_acknowledged"] == 40
    assert unit_books["final_states"] == {"out_of_service": 40}
    assert unit_books["not_retired"] == unit_books["left_active"] == []
    assert unit_books["fixes_reflected"] == 40 and unit_books["fixes_behind"] == []
    assert "units 40: dispatches acknowledged" in done.stdout


def test_several_nodes_need_postgresql(tmp_path: Path) -> None:
    done = _contact(
        *("simulate", "mass-incident", "--chaos", "--nodes", "2", "--out", str(tmp_path)),
        timeout=120,
    )
    assert done.returncode == 2
    assert "several nodes need PostgreSQL" in done.stderr


async def test_the_relay_cuts_every_connection_and_mends() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(100):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    relay = Relay("127.0.0.1", int(server.sockets[0].getsockname()[1]))
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.read(100), 5) == b"ping"
        relay.cut()
        assert await asyncio.wait_for(reader.read(100), 5) == b""  # the live link is gone
        r2, _ = await asyncio.open_connection("127.0.0.1", relay.port)
        assert await asyncio.wait_for(r2.read(100), 5) == b""  # and a new one is refused
        relay.mend()
        r3, w3 = await asyncio.open_connection("127.0.0.1", relay.port)
        w3.write(b"again")
        assert await asyncio.wait_for(r3.read(100), 5) == b"again"
        w3.close()
    finally:
        await relay.stop()
        server.close()
        await server.wait_closed()
