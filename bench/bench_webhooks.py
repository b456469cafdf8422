"""Webhook ingest with durability: Telegram and WhatsApp messages/s on one node, and ack p99.

The real server runs as its own OS process the way a user runs it (`contact serve`, embedded
defaults: SQLite in WAL mode with synchronous=FULL, the in-process queue), with Telegram
(webhook mode) and WhatsApp switched on against the local stand-ins of the Bot API and the
Graph API (tests/standins, in a process of their own: they take the bot's notices). This
script is Telegram / Meta: it POSTs webhooks at a steady rate on an open-loop schedule (a
request leaves every 1/rate s whatever the answers), from many citizens (a citizen's first
message opens a contact, the next ones join it), each WhatsApp POST signed.

Ack: POST → 200, which contact gives only after the message is committed (fsync'd) to the
inbox. Landed: when the last message of the run was handled into its contact in the queue
(read from the database), and whether every message acknowledged is there (`lost`). The same
generator then drives a bare aiohttp endpoint (read the body, parse the JSON, answer 200) in
the same run: the table gives both and their ratio. Target: 500 messages/s, ack p99 <= 50 ms.

    python bench/bench_webhooks.py [--rate 500] [--duration 20] [--channel both]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import math
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _contact_serve import contact_executable, contact_serve_env  # bench/ is on sys.path
from _figures import ms, pct, tally
from _processes import Processes, cpu_seconds, free_port, run_with_processes, wait_healthy
from aiohttp import web

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_RATE = 500.0
TARGET_P99_MS = 50.0
TEXTS = [
    "Во дворе драка, двое мужчин",
    "Соседи шумят третью ночь",
    "Көлік соқтығысты, адамдар жарақат алды",
    "У подъезда стоит подозрительная машина",
    "Украли телефон в автобусе",
    "Они ушли в сторону остановки",
    "Номер машины 123ABC02",
]


# --- the servers ---------------------------------------------------------------------------


def bare_app() -> web.Application:
    """The baseline: what any webhook must do (read the body, parse the JSON, answer)."""

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        json.loads(body)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/webhooks/telegram", hook)
    app.router.add_post("/webhooks/whatsapp", hook)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "up"})

    app.router.add_get("/healthz", health)
    return app


async def run_standins(port_file: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.standins.telegram import BotApiStandIn
    from tests.standins.whatsapp import GraphApiStandIn

    bot_api, graph = BotApiStandIn(), GraphApiStandIn()
    await bot_api.start()
    await graph.start()
    urls = json.dumps({"telegram": bot_api.url, "whatsapp": graph.url})
    await asyncio.to_thread(port_file.write_text, urls)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(json.dumps({"telegram_sent": len(bot_api.sent), "whatsapp_sent": len(graph.sent)}))
    await bot_api.stop()
    await graph.stop()


# --- the load --------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    channel: str
    rate: float
    acks_ms: list[float] = field(default_factory=list)
    sent: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    late_ms: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    landed_s: float | None = None  # last send → the inbox fully handled (contact only)
    in_contacts: int | None = None  # inbound messages found in contacts afterwards
    acked_total: int = 0  # answered 200, the warm-up included
    log_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.acks_ms)

    def p(self, q: float) -> float:
        return pct(self.acks_ms, q)

    @property
    def achieved(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0


class Bodies:
    """Webhook bodies as Telegram and Meta send them, from `citizens` distinct people."""

    def __init__(self, citizens: int, seed: int, app_secret: str, secret_token: str) -> None:
        self._citizens = citizens
        self._rng = random.Random(seed)
        self._app_secret = app_secret.encode()
        self._secret_token = secret_token
        self._n = 0

    def telegram(self) -> tuple[bytes, dict[str, str]]:
        self._n += 1
        chat = 9_000_000 + self._rng.randrange(self._citizens)
        update = {
            "update_id": 10**8 + self._n,
            "message": {
                "message_id": self._n,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private", "first_name": "Bench"},
                "from": {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "ru"},
                "text": self._rng.choice(TEXTS),
            },
        }
        headers = {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": self._secret_token,
        }
        return json.dumps(update, ensure_ascii=False).encode(), headers

    def whatsapp(self) -> tuple[bytes, dict[str, str]]:
        self._n += 1
        who = self._rng.randrange(self._citizens)
        user_id, phone = f"KZ.{10**15 + who}", f"7701{who:07d}"
        note = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "77270000102",
                                    "phone_number_id": "106540352242922",
                                },
                                "contacts": [
                                    {
                                        "profile": {"name": "Bench"},
                                        "wa_id": phone,
                                        "user_id": user_id,
                                    }
                                ],
                                "messages": [
                                    {
                                        "from": phone,
                                        "from_user_id": user_id,
                                        "id": f"wamid.bench{10**9 + self._n}",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": self._rng.choice(TEXTS)},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        body = json.dumps(note, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(self._app_secret, body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


async def drive(url: str, channel: str, bodies: Bodies, rate: float, duration: float) -> Result:
    result = Result(server="", channel=channel, rate=rate)
    make = bodies.telegram if channel == "telegram" else bodies.whatsapp
    target = f"{url}/webhooks/{channel}"
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=timeout
    ) as session:

        async def one(body: bytes, headers: dict[str, str]) -> None:
            t0 = time.perf_counter()
            try:
                async with session.post(target, data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        result.statuses[str(r.status)] += 1
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.statuses[type(exc).__name__] += 1
                return
            result.acks_ms.append((time.perf_counter() - t0) * 1000)

        count = round(rate * duration)
        tasks = []
        start = time.perf_counter()
        for i in range(count):
            body, headers = make()
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            result.late_ms = max(result.late_ms, (time.perf_counter() - due) * 1000)
            tasks.append(asyncio.create_task(one(body, headers)))
        await asyncio.gather(*tasks)
        result.wall_s = time.perf_counter() - start
    result.sent = count
    result.acks_ms.sort()
    return result


def inbox_pending(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute("SELECT count(*) FROM chat_inbox WHERE processed_at IS NULL").fetchone()
        return int(row[0])


def inbound_messages(db: Path, channel: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM messages m JOIN contacts c ON c.id = m.contact_id "
            "WHERE m.direction = 'in' AND c.channel = ?",
            (channel,),
        ).fetchone()
        return int(row[0])


async def until_landed(db: Path, within_s: float) -> float | None:
    start = time.perf_counter()
    while time.perf_counter() - start < within_s:
        if inbox_pending(db) == 0:
            return time.perf_counter() - start
        await asyncio.sleep(0.05)
    return None


# --- one run ---------------------------------------------------------------------------------


def contact_env(tmp: Path, port: int, standins: dict[str, str]) -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from tests.standins import telegram as tg
    from tests.standins import whatsapp as wa

    return contact_serve_env(
        tmp,
        port,
        CONTACT_TELEGRAM_TOKEN=tg.TOKEN,
        CONTACT_TELEGRAM_WEBHOOK_SECRET=tg.SECRET,
        CONTACT_TELEGRAM_API_BASE=standins["telegram"],
        CONTACT_TELEGRAM_MESSAGES_PER_MINUTE_PER_CITIZEN="1000000",
        CONTACT_WHATSAPP_VERIFY_TOKEN=wa.VERIFY_TOKEN,
        CONTACT_WHATSAPP_APP_SECRET=wa.APP_SECRET,
        CONTACT_WHATSAPP_ACCESS_TOKEN=wa.ACCESS_TOKEN,
        CONTACT_WHATSAPP_PHONE_NUMBER_ID=wa.PHONE_NUMBER_ID,
        CONTACT_WHATSAPP_API_BASE=standins["whatsapp"],
        CONTACT_WHATSAPP_API_VERSION=wa.VERSION,
        CONTACT_WHATSAPP_MESSAGES_PER_MINUTE_PER_CITIZEN="1000000",
    )


async def measure(
    name: str,
    proc: subprocess.Popen[bytes],
    url: str,
    channel: str,
    args: argparse.Namespace,
    seed: int,
) -> Result:
    sys.path.insert(0, str(ROOT))
    from tests.standins import telegram as tg
    from tests.standins import whatsapp as wa

    bodies = Bodies(args.citizens, seed, wa.APP_SECRET, tg.SECRET)
    warm = 0
    if args.warmup > 0:
        warm = (await drive(url, channel, bodies, args.rate, args.warmup)).ok
    cpu0 = cpu_seconds(proc.pid)
    result = await drive(url, channel, bodies, args.rate, args.duration)
    result.cpu_s = cpu_seconds(proc.pid) - cpu0
    result.server = name
    result.acked_total = warm + result.ok
    return result


async def run(procs: Processes, tmp: Path, args: argparse.Namespace) -> list[Result]:
    channels = ["telegram", "whatsapp"] if args.channel == "both" else [args.channel]
    results: list[Result] = []
    env = dict(os.environ)
    # the bare endpoint
    port = free_port()
    bare = procs.start("bare", [sys.executable, __file__, "--serve-bare", "--port", str(port)], env)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", bare, within_s=60.0)
        for seed, channel in enumerate(channels):
            results.append(
                await measure("bare aiohttp", bare, f"http://127.0.0.1:{port}", channel, args, seed)
            )
    finally:
        procs.stop("bare")
    # the stand-ins, then contact
    port_file = tmp / "standins.json"
    standins_proc = procs.start(
        "standins", [sys.executable, __file__, "--serve-standins", str(port_file)], env
    )
    for _ in range(200):
        if port_file.exists() and port_file.read_text():
            break
        if standins_proc.poll() is not None:
            raise RuntimeError("\n".join(procs.log_lines("standins")))
        await asyncio.sleep(0.05)
    standins = json.loads(port_file.read_text())
    port = free_port()
    contact = procs.start(
        "contact", [contact_executable(), "serve"], contact_env(tmp, port, standins)
    )
    db = tmp / "bench.db"
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", contact, within_s=60.0)
        for seed, channel in enumerate(channels):
            result = await measure(
                "contact", contact, f"http://127.0.0.1:{port}", channel, args, seed
            )
            result.landed_s = await until_landed(db, args.grace)
            result.in_contacts = inbound_messages(db, channel)
            results.append(result)
    except BaseException:
        print(procs.log_tail("contact"), file=sys.stderr)
        raise
    finally:
        procs.stop("contact")
        procs.stop("standins")
    log = procs.log_lines("contact")
    for result in results:
        if result.server == "contact":
            result.log_lines = log
    return results


def table(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"webhook ingest, {args.rate:g} messages/s for {args.duration:g} s per channel "
        f"(open loop), {args.citizens} citizens; ack = POST → 200 (after the fsync'd commit), ms",
        "",
        f"{'server':<13} {'channel':<9} {'sent':>6} {'msg/s':>6} {'p50':>6} {'p95':>6} "
        f"{'p99':>6} {'max':>7} {'non-200':>7} {'cpu %':>5}  {'landed':>7} {'in queue':>11} "
        f"{'handled/s':>9}",
    ]
    for r in results:
        cpu = 100 * r.cpu_s / r.wall_s if r.wall_s else math.nan
        landed = (
            "-"
            if r.server != "contact"
            else (f"{r.landed_s:5.1f} s" if r.landed_s is not None else "  >grace")
        )
        queue = "-" if r.in_contacts is None else f"{r.in_contacts}/{r.acked_total}"
        handled = "-"
        if r.landed_s is not None:
            handled = f"{r.acked_total / (args.warmup + r.wall_s + r.landed_s):.0f}"
        lines.append(
            f"{r.server:<13} {r.channel:<9} {r.sent:>6} {r.achieved:6.0f} {ms(r.p(50))} "
            f"{ms(r.p(95))} {ms(r.p(99))} {ms(r.p(100)):>7} {sum(r.statuses.values()):>7} "
            f"{cpu:5.0f}  {landed:>7} {queue:>11} {handled:>9}"
        )
    lines.append(
        "(landed: from the last send until every stored message was handled into its contact; "
        "in queue: inbound messages found in contacts / messages acknowledged 200, warm-up "
        "included; handled/s: messages into contacts per second, first send to landed)"
    )
    for r in results:
        if r.statuses:
            lines.append(f"{r.server} {r.channel}: not answered 200: {tally(r.statuses)}")
    contact_log = next((r.log_lines for r in results if r.log_lines), [])
    if contact_log:
        lines.append(f"contact logged {len(contact_log)} lines, the last:")
        lines.extend(f"    {line[:160]}" for line in contact_log[-3:])
    lines.append("")
    for channel in ("telegram", "whatsapp"):
        ours = next((r for r in results if r.server == "contact" and r.channel == channel), None)
        bare = next((r for r in results if r.server != "contact" and r.channel == channel), None)
        if ours is None:
            continue
        if bare is not None and bare.p(99) > 0:
            lines.append(
                f"{channel}: ratio contact / bare  p50 {ours.p(50) / bare.p(50):.1f}x  "
                f"p99 {ours.p(99) / bare.p(99):.1f}x"
            )
        met = (
            ours.achieved >= TARGET_RATE * 0.98
            and ours.p(99) <= TARGET_P99_MS
            and not ours.statuses
            and ours.in_contacts == ours.acked_total
        )
        lines.append(
            f"{channel}: target >= {TARGET_RATE:g} msg/s with ack p99 <= {TARGET_P99_MS:g} ms, "
            f"nothing lost → {'PASS' if met else 'MISS'} ({ours.achieved:.0f} msg/s, "
            f"p99 {ours.p(99):.1f} ms, {ours.in_contacts}/{ours.acked_total} in contacts)"
        )
    late = max((r.late_ms for r in results), default=0.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    lines.append(
        f"generator: worst send lateness {late:.1f} ms, own CPU "
        f"{usage.ru_utime + usage.ru_stime:.1f} s; load average at the end "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="messages/s (500)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per channel (20)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (2)")
    parser.add_argument("--citizens", type=int, default=2000, help="distinct senders (2000)")
    parser.add_argument("--channel", choices=["both", "telegram", "whatsapp"], default="both")
    parser.add_argument("--grace", type=float, default=120.0, help="wait for landing up to (120 s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-standins", metavar="PORT_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        web.run_app(bare_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)
        return 0
    if args.serve_standins:
        asyncio.run(run_standins(Path(args.serve_standins)))
        return 0
    results = run_with_processes(
        lambda procs, tmp: run(procs, tmp, args),
        temp_prefix="contact-bench-webhooks-",
        keep=args.keep,
        stop_within_s=15.0,
    )
    if results is None:
        return 130
    print(table(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
