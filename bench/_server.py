"""The bare aiohttp baseline for bench_report_to_screen.py: the same shape as contact's
report → screen path with nothing in between.

POST /report reads the JSON body, pushes one message to every WebSocket connected to /ws
(through the same kind of per-socket outbox and sender task as contact's hub), then answers
202 with the new id. GET /healthz answers 200.

    python bench/_server.py --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid

from aiohttp import web

SOCKETS: web.AppKey[set[asyncio.Queue[str]]] = web.AppKey("sockets", set)


async def report(request: web.Request) -> web.Response:
    body = await request.json()
    contact_id = uuid.uuid4().hex
    text = json.dumps(
        {
            "topic": "queue",
            "data": {"type": "contact.queued", "contact": {"id": contact_id}},
            "device": body.get("device_id"),
        },
        separators=(",", ":"),
    )
    for outbox in request.app[SOCKETS]:
        outbox.put_nowait(text)
    return web.json_response({"id": contact_id, "status": "queued"}, status=202)


async def socket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    outbox: asyncio.Queue[str] = asyncio.Queue()

    async def send_loop() -> None:
        while True:
            await ws.send_str(await outbox.get())

    sender = asyncio.create_task(send_loop())
    request.app[SOCKETS].add(outbox)
    try:
        async for _ in ws:
            pass
    finally:
        request.app[SOCKETS].discard(outbox)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await sender
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "up"})


def create_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app.router.add_post("/report", report)
    app.router.add_get("/ws", socket)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(create_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
