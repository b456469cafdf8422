"""Leaks and SSRF over real HTTP: /healthz minimal for anonymous callers, /metrics behind its
token, camera URLs towards metadata/link-local/loopback refused at import and at fetch (also
when a name resolves there), /source without camera URLs, rotated unit tokens refused at once."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from contact.config import DispatchSettings
from contact.dispatch.camera_import import parse_cameras_csv
from contact.dispatch.cameras import Camera
from contact.dispatch.registry import import_cameras_into, rotate_token
from contact.dispatch.snapshots import SnapshotFailed, SnapshotProxy
from contact.dispatch.units import UnitKind
from contact.domain.model import Role
from contact.errors import Unprocessable
from tests.integration.device_support import add_site, alarm, camera_event, device_settings
from tests.integration.dispatch_support import SCENE, add_device, dispatch_settings, parts_of
from tests.support import METRICS_AUTH, METRICS_TOKEN, Center, start_center


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    settings, _ = dispatch_settings(tmp_path, mqtt_url=None, snapshot_timeout_s=1.0)
    running = await start_center(settings)
    yield running
    await running.client.close()


async def get(center: Center, path: str, **kw: Any) -> tuple[int, Any]:
    async with center.client.get(path, **kw) as r:
        if r.content_type == "application/json":
            return r.status, await r.json()
        return r.status, await r.text()


async def test_healthz_is_minimal_for_anonymous_callers(center: Center) -> None:
    status, anonymous = await get(center, "/healthz")
    assert status == 200 and set(anonymous) == {"status", "components"}
    for name, component in anonymous["components"].items():
        flat = component if "status" in component else next(iter(component.values()))
        assert set(flat) == {"status"}, (name, component)
    assert center.container.node_id not in str(anonymous)
    _, detailed = await get(center, "/healthz", headers=METRICS_AUTH)
    assert detailed["node"] == center.container.node_id
    assert set(detailed["components"]) == set(anonymous["components"])
    assert detailed["components"]["dispatch"]["routing"] == "straight_line"
    await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.add_operator("op")
    boss, op = await center.browser("boss"), await center.browser("op")
    assert (await boss.get("/healthz"))["node"] == center.container.node_id
    assert "node" not in await op.get("/healthz")
    await boss.close()
    await op.close()


async def test_metrics_need_the_token(center: Center) -> None:
    status, body = await get(center, "/metrics")
    assert status == 401 and body["error"]["id"] == "metrics_token_required"
    status, _ = await get(center, "/metrics", headers={"Authorization": "Bearer wrong"})
    assert status == 401
    status, text = await get(center, "/metrics", headers=METRICS_AUTH)
    assert status == 200 and "contact_queue_depth" in text
    basic = base64.b64encode(f"prometheus:{METRICS_TOKEN}".encode()).decode()
    status, _ = await get(center, "/metrics", headers={"Authorization": f"Basic {basic}"})
    assert status == 200


REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/snap.jpg",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://2852039166/",  # 169.254.169.254 as one number
    "http://0xa9.0xfe.0xa9.0xfe/",
    "http://[::ffff:169.254.169.254]/",
    "http://127.0.0.1/snap.jpg",
    "http://localhost:8080/metrics",
    "http://[::1]/snap.jpg",
    "http://0.0.0.0/snap.jpg",
]


def camera(cid: str, snapshot: str | None, stream: str = "rtsp://10.1.2.3/1") -> Camera:
    return Camera(cid, SCENE.lat, SCENE.lon, 0, 360, 50, stream, snapshot)


async def test_camera_import_refuses_metadata_link_local_and_loopback(center: Center) -> None:
    lines = ["id,lat,lon,heading,fov,range,stream_url,snapshot_url\n"]
    lines += [
        f"c{n},43.2,76.9,0,90,100,rtsp://10.0.0.{n}/1,{url}\n" for n, url in enumerate(REFUSED)
    ]
    lines.append("ok,43.2,76.9,0,90,100,rtsp://10.0.0.99/1,http://cam.example/snap.jpg\n")
    lines.append("bad-stream,43.2,76.9,0,90,100,rtsp://127.0.0.1:554/1,\n")
    report = parse_cameras_csv(lines)
    assert [c.id for c in report.cameras] == ["ok"]
    assert report.error_count == len(REFUSED) + 1
    assert all("refused" in e.message or " is " in e.message for e in report.errors)
    allowed = parse_cameras_csv([lines[0], lines[9], lines[-1]], allow_loopback=True)
    assert [c.id for c in allowed.cameras] == ["c8", "bad-stream"]  # loopback, when allowed
    repo = parts_of(center).repo
    with pytest.raises(Unprocessable):
        await import_cameras_into(repo, [camera("meta", REFUSED[0])])
    with pytest.raises(Unprocessable):
        await import_cameras_into(repo, [camera("lo", None, "rtsp://127.0.0.1/1")])


class FakeDns(AbstractResolver):
    """Every name resolves to 127.0.0.1, as a rebinding attacker's DNS would answer."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


async def test_snapshot_proxy_refuses_at_fetch_time(center: Center) -> None:
    """A name that resolves to loopback at fetch time (DNS rebinding) and a metadata address
    stored behind the import's back are refused; the same camera is served when loopback is
    allowed, so the refusal is the guard's."""

    async def still(request: web.Request) -> web.Response:
        return web.Response(body=b"\xff\xd8jpeg", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/x.jpg", still)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = f"http://camera.test:{server.port}/x.jpg"
    guarded = SnapshotProxy(timeout_s=2, max_bytes=1000, cache_s=0, resolver=FakeDns())
    open_ = SnapshotProxy(
        timeout_s=2, max_bytes=1000, cache_s=0, resolver=FakeDns(), allow_loopback=True
    )
    await guarded.start()
    await open_.start()
    try:
        with pytest.raises(SnapshotFailed) as refused:
            await guarded.fetch(camera("rebind", url))
        assert refused.value.error_id == "camera_address_refused"
        assert (await open_.fetch(camera("rebind", url))).content == b"\xff\xd8jpeg"
    finally:
        await guarded.stop()
        await open_.stop()
        await server.close()
    # through the server, for a camera stored behind the import's back
    repo = parts_of(center).repo
    await repo.import_cameras([camera("literal", REFUSED[0])], datetime.now(UTC))
    await parts_of(center).service.reload_map(force=True)
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        async with boss.session.get("/api/v1/cameras/literal/snapshot") as r:
            body = await r.json()
            assert r.status == 502 and body["error"]["id"] == "camera_address_refused", body
    finally:
        await boss.close()


async def test_source_gives_the_proxy_path_never_camera_urls(center: Center) -> None:
    secret_url = "http://admin:hunter2@10.20.30.40/snap.jpg"
    await import_cameras_into(parts_of(center).repo, [camera("cam-s12-gate", secret_url)])
    await add_site(center)
    status, answer = await alarm(
        center, {"site_id": "school-12", "zone": "вход", "kind": "intruder", "event_id": "e1"}
    )
    assert status == 202, answer
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        async with boss.session.get(f"/api/v1/contacts/{answer['id']}/source") as r:
            raw = await r.text()
            source = json.loads(raw)
        assert "hunter2" not in raw and "10.20.30.40" not in raw
        cameras = {c["id"]: c for c in source["cameras"]}
        assert cameras["cam-s12-gate"]["snapshot"] == "/api/v1/cameras/cam-s12-gate/snapshot"
        assert "snapshot_url" not in cameras["cam-s12-gate"]
    finally:
        await boss.close()


async def test_rotated_unit_token_stops_at_once(center: Center) -> None:
    unit = await add_device(center, "ROT-01", UnitKind.CAR)
    await unit.position(SCENE.lat, SCENE.lon)  # the token works (and would have been cached)
    await unit.connect()
    new_token = await rotate_token(parts_of(center).repo, unit.unit_id)
    path = f"/api/v1/units/{unit.unit_id}/position"
    async with center.client.post(
        path, json={"lat": SCENE.lat, "lon": SCENE.lon}, headers=unit.headers
    ) as r:
        assert r.status == 401
    assert unit.ws is not None
    await unit.send({"op": "status", "status": "on_scene"})
    msg = await unit.ws.receive(timeout=5)
    assert msg.data == 4401  # the old token's socket is closed
    unit.token = new_token
    await unit.position(SCENE.lat, SCENE.lon)


async def test_alert_stills_go_through_the_server_only(tmp_path: Path) -> None:
    """A camera analytics alert's snapshot link with the VMS login: refused towards metadata;
    otherwise operators get the server's path, the still is fetched with the login, and the
    login is in no message or answer."""
    seen_auth: list[str] = []

    async def still(request: web.Request) -> web.Response:
        seen_auth.append(request.headers.get("Authorization", ""))
        return web.Response(body=b"\xff\xd8alert", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/a.jpg", still)
    vms = TestServer(app, host="127.0.0.1")
    await vms.start_server()
    settings = device_settings(tmp_path)
    dispatch = DispatchSettings(camera_allow_loopback=True)  # the fake VMS is on this host
    center = await start_center(settings.model_copy(update={"dispatch": dispatch}))
    await add_site(center)
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        body = {"camera_id": "cam-s12-gate", "kind": "weapon", "confidence": 0.95}
        for bad in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/a.jpg"):
            status, answer = await camera_event(center, {**body, "snapshot_url": bad})
            assert (status, answer["error"]["id"]) == (422, "invalid_snapshot_url")
        link = f"http://vms:s3cret@127.0.0.1:{vms.port}/a.jpg"
        status, answer = await camera_event(center, {**body, "snapshot_url": link})
        assert status == 202, answer
        (message,) = await center.container.db.contacts.messages(answer["id"])
        assert "s3cret" not in message.text and f"127.0.0.1:{vms.port}/a.jpg" in message.text
        async with boss.session.get(f"/api/v1/contacts/{answer['id']}/source") as r:
            raw = await r.text()
        assert "s3cret" not in raw and "snapshot_url" not in raw
        path = json.loads(raw)["details"]["snapshot"]
        assert path == f"/api/v1/contacts/{answer['id']}/source/snapshot"
        async with boss.session.get(path) as r:
            assert r.status == 200 and await r.read() == b"\xff\xd8alert"
        assert seen_auth == ["Basic " + base64.b64encode(b"vms:s3cret").decode()]
    finally:
        await boss.close()
        await center.client.close()
        await vms.close()
