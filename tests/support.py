"""Helpers to run a whole center in a test: the real container and aiohttp app on a real
server port, operators, logged-in browser-like sessions, and app reports."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from contact.bootstrap import Container, build
from contact.config import (
    AppChannelSettings,
    DatabaseSettings,
    HttpSettings,
    ModelsSettings,
    RedisSettings,
    RoutingSettings,
    Settings,
)
from contact.domain.model import Capability, Gender, Language, Operator, Role, Skills, new_id
from contact.http.app import create_app
from contact.http.auth import hash_password
from tests.ports import free_tcp_port

APP_KEY = "test-app-key-0123456789"
PASSWORD = "correct horse battery"
METRICS_TOKEN = "test-metrics-token-0123456789"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # /metrics, /healthz details


def make_settings(
    tmp_path: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "contact:",
    **routing: Any,
) -> Settings:
    routing_defaults: dict[str, Any] = {"tick_s": 0.02, "wrap_up_s": 0.0}
    return Settings(
        data_dir=tmp_path,
        http=HttpSettings(metrics_token=METRICS_TOKEN),
        database=DatabaseSettings(url=database_url or f"sqlite+aiosqlite:///{tmp_path}/c.db"),
        redis=RedisSettings(url=redis_url, key_prefix=redis_prefix),
        # every test client is one address: its limit is tested on its own (hostile input)
        app=AppChannelSettings(api_keys=APP_KEY, reports_per_minute_per_address=100_000),
        routing=RoutingSettings(**{**routing_defaults, **routing}),
        # no speech model unless a test installs one (never the machine's own)
        models=ModelsSettings(dir=tmp_path / "models"),
    )


@dataclass
class Center:
    container: Container
    client: TestClient[Any, Any]

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def add_operator(
        self,
        username: str,
        role: Role = Role.OPERATOR,
        languages: frozenset[Language] = frozenset(Language),
        capabilities: frozenset[Capability] = frozenset(Capability),
        gender: Gender = Gender.OTHER,
    ) -> str:
        operator = Operator(
            id=new_id(),
            username=username,
            display_name=username.title(),
            role=role,
            skills=Skills(languages, capabilities),
            gender=gender,
        )
        await self.container.db.operators.add(operator, hash_password(PASSWORD))
        return operator.id

    async def browser(self, username: str) -> Browser:
        """A logged-in cookie session, like an operator's browser."""
        session = aiohttp.ClientSession(
            base_url=self.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        browser = Browser(session, username)
        await browser.login()
        return browser

    async def report(
        self,
        text: str = "Украли велосипед у подъезда",
        *,
        device_id: str = "device-0001",
        key: str | None = None,
        **fields: Any,
    ) -> str:
        headers = {"X-Api-Key": APP_KEY}
        if key:
            headers["Idempotency-Key"] = key
        body = {"text": text, "device_id": device_id, **fields}
        async with self.client.post("/api/v1/app/reports", json=body, headers=headers) as r:
            assert r.status == 202, await r.text()
            return str((await r.json())["id"])


@dataclass
class Browser:
    session: aiohttp.ClientSession
    username: str
    csrf: str = ""
    operator_id: str = ""
    ws: aiohttp.ClientWebSocketResponse | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    async def login(self, password: str = PASSWORD) -> None:
        async with self.session.get("/login") as r:
            page = await r.text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        async with self.session.post(
            "/login",
            data={"username": self.username, "password": password, "csrf_token": token.group(1)},
            allow_redirects=False,
        ) as r:
            assert r.status == 303, await r.text()
        me = await self.get("/api/v1/me")
        self.csrf, self.operator_id = me["csrf_token"], me["id"]

    async def get(self, path: str, status: int = 200) -> Any:
        async with self.session.get(path) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def post(
        self, path: str, body: Mapping[str, Any] | None = None, status: int = 200
    ) -> Any:
        async with self.session.post(
            path, json=dict(body or {}), headers={"X-CSRF-Token": self.csrf}
        ) as r:
            assert r.status == status, await r.text()
            return await r.json()

    async def ready(self) -> None:
        await self.post("/api/v1/me/presence", {"presence": "ready"})

    async def connect(self) -> None:
        self.ws = await self.session.ws_connect("/ws")

    async def next_event(
        self, type_: str, topic: str | None = None, within_s: float = 5.0
    ) -> dict[str, Any]:
        """The next pushed message of this type (earlier ones of other types are kept)."""
        for i, msg in enumerate(self.received):
            data = msg.get("data", {})  # answers to our own requests have no data
            if data.get("type") == type_ and (topic is None or msg["topic"] == topic):
                return self.received.pop(i)
        assert self.ws is not None
        async with asyncio.timeout(within_s):
            while True:
                msg = await self.ws.receive_json()
                if msg.get("data", {}).get("type") == type_ and (
                    topic is None or msg["topic"] == topic
                ):
                    return dict(msg)
                self.received.append(msg)

    async def next_offer(self, within_s: float = 5.0) -> dict[str, Any]:
        """The next offer made to this operator (not the public one on the queue topic)."""
        return await self.next_event(
            "contact.offered", f"operator:{self.operator_id}", within_s=within_s
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self.session.close()


async def start_center(settings: Settings) -> Center:
    container = await build(settings)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(container)))
    await client.start_server()
    return Center(container, client)


class ServeProcess:
    """`contact serve` as a user runs it: a separate OS process configured by environment."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        import os

        self.port = free_tcp_port()
        self.env = {
            **os.environ,
            "CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS": "100000",  # one address: the tests
            **env,
            "CONTACT_HTTP_PORT": str(self.port),
            "CONTACT_APP_API_KEYS": APP_KEY,
            "CONTACT_HTTP_METRICS_TOKEN": METRICS_TOKEN,
            "CONTACT_LOG_LEVEL": "WARNING",
        }
        self.log_path = log_path
        self.proc: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within_s: float = 60.0) -> None:
        # a cold start imports aiogram, SQLAlchemy, vosk…: seconds when quiet, more when busy
        import subprocess
        import sys

        exe = str(Path(sys.executable).with_name("contact"))
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [exe, "serve"], env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(int(within_s / 0.05)):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"contact serve exited: {self.log_path.read_text()}")
                try:
                    async with session.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"contact serve did not answer: {self.log_path.read_text()}")

    def kill9(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
            self._log.close()

    def cli(self, *args: str, stdin: str | None = None) -> str:
        import subprocess
        import sys

        exe = str(Path(sys.executable).with_name("contact"))
        done = subprocess.run(
            [exe, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def add_operator(self, username: str, role: Role = Role.OPERATOR) -> None:
        self.cli(
            "operators",
            "add",
            username,
            "--role",
            role.value,
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )

    async def browser(self, username: str) -> Browser:
        session = aiohttp.ClientSession(
            base_url=self.url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        browser = Browser(session, username)
        await browser.login()
        return browser

    async def report(self, session: aiohttp.ClientSession, text: str, device_id: str) -> str:
        async with session.post(
            f"{self.url}/api/v1/app/reports",
            json={"text": text, "device_id": device_id},
            headers={"X-Api-Key": APP_KEY},
        ) as r:
            assert r.status == 202, await r.text()
            return str((await r.json())["id"])
