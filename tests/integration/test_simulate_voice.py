"""`contact simulate` with its 102 calls through a real Asterisk (issue 13, items 2 and 5): every
call a sipp caller, the bots answering on sipp phones. A short compressed run where one bot
cannot take every call: some calls are talked to and closed, some callers run out of patience
(abandoned, with a callback task each); every call the dialplan answered is in the database
exactly once, none left in an operator's hands. And `--chaos` restarting Asterisk mid-run:
recovered once the center's telephony is up again, still no call lost or doubled. Asterisk or
sipp missing makes these tests FAIL, never skip."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contact.config import DatabaseSettings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.http.auth import hash_password
from contact.persistence.database import SqlDatabase
from contact.simulate.chaos import Node
from tests.integration.test_voice_harness import Pbx
from tests.integration.test_voice_harness import pbx as pbx
from tests.support import APP_KEY, PASSWORD

# two calls a minute of 60 s each with one operator, callers who wait 40 s on average: at ×6
# a run of a few wall seconds per call, and more calls than one bot can take
CALLS = """\
name = "calls"
description = "a handful of 102 calls, some answered, some abandoned"
start_day = "mon"
start_hour = 10
duration_h = 1
wrap_up_s = 6
hourly = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
operators = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
patient_channels = []
handling_sigma = 0.3

[per_day]
voice = 2880

[mix]
emergency = 0.4
ordinary = 0.4
informational = 0.2

[languages]
ru = 0.5
kk = 0.5

[handling_s.voice]
emergency = 60
ordinary = 60
informational = 60

[patience_s]
emergency = 40
ordinary = 40
informational = 40

[needs_unit]
emergency = 0.0
ordinary = 0.0
informational = 0.0

[[districts]]
name = "Алмалинский"
weight = 1
lat = 43.252
lon = 76.912
radius_km = 2.0
"""


# the app's SOS button pressed twice a minute, each press placing its video call; a few 102
# calls beside them (the voice edge, and so Asterisk, is opened for a run with calls)
SOS = (
    CALLS.replace('name = "calls"', 'name = "sos"')
    .replace("voice = 2880", "voice = 360\napp = 2880")
    .replace(
        "emergency = 0.4\nordinary = 0.4\ninformational = 0.2",
        "emergency = 1\nordinary = 0\ninformational = 0",
    )
    .replace(
        "[handling_s.voice]",
        "[handling_s.app]\nemergency = 60\nordinary = 60\ninformational = 60\n\n[handling_s.voice]",
    )
    .replace(
        "patient_channels = []", "patient_channels = []\napp_sos_share = 1\napp_sos_video_share = 1"
    )
)


def _contact(
    *args: str, env: dict[str, str] | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("contact"))
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _assert_no_call_lost(report: dict[str, Any], *, restarted: bool = False) -> dict[str, Any]:
    calls = report["voice"]
    assert calls["driven"] is True, calls
    books: dict[str, Any] = calls["accounting"]
    assert calls["calls"] >= 4
    assert calls["answered_by_dialplan"] == calls["calls"] == books["answered"]
    assert books["found_once"] == books["answered"]  # each exactly once
    assert books["missing"] == [] and books["duplicated"] == [] and books["orphaned"] == []
    assert books["not_settled"] == []
    assert set(books["states"]) <= {"queued", "abandoned", "closed"}, books["states"]
    assert books["abandoned_without_callback"] == []  # each abandoned call has its task
    if restarted:  # and each conversation the restart cut off (its contact closed after wrap-up)
        closed = books["states"].get("closed", 0)
        assert books["abandoned"] <= books["callback_tasks"] <= books["abandoned"] + closed
    else:
        assert books["callback_tasks"] == books["abandoned"]
    assert report["not_waiting_or_terminal"] == []
    pop = calls["screen_pop_ms"]
    assert pop["n"] >= 1 and pop["p95"] is not None and pop["p95"] > 0
    return books


@pytest.fixture
def node(tmp_path: Path, pbx: Pbx) -> Iterator[Node]:
    """`contact serve` with its telephony on the module's Asterisk (a chaos Node: it waits a
    minute for a busy machine to start it)."""
    s = pbx.settings
    env = {
        **os.environ,
        "CONTACT_APP_API_KEYS": APP_KEY,
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS": "100000",
        "CONTACT_LOG_LEVEL": "WARNING",
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/contact.db",
        "CONTACT_ROUTING_WRAP_UP_S": "1",
        "CONTACT_ASTERISK_ENABLED": "true",
        "CONTACT_ASTERISK_RUN_DIR": str(s.effective_run_dir),
        "CONTACT_ASTERISK_AMI_PORT": str(s.ami_port),
        "CONTACT_ASTERISK_SIP_PORT": str(s.sip_port),
        "CONTACT_ASTERISK_HTTP_PORT": str(s.http_port),
        "CONTACT_ASTERISK_RTP_START": str(s.rtp_start),
        "CONTACT_ASTERISK_RTP_END": str(s.rtp_end),
        "CONTACT_TRANSCRIBE_ENABLED": "false",
    }
    serve = Node("voice", env, tmp_path / "serve.log")
    yield serve
    serve.stop()


async def _run(
    tmp_path: Path, node: Node, scenario: str, bots: list[str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`contact simulate` of `scenario` at ×6 against the node, its bots' accounts made first;
    the report in tmp_path/report. It must exit 0."""
    await node.start()
    db = await SqlDatabase.open(DatabaseSettings(url=node.env["CONTACT_DATABASE_URL"]))
    try:
        skills = Skills(frozenset(Language), frozenset(Capability))
        for name in bots:
            bot = Operator(new_id(), name, f"Bot {name}", Role.OPERATOR, skills)
            await db.operators.add(bot, hash_password(PASSWORD))
    finally:
        await db.close()
    path = tmp_path / "scenario.toml"
    path.write_text(scenario, "utf-8")
    accounts = [a for name in bots for a in ("--operator", f"{name}:{PASSWORD}")]
    done = _contact(
        *("simulate", str(path), "--speed", "6", *args, *accounts, "--drain-s", "20"),
        *("--url", node.url, "--app-key", APP_KEY, "--out", str(tmp_path / "report")),
        env=node.env,
        timeout=200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.timeout(240)
async def test_calls_through_asterisk_are_answered_or_abandoned_and_none_is_lost(
    tmp_path: Path, node: Node
) -> None:
    done = await _run(tmp_path, node, CALLS, ["voicebot"], "--minutes", "4", "--seed", "5")
    assert "102 calls through Asterisk" in done.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text("utf-8"))
    assert report["carried_as_app"] == {}
    books = _assert_no_call_lost(report)
    assert report["voice"]["talked_to"] >= 1 and books["states"].get("closed", 0) >= 1
    assert books["abandoned"] >= 1  # one bot, more callers than it can take
    assert report["total"]["answered"] >= report["voice"]["talked_to"]  # accepted, then rung
    with sqlite3.connect(tmp_path / "contact.db") as conn:
        rows = conn.execute("SELECT channel, citizen, language FROM contacts").fetchall()
    voice = [r for r in rows if r[0] == "voice"]
    assert len(voice) == books["answered"]
    # the menu's digits were heard (a caller answered or gone before it chose has none)
    assert {r[2] for r in voice} >= {"ru", "kk"}
    callbacks = [r for r in rows if r[0] == "callback"]
    assert len(callbacks) == books["abandoned"]
    assert all(r[1].startswith("+999") for r in rows)  # numbers no phone has


@pytest.mark.timeout(240)
async def test_the_sos_button_places_its_video_call_which_joins_the_sos(
    tmp_path: Path, node: Node
) -> None:
    done = await _run(tmp_path, node, SOS, ["sosbot0", "sosbot1"], "--minutes", "3", "--seed", "2")
    report = json.loads((tmp_path / "report" / "report.json").read_text("utf-8"))
    video = report["voice"]["sos_video"]
    assert report["app_sos_presses"] >= 2
    assert video["calls"] == report["app_sos_videos"] == report["app_sos_presses"]
    # each call answered by [app-inbound] and joined to the SOS it was placed for, the
    # operator who took the SOS hanging it up
    assert video["answered_by_dialplan"] == video["calls"]
    assert video["video_taken"] == video["calls"]  # Asterisk's answer took the VP8 stream
    assert video["joined_their_sos"] == video["calls"] and video["not_joined"] == []
    assert video["hung_up_by_center"] >= 1
    assert report["not_waiting_or_terminal"] == []
    with sqlite3.connect(tmp_path / "contact.db") as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM calls GROUP BY kind").fetchall())
        channels = {r[0] for r in conn.execute("SELECT channel FROM contacts").fetchall()}
    assert kinds["sos_video"] == video["calls"]
    assert "video" not in channels  # never a contact of its own
    assert "SOS video:" in done.stdout


@pytest.mark.timeout(300)
def test_an_asterisk_restart_mid_run_loses_no_call(tmp_path: Path, pbx: Pbx) -> None:
    scenario = tmp_path / "calls.toml"
    scenario.write_text(CALLS, "utf-8")
    out = tmp_path / "chaos"
    done = _contact(
        *("simulate", str(scenario), "--chaos", "--faults", "asterisk"),
        *("--minutes", "4", "--speed", "6", "--seed", "7", "--operators", "2"),
        *("--drain-s", "20", "--out", str(out)),
        env=None,
        timeout=270,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "report.json").read_text("utf-8"))
    faults = {f["name"]: f for f in report["chaos"]["faults"]}
    restart = faults["restart Asterisk"]
    assert restart["recovered_s"] is not None and restart["recovered_s"] > 1.0, restart
    assert "started again" in restart["note"]
    _assert_no_call_lost(report, restarted=True)
    assert "restart Asterisk: recovered in" in done.stdout
