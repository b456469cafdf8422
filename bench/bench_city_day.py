"""A city's day compressed: the highest `contact simulate --speed` at which the system's own
latencies stay within their targets, and what saturates first.

For each speed (30, 60, 120, 240, 480 by default) a fresh `contact serve` on the embedded
defaults (SQLite in WAL mode with synchronous=FULL, the in-process queue and bus) is started,
bot operator accounts are written into its database, and `contact simulate SCENARIO --speed S
--operator …` plays the chosen hours of the scenario against it as its own OS process, as a
user runs it. Meanwhile this script is a supervisor's screen: one more operator, logged in like
a browser and never ready, whose /ws receives `contact.queued` for every report.

Figures per speed:
- report → screen: from the driver's POST (its monotonic clock, in report.json's
  `edge_times`) to `contact.queued` on the supervisor's screen (bench_report_to_screen's
  Screen on the machine's monotonic clock, which both processes share). Target p99 <= 50 ms,
  none lost.
- voice screen pop: when Asterisk can run here (provisioned, sipp installed; the voice edge's
  own `open_pbx` decides) the bench starts one for every speed and the servers drive it, so
  the driver's 102 calls go through it as sipp callers (contact/simulate/edges/voice.py) and
  its report gives INVITE → `contact.queued` per call (`voice.screen_pop_ms`: p50, p95; target
  p95 <= 100 ms). Otherwise, or with --no-voice, "not measured (no voice in this run)": the
  driver carries 102 calls as app reports, and they count in report → screen.
- CPU per contact: the server's CPU from the first report to the driver's end (drain and
  read-back included, the bots' logins not) over the contacts sent: a contact's whole life.
- what saturates: the server's and the driver's CPU (share of one core over the play, and the
  busiest 5 s: one Python process runs on one core at a time); the machine's cores (the share
  of the play the server's event loop was ready to run but waited for a core, from
  /proc/<pid>/schedstat: other processes had them); and SQLite (the intake commits before it
  answers, so POST → 202 is the database's write time plus queuing in the server; a slow 202
  with the server's CPU neither saturated nor waited for is the disk).

A full day at ×60 is 24 minutes of wall time per speed; by default the bench plays the four
busiest hours of the weekday (18:00–21:59, `--from-hour 18 --hours 4`), which at ×60 takes
4 minutes, at ×480 30 s, plus ~15 s of start-up and drain per speed. `--hours 24
--from-hour 0` plays the full day.

    python bench/bench_city_day.py [--speeds 30,60,120,240,480] [--hours 4] [--from-hour 18]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from _contact_serve import contact_executable, contact_serve_env  # bench/ is on sys.path
from _figures import ms, pct
from _processes import Processes, cpu_seconds, free_port, run_with_processes, wait_healthy
from bench_report_to_screen import Screen, login

from contact.config import AsteriskSettings
from contact.simulate.chaos import driving
from contact.simulate.cli import _bots
from contact.simulate.edges.voice import Opened, open_pbx
from contact.simulate.scenario import BUILT_IN, load_scenario
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskRunner

SCREEN_P99_MS = 50.0
VOICE_POP_P95_MS = 100.0
SATURATED_SHARE = 0.9  # of one core, over the busiest 5 s
SLOW_COMMIT_MS = 50.0  # POST → 202 p99 above this, with CPU to spare: the database
CONTENDED_SHARE = 0.2  # the server's loop ready but waiting for a core this share of the time
APP_KEY = "bench-city-app-key-0123456789abcdef"


@dataclass
class Run:
    speed: float
    hours: float
    sent: int = 0
    accepted: int = 0
    lost: int = 0
    screen_ms: list[float] = field(default_factory=list)  # POST → contact.queued
    screen_at: list[float] = field(default_factory=list)  # when each was sent, s into the play
    ack_ms: list[float] = field(default_factory=list)  # POST → 202
    server_cpu_s: float = 0.0
    # from the first report to the driver's end (drain and read-back included; the bots'
    # logins and the server's start excluded), per contact sent: a contact's whole life
    play_cpu_s: float = math.nan
    cpu_per_contact_ms: float = math.nan
    server_share: float = math.nan  # share of one core from the first report to the last
    server_peak: float = math.nan  # the busiest 5 s of those
    server_waits: float = math.nan  # share of the play its event loop waited for a core
    driver_cpu_s: float = 0.0
    driver_share: float = math.nan
    driver_peak: float = math.nan
    play_s: float = 0.0  # the first report sent to the last, wall seconds
    wall_s: float = 0.0  # the driver's, with drain and read-back
    emergency_sl: float | None = None
    voice_pop: Any = None
    locked: int = 0  # "database is locked" in the server's log
    errors: int = 0  # ERROR lines in the server's log
    loadavg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    exit_code: int = 0
    failed: str = ""  # the driver's last words when it wrote no report

    @property
    def screen_passed(self) -> bool:
        return bool(self.screen_ms) and not self.lost and pct(self.screen_ms, 99) <= SCREEN_P99_MS

    @property
    def passed(self) -> bool:
        """Both targets: report → screen, and the voice screen pop when the run had calls."""
        return self.screen_passed and not voice_p95(self.voice_pop) > VOICE_POP_P95_MS

    def saturated(self) -> str:
        """What ran out, most loaded first; "-" when nothing did."""
        found = []
        if self.server_peak >= SATURATED_SHARE:
            found.append((self.server_peak, f"server CPU {self.server_peak:.0%}"))
        if self.driver_peak >= SATURATED_SHARE:
            found.append((self.driver_peak, f"driver CPU {self.driver_peak:.0%}"))
        if self.server_waits >= CONTENDED_SHARE:
            found.append(
                (
                    self.server_waits / CONTENDED_SHARE,
                    f"the machine's cores (server's loop waited for one {self.server_waits:.0%}"
                    f" of the time, load {self.loadavg[0]:.1f})",
                )
            )
        ack = pct(self.ack_ms, 99)
        cpu_free = self.server_peak < SATURATED_SHARE and not self.server_waits >= CONTENDED_SHARE
        if ack > SLOW_COMMIT_MS and cpu_free:
            found.append((ack / SLOW_COMMIT_MS, f"SQLite (202 p99 {ack:.0f} ms)"))
        if self.locked:
            found.append((math.inf, f"SQLite locked ×{self.locked}"))
        return ", ".join(text for _, text in sorted(found, reverse=True)) or "-"


def window(scenario: str, from_hour: int, hours: float) -> str:
    """The scenario's TOML with its start hour and duration replaced."""
    if scenario in BUILT_IN:
        where = resources.files("contact.simulate").joinpath("scenarios", f"{scenario}.toml")
        text = where.read_text("utf-8")
    else:
        text = Path(scenario).read_text("utf-8")
    text = re.sub(r"(?m)^start_hour\s*=.*$", f"start_hour = {from_hour}", text)
    return re.sub(r"(?m)^duration_h\s*=.*$", f"duration_h = {hours:g}", text)


Samples = list[tuple[float, float]]  # (monotonic time, CPU seconds so far)


def run_queue_s(pid: int) -> float:
    """Seconds the process's main thread (the event loop) has waited for a core, ready to run
    (/proc/<pid>/schedstat; 0.0 where it is missing)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


async def sample(pids: dict[str, int], history: dict[str, Samples], stop: asyncio.Event) -> None:
    """Each process's CPU time and its loop's wait for a core, every half second, until stop."""
    while not stop.is_set():
        now = time.monotonic()
        for name, pid in pids.items():
            cpu = cpu_seconds(pid)
            if cpu > 0:
                history.setdefault(name, []).append((now, cpu))
                history.setdefault(f"{name} waits", []).append((now, run_queue_s(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def shares(samples: Samples, start: float, end: float) -> tuple[float, float]:
    """(mean share of one core from start to end, the busiest 5 s within them)."""
    inside = [x for x in samples if start - 0.5 <= x[0] <= end + 0.5]
    if len(inside) < 2:
        return math.nan, math.nan
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    mean = (c1 - c0) / (t1 - t0)
    peak = mean
    for i, (t, c) in enumerate(inside):
        later = [x for x in inside[i:] if x[0] - t >= 5.0]
        if later:
            peak = max(peak, (later[0][1] - c) / (later[0][0] - t))
    return mean, peak


async def one_speed(
    procs: Processes, tmp: Path, args: argparse.Namespace, speed: float, voice: dict[str, str]
) -> Run:
    run = Run(speed, args.hours)
    here = tmp / f"x{speed:g}"
    here.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = contact_serve_env(
        here,
        port,
        CONTACT_APP_API_KEYS=APP_KEY,
        CONTACT_APP_REPORTS_PER_MINUTE_PER_DEVICE="1000000",
        CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS="1000000",  # the driver is one address
        CONTACT_APP_REPORTS_PER_MINUTE_PER_API_KEY="1000000",
        CONTACT_ROUTING_WRAP_UP_S=f"{args.wrap_up_s / speed:.3f}",
        **voice,
    )
    exe = contact_executable()
    name = f"serve-x{speed:g}"
    server = procs.start(name, [exe, "serve"], env)
    await wait_healthy(url, server, 60.0)
    accounts = await _bots(env["CONTACT_DATABASE_URL"], args.operators + 1)
    watcher, bots = accounts[0], accounts[1:]
    path = here / "scenario.toml"
    path.write_text(window(args.scenario, args.from_hour, args.hours), "utf-8")
    out = here / "report"
    argv = [exe, "simulate", str(path), "--url", url, "--app-key", APP_KEY]
    argv += ["--speed", f"{speed:g}", "--seed", str(args.seed), "--drain-s", str(args.drain_s)]
    argv += ["--out", str(out)]
    for b in bots:
        argv += ["--operator", f"{b.username}:{b.password}"]
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await login(browser, url, watcher.username, watcher.password)
        screen = Screen(await browser.ws_connect(f"{url}/ws", heartbeat=20), time.monotonic)
        cpu0 = cpu_seconds(server.pid)
        log = (here / "simulate.log").open("wb")
        driver = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        history: dict[str, Samples] = {}
        stop = asyncio.Event()
        sampler = asyncio.create_task(
            sample({"server": server.pid, "driver": driver.pid}, history, stop)
        )
        try:
            _, status, usage = await asyncio.to_thread(os.wait4, driver.pid, 0)
        finally:
            stop.set()
            await sampler
        driver.returncode = os.waitstatus_to_exitcode(status)
        run.exit_code = driver.returncode
        cpu_end = cpu_seconds(server.pid)
        run.server_cpu_s = cpu_end - cpu0
        run.driver_cpu_s = usage.ru_utime + usage.ru_stime  # with its start and bots' logins
        run.loadavg = os.getloadavg()
        report_path = out / "report.json"
        if not report_path.exists():
            said = (here / "simulate.log").read_text(errors="replace").splitlines()
            errors = [line for line in said if "Error" in line and "Unclosed" not in line]
            run.failed = (errors or said or ["no output"])[-1][:200]
            await screen.close()
            procs.stop(name)
            return run
        report = json.loads(report_path.read_text("utf-8"))
        times = report.get("edge_times", [])
        await screen.wait_for([t[0] for t in times], time.monotonic() + 5.0)
        await screen.close()
    if times:  # the play: from the first report sent to the last
        start, end = min(t[1] for t in times), max(t[1] for t in times)
        run.play_s = end - start
        run.server_share, run.server_peak = shares(history.get("server", []), start, end)
        run.driver_share, run.driver_peak = shares(history.get("driver", []), start, end)
        run.server_waits = shares(history.get("server waits", []), start, end)[0]
        played = [cpu for t, cpu in history.get("server", []) if t >= start - 0.5]
        run.play_cpu_s = cpu_end - played[0] if played else math.nan
    for contact_id, sent_at, acked_at in times:
        seen = screen.arrived.get(contact_id)
        if seen is None:
            run.lost += 1
        else:
            run.screen_ms.append((seen - sent_at) * 1000)
            run.screen_at.append(sent_at - start)
        if acked_at is not None and not math.isnan(acked_at):
            run.ack_ms.append((acked_at - sent_at) * 1000)
    run.sent, run.accepted = report["sent"], report["accepted_by_edge"]
    run.cpu_per_contact_ms = run.play_cpu_s / run.sent * 1000 if run.sent else math.nan
    run.wall_s = float(report["wall_s"])
    run.emergency_sl = report["emergency"].get("service_level")
    voice = report.get("voice") or {}
    run.voice_pop = report.get("voice_screen_pop") or (
        voice.get("screen_pop_ms") if voice.get("driven") else None
    )
    procs.stop(name)
    lines = procs.log_lines(name)
    run.locked = sum("database is locked" in line for line in lines)
    run.errors = sum(" ERROR " in line or line.startswith("ERROR") for line in lines)
    return run


def fifths(r: Run) -> list[float]:
    """Report → screen p99 in each fifth of the play: a start-up transient or a growing queue."""
    out = []
    for k in range(5):
        lo, hi = r.play_s * k / 5, r.play_s * (k + 1) / 5
        pairs = zip(r.screen_ms, r.screen_at, strict=True)
        out.append(pct([m for m, at in pairs if lo <= at <= hi], 99))
    return out


def voice_p95(pop: Any) -> float:
    """The screen pop's p95 in ms; nan when the run drove no call (not measured, so not
    missed either)."""
    p95 = pop.get("p95_ms", pop.get("p95")) if isinstance(pop, dict) else None
    return float(p95) if isinstance(p95, int | float) else math.nan


def voice_cell(pop: Any) -> str:
    """The voice screen pop p50 / p95 (report.json's `voice.screen_pop_ms`), when the run
    drove 102 calls through Asterisk."""
    if not pop or (isinstance(pop, dict) and not pop.get("n", 1)):
        return "not measured (no voice in this run)"
    p95 = voice_p95(pop)
    if math.isnan(p95):
        return f"see report: {json.dumps(pop)[:60]}"
    verdict = "PASS" if p95 <= VOICE_POP_P95_MS else "MISS"
    p50 = pop.get("p50_ms", pop.get("p50"))
    return f"p50 {p50:.1f} / p95 {p95:.1f} ms (n={pop.get('n')}) {verdict}"


def table(runs: list[Run]) -> str:
    head = (
        f"{'speed':>6} {'sent':>5} {'lost':>4} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7} "
        f"{'screen':>6} {'202p99':>6} {'srv cpu':>11} {'ms/ct':>5} {'waits':>5} {'drv cpu':>11} "
        f"{'em SL':>6} "
        f"{'load':>5}  saturated / voice screen pop"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        if r.failed:
            lines.append(f"×{r.speed:<5g} FAILED: contact simulate exit {r.exit_code}: {r.failed}")
            continue
        s = r.screen_ms
        sl = "-" if r.emergency_sl is None else f"{r.emergency_sl:.0%}"
        lines.append(
            f"×{r.speed:<5g} {r.sent:5d} {r.lost:4d} {ms(pct(s, 50))} {ms(pct(s, 95))} "
            f"{ms(pct(s, 99))} {pct(s, 100) if s else math.nan:7.1f} "
            f"{'PASS' if r.screen_passed else 'MISS':>6} {ms(pct(r.ack_ms, 99))} "
            f"{r.server_share:4.0%}/{r.server_peak:4.0%} {r.cpu_per_contact_ms:5.1f} "
            f"{r.server_waits:5.0%} "
            f"{r.driver_share:4.0%}/{r.driver_peak:4.0%}"
            f" {sl:>6} {r.loadavg[0]:5.1f}  {r.saturated()}; voice: {voice_cell(r.voice_pop)}"
        )
    return "\n".join(lines)


VOICE_RTP = (31200, 31799)  # away from the tests' Asterisk ranges and sipp's media ports


async def asterisk(tmp: Path, args: argparse.Namespace) -> tuple[Opened | None, dict[str, str]]:
    """One Asterisk for every speed (the voice edge's open_pbx: started here, stopped at the
    end), and the servers' settings to drive it; (None, {}) with a note when there is none:
    the driver then carries 102 calls as app reports."""
    if args.no_voice:
        return None, {}
    settings = AsteriskSettings(
        run_dir=tmp / "asterisk",
        ami_port=free_port(),
        http_port=free_port(),
        sip_port=free_port(socket.SOCK_DGRAM),
        rtp_start=VOICE_RTP[0],
        rtp_end=VOICE_RTP[1],
    )
    opened = await open_pbx(AsteriskRunner(settings, DEFAULT_CONFIG_DIR))
    if opened.pbx is None:
        print(f"note: no voice screen pop: {opened.reason}", flush=True)
        return None, {}
    return opened, driving(settings)


async def bench(procs: Processes, tmp: Path, args: argparse.Namespace) -> list[Run]:
    runs: list[Run] = []
    pbx, voice = await asterisk(tmp, args)
    try:
        for speed in args.speeds:
            run = await one_speed(procs, tmp, args, speed, voice)
            runs.append(run)
            print(table(runs[-1:]).splitlines()[-1], flush=True)
            by = " ".join(ms(x).strip() for x in fifths(run))
            print(f"        report → screen p99 by fifth of the play (ms): {by}", flush=True)
            if args.stop_at_miss and not run.passed:
                break
    finally:
        if pbx is not None:
            await pbx.close()
    return runs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scenario", default="almaty-weekday")
    p.add_argument(
        "--speeds",
        default="30,60,120,240,480",
        type=lambda s: [float(x) for x in s.split(",")],
        help="compressions to try, in order (default 30,60,120,240,480)",
    )
    p.add_argument("--from-hour", type=int, default=18, help="first hour played (default 18)")
    p.add_argument("--hours", type=float, default=4.0, help="hours played (default 4)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--operators", type=int, help="bot operators (default: the rota's most in those hours)"
    )
    p.add_argument("--drain-s", type=float, default=10.0)
    p.add_argument("--stop-at-miss", action="store_true", help="stop after the first MISS")
    p.add_argument(
        "--no-voice",
        action="store_true",
        help="102 calls as app reports even when Asterisk is available (no voice screen pop)",
    )
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--keep", action="store_true", help="keep the servers' logs and reports")
    args = p.parse_args()
    scenario = load_scenario(args.scenario)
    args.wrap_up_s = scenario.wrap_up_s
    if args.operators is None:
        hours = range(args.from_hour, args.from_hour + math.ceil(args.hours))
        args.operators = max(scenario.operators[h % 24] for h in hours)
    print(
        f"{args.scenario} {args.from_hour:02d}:00 + {args.hours:g} h, seed {args.seed}, "
        f"{args.operators} bot operators; targets: report → screen p99 <= {SCREEN_P99_MS:g} ms, "
        f"voice screen pop p95 <= {VOICE_POP_P95_MS:g} ms; load average {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} cores",
        flush=True,
    )
    print(table([]).splitlines()[0], flush=True)
    runs = run_with_processes(
        lambda procs, tmp: bench(procs, tmp, args), temp_prefix="bench-city-", keep=args.keep
    )
    if runs is None:
        return 1
    print()
    print(table(runs))
    print(
        "srv/drv cpu: mean share of one core over the play / busiest 5 s; waits: share of the "
        "play the server's loop waited for a core; 202p99: POST → 202 (the intake's commit); "
        "em SL: emergencies answered within 10 s (scenario time) by the bots"
    )
    passed = [r.speed for r in runs if r.passed]
    best = max(passed) if passed else None
    print(f"highest compression within the targets: ×{best:g}" if best else "none")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "speed": r.speed,
                        "hours": r.hours,
                        "sent": r.sent,
                        "lost": r.lost,
                        "screen_p50_ms": pct(r.screen_ms, 50),
                        "screen_p95_ms": pct(r.screen_ms, 95),
                        "screen_p99_ms": pct(r.screen_ms, 99),
                        "screen_p99_ms_by_fifth_of_play": fifths(r),
                        "ack_p99_ms": pct(r.ack_ms, 99),
                        "server_cpu_per_contact_ms": r.cpu_per_contact_ms,
                        "server_share": r.server_share,
                        "server_peak": r.server_peak,
                        "server_waits_for_a_core": r.server_waits,
                        "driver_share": r.driver_share,
                        "driver_peak": r.driver_peak,
                        "emergency_sl": r.emergency_sl,
                        "voice_screen_pop": r.voice_pop,
                        "loadavg": r.loadavg,
                        "saturated": r.saturated(),
                    }
                    for r in runs
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
