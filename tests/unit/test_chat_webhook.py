"""contact.channels.chat.webhook: a messenger's check runs before its webhook's handlers, on
the methods it guards only, and never turns a wrong path or method into a 401."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contact.channels.chat.webhook import RAW_BODY, webhook_app
from contact.errors import Unauthorized
from contact.http.errors import errors_middleware


async def check(request: web.Request) -> None:
    if request.headers.get("X-Key") != "k":
        raise Unauthorized("missing X-Key", error_id="missing_key")
    request[RAW_BODY] = await request.read()


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=request.get(RAW_BODY, b"unchecked"))


async def client() -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[errors_middleware])
    hook = webhook_app(check)
    hook.router.add_get("", echo)
    hook.router.add_post("", echo)
    app.add_subapp("/webhooks/x", hook)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    return test_client


async def test_the_check_guards_the_posts_before_the_handler() -> None:
    c = await client()
    try:
        async with c.post("/webhooks/x", data=b"body") as r:
            assert r.status == 401
            assert (await r.json())["error"]["id"] == "missing_key"
        async with c.post("/webhooks/x", data=b"body", headers={"X-Key": "k"}) as r:
            assert (r.status, await r.read()) == (200, b"body")  # what the check read
        async with c.get("/webhooks/x") as r:  # a handshake it does not guard
            assert (r.status, await r.read()) == (200, b"unchecked")
        async with c.post("/webhooks/x/other") as r:
            assert r.status == 404
        async with c.put("/webhooks/x") as r:
            assert r.status == 405
    finally:
        await c.close()
