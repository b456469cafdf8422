"""`contact demo` as `make run` starts it: with the local Asterisk (provisioned on this machine,
as the voice tests need it) its synthetic 102 caller reaches the queue as a voice contact; the
demo operator's softphone is wired to PJSIP/op1; SIGTERM stops everything it started (no
Asterisk or sipp left behind) and nothing logs a traceback.

The demo city (68,000 cameras, 150 units) is off here to keep the test short: its fleet has its
own test (test_demo_fleet.py). Asterisk missing makes this test FAIL, never skip."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.ports import free_tcp_port, free_udp_port

RTP_RANGE = (31800, 31999)  # away from the other Asterisk tests' ranges and sipp's media ports
PASSWORD = "demo-password-0123"

pytestmark = pytest.mark.timeout(150)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _env(tmp_path: Path, port: int, run_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CONTACT_DATA_DIR": str(tmp_path),
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/c.db",
        "CONTACT_HTTP_PORT": str(port),
        "CONTACT_DEMO_PASSWORD": PASSWORD,
        "CONTACT_DISPATCH_ENABLED": "false",
        "CONTACT_ASTERISK_RUN_DIR": str(run_dir),
        "CONTACT_ASTERISK_AMI_PORT": str(free_tcp_port()),
        "CONTACT_ASTERISK_HTTP_PORT": str(free_tcp_port()),
        "CONTACT_ASTERISK_SIP_PORT": str(free_udp_port()),
        "CONTACT_ASTERISK_RTP_START": str(RTP_RANGE[0]),
        "CONTACT_ASTERISK_RTP_END": str(RTP_RANGE[1]),
        "CONTACT_LOG_LEVEL": "INFO",
    }


def _start_demo(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    exe = str(Path(sys.executable).with_name("contact"))
    subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=60)
    with (tmp_path / "demo.log").open("wb") as log:
        return subprocess.Popen(
            [exe, "demo", "--interval", "3600", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _text(path: Path) -> str:
    return path.read_text(errors="replace")


async def _running(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    deadline = time.monotonic() + 60
    while "contact demo is running" not in _text(log_path):
        assert proc.poll() is None, _text(log_path)
        assert time.monotonic() < deadline, _text(log_path)
        await asyncio.sleep(0.2)
    return _text(log_path)


async def _softphone(port: int, username: str) -> dict[str, object]:
    async with aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{port}", cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as s:
        async with s.get("/login") as r:
            page = await r.text()
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        login = {"username": username, "password": PASSWORD, "csrf_token": token}
        async with s.post("/login", data=login, allow_redirects=False) as r:
            assert r.status == 303
        async with s.get("/api/v1/me/softphone") as r:
            return dict(await r.json())


async def test_the_demo_rings_the_queue_with_a_real_call_and_stops_clean(tmp_path: Path) -> None:
    port = free_tcp_port()
    run_dir = tmp_path / "run"
    env = _env(tmp_path, port, run_dir)
    log_path = tmp_path / "demo.log"
    proc = _start_demo(tmp_path, env)
    spawned: set[int] = set()
    asterisk_pid = None
    try:
        out = await _running(proc, log_path)
        assert "voice: Asterisk is up" in out, out
        asterisk_pid = int((run_dir / "asterisk.pid").read_text().split()[0])

        # the first synthetic caller rings within seconds: a voice contact in the queue
        db = sqlite3.connect(tmp_path / "c.db")
        try:
            deadline = time.monotonic() + 40
            while True:
                rows = db.execute("select state from contacts where channel = 'voice'").fetchall()
                spawned |= _children(proc.pid)
                if rows:
                    break
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                await asyncio.sleep(0.3)
            assert rows[0][0] in ("queued", "offered"), rows
        finally:
            db.close()

        # the demo operator answers on the browser softphone of asterisk-config/ (op1)
        phone = await _softphone(port, "operator")
        assert phone["available"] is True and phone["endpoint"] == "PJSIP/op1", phone
    finally:
        spawned |= _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
    out = log_path.read_text(errors="replace")
    assert proc.returncode == 0, out
    assert "Traceback" not in out, out
    assert asterisk_pid is not None and not _alive(asterisk_pid), "Asterisk left running"
    left = [pid for pid in spawned if _alive(pid)]
    assert not left, f"processes left behind: {left}"


async def test_without_voice_the_demo_says_why_instead_of_a_red_badge(tmp_path: Path) -> None:
    port = free_tcp_port()
    env = _env(tmp_path, port, tmp_path / "run")
    proc = _start_demo(tmp_path, env, "--no-voice")
    try:
        out = await _running(proc, tmp_path / "demo.log")
        assert "voice: no voice: started with --no-voice" in out, out
        phone = await _softphone(port, "operator")
        assert phone == {
            "available": False,
            "reason": "telephony_off",  # the page shows ui.sp_telephony_off (kk/ru), not red
            "detail": "no voice: started with --no-voice",
        }
        assert not (tmp_path / "run" / "asterisk.pid").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0
    assert "Traceback" not in (tmp_path / "demo.log").read_text(errors="replace")
