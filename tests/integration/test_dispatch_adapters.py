"""The dispatch adapters against real peers on loopback: an OSRM-compatible server (road ETAs,
timeout and fallback), cameras behind Basic and Digest auth (the snapshot proxy and camera
health), and a Mosquitto that goes away and comes back (the MQTT consumer reconnects)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contact.dispatch.cameras import Camera
from contact.dispatch.registry import import_cameras_into
from contact.dispatch.units import UnitKind
from contact.domain.model import Role
from tests.integration.dispatch_support import (
    SCENE,
    add_device,
    dispatch_settings,
    near,
    need_mosquitto,
    parts_of,
    until,
)
from tests.ports import free_tcp_port
from tests.support import METRICS_AUTH, Center, start_center

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 2000 + b"\xff\xd9"


# --- a routing server ---------------------------------------------------------------------------


class FakeOsrm:
    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[str] = []

    async def table(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        if self.mode == "slow":
            await asyncio.sleep(2)
        if self.mode == "error":
            return web.json_response({"code": "NoTable"}, status=400)
        sources = request.query["sources"].split(";")
        # every unit is 10 minutes away by road, except the last, which is 1 minute away
        durations = [[600.0] for _ in sources]
        durations[-1] = [60.0]
        distances = [[5_000.0] for _ in sources]
        return web.json_response({"code": "Ok", "durations": durations, "distances": distances})


@pytest.fixture
async def osrm() -> AsyncIterator[tuple[FakeOsrm, str]]:
    fake = FakeOsrm()
    app = web.Application()
    app.router.add_get("/table/v1/driving/{coords}", fake.table)
    server = TestServer(app)
    await server.start_server()
    yield fake, str(server.make_url("")).rstrip("/")
    await server.close()


async def test_road_etas_re_rank_and_a_dead_router_falls_back(
    tmp_path: Path, osrm: tuple[FakeOsrm, str]
) -> None:
    need_mosquitto()
    fake, url = osrm
    settings, _ = dispatch_settings(
        tmp_path, osrm_url=url, osrm_timeout_s=0.3, osrm_backoff_s=60, mqtt_url=None
    )
    center = await start_center(settings)
    try:
        near_car = await add_device(center, "R-1", UnitKind.CAR, near(SCENE, 300))
        far_car = await add_device(center, "R-2", UnitKind.CAR, near(SCENE, 2_000))
        service = parts_of(center).service
        ranked = await service.rank(SCENE.lat, SCENE.lon)
        # by road the far car is 1 minute away (the near one is behind a river): it goes first
        assert [r.unit_id for r in ranked] == [far_car.unit_id, near_car.unit_id]
        assert [r.eta_source for r in ranked] == ["road", "road"]
        assert ranked[0].eta_s == 60.0
        assert "annotations=duration,distance" in fake.requests[0].replace("%2C", ",")

        fake.mode = "slow"
        started = asyncio.get_running_loop().time()
        ranked = await service.rank(SCENE.lat, SCENE.lon)
        assert asyncio.get_running_loop().time() - started < 1.0  # the timeout, not 2 s
        assert [r.unit_id for r in ranked] == [near_car.unit_id, far_car.unit_id]
        assert {r.eta_source for r in ranked} == {"estimate"}
        asked = len(fake.requests)
        await service.rank(SCENE.lat, SCENE.lon)  # backing off: not asked again
        assert len(fake.requests) == asked
        router = parts_of(center).router
        assert router is not None and not router.healthy and router.failures == 1
    finally:
        await center.client.close()


async def test_an_erroring_router_is_an_estimate(
    tmp_path: Path, osrm: tuple[FakeOsrm, str]
) -> None:
    fake, url = osrm
    fake.mode = "error"
    settings, _ = dispatch_settings(tmp_path, osrm_url=url, mqtt_url=None)
    center = await start_center(settings)
    try:
        await add_device(center, "E-1", UnitKind.FOOT, near(SCENE, 300))
        ranked = await parts_of(center).service.rank(SCENE.lat, SCENE.lon)
        assert ranked[0].eta_source == "estimate"
        assert ranked[0].eta_s == pytest.approx(300 * 1.35 / (5 / 3.6), rel=1e-3)
    finally:
        await center.client.close()


# --- cameras behind authentication --------------------------------------------------------------


class FakeCameras:
    def __init__(self) -> None:
        self.nonce = "abc123nonce"
        self.seen_auth: list[str] = []

    async def basic(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.seen_auth.append(auth)
        if auth != "Basic Y2FtOnNlY3JldA==":  # cam:secret
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="cam"'})
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def digest(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        self.seen_auth.append(auth)
        if not (auth.startswith("Digest ") and 'username="cam"' in auth and self.nonce in auth):
            challenge = f'Digest realm="cam", nonce="{self.nonce}", qop="auth", algorithm=MD5'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<h1>login</h1>", content_type="text/html")

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://198.51.100.1/elsewhere.jpg")


async def test_snapshot_proxy_hides_credentials_and_counts_failures(tmp_path: Path) -> None:
    cams = FakeCameras()
    app = web.Application()
    for name in ("basic", "digest", "slow", "html", "redirect"):
        app.router.add_get(f"/{name}.jpg", getattr(cams, name))
    server = TestServer(app)
    await server.start_server()
    host = f"{server.host}:{server.port}"
    settings, _ = dispatch_settings(
        tmp_path, mqtt_url=None, snapshot_timeout_s=0.5, camera_allow_loopback=True
    )
    center = await start_center(settings)
    try:

        def camera(cid: str, path: str, creds: str = "cam:secret@") -> Camera:
            return Camera(
                cid, SCENE.lat, SCENE.lon, 0, 360, 50, "rtsp://x/1", f"http://{creds}{host}{path}"
            )

        await import_cameras_into(
            parts_of(center).repo,
            [
                camera("C-BASIC", "/basic.jpg"),
                camera("C-DIGEST", "/digest.jpg"),
                camera("C-WRONG", "/basic.jpg", "cam:wrong@"),
                camera("C-SLOW", "/slow.jpg"),
                camera("C-HTML", "/html.jpg"),
                camera("C-REDIRECT", "/redirect.jpg"),
                Camera(
                    "C-DOWN", SCENE.lat, SCENE.lon, 0, 360, 50, "rtsp://x", "http://127.0.0.1:9/x"
                ),
            ],
            allow_loopback=True,  # the fake cameras run on this machine
        )
        await parts_of(center).service.reload_map()
        await center.add_operator("boss", role=Role.SUPERVISOR)
        boss = await center.browser("boss")

        async def fetch(cid: str) -> tuple[int, bytes, dict[str, str]]:
            async with boss.session.get(f"/api/v1/cameras/{cid}/snapshot") as r:
                return r.status, await r.read(), dict(r.headers)

        status, body, headers = await fetch("C-BASIC")
        assert status == 200 and body == JPEG and headers["Content-Type"] == "image/jpeg"
        assert headers["Cache-Control"] == "no-store"
        assert "secret" not in json.dumps(headers)
        status, body, _ = await fetch("C-DIGEST")
        assert status == 200 and body == JPEG
        assert any(a.startswith("Digest ") for a in cams.seen_auth)
        expected = {"C-WRONG": 502, "C-SLOW": 504, "C-HTML": 502, "C-REDIRECT": 502, "C-DOWN": 502}
        for cid, code in expected.items():
            status, body, _ = await fetch(cid)
            assert status == code, (cid, body)
            assert b"secret" not in body
        assert (await fetch("NOPE"))[0] == 404

        health = await boss.get("/api/v1/supervisor/cameras")
        failing = {c["camera_id"]: c for c in health["failing"]}
        assert set(failing) == set(expected)
        assert failing["C-SLOW"]["last_error"] == "the camera did not answer in time"
        assert health["cameras"] == 7
        # a camera that recovers leaves the list
        await fetch("C-BASIC")
        health = await boss.get("/api/v1/supervisor/cameras")
        assert "C-BASIC" not in {c["camera_id"] for c in health["failing"]}
        await boss.close()
    finally:
        await center.client.close()
        await server.close()


# --- MQTT: the broker goes away and comes back ------------------------------------------------


def start_broker(port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("the mosquitto binary is required (apt-get install mosquitto)", pytrace=False)
    conf = tmp_path / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def publish(port: int, topic: str, payload: dict[str, Any]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, json.dumps(payload))


async def dispatch_health(center: Center) -> dict[str, Any]:
    async with center.client.get("/healthz", headers=METRICS_AUTH) as r:
        body: dict[str, Any] = await r.json()
    assert body["status"] in ("up", "degraded"), body  # dispatch down is degraded, not down
    component: dict[str, Any] = body["components"]["dispatch"]
    return component


async def test_the_mqtt_consumer_reconnects_after_a_broker_restart(tmp_path: Path) -> None:
    port = free_tcp_port()
    broker = start_broker(port, tmp_path)
    settings, prefix = dispatch_settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{port}")
    center = await start_center(settings)
    try:
        mqtt = parts_of(center).mqtt
        assert mqtt is not None
        assert await mqtt.wait_subscribed(10)
        unit = await add_device(center, "M-1", UnitKind.CAR)
        service = parts_of(center).service
        first = near(SCENE, 100)
        await publish(port, f"{prefix}/{unit.unit_id}/position", first._asdict())
        await until(lambda: (u := service.unit(unit.unit_id)) and u.position is not None)

        assert (await dispatch_health(center))["mqtt"] == "up"

        broker.terminate()
        broker.wait(10)
        await until(lambda: not mqtt.connected)
        health = await dispatch_health(center)  # stale positions are a fault an operator sees
        assert health["status"] == "down" and health["mqtt"] == "down"
        broker = start_broker(port, tmp_path)
        assert await mqtt.wait_subscribed(20), "the consumer did not come back"
        assert (await dispatch_health(center))["status"] == "up"
        second = near(SCENE, 900)
        await publish(port, f"{prefix}/{unit.unit_id}/position", second._asdict())

        def moved() -> bool:
            u = service.unit(unit.unit_id)
            return u is not None and u.position is not None and u.position.lat == second.lat

        await until(moved, within_s=10)
    finally:
        await center.client.close()
        broker.terminate()
        broker.wait(10)
