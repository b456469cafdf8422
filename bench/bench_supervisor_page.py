"""The supervisor page with 1,000 contacts waiting and 100 in progress (and a day of history
for the charts): does it stay interactive while the room moves? Debian's Chromium (Playwright)
at 1366×768 against an in-process server on a real port, embedded SQLite.

1. page load to interactive: navigation start → the wallboard and the contacts in progress on
   the screen (and the charts drawn), over several loads;
2. frame times (requestAnimationFrame intervals, p50/p95/p99/max) and long tasks (> 50 ms,
   PerformanceObserver) over a quiet window (polls only), then over a window while the room
   moves: app reports at --rate per second (each one queued, the oldest of them abandoned), and
   --operators operators in a loop (ready → offered → accept → a few seconds → close), which
   makes presence, offer, accept and close pushes; push → wallboard redrawn with it (the first
   redraw whose room was read after the event); a click on the operators' "+N more" every 2 s
   (input → next frame); the requests the page made; the DOM size and JS heap before and after;
3. the server time of the wallboard (whole, and its live part) and of a day's stats.

Prints figures; no assertion on time.

    python bench/bench_supervisor_page.py [--waiting 1000] [--in-progress 100] [--history 3000]
        [--loads 5] [--quiet-s 10] [--rate 20] [--seconds 20] [--operators 12]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # after PYTHONPATH: the checkout measured wins

from _figures import ms, pct  # noqa: E402
from playwright.async_api import async_playwright  # noqa: E402

from contact.domain.commands import Abandon  # noqa: E402
from contact.domain.model import (  # noqa: E402
    ChannelKind,
    Contact,
    ContactState,
    Priority,
    Role,
    new_id,
)
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support import PASSWORD, Browser, Center, make_settings, start_center  # noqa: E402

CHANNELS = (ChannelKind.VOICE, ChannelKind.APP, ChannelKind.TELEGRAM, ChannelKind.WHATSAPP)
WORDS = ("Пожар в доме", "Украли телефон", "Драка во дворе", "Шумят соседи", "ДТП на углу")

FRAMES_JS = """(windowMs) => new Promise((resolve) => {
  const frames = [], longTasks = [];
  const heap = () => (performance.memory ? performance.memory.usedJSHeapSize : NaN);
  const nodes0 = document.getElementsByTagName("*").length, heap0 = heap();
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) longTasks.push(e.duration);
  });
  obs.observe({ type: "longtask", buffered: false });
  let last = performance.now();
  const start = last;
  function tick(now) {
    frames.push(now - last);
    last = now;
    if (now - start < windowMs) requestAnimationFrame(tick);
    else {
      obs.disconnect();
      resolve({ frames, longTasks, nodes0, heap0, heap: heap(),
        nodes: document.getElementsByTagName("*").length });
    }
  }
  requestAnimationFrame(tick);
})"""

# in the page, before the busy window: each push that changes the room, and when the wallboard
# was redrawn with a reading of the room taken after it; input → next frame of the clicks
WATCH_JS = """() => {
  const changes = /^(contact\\.|operator\\.presence_changed$|keyword\\.alert$)/;
  const pending = [];
  window.__lag = []; window.__pushes = 0; window.__room = 0; window.__input = [];
  document.addEventListener("contact:push", (ev) => {
    window.__pushes++;
    if (ev.detail.topic === "supervisor") window.__room++;
    const d = ev.detail.data;
    if (ev.detail.topic === "supervisor" && d && changes.test(d.type)) {
      pending.push([Date.parse(d.at), performance.now()]);
    }
  });
  document.addEventListener("wallboard:update", (ev) => {
    const read = Date.parse(ev.detail.room_at), now = performance.now();
    while (pending.length && pending[0][0] <= read) window.__lag.push(now - pending.shift()[1]);
  });
  document.getElementById("wb-operators-more").addEventListener("click", (ev) => {
    const start = ev.timeStamp;
    requestAnimationFrame(() => window.__input.push(performance.now() - start));
  });
}"""

INTERACTIVE_JS = """() => document.getElementById("wallboard").getAttribute("aria-busy") === "false"
  && document.querySelectorAll("#sv-progress-table tbody tr").length > 0
  && document.querySelectorAll("#wb-operator-table tbody tr").length > 0 && performance.now()"""


async def seed(
    center: Center, waiting: int, in_progress: int, history: int, workers: list[str]
) -> None:
    db = center.container.db.contacts
    now = datetime.now(UTC)
    for i in range(waiting):
        at = now - timedelta(seconds=(i * 1.7) % 1800)
        await db.add(
            Contact(
                id=new_id(),
                channel=CHANNELS[i % 4],
                priority=list(Priority)[i % 6],
                created_at=at,
                state=ContactState.QUEUED,
                queued_at=at,
                summary=WORDS[i % 5],
            )
        )
    for i in range(in_progress):
        at = now - timedelta(seconds=60 + i * 7)
        await db.add(
            Contact(
                id=new_id(),
                channel=CHANNELS[i % 4],
                priority=Priority.VOICE,
                created_at=at,
                state=ContactState.CONNECTED,
                queued_at=at,
                answered_at=at + timedelta(seconds=4 + i % 20),
                operator_id=workers[i % len(workers)],
            )
        )
    for i in range(history):
        at = now - timedelta(seconds=1800 + i * (86400 - 1800) / max(history, 1))
        abandoned = i % 11 == 0
        await db.add(
            Contact(
                id=new_id(),
                channel=CHANNELS[i % 4],
                priority=Priority.VOICE,
                created_at=at,
                state=ContactState.ABANDONED if abandoned else ContactState.CLOSED,
                queued_at=at,
                answered_at=None if abandoned else at + timedelta(seconds=2 + i % 40),
                closed_at=at + timedelta(minutes=4),
            )
        )
    await center.container.routing.rebuild()


async def server_ms(center: Center, path: str, calls: int = 10) -> tuple[float, float]:
    """(the first call, the median of the rest): the wallboard's first call computes, the
    next ones within its snapshot time are served the shared snapshot."""
    boss = await center.browser("boss")
    try:
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await boss.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        return times[0], pct(times[1:], 50)
    finally:
        await boss.close()


async def operator_loop(b: Browser, stop: asyncio.Event) -> None:
    """ready → offered → accept → a few seconds' work → close, until stopped."""
    rng = random.Random(b.operator_id)
    while not stop.is_set():
        b.received.clear()
        await b.session.post(
            "/api/v1/me/presence", json={"presence": "ready"}, headers={"X-CSRF-Token": b.csrf}
        )
        try:
            offer = await b.next_offer(within_s=5)
        except TimeoutError:
            continue
        cid = offer["data"]["contact"]["id"]
        async with b.session.post(
            f"/api/v1/contacts/{cid}/accept", headers={"X-CSRF-Token": b.csrf}
        ) as r:
            if r.status != 200:
                continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(2.0, 6.0))
        await b.session.post(
            f"/api/v1/contacts/{cid}/close",
            json={"incident_type": "noise", "outcome": "advised"},
            headers={"X-CSRF-Token": b.csrf},
        )


def frames_line(label: str, r: dict[str, object], seconds: float) -> None:
    frames = list(r["frames"])[1:]  # type: ignore[call-overload]
    long_tasks = list(r["longTasks"])  # type: ignore[call-overload]
    print(
        f"{label} ({seconds:g} s): {len(frames)} frames, frame time p50 {ms(pct(frames, 50))} "
        f"p95 {ms(pct(frames, 95))} p99 {ms(pct(frames, 99))} max {ms(max(frames))} ms; "
        f"frames > 50 ms: {sum(f > 50 for f in frames)}; long tasks {len(long_tasks)}, "
        f"longest {ms(max(long_tasks) if long_tasks else 0.0)} ms"
    )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="contact-supervisor-") as tmp:
        center = await start_center(make_settings(Path(tmp), orphan_after_s=3600.0))
        operators: list[Browser] = []
        try:
            await center.add_operator("boss", role=Role.SUPERVISOR)
            # the contacts in progress are held by operators who are not signed in here (the
            # page flags them as gone; orphan_after_s is set past the run: none is requeued)
            holders = [await center.add_operator(f"desk{i:02d}") for i in range(25)]
            t0 = time.perf_counter()
            await seed(center, args.waiting, args.in_progress, args.history, holders)
            print(
                f"seeded {args.waiting} waiting, {args.in_progress} in progress, "
                f"{args.history} of history in {time.perf_counter() - t0:.1f} s; "
                f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
            )
            wall = await server_ms(center, "/api/v1/supervisor/wallboard")
            room = await server_ms(center, "/api/v1/supervisor/wallboard?part=room")
            stats = await server_ms(center, "/api/v1/supervisor/stats")
            print(
                f"server: wallboard computed {ms(wall[0])} ms, then (shared snapshot, fresh room) "
                f"p50 {ms(wall[1])} ms; its live part p50 {ms(room[1])} ms; stats of 24 h "
                f"first {ms(stats[0])} p50 {ms(stats[1])} ms"
            )
            # the operators sign in, away: they are in the room, not yet taking contacts
            for i in range(args.operators):
                await center.add_operator(f"op{i:02d}")
                b = await center.browser(f"op{i:02d}")
                await b.post("/api/v1/me/presence", {"presence": "away"})
                await b.connect()
                operators.append(b)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = await browser.new_page(viewport={"width": 1366, "height": 768})
                await page.goto(center.url + "/login")
                await page.locator("input[name=username]").fill("boss")
                await page.locator("input[name=password]").fill(PASSWORD)
                t_nav = time.perf_counter()
                await page.locator("#login").click()
                await page.wait_for_url(center.url + "/supervisor")
                await page.wait_for_selector("#wallboard[aria-busy=false]", timeout=60_000)
                t_wall = time.perf_counter()
                await page.wait_for_selector("#sv-charts[data-rendered]", timeout=60_000)
                t_charts = time.perf_counter()
                print(
                    f"first load: login → wallboard filled {1000 * (t_wall - t_nav):.0f} ms, "
                    f"→ charts drawn {1000 * (t_charts - t_nav):.0f} ms"
                )
                interactive, dcl, charts = [], [], []
                for _ in range(args.loads):
                    await page.goto(center.url + "/supervisor")
                    handle = await page.wait_for_function(
                        INTERACTIVE_JS, polling="raf", timeout=60_000
                    )
                    interactive.append(float(await handle.json_value()))
                    await page.wait_for_selector("#sv-charts[data-rendered]", timeout=60_000)
                    charts.append(float(await page.evaluate("performance.now()")))
                    dcl.append(
                        float(
                            await page.evaluate(
                                "performance.getEntriesByType('navigation')[0]"
                                ".domContentLoadedEventEnd"
                            )
                        )
                    )
                print(f"page load, {args.loads} loads (ms from navigation)   p50     p95     max")
                for name, xs in (
                    ("DOMContentLoaded", dcl),
                    ("interactive (wallboard, in progress)", interactive),
                    ("charts drawn (≤ when seen)", charts),
                ):
                    print(f"  {name:<40}{ms(pct(xs, 50))}  {ms(pct(xs, 95))}  {ms(max(xs))}")
                shown = await page.locator("#wb-waiting").inner_text()
                rows = await page.locator("#sv-progress-table tbody tr").count()
                print(f"  the page shows {shown} waiting, {rows} rows in progress")

                r = await page.evaluate(FRAMES_JS, args.quiet_s * 1000)
                frames_line("quiet window (polls only)", r, args.quiet_s)

                # the room moves: reports arrive and the oldest of them are abandoned; the
                # operators take contacts, work them and close them
                await page.evaluate(WATCH_JS)
                requests: list[str] = []
                page.on("request", lambda req: requests.append(req.url))
                stop = asyncio.Event()
                loops = [asyncio.create_task(operator_loop(b, stop)) for b in operators]
                live: list[str] = []
                count = int(args.rate * args.seconds)
                start = time.time()

                async def one(i: int) -> None:
                    await asyncio.sleep(max(0.0, start + i / args.rate - time.time()))
                    cid = await center.report(
                        f"{WORDS[i % 5]} ({i})", device_id=f"device-s{i:05d}", language="ru"
                    )
                    live.append(cid)
                    while len(live) > 60:
                        with contextlib.suppress(Exception):  # offered or taken meanwhile
                            await center.container.bus.execute(Abandon(contact_id=live.pop(0)))

                async def clicks() -> None:
                    while not stop.is_set():
                        await asyncio.sleep(2.0)
                        with contextlib.suppress(Exception):
                            await page.locator("#wb-operators-more").click(timeout=1000)

                frames_task = asyncio.create_task(page.evaluate(FRAMES_JS, args.seconds * 1000))
                clicker = asyncio.create_task(clicks())
                await asyncio.gather(*(one(i) for i in range(count)))
                r = await frames_task
                stop.set()
                await asyncio.gather(*loops, clicker)
                took = time.time() - start
                frames_line(f"busy window ({count} reports at {args.rate:g}/s)", r, args.seconds)
                lag = list(await page.evaluate("window.__lag"))
                pushes = int(await page.evaluate("window.__pushes"))
                room_pushes = int(await page.evaluate("window.__room"))
                taps = list(await page.evaluate("window.__input"))
                print(
                    f"  pushes received {pushes} in {took:.1f} s ({pushes / took:.0f}/s; on the "
                    f"supervisor topic {room_pushes / took:.0f}/s); push → "
                    f"wallboard redrawn with it: n {len(lag)} p50 {ms(pct(lag, 50))} p95 "
                    f"{ms(pct(lag, 95))} max {ms(max(lag) if lag else float('nan'))} ms"
                )
                print(
                    f"  click → next frame: n {len(taps)} p50 {ms(pct(taps, 50))} "
                    f"max {ms(max(taps) if taps else float('nan'))} ms"
                )

                def asked(url: str) -> str:
                    if "part=room" in url:
                        return "wallboard room"
                    for kind in ("supervisor/wallboard", "supervisor/in-progress", "v1/calls"):
                        if kind in url:
                            return kind.split("/")[1]
                    return ""

                counted: dict[str, int] = {}
                for url in requests:
                    if kind := asked(url):
                        counted[kind] = counted.get(kind, 0) + 1
                print(
                    "  requests: " + ", ".join(f"{k} {n / took:.1f}/s" for k, n in counted.items())
                )
                mb = 1024 * 1024
                print(
                    f"  DOM elements {r['nodes0']} → {r['nodes']}; JS heap "
                    f"{r['heap0'] / mb:.1f} → {r['heap'] / mb:.1f} MB; load average "
                    f"{os.getloadavg()[0]:.1f}"
                )
                await browser.close()
        finally:
            for b in operators:
                await b.close()
            await center.client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--in-progress", type=int, default=100)
    parser.add_argument("--history", type=int, default=3000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--quiet-s", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--operators", type=int, default=12)
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
