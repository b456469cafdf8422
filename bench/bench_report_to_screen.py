"""Report to screen: a citizen app report POSTed → `contact.queued` on a logged-in operator's /ws.

The real server runs as its own OS process, the way a user runs it (`contact serve` with the
embedded defaults: SQLite in WAL mode with synchronous=FULL, the in-process queue and bus).
One operator logs in like a browser (login form, session cookie) and stays away, so every
report stays queued and produces one `contact.queued` message on the `queue` topic. This
script is the citizen app: it POSTs /api/v1/app/reports at a steady rate on an open-loop
schedule (a request leaves every 1/rate s whatever the answers), from many device ids.

Latency is from just before the POST to the arrival of the message naming the contact id of
the 202 answer (the message may come before the answer). Lost: answered 202, never seen on
/ws within --grace s after the last send. The same generator then drives a bare aiohttp
server (bench/_server.py, POST → WebSocket message, nothing else) in the same run, and the
table gives both and their ratio. Target: p99 <= 50 ms, nothing lost.

    python bench/bench_report_to_screen.py [--rate 100] [--duration 30] [--strict]

The multi-node configuration instead of the embedded defaults: `--postgres
postgresql://postgres@127.0.0.1:5432 --redis redis://127.0.0.1:6379/0` (a database of the
run's own is created, migrated and dropped; Redis keys carry a prefix of the run's own).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from _contact_serve import contact_executable, contact_serve_env  # bench/ is on sys.path
from _figures import ms, pct, tally
from _processes import Processes, cpu_seconds, free_port, run_with_processes, wait_healthy

TARGET_P99_MS = 50.0
APP_KEY = "bench-app-key-0123456789abcdef"
USERNAME = "benchop"
PASSWORD = "bench password 0123456789"
HERE = Path(__file__).resolve().parent
TEXTS = [
    "Украли велосипед у подъезда",
    "Соседи шумят третью ночь, просим приехать",
    "Көлік соқтығысты, адамдар жарақат алды",
    "Драка возле остановки, двое мужчин",
    "Подозрительный человек ходит у школы",
]


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)  # POST → WS message
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (sent at s, latency)
    answers_ms: list[float] = field(default_factory=list)  # POST → 202
    sent: int = 0
    accepted: int = 0
    lost: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # non-202 answers and errors
    late_ms: list[float] = field(default_factory=list)  # generator: send time - schedule
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    server_log: list[str] = field(default_factory=list)  # what the server logged meanwhile

    @property
    def refused(self) -> int:
        return sum(self.statuses.values())

    def p(self, q: float) -> float:
        return pct(self.latencies_ms, q)

    @property
    def passed(self) -> bool:
        return self.p(99) <= TARGET_P99_MS and self.lost == 0 and self.refused == 0


class Screen:
    """One operator's WebSocket: the arrival time of every `contact.queued` by contact id, on
    `clock` (perf_counter here; bench_city_day compares with another process's send times,
    so it passes time.monotonic, the clock both processes share)."""

    def __init__(
        self, ws: aiohttp.ClientWebSocketResponse, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.ws = ws
        self.clock = clock
        self.arrived: dict[str, float] = {}
        self.closed_early = False
        self._new = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            now = self.clock()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data).get("data") or {}
            if data.get("type") == "contact.queued":
                self.arrived.setdefault(str(data["contact"]["id"]), now)
                self._new.set()
        self.closed_early = True

    async def wait_for(self, ids: Iterable[str], deadline: float) -> None:
        """Until every id has arrived or the deadline (on the screen's clock) passes."""
        missing = {i for i in ids if i not in self.arrived}
        while missing:
            self._new.clear()
            missing = {i for i in missing if i not in self.arrived}
            remaining = deadline - self.clock()
            if not missing or remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.ws.close()


def report_body(i: int, devices: int, rng: random.Random) -> dict[str, Any]:
    return {
        "text": rng.choice(TEXTS),
        "device_id": f"bench-device-{i % devices:06d}",
        "language": "ru",
        "location": {
            "lat": round(43.238 + rng.uniform(-0.05, 0.05), 6),
            "lon": round(76.889 + rng.uniform(-0.05, 0.05), 6),
            "accuracy_m": 15,
        },
    }


async def drive(
    name: str,
    post_url: str,
    headers: dict[str, str],
    screen: Screen,
    *,
    rate: float,
    duration: float,
    grace: float,
    devices: int,
    first: int = 0,
) -> Result:
    """Open loop: request i leaves at start + i/rate, whatever the earlier ones are doing."""
    result = Result(name)
    sent_at: dict[str, float] = {}
    rng = random.Random(first)
    timeout = aiohttp.ClientTimeout(total=max(10.0, grace))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> None:
            body = report_body(first + i, devices, rng)
            t0 = time.perf_counter()
            try:
                async with session.post(post_url, json=body, headers=headers) as r:
                    if r.status != 202:
                        result.statuses[str(r.status)] += 1
                        await r.read()
                        return
                    contact_id = str((await r.json())["id"])
                    result.answers_ms.append((time.perf_counter() - t0) * 1000)
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.statuses[type(exc).__name__] += 1
                return
            sent_at[contact_id] = t0

        count = round(rate * duration)
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter()
        for i in range(count):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            result.late_ms.append(max(0.0, time.perf_counter() - due) * 1000)
            tasks.append(asyncio.create_task(one(i)))
        end = time.perf_counter()
        result.sent = count
        await asyncio.gather(*tasks)
        await screen.wait_for(sent_at, end + grace)
        result.wall_s = time.perf_counter() - start
    result.accepted = len(sent_at)
    for contact_id, t0 in sent_at.items():
        t1 = screen.arrived.get(contact_id)
        if t1 is None:
            result.lost += 1
        else:
            result.latencies_ms.append((t1 - t0) * 1000)
            result.timeline.append((t0 - start, (t1 - t0) * 1000))
    result.latencies_ms.sort()
    result.answers_ms.sort()
    result.late_ms.sort()
    return result


async def settled_cpu(pid: int, idle_share: float = 0.03, within_s: float = 30.0) -> float:
    """The server's CPU seconds once it is idle again: work deferred past the last answer
    (incident grouping in the dispatch worker) belongs to the reports too."""
    last = cpu_seconds(pid)
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last < idle_share:
            return now
        last = now
    return last


async def measure(
    name: str,
    proc: subprocess.Popen[bytes],
    post_url: str,
    headers: dict[str, str],
    screen: Screen,
    args: argparse.Namespace,
) -> Result:
    common = {"rate": args.rate, "grace": args.grace, "devices": args.devices}
    if args.warmup > 0:
        await drive(name, post_url, headers, screen, duration=args.warmup, first=0, **common)
    cpu0 = cpu_seconds(proc.pid)
    result = await drive(
        name, post_url, headers, screen, duration=args.duration, first=10**6, **common
    )
    result.server_cpu_s = await settled_cpu(proc.pid) - cpu0
    if screen.closed_early:
        print(f"warning: the {name} WebSocket closed during the run", file=sys.stderr)
    return result


# --- the two servers -----------------------------------------------------------------------


async def run_bare(procs: Processes, args: argparse.Namespace) -> Result:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, str(HERE / "_server.py"), "--port", str(port)]
    proc = procs.start("bare", argv, dict(os.environ))
    try:
        await wait_healthy(url, proc)
        async with aiohttp.ClientSession() as browser:
            screen = Screen(await browser.ws_connect(f"{url}/ws"))
            try:
                return await measure("bare aiohttp", proc, f"{url}/report", {}, screen, args)
            finally:
                await screen.close()
    finally:
        procs.stop("bare")


EXTRA_ENV: dict[str, str] = {}  # --set KEY=VALUE: more CONTACT_* settings for the server


async def _postgres_admin(server_url: str, sql: str) -> None:
    import asyncpg  # the driver contact ships for PostgreSQL

    conn = await asyncpg.connect(f"{server_url.rstrip('/')}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def multi_node(args: argparse.Namespace) -> Any:
    """--postgres/--redis: a fresh database (migrated) and a key prefix of this run's own."""
    name = f"contact_bench_{uuid.uuid4().hex[:8]}"
    if args.postgres:
        # --history-from: a copy of a database of past contacts (tests/history.py's cache)
        template = f' TEMPLATE "{args.history_from}"' if args.history_from else ""
        await _postgres_admin(args.postgres, f'CREATE DATABASE "{name}"{template}')
        EXTRA_ENV["CONTACT_DATABASE_URL"] = f"{args.postgres.rstrip('/')}/{name}"
    if args.redis:
        EXTRA_ENV["CONTACT_REDIS_URL"] = args.redis
        EXTRA_ENV["CONTACT_REDIS_KEY_PREFIX"] = f"{name}:"
    try:
        yield
    finally:
        if args.postgres:
            await _postgres_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def contact_env(tmp: Path, port: int) -> dict[str, str]:
    env = contact_serve_env(
        tmp,
        port,
        CONTACT_APP_API_KEYS=APP_KEY,
        CONTACT_APP_REPORTS_PER_MINUTE_PER_DEVICE="1000000",
        CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS="1000000",  # the generator is one address
        CONTACT_APP_REPORTS_PER_MINUTE_PER_API_KEY="1000000",
    )
    env.update(EXTRA_ENV)  # --set wins
    return env


async def login(
    browser: aiohttp.ClientSession, url: str, username: str = USERNAME, password: str = PASSWORD
) -> None:
    """Like the login page in a browser: form token and cookie, POST the form, then /me."""
    async with browser.get(f"{url}/login") as r:
        page = await r.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError("no csrf_token on the login page")
    form = {"username": username, "password": password, "csrf_token": token.group(1)}
    async with browser.post(f"{url}/login", data=form, allow_redirects=False) as r:
        if r.status != 303:
            raise RuntimeError(f"login answered {r.status}: {await r.text()}")
    async with browser.get(f"{url}/api/v1/me") as r:
        if r.status != 200:
            raise RuntimeError(f"/api/v1/me answered {r.status}: {await r.text()}")
        await r.json()


async def run_contact(procs: Processes, tmp: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = contact_env(tmp, port)
    exe = contact_executable()
    if args.history_from and not args.postgres:
        shutil.copyfile(args.history_from, tmp / "bench.db")
    if not env["CONTACT_DATABASE_URL"].startswith("sqlite"):  # a shared database: on purpose
        upgraded = await asyncio.create_subprocess_exec(
            *[exe, "db", "upgrade"], env=env, stdout=asyncio.subprocess.PIPE
        )
        await upgraded.communicate()
        if upgraded.returncode != 0:
            raise RuntimeError("contact db upgrade failed")
    added = await asyncio.create_subprocess_exec(
        *[exe, "operators", "add", USERNAME, "--password-stdin"],
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await added.communicate(f"{PASSWORD}\n".encode())
    if added.returncode != 0:
        raise RuntimeError(f"contact operators add failed: {output.decode()}")
    proc = procs.start("contact", [exe, "serve"], env)
    try:
        await wait_healthy(url, proc)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:
            await login(browser, url)
            screen = Screen(await browser.ws_connect(f"{url}/ws", origin=url))
            try:
                headers = {"X-Api-Key": APP_KEY}
                result = await measure(
                    "contact", proc, f"{url}/api/v1/app/reports", headers, screen, args
                )
            finally:
                await screen.close()
    except BaseException:
        tail = procs.log_tail("contact")
        if tail:
            print(f"--- contact serve log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        procs.stop("contact")
    result.server_log = procs.log_lines("contact")
    return result


# --- report --------------------------------------------------------------------------------


def timeline(results: list[Result], window_s: float) -> str:
    """p50 / p99 of the reports sent in each window of the run: when did it degrade?"""
    lines = [f"latency by send time, {window_s:g} s windows (p50 / p99 ms, count):"]
    for r in results:
        windows: dict[int, list[float]] = {}
        for sent, latency in r.timeline:
            windows.setdefault(int(sent // window_s), []).append(latency)
        cells = []
        for w in sorted(windows):
            values = sorted(windows[w])
            cells.append(f"{pct(values, 50):.0f}/{pct(values, 99):.0f} ({len(values)})")
        lines.append(f"  {r.name:<13} " + "  ".join(cells))
    return "\n".join(lines)


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"report → screen, {args.rate:g} reports/s for {args.duration:g} s (open loop), "
        f"grace {args.grace:g} s; latency POST → contact.queued on /ws, ms",
        "",
        f"{'server':<13} {'sent':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7} "
        f"{'lost':>5} {'non-202':>7}  {'202 p50':>7} {'202 p99':>7}  {'cpu s':>6} {'cpu %':>5}",
    ]
    for r in results:
        cpu_pct = 100 * r.server_cpu_s / r.wall_s if r.wall_s else math.nan
        lines.append(
            f"{r.name:<13} {r.sent:>5} {ms(r.p(50))} {ms(r.p(95))} {ms(r.p(99))} "
            f"{ms(r.p(100)):>7} {r.lost:>5} {r.refused:>7}  "
            f"{ms(pct(r.answers_ms, 50)):>7} {ms(pct(r.answers_ms, 99)):>7}  "
            f"{r.server_cpu_s:6.2f} {cpu_pct:5.0f} {1000 * r.server_cpu_s / max(r.sent, 1):6.2f}"
        )
    lines.append(
        "(202 p50/p99: POST → answer; cpu s: the server process's CPU from the start of the "
        "measured run until it is idle again; cpu %: of one core over the run)"
    )
    for r in results:
        if r.statuses:
            lines.append(f"{r.name}: not answered 202: {tally(r.statuses)}")
        if r.server_log:
            lines.append(f"{r.name}: the server logged {len(r.server_log)} lines, the last:")
            lines.extend(f"    {line[:160]}" for line in r.server_log[-3:])
    lines.append("")
    by_name = {r.name: r for r in results}
    contact, bare = by_name.get("contact"), by_name.get("bare aiohttp")
    if contact and bare:

        def ratio(q: float) -> str:
            return f"{contact.p(q) / bare.p(q):.1f}x" if bare.p(q) > 0 else "-"

        lines.append(f"ratio contact / bare:  p50 {ratio(50)}   p99 {ratio(99)}")
    if contact:
        verdict = "PASS" if contact.passed else "MISS"
        lines.append(
            f"target: p99 <= {TARGET_P99_MS:g} ms and nothing lost or refused → {verdict} "
            f"(p99 {contact.p(99):.1f} ms, lost {contact.lost}, non-202 {contact.refused})"
        )
    late = max((r.late_ms[-1] for r in results if r.late_ms), default=0.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own_cpu = usage.ru_utime + usage.ru_stime
    lines.append(
        f"generator: worst send lateness {late:.1f} ms, own CPU {own_cpu:.1f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    return "\n".join(lines)


async def bench(procs: Processes, tmp: Path, args: argparse.Namespace) -> list[Result]:
    results = []
    if args.server in ("both", "bare"):
        results.append(await run_bare(procs, args))
    if args.server in ("both", "contact"):
        async with multi_node(args):
            results.append(await run_contact(procs, tmp, args))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="reports per second (100)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (30)")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds after the last send before lost (5)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    parser.add_argument("--devices", type=int, default=1000, help="distinct device ids (1000)")
    parser.add_argument("--server", choices=["both", "contact", "bare"], default="both")
    parser.add_argument(
        "--timeline", type=float, default=0, help="also p50/p99 per window of this many s"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another CONTACT_* setting for the server, e.g. CONTACT_DISPATCH_ENABLED=false",
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="PostgreSQL server (postgresql://user@host:port)"
    )
    parser.add_argument("--redis", metavar="URL", help="Redis (redis://host:port/db)")
    parser.add_argument(
        "--history-from",
        metavar="FILE_OR_DB",
        help="start on a copy of this database of past contacts: a migrated SQLite file, or with"
        " --postgres a database name used as the template (tests/history.py caches a million"
        " under ~/.cache/contact/history and as contact_history_<hash>_1000000)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 on a MISS")
    args = parser.parse_args()
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("CONTACT_"):
            parser.error(f"--set wants CONTACT_KEY=VALUE, not {item!r}")
        EXTRA_ENV[key] = value
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    results = run_with_processes(
        lambda procs, tmp: bench(procs, tmp, args), temp_prefix="contact-bench-", keep=args.keep
    )
    if results is None:
        return 130
    print(table(results, args))
    if args.timeline > 0:
        print(timeline(results, args.timeline))
    contact = next((r for r in results if r.name == "contact"), None)
    return 1 if args.strict and contact is not None and not contact.passed else 0


if __name__ == "__main__":
    sys.exit(main())
