"""Every route, including each error status, CSRF, sessions and the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import validate

from contact.domain.model import Role
from contact.http.auth import SESSION_COOKIE, token_hash
from contact.http.keys import SESSIONS
from contact.http.openapi import document
from tests.support import APP_KEY, METRICS_AUTH, Center, make_settings, start_center

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
HEADERS = {"X-Api-Key": APP_KEY}


async def status_of(center: Center, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with center.client.request(method, path, **kw) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


def error_id(body: Any) -> str:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["message"]
    return str(body["error"]["id"])


# --- citizen app ---------------------------------------------------------------------------


async def test_report_errors(center: Center) -> None:
    post = "/api/v1/app/reports"
    ok = {"text": "Помощь", "device_id": "device-0001"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"json": ok}, 401, "bad_api_key"),
        ({"json": ok, "headers": {"X-Api-Key": "wrong"}}, 401, "bad_api_key"),
        (
            {"data": b"{not json", "headers": {**HEADERS, "Content-Type": "application/json"}},
            400,
            "bad_json",
        ),
        (
            {
                "data": b"text=hi",
                "headers": {**HEADERS, "Content-Type": "application/x-www-form-urlencoded"},
            },
            415,
            "unsupported_content_type",
        ),
        ({"json": [1, 2], "headers": HEADERS}, 422, "not_an_object"),
        ({"json": {"device_id": "device-0001"}, "headers": HEADERS}, 422, "missing_text"),
        ({"json": {**ok, "lat": 100, "lon": 1}, "headers": HEADERS}, 422, "invalid_location"),
        (
            {"json": ok, "headers": {**HEADERS, "Idempotency-Key": "a b"}},
            422,
            "invalid_idempotency_key",
        ),
        (
            {
                "data": b"x" * (7 * 1024 * 1024),
                "headers": {**HEADERS, "Content-Type": "application/json"},
            },
            413,
            "payload_too_large",
        ),
    ]
    for kwargs, status, eid in cases:
        got, body = await status_of(center, "POST", post, **kwargs)
        assert (got, error_id(body)) == (status, eid), (kwargs.get("json"), body)
    assert await center.container.store.waiting() == []  # nothing half-stored


async def test_report_with_photo_multipart_and_its_limits(center: Center) -> None:
    def form(photo: bytes, content_type: str = "image/jpeg") -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("text", "Фото с места")
        data.add_field("device_id", "device-photo-1")
        data.add_field("lat", "43.2")
        data.add_field("lon", "76.9")
        data.add_field("photo", photo, filename="scene.jpg", content_type=content_type)
        return data

    status, body = await status_of(
        center, "POST", "/api/v1/app/reports", data=form(JPEG), headers=HEADERS
    )
    assert status == 202, body
    attachments = await center.container.db.contacts.attachments(body["id"])
    assert [(a.media_type, a.size) for a in attachments] == [("image/jpeg", len(JPEG))]
    big = b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024)
    status, body = await status_of(
        center, "POST", "/api/v1/app/reports", data=form(big), headers=HEADERS
    )
    assert (status, error_id(body)) == (413, "photo_too_large")
    status, body = await status_of(
        center, "POST", "/api/v1/app/reports", data=form(b"%PDF-1.4 not an image"), headers=HEADERS
    )
    assert (status, error_id(body)) == (415, "unsupported_photo")


async def test_report_rate_limit_per_device(tmp_path: Path) -> None:
    from contact.config import AppChannelSettings

    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"app": AppChannelSettings(api_keys=APP_KEY, reports_per_minute_per_device=3)}
    )
    center = await start_center(settings)
    try:
        for _ in range(3):
            await center.report(device_id="device-flood")
        status, body = await status_of(
            center,
            "POST",
            "/api/v1/app/reports",
            headers=HEADERS,
            json={"text": "x", "device_id": "device-flood"},
        )
        assert (status, error_id(body)) == (429, "rate_limited")
        await center.report(device_id="device-other")  # other devices are not affected
    finally:
        await center.client.close()


async def test_report_get_errors(center: Center) -> None:
    report_id = await center.report(device_id="device-owner")
    path = f"/api/v1/app/reports/{report_id}"
    assert (await status_of(center, "GET", path))[0] == 401
    status, body = await status_of(center, "GET", path, headers=HEADERS)
    assert (status, error_id(body)) == (422, "invalid_device_id")
    other = {**HEADERS, "X-Device-Id": "device-stranger"}
    status, body = await status_of(center, "GET", path, headers=other)
    assert (status, error_id(body)) == (404, "report_not_found")
    status, body = await status_of(
        center,
        "GET",
        "/api/v1/app/reports/nope",
        headers={**HEADERS, "X-Device-Id": "device-owner"},
    )
    assert status == 404
    status, body = await status_of(
        center, "GET", path, headers={**HEADERS, "X-Device-Id": "device-owner"}
    )
    assert status == 200 and body["status"] == "queued" and body["replies"] == []
    status, _ = await status_of(center, "GET", "/api/v1/app/ws?device_id=device-owner")
    assert status == 401


async def test_app_channel_without_a_key_is_unavailable(tmp_path: Path) -> None:
    from contact.config import AppChannelSettings

    settings = make_settings(tmp_path).model_copy(update={"app": AppChannelSettings()})
    center = await start_center(settings)
    try:
        status, body = await status_of(
            center,
            "POST",
            "/api/v1/app/reports",
            json={"text": "x", "device_id": "device-0001"},
            headers={"X-Api-Key": ""},
        )
        assert (status, error_id(body)) == (503, "channel_disabled")
        health = await status_of(center, "GET", "/healthz")
        assert health[1]["components"]["channels"]["app"]["status"] == "disabled"
    finally:
        await center.client.close()


# --- operators -----------------------------------------------------------------------------


async def test_operator_routes_need_a_session(center: Center) -> None:
    for method, path in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/queue"),
        ("POST", "/api/v1/me/presence"),
        ("GET", "/api/v1/contacts/x"),
        ("POST", "/api/v1/contacts/x/accept"),
        ("GET", "/api/v1/supervisor/overview"),
        ("GET", "/ws"),
    ]:
        status, body = await status_of(center, method, path)
        assert (status, error_id(body)) == (401, "login_required"), path
    async with center.client.get("/", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/login"


async def test_edges_never_read_a_staff_session(
    center: Center, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The citizen app, devices and messengers' webhooks are sub-apps marked EDGE: a session
    store that cannot answer (a cut database) never stops their intake, while staff routes
    still read the session."""
    sessions = center.client.app[SESSIONS]

    async def broken(_request: web.Request) -> None:
        raise AssertionError("an edge read a staff session")

    monkeypatch.setattr(sessions, "principal", broken)
    cookie = {SESSION_COOKIE: "a-staff-cookie-sent-by-mistake"}
    body = {"text": "Украли велосипед", "device_id": "edge-device-1"}
    async with center.client.post(
        "/api/v1/app/reports", json=body, headers={"X-Api-Key": APP_KEY}, cookies=cookie
    ) as r:
        assert r.status == 202, await r.text()
    edges = {"kiosk": "/api/v1/kiosks/k-1/sos", "alarm": "/api/v1/alarms"}
    assert all(center.container.installed(name) for name in edges)
    for path in edges.values():
        async with center.client.post(path, data=b"{}", cookies=cookie) as r:
            assert r.status in (401, 403), (path, r.status)  # its own check answers
    async with center.client.get("/api/v1/queue", cookies=cookie) as r:
        assert r.status == 500  # a staff route did read it (and met the broken store)


async def test_csrf_is_required_for_changes(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    async with op.session.post("/api/v1/me/presence", json={"presence": "ready"}) as r:
        assert (r.status, error_id(await r.json())) == (403, "csrf")
    async with op.session.post(
        "/api/v1/me/presence", json={"presence": "ready"}, headers={"X-CSRF-Token": "forged"}
    ) as r:
        assert r.status == 403
    async with op.session.post(
        "/api/v1/me/presence",
        json={"presence": "ready"},
        headers={"X-CSRF-Token": op.csrf, "Origin": "https://evil.example"},
    ) as r:
        assert (r.status, error_id(await r.json())) == (403, "csrf_origin")
    await op.ready()
    await op.close()


async def test_operator_route_errors(center: Center) -> None:
    await center.add_operator("op")
    await center.add_operator("other")
    op = await center.browser("op")
    other = await center.browser("other")
    assert error_id(await op.post("/api/v1/me/presence", {"presence": "busy"}, 422))
    assert error_id(await op.post("/api/v1/me/presence", {"presence": "nonsense"}, 422))
    async with op.session.post(
        "/api/v1/me/presence",
        data=b"x",
        headers={"X-CSRF-Token": op.csrf, "Content-Type": "text/plain"},
    ) as r:
        assert r.status == 415
    async with op.session.post(
        "/api/v1/me/presence",
        data=b"[" * 100_000,
        headers={"X-CSRF-Token": op.csrf, "Content-Type": "application/json"},
    ) as r:
        assert (r.status, error_id(await r.json())) == (400, "bad_json")
    assert error_id(await op.get("/api/v1/contacts/unknown", 404)) == "not_found"
    assert error_id(await op.get("/api/v1/supervisor/overview", 403)) == "role_required"
    report_id = await center.report()
    # not offered to anyone yet: accepting, replying, closing are conflicts
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/accept", status=409))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/decline", status=409))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/reply", {"text": "hi"}, 409))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/close", {}, 409))
    # someone else's contact is not visible
    await op.connect()
    await op.ready()
    await op.next_offer()
    await op.post(f"/api/v1/contacts/{report_id}/accept")
    assert error_id(await other.get(f"/api/v1/contacts/{report_id}", 403)) == "not_yours"
    assert error_id(await other.post(f"/api/v1/contacts/{report_id}/reply", {"text": "x"}, 409))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/reply", {"text": " "}, 422))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/reply", {"text": "x" * 4001}, 422))
    assert error_id(await op.post(f"/api/v1/contacts/{report_id}/close", {"disposition": 5}, 422))
    detail = await op.get(f"/api/v1/contacts/{report_id}")
    assert detail["citizen"] == "device-0001"
    await op.close()
    await other.close()


async def test_attachment_is_served_to_its_operator_only(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    await op.connect()
    await op.ready()
    data = aiohttp.FormData()
    data.add_field("text", "Фото")
    data.add_field("device_id", "device-photo-2")
    data.add_field("photo", JPEG, filename="a.jpg", content_type="image/jpeg")
    status, body = await status_of(
        center, "POST", "/api/v1/app/reports", data=data, headers=HEADERS
    )
    assert status == 202
    report_id = body["id"]
    await op.next_offer()
    accepted = await op.post(f"/api/v1/contacts/{report_id}/accept")
    (attachment,) = accepted["attachments"]
    async with op.session.get(f"/api/v1/contacts/{report_id}/attachments/{attachment['id']}") as r:
        assert r.status == 200 and await r.read() == JPEG
        assert r.headers["Content-Type"] == "image/jpeg"
    async with op.session.get(f"/api/v1/contacts/{report_id}/attachments/nope") as r:
        assert r.status == 404
    actions = [e.action for e in await center.container.db.audit.entries(subject=report_id)]
    assert "attachment.view" in actions
    await op.close()


async def test_login_failures_throttle_and_logout(center: Center) -> None:
    await center.add_operator("op")
    session = aiohttp.ClientSession(base_url=center.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with session.get("/login") as r:
            page = await r.text()
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        async with session.post(
            "/login", data={"username": "op", "password": "x", "csrf_token": "wrong"}
        ) as r:
            assert r.status == 403
        async with session.post(
            "/login", data={"username": "op", "password": "wrong", "csrf_token": token}
        ) as r:
            assert r.status == 401 and "Неверный" in await r.text()
        async with session.post(
            "/login", data={"username": "ghost", "password": "wrong", "csrf_token": token}
        ) as r:
            assert r.status == 401
        for _ in range(10):
            async with session.post(
                "/login", data={"username": "op", "password": "bad", "csrf_token": token}
            ) as r:
                last = r.status
        assert last == 429
    finally:
        await session.close()
    await center.add_operator("fresh")  # same address, other user: not locked out
    fresh = await center.browser("fresh")
    async with fresh.session.post(
        "/logout", data={"csrf_token": fresh.csrf}, allow_redirects=False
    ) as r:
        assert r.status == 303
    await fresh.get("/api/v1/me", 401)
    actions = {e.action for e in await center.container.db.audit.entries(limit=1000)}
    assert {
        "operator.login",
        "operator.login_failed",
        "operator.login_throttled",
        "operator.logout",
    } <= actions
    await fresh.close()


async def test_sessions_expire_when_idle_and_absolutely(center: Center) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    cookie = next(c for c in op.session.cookie_jar if c.key == SESSION_COOKIE)
    sessions = center.container.db.sessions
    digest = token_hash(cookie.value)
    stored = await sessions.get(digest)
    assert stored is not None
    await sessions.touch(digest, datetime.now(UTC) - timedelta(minutes=31))
    await op.get("/api/v1/me", 401)
    assert await sessions.get(digest) is None
    await op.login()
    cookie = next(c for c in op.session.cookie_jar if c.key == SESSION_COOKIE)
    digest = token_hash(cookie.value)
    old = await sessions.get(digest)
    assert old is not None
    await sessions.delete(digest)
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
    await op.get("/api/v1/me", 401)
    await op.close()


async def test_supervisor_page_needs_the_role(center: Center) -> None:
    await center.add_operator("op")
    await center.add_operator("boss", role=Role.SUPERVISOR)
    op = await center.browser("op")
    boss = await center.browser("boss")
    async with op.session.get("/supervisor") as r:
        assert r.status == 403
    async with boss.session.get("/supervisor?lang=kk") as r:
        html = await r.text()
        assert r.status == 200 and "Кезек" in html and 'lang="kk"' in html
    async with op.session.get("/") as r:
        assert r.status == 200 and "Очередь" in await r.text()
    async with op.session.get("/contacts/abc") as r:
        assert r.status == 200
    await op.close()
    await boss.close()


# --- operations ------------------------------------------------------------------------------


async def test_healthz_and_metrics(center: Center) -> None:
    status, body = await status_of(center, "GET", "/healthz", headers=METRICS_AUTH)
    assert status == 200 and body["status"] == "up"
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["queue"]["backend"] == "in-process"
    await center.report()
    await asyncio.sleep(0.05)
    status, text = await status_of(center, "GET", "/metrics", headers=METRICS_AUTH)
    assert status == 200
    assert 'contact_queue_depth{priority="chat"} 1.0' in text
    assert "contact_wait_seconds_bucket" in text
    assert 'contact_operators{presence="ready"}' in text
    assert "contact_answered_within_sla_ratio" in text


async def test_unknown_route_and_method_are_json(center: Center) -> None:
    status, body = await status_of(center, "GET", "/api/v1/nothing-here")
    assert (status, error_id(body)) == (404, "not_found")
    status, body = await status_of(center, "DELETE", "/api/v1/app/reports")
    assert (status, error_id(body)) == (405, "method_not_allowed")


async def test_openapi_covers_every_route_and_is_valid(center: Center) -> None:
    status, served = await status_of(center, "GET", "/api/v1/openapi.json")
    assert status == 200 and served == app_document(center)
    validate(served)
    app = center.client.app
    assert app is not None
    for resource, path in _resources(app):
        if path.startswith("/static"):
            continue
        assert path in served["paths"], f"{path} is not in the OpenAPI document"
        for route in resource:
            if route.method in ("HEAD", "*"):
                continue
            assert route.method.lower() in served["paths"][path], (route.method, path)


def _resources(app: web.Application) -> Iterator[tuple[Any, str]]:
    """Every route resource with its full path, a channel's sub-application's included (aiohttp
    gives those their prefix when it mounts them)."""
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            yield from _resources(resource.get_info()["app"])
        else:
            yield resource, resource.canonical


def app_document(center: Center) -> dict[str, Any]:
    from contact.http import admin_pages, rota, supervisor_stats, workspace
    from contact.plugins import enabled_plugins

    paths: dict[str, Any] = {  # as app.py does
        **supervisor_stats.OPENAPI,
        **workspace.OPENAPI,
        **admin_pages.OPENAPI,
        **rota.OPENAPI,
    }
    for plugin in enabled_plugins(center.container.settings):
        paths.update(plugin.openapi)
    return document(paths)


async def test_security_headers(center: Center) -> None:
    async with center.client.get("/login") as r:
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
async def test_websocket_refuses_cross_site(center: Center, origin: str) -> None:
    await center.add_operator("op")
    op = await center.browser("op")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await op.session.ws_connect("/ws", headers={"Origin": origin})
    await op.close()
