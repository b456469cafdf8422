"""`contact simulate` against a real `contact serve` (embedded defaults: SQLite, in-process
queue): a compressed mass incident through the app (reports and the SOS button), Telegram and
WhatsApp webhooks (the center pointed at the simulator's stand-ins), signed kiosk presses,
school alarms and camera analytics alerts (the devices and cameras registered by the simulator
with the CLI), with bots dispatching the scenario's units; every contact an edge accepted is
in the database exactly once, waiting or finished, none left in an operator's hands, and
nothing else is there."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from contact.config import DatabaseSettings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.persistence.database import SqlDatabase
from contact.simulate.chaos import free_port
from tests.integration.chat_support import serve_env
from tests.support import APP_KEY, PASSWORD, ServeProcess

OPERATORS = 8


def city(tmp_path: Path) -> Path:
    """mass-incident with more kiosks and schools calling, more app users (half of their
    emergencies pressing SOS), and patrols to send."""
    text = (resources.files("contact.simulate") / "scenarios" / "mass-incident.toml").read_text(
        "utf-8"
    )
    text = text.replace("kiosk = 12\n", "kiosk = 400\n").replace("alarm = 2\n", "alarm = 300\n")
    text = text.replace("camera = 48\n", "camera = 300\n")
    text = "app_sos_share = 0.5\n" + text.replace("\napp = 150\n", "\napp = 900\n")
    assert "kiosk = 400" in text and "alarm = 300" in text and "app = 900" in text
    assert "camera = 300" in text
    text += "\n[units]\nper_district = 4\non_scene_min = 3\ndispatch_s = 30\n"
    path = tmp_path / "city.toml"
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def node(tmp_path: Path) -> Iterator[ServeProcess]:
    # the center calls the messengers' APIs where the simulator will run their stand-ins
    stand_ins = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    env = {
        **serve_env(tmp_path, telegram_url=stand_ins[0], whatsapp_url=stand_ins[1]),
        "CONTACT_ROUTING_WRAP_UP_S": "1",  # the scenario's 30 s wrap-up at ×30
        "CONTACT_DISPATCH_RELOAD_CHECK_S": "1",  # learn the units the simulator imports
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_API_KEY": "100000",  # the fire comes from one key
        "CONTACT_APP_REGISTRATIONS_PER_MINUTE_PER_ADDRESS": "1000",  # every SOS phone is new
        "CONTACT_CAMERA_API_KEYS": "sim-analytics-key",  # the city's video analytics
    }
    serve = ServeProcess(env, tmp_path / "serve.log")
    yield serve
    serve.stop()


@pytest.mark.timeout(240)
async def test_a_compressed_mass_incident_loses_and_duplicates_nothing(
    tmp_path: Path, node: ServeProcess
) -> None:
    await node.start()
    # the accounts, made here in one process (`--operators N` makes them with the CLI, which
    # costs a process start and a password hash each: minutes on this shared machine)
    db = await SqlDatabase.open(DatabaseSettings(url=node.env["CONTACT_DATABASE_URL"]))
    try:
        for i in range(OPERATORS):
            skills = Skills(frozenset(Language), frozenset(Capability))
            op = Operator(new_id(), f"bot{i}", f"Bot {i}", Role.OPERATOR, skills)
            await db.operators.add(op, hash_password(PASSWORD))
    finally:
        await db.close()
    bots = [arg for i in range(OPERATORS) for arg in ("--operator", f"bot{i}:{PASSWORD}")]
    out = tmp_path / "report"
    exe = str(Path(sys.executable).with_name("contact"))
    done = subprocess.run(
        [
            exe,
            "simulate",
            str(city(tmp_path)),
            "--minutes",
            "20",  # 15 min of Friday evening, then the first half of the fire (5 min)
            "--speed",
            "30",  # about a minute of wall time
            *bots,  # bots on the browser's HTTP API and WebSocket
            "--seed",
            "13",
            "--drain-s",
            "15",
            "--url",
            node.url,
            "--app-key",
            APP_KEY,
            "--out",
            str(out),
        ],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert (out / "report.html").read_text("utf-8").startswith("<!doctype html>")
    assert report["sent"] > 200  # the fire and the city around it
    assert report["accepted_by_edge"] == report["sent"]
    assert report["not_waiting_or_terminal"] == []
    assert report["handled_by_bots"] >= 20  # the bots did work the queue
    edges = report["edges"]
    for edge in ("app", "telegram", "whatsapp", "kiosk", "alarm", "camera"):
        assert edges[edge]["sent"] >= 2, edges
        assert edges[edge]["accepted"] == edges[edge]["sent"], edges
    assert set(report["carried_as_app"]) == {"voice"}  # sipp is another edge
    for chat in ("telegram", "whatsapp"):
        assert report["channels"][chat]["offered"] == edges[chat]["sent"]
        # the center told its chat citizens (their contact taken, an operator answering):
        # the stand-ins took it
        assert report["replies_to_chats"][chat] >= edges[chat]["sent"]
    books = report["accounting"]
    assert books["acknowledged"] == report["sent"] == books["found_once"]
    assert books["missing"] == books["duplicated"] == books["orphaned"] == []
    assert books["stored_unacknowledged"] == 0
    # the bots sent units, as an operator does from the dispatch panel
    assert report["dispatched"] >= 5, report["no_unit_sent"]
    assert report["response"]["all"]["sent"] == report["dispatched"]
    assert report["units"]["placed"] == report["units"]["registered"] == 32
    # every dispatch and unit report the center acknowledged is in its database
    unit_books = report["units_accounting"]
    assert unit_books["dispatches_found"] == unit_books["dispatches_acknowledged"]
    assert unit_books["dispatches_acknowledged"] == report["dispatched"]
    assert unit_books["statuses_reflected"] == unit_books["fixes_reflected"] == 32
    accepted = report["accepted_ids"]
    assert None not in accepted
    assert len(set(accepted)) == len(accepted) == report["sent"]
    with sqlite3.connect(tmp_path / "contact.db") as conn:
        rows = conn.execute("SELECT id, state FROM contacts").fetchall()
    ids = [r[0] for r in rows]
    assert sorted(ids) == sorted(accepted)  # each exactly once, and nothing else
    states = {r[1] for r in rows}
    # none orphaned; an offer the bots left at the end lapses back into the queue by itself
    assert states <= {"queued", "offered", "closed", "abandoned"}, states
    assert "closed" in states
    with sqlite3.connect(tmp_path / "contact.db") as conn:
        channels = dict(conn.execute("SELECT channel, count(*) FROM contacts GROUP BY channel"))
        dispatched = conn.execute("SELECT count(DISTINCT contact_id) FROM dispatches").fetchone()
        arrived = conn.execute(
            "SELECT count(*) FROM unit_status_history WHERE status = 'on_scene'"
        ).fetchone()
        units = dict(conn.execute("SELECT status, count(*) FROM units GROUP BY status"))
    assert channels["telegram"] == edges["telegram"]["sent"]
    assert channels["whatsapp"] == edges["whatsapp"]["sent"]
    assert channels["kiosk"] == edges["kiosk"]["sent"]
    assert channels["school_alarm"] == edges["alarm"]["sent"]
    assert channels["camera"] == edges["camera"]["sent"]
    # the app's SOS button: registered phones pressing it, each an SOS contact of its own
    assert report["app_sos_presses"] >= 2
    assert channels["app_sos"] == report["app_sos_presses"]
    assert dispatched[0] == report["dispatched"]
    # the units drove there (one cut short by the end of the run may have got there unseen)
    assert arrived[0] >= report["units"]["on_scene"] > 0
    assert units == {"out_of_service": 32}  # and never serve a real contact after the run
