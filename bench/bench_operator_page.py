"""The operator's page in headless Chromium against a whole center (in-process aiohttp server,
embedded SQLite, in-process queue):

1. page load to interactive: navigation start → the queue and the operator's own work on the
   screen (`body[data-ready]`, set by operator.js), with 100 contacts waiting; and the
   browser's DOMContentLoaded and load events;
2. intake → row visible: app reports posted at a steady rate (default 20/s) while the oldest
   waiting are abandoned (about 60 wait at a time, so every new row is on the first page);
   for each report, from the moment the client posts it to the moment its row is in the
   page's DOM (a MutationObserver in the page; the same machine clock on both sides), and to
   the moment its preview (words, caller, district) is filled in.

Prints figures; no assertion on time (the p95 target of row visible is 300 ms).

    python bench/bench_operator_page.py [--rate 20] [--seconds 30] [--loads 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
from contact.domain.model import ChannelKind, Contact, ContactState, Priority, new_id  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support import PASSWORD, make_settings, start_center  # noqa: E402

WATCH_JS = """() => {
  window.__seen = {}; window.__filled = {};
  const body = document.querySelector('#queue tbody');
  new MutationObserver(() => {
    const now = Date.now();
    for (const tr of body.children) {
      const id = tr.dataset.id;
      if (!(id in window.__seen)) window.__seen[id] = now;
      if (!(id in window.__filled) && tr.querySelector('.q-district, .q-snippet:not(:empty)') &&
          tr.querySelector('.q-snippet').textContent !== '…') window.__filled[id] = now;
    }
  }).observe(body, { childList: true, subtree: true, characterData: true });
}"""


async def main(rate: float, seconds: float, loads: int, previews: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="contact-oppage-") as tmp:
        center = await start_center(make_settings(Path(tmp)))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                await center.add_operator("bench")
                ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
                page = await ctx.new_page()
                await page.goto(center.url + "/login")
                await page.locator("input[name=username]").fill("bench")
                await page.locator("input[name=password]").fill(PASSWORD)
                await page.locator("#login").click()
                await page.wait_for_url(center.url + "/")

                # 1. load to interactive, with 100 waiting
                t0 = datetime.now(UTC) - timedelta(minutes=5)
                waiting = []
                for i in range(100):
                    c = Contact(
                        id=new_id(),
                        channel=ChannelKind.APP,
                        priority=list(Priority)[i % 6],
                        created_at=t0,
                        state=ContactState.QUEUED,
                        queued_at=t0 + timedelta(seconds=i),
                        summary=f"Обращение {i}: шум во дворе",
                        citizen=f"device-{i:04d}",
                    )
                    await center.container.db.contacts.add(c)
                    waiting.append(c.id)
                ready, dcl, onload = [], [], []
                for _ in range(loads + 1):
                    await page.goto(center.url + "/")
                    await page.wait_for_selector("body[data-ready]")
                    ready.append(float(await page.get_attribute("body", "data-ready") or "nan"))
                    nav = await page.evaluate(
                        "() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"
                    )
                    dcl.append(nav[0])
                    onload.append(nav[1])
                ready, dcl, onload = ready[1:], dcl[1:], onload[1:]  # the first warms caches
                print(f"page load, {loads} loads, 100 waiting (ms)     p50     p95     max")
                for name, xs in (("DOMContentLoaded", dcl), ("load event", onload),
                                 ("interactive (queue + me)", ready)):  # fmt: skip
                    print(f"  {name:<38}{ms(pct(xs, 50))}  {ms(pct(xs, 95))}  {ms(max(xs))}")

                # the 100 go (abandoned), then the stream
                for cid in waiting:
                    await center.container.bus.execute(Abandon(contact_id=cid))
                await page.goto(center.url + "/")
                await page.wait_for_selector("body[data-ready]")
                if not previews:  # what the previews cost the rows (A/B)
                    await page.route("**/api/v1/queue/previews**", lambda r: r.abort())
                await page.evaluate(WATCH_JS)
                sent: dict[str, float] = {}
                live: list[str] = []
                count = int(rate * seconds)
                start = time.time()

                async def one(i: int) -> None:
                    at = start + i / rate
                    await asyncio.sleep(max(0.0, at - time.time()))
                    posted = time.time() * 1000
                    cid = await center.report(
                        f"Поток {i}: шум во дворе", device_id=f"device-s{i:05d}", language="ru"
                    )
                    sent[cid] = posted
                    live.append(cid)
                    while len(live) > 60:
                        await center.container.bus.execute(Abandon(contact_id=live.pop(0)))

                c0 = time.process_time()
                await asyncio.gather(*(one(i) for i in range(count)))
                took = time.time() - start
                server_cpu = time.process_time() - c0
                await asyncio.sleep(2.0)
                seen = await page.evaluate("() => window.__seen")
                filled = await page.evaluate("() => window.__filled")
                nodes = await page.evaluate("() => document.getElementsByTagName('*').length")
                rows = [seen[c] - t for c, t in sent.items() if c in seen]
                filled_ms = [filled[c] - t for c, t in sent.items() if c in filled]
                print(
                    f"\nintake → row visible: {count} reports at {rate:g}/s "
                    f"(sent in {took:.1f} s; test process CPU {server_cpu:.1f} s, "
                    f"{os.cpu_count()} cores)"
                )
                print("                              n     p50     p95     p99     max")
                for name, xs in (("row in the DOM", rows), ("preview filled", filled_ms)):
                    print(
                        f"  {name:<24}{len(xs):5d}  {ms(pct(xs, 50))}  {ms(pct(xs, 95))}"
                        f"  {ms(pct(xs, 99))}  {ms(max(xs) if xs else float('nan'))}"
                    )
                print(f"  rows never seen: {count - len(rows)}; DOM nodes at the end: {nodes}")
            finally:
                await browser.close()
                await center.client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--no-previews", action="store_true", help="the page asks none")
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.loads, not args.no_previews))
