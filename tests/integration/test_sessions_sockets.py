"""Sessions and sockets over real HTTP and WebSocket: a socket follows its session (logout,
expiry) and its rights (an offer that lapsed, a contact taken by someone else); an open page
keeps its session alive; login throttling slows the guesser, never the owner."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from contact.config import AuthSettings
from contact.domain.model import Role
from contact.http.auth import SESSION_COOKIE, token_hash
from contact.http.ws import SESSION_ENDED
from tests.support import PASSWORD, Browser, Center, make_settings, start_center


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings = make_settings(tmp_path, offer_timeout_s=1.0, away_on_missed_offer=True)
    auth = AuthSettings(session_idle_s=8, login_user_slowdown_after=4, login_user_delay_s=0.2)
    running = await start_center(settings.model_copy(update={"auth": auth}))
    yield running
    await running.client.close()


async def closed_with(browser: Browser, within_s: float = 8.0) -> int | None:
    """Read the socket until the server closes it; its close code."""
    assert browser.ws is not None
    async with asyncio.timeout(within_s):
        while True:
            msg = await browser.ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type is aiohttp.WSMsgType.CLOSED:
                return browser.ws.close_code
            if msg.type is aiohttp.WSMsgType.TEXT:
                browser.received.append(msg.json())


def session_digest(browser: Browser) -> str:
    return token_hash(next(c for c in browser.session.cookie_jar if c.key == SESSION_COOKIE).value)


async def test_logout_closes_the_socket_of_that_session(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    await op.ready()
    await op.next_event("operator.presence_changed")
    async with op.session.post("/logout", data={"csrf_token": op.csrf}, allow_redirects=False) as r:
        assert r.status == 303
    assert await closed_with(op, within_s=2.0) == SESSION_ENDED
    await op.close()


async def test_an_expired_session_closes_its_socket(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    sessions = center.container.db.sessions
    digest = session_digest(op)
    old = await sessions.get(digest)
    assert old is not None
    await sessions.delete(digest)  # the same session, past its absolute lifetime
    await sessions.create(
        type(old)(
            token_hash=digest,
            operator_id=old.operator_id,
            role=old.role,
            csrf_token=old.csrf_token,
            created_at=datetime.now(UTC) - timedelta(hours=13),
            last_seen_at=datetime.now(UTC),
        )
    )
    assert await closed_with(op) == SESSION_ENDED  # checked every idle/4 = 2 s
    await op.get("/api/v1/me", 401)
    await op.close()


async def test_a_lapsed_offer_and_a_reassigned_contact_leave_the_socket(center: Center) -> None:
    await center.add_operator("first")
    await center.add_operator("second")
    first = await center.browser("first")
    second = await center.browser("second")
    await first.connect()
    await second.connect()
    await first.ready()
    contact_id = await center.report("Во дворе драка")
    offer = await first.next_offer()
    assert offer["data"]["contact"]["id"] == contact_id
    topic = f"contact:{contact_id}"
    assert first.ws is not None
    await first.ws.send_json({"op": "subscribe", "topic": topic})  # allowed while offered
    assert (await until_answer(first))["subscribed"] == topic
    # the offer lapses: the topic is taken away before the change is delivered
    notice = await until_answer(first, within_s=5)
    assert notice == {"unsubscribed": topic, "reason": "not_yours"}
    await second.ready()
    await second.next_offer()
    await second.post(f"/api/v1/contacts/{contact_id}/accept")
    await second.post(f"/api/v1/contacts/{contact_id}/reply", {"text": "секрет"}, status=201)
    # nothing of that contact reached the first operator's socket
    await asyncio.sleep(0.3)
    await drain(first)
    assert not [m for m in first.received if m.get("topic") == topic], first.received
    await first.ws.send_json({"op": "subscribe", "topic": topic})
    refused = await until_answer(first)
    assert refused["error"]["id"] == "forbidden"
    await first.close()
    await second.close()


async def until_answer(browser: Browser, within_s: float = 3.0) -> dict[str, Any]:
    """The next message that is not a topic push (answers and notices to this socket)."""
    assert browser.ws is not None
    async with asyncio.timeout(within_s):
        while True:
            msg = await browser.ws.receive_json()
            if "topic" not in msg or "data" not in msg:
                return dict(msg)
            browser.received.append(msg)


async def drain(browser: Browser) -> None:
    assert browser.ws is not None
    while True:
        try:
            browser.received.append(await browser.ws.receive_json(timeout=0.2))
        except TimeoutError:
            return


async def test_an_open_quiet_page_keeps_its_session_and_accepts(center: Center) -> None:
    """Idle timeout 8 s: the ready operator's page is open and quiet for 11 s, then is
    offered a contact and accepts it. A logged-in browser without a page is logged out;
    one making a request every 2 s stays in (activity is recorded every idle/4)."""
    for name in ("ready", "gone", "busy"):
        await center.add_operator(name)
    ready, gone, busy = [await center.browser(n) for n in ("ready", "gone", "busy")]
    await ready.connect()
    await ready.ready()
    page = asyncio.create_task(like_a_page(ready))  # reads its socket, so it answers pings
    for _ in range(6):  # ~11 s of a quiet page
        await asyncio.sleep(1.85)
        await busy.get("/api/v1/me")
    page.cancel()
    await gone.get("/api/v1/me", 401)
    contact_id = await center.report("Помогите")
    await ready.next_offer(within_s=5)
    accepted = await ready.post(f"/api/v1/contacts/{contact_id}/accept")
    assert accepted["state"] == "connected"
    for browser in (ready, gone, busy):
        await browser.close()


async def like_a_page(browser: Browser) -> None:
    """What a browser tab does with its socket while nobody touches the page: it reads (and
    its WebSocket stack answers the server's pings)."""
    assert browser.ws is not None
    while True:
        msg = await browser.ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            browser.received.append(msg.json())
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return


# --- login throttling ----------------------------------------------------------------------


def from_address(center: Center, address: str) -> aiohttp.ClientSession:
    """A client whose connections come from another loopback address (another computer)."""
    return aiohttp.ClientSession(
        base_url=center.url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(local_addr=(address, 0)),
    )


async def try_login(session: aiohttp.ClientSession, username: str, password: str) -> Any:
    async with session.get("/login") as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await r.text())
    assert token
    return await session.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
        allow_redirects=False,
    )


async def test_guesses_slow_the_guesser_not_the_owner(center: Center) -> None:
    await center.add_operator("owner", role=Role.OPERATOR)
    guesser = from_address(center, "127.0.0.2")
    owner = from_address(center, "127.0.0.3")
    spread = [from_address(center, f"127.0.0.{n}") for n in (4, 5, 6, 7)]
    try:
        statuses = []
        for _ in range(11):
            async with await try_login(guesser, "owner", "wrong") as r:
                statuses.append(r.status)
                retry = r.headers.get("Retry-After")
        assert statuses[:5] == [401] * 5 and 429 in statuses, statuses
        assert retry is not None and int(retry) >= 1
        # even the right password waits its turn from the guesser's address
        async with await try_login(guesser, "owner", PASSWORD) as r:
            assert r.status == 429
        # the owner, from her own computer, gets in at once
        async with await try_login(owner, "owner", PASSWORD) as r:
            assert r.status == 303
        # the guesser may try again once the wait is over (a slow-down, not a lock)
        await asyncio.sleep(int(retry) + 0.1)
        async with await try_login(guesser, "owner", "wrong") as r:
            assert r.status == 401
        # a guesser spread over many addresses only slows the name down: never a 429
        for session in spread:
            async with await try_login(session, "owner", "wrong") as r:
                assert r.status == 401
        async with await try_login(owner, "owner", PASSWORD) as r:
            assert r.status == 303
    finally:
        for session in (guesser, owner, *spread):
            await session.close()


async def test_logout_on_one_node_closes_the_socket_on_another(
    tmp_path: Path, postgres_database_url: str, redis_url: str, redis_prefix: str
) -> None:
    """Two nodes on one PostgreSQL and Redis: logging out through node A closes the page's
    socket held by node B at once (the broadcast), not at B's next session check (30 s with
    the default idle timeout); a unit token rotated through A is refused by B."""
    from contact.dispatch.registry import rotate_token
    from contact.dispatch.units import UnitKind
    from contact.persistence.migrate import upgrade
    from tests.integration.dispatch_support import add_device, parts_of

    def node(name: str) -> Any:
        return make_settings(
            tmp_path / name,
            database_url=postgres_database_url,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
        )

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    await upgrade(postgres_database_url)  # `contact db upgrade`, once for both nodes
    a = await start_center(node("a"))
    b = await start_center(node("b"))
    try:
        await a.add_operator("op")
        op = await a.browser("op")
        cookies = {c.key: c.value for c in op.session.cookie_jar}
        on_b = Browser(aiohttp.ClientSession(base_url=b.url, cookies=cookies), "op", csrf=op.csrf)
        on_b.ws = await on_b.session.ws_connect("/ws")
        async with op.session.post(
            "/logout", data={"csrf_token": op.csrf}, allow_redirects=False
        ) as r:
            assert r.status == 303
        assert await closed_with(on_b, within_s=3.0) == SESSION_ENDED
        await on_b.close()
        await op.close()

        unit = await add_device(a, "TWO-01", UnitKind.CAR)
        await parts_of(b).service.reload_units()
        path = f"/api/v1/units/{unit.unit_id}/status"
        async with b.client.get(
            f"/api/v1/units/{unit.unit_id}/dispatch", headers=unit.headers
        ) as r:
            assert r.status != 401, await r.text()  # the token works on B
        await rotate_token(parts_of(a).repo, unit.unit_id)
        async with b.client.post(path, json={"status": "on_scene"}, headers=unit.headers) as r:
            assert r.status == 401
    finally:
        await a.client.close()
        await b.client.close()


async def test_a_known_browser_gets_in_beside_the_guesser(center: Center) -> None:
    """OWASP device cookies: the owner's browser in the room the guesses come from (one
    address) still logs in; the guesser's browser, or a forged device cookie, does not."""
    await center.add_operator("owner")
    room_owner = from_address(center, "127.0.0.2")
    guesser = from_address(center, "127.0.0.2")
    try:
        async with await try_login(room_owner, "owner", PASSWORD) as r:
            assert r.status == 303
        device = next(c.value for c in room_owner.cookie_jar if c.key == "contact_device")
        for _ in range(7):
            async with await try_login(guesser, "owner", "wrong") as r:
                last = r.status
        assert last == 429
        async with await try_login(guesser, "owner", PASSWORD) as r:
            assert r.status == 429
        name, nonce, mac = device.split(".")
        forged = f"{name}.{nonce}.{'0' * len(mac)}"
        guesser.cookie_jar.update_cookies({"contact_device": forged}, URL(center.url + "/login"))
        async with await try_login(guesser, "owner", PASSWORD) as r:
            assert r.status == 429
        async with await try_login(room_owner, "owner", PASSWORD) as r:
            assert r.status == 303
    finally:
        await room_owner.close()
        await guesser.close()


async def test_behind_a_trusted_proxy_the_guesser_is_the_forwarded_client(
    tmp_path: Path,
) -> None:
    """Every request comes from the TLS proxy's address: the guesser is told apart by
    X-Forwarded-For, so the owner behind the same proxy still logs in."""
    settings = make_settings(tmp_path)
    http = settings.http.model_copy(update={"trusted_proxies": "127.0.0.0/8"})
    center = await start_center(settings.model_copy(update={"http": http}))
    await center.add_operator("owner")
    guesser = aiohttp.ClientSession(
        base_url=center.url,
        headers={"X-Forwarded-For": "203.0.113.5"},
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )
    owner = aiohttp.ClientSession(
        base_url=center.url,
        headers={"X-Forwarded-For": "198.51.100.7"},
        cookie_jar=aiohttp.CookieJar(unsafe=True),
    )
    try:
        for _ in range(8):
            async with await try_login(guesser, "owner", "wrong") as r:
                last = r.status
        assert last == 429
        async with await try_login(owner, "owner", PASSWORD) as r:
            assert r.status == 303
        peers = {
            e.details.get("peer")
            for e in await center.container.db.audit.entries(limit=100)
            if e.action.startswith("operator.login")
        }
        assert peers == {"203.0.113.5", "198.51.100.7"}
    finally:
        await guesser.close()
        await owner.close()
        await center.client.close()
