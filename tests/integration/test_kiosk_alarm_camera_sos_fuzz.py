"""Every device channel's edge fuzzed with hypothesis against a real `contact serve` process:
kiosk heartbeats, events and presses (correctly signed, so the parser is reached), school
alarms, camera alerts, app device registration, SOS, live location and reports.

Whatever arrives: never a 500 (every refusal is a JSON error with a 4xx status), and nothing
half-stored: the contacts in the database are exactly the ones answered with an id, each with
its first message, each in the queue."""

from __future__ import annotations

import asyncio
import csv
import http.client
import itertools
import json
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact.channels.kiosk.parse import sign
from tests.hostile import HOSTILE_TEXT, MULTIPART_BODIES, MULTIPART_TYPE
from tests.integration.device_support import CAMERA_KEY, CHECKOUT_ENV
from tests.support import APP_KEY, ServeProcess

pytestmark = pytest.mark.slow

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", "", "multipart/form-data"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=30)
    | HOSTILE_TEXT
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


def bodies(keys: list[str]) -> st.SearchStrategy[bytes]:
    """JSON objects with the channel's own keys (plausible and absurd values), other JSON,
    and raw bytes."""
    good_values = st.sampled_from(
        [
            "park-01",
            "school-12",
            "cam-1",
            "weapon",
            "crowd",
            "tamper",
            "panic",
            "device-fuzz-0001",
            "ru",
            "kk",
            0.99,
            43.25,
            76.9,
            "https://vms.example/s.jpg",
            {"lat": 43.2, "lon": 76.9},
        ]
    )
    objects = st.dictionaries(st.sampled_from(keys), good_values | JSONISH, max_size=len(keys))
    return st.one_of(
        objects.map(lambda o: json.dumps(o).encode()),
        JSONISH.map(lambda o: json.dumps(o).encode()),
        st.binary(max_size=200),
        st.just(b"[" * 3000),
        st.just(b'{"lat": 1' + b"0" * 400 + b', "lon": 1}'),
    )


@dataclass
class Server:
    node: ServeProcess
    db_path: Path
    kiosk_key: str
    site_key: str
    device_token: str
    sos_id: str
    accepted: set[str] = field(default_factory=set)
    clock: Iterator[int] = field(default_factory=lambda: itertools.count(int(time.time())))

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.node.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw
        return response.status, data

    def check(self, status: int, data: Any) -> None:
        assert status < 500, (status, data)
        if status >= 400:
            assert isinstance(data, dict) and set(data) == {"error"}, data
            assert data["error"]["id"] and data["error"]["message"]
        elif (
            isinstance(data, dict)
            and isinstance(data.get("id"), str)
            and "kind" not in data  # a kiosk event's own id (heartbeat, tamper): no contact
            and (status == 202 or data.get("joined") or data.get("status") == "collapsed")
        ):
            self.accepted.add(data["id"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db_path = tmp / "contact.db"
    env = {
        **CHECKOUT_ENV,
        "CONTACT_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "CONTACT_CAMERA_API_KEYS": CAMERA_KEY,
        "CONTACT_KIOSK_REQUESTS_PER_MINUTE_PER_KIOSK": "1000000",
        "CONTACT_ALARM_ALARMS_PER_MINUTE_PER_SITE": "1000000",
        "CONTACT_CAMERA_EVENTS_PER_MINUTE_PER_CAMERA": "1000000",
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_DEVICE": "1000000",
        "CONTACT_APP_SOS_PER_HOUR_PER_DEVICE": "1000000",
        "CONTACT_APP_LOCATIONS_PER_MINUTE_PER_DEVICE": "1000000",
        "CONTACT_APP_REGISTRATIONS_PER_MINUTE_PER_ADDRESS": "1000000",
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS": "1000000",
        "CONTACT_APP_REPORTS_PER_MINUTE_PER_API_KEY": "1000000",
    }
    node = ServeProcess(env, tmp / "serve.log")
    keys: dict[str, str] = {}
    for what, rows in (
        ("kiosks", "id,name,lat,lon,camera_id\npark-01,Парк,43.25,76.92,cam-1\n"),
        ("sites", "id,name,lat,lon,camera_ids\nschool-12,Школа,43.23,76.88,cam-2\n"),
    ):
        (tmp / f"{what}.csv").write_text(rows)
        node.cli(what, "import", str(tmp / f"{what}.csv"), "--keys-out", str(tmp / f"{what}.k"))
        keys[what] = next(csv.DictReader((tmp / f"{what}.k").open()))["key"]
    asyncio.run(node.start())
    try:
        probe = Server(node, db_path, keys["kiosks"], keys["sites"], "", "")
        status, reg = probe.request(
            "POST",
            "/api/v1/app/devices",
            json.dumps({"device_id": "device-fuzz-0001"}).encode(),
            {"X-Api-Key": APP_KEY, "Content-Type": "application/json"},
        )
        assert status == 201, reg
        status, sos = probe.request(
            "POST",
            "/api/v1/app/sos",
            b"{}",
            {
                "X-Api-Key": APP_KEY,
                "X-Device-Token": reg["device_token"],
                "Content-Type": "application/json",
            },
        )
        assert status == 202, sos
        running = Server(
            node, db_path, keys["kiosks"], keys["sites"], reg["device_token"], sos["id"]
        )
        running.accepted.add(sos["id"])
        yield running
    finally:
        node.stop()


@EXAMPLES
@given(
    action=st.sampled_from(["heartbeat", "events", "sos"]),
    body=bodies(["kind", "detail", "at", "press_id", "language", "door"]),
    content_type=CONTENT_TYPES,
)
def test_kiosk_edge(server: Server, action: str, body: bytes, content_type: str) -> None:
    path = f"/api/v1/kiosks/park-01/{action}"
    ts = str(next(server.clock))
    headers = {"X-Timestamp": ts, "X-Signature": sign(server.kiosk_key, ts, "POST", path, body)}
    if content_type:
        headers["Content-Type"] = content_type
    server.check(*server.request("POST", path, body, headers))


@EXAMPLES
@given(
    body=bodies(["site_id", "zone", "kind", "event_id"]),
    content_type=CONTENT_TYPES,
    auth=st.sampled_from(["good", "none", "junk"]),
)
def test_alarm_edge(server: Server, body: bytes, content_type: str, auth: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    if auth == "good":
        headers["Authorization"] = f"Bearer {server.site_key}"
    elif auth == "junk":
        headers["Authorization"] = "Bearer wrong-key"  # well formed, nobody's
    server.check(*server.request("POST", "/api/v1/alarms", body, headers))


@EXAMPLES
@given(
    body=bodies(["camera_id", "kind", "confidence", "snapshot_url", "time", "subject", "event_id"]),
    content_type=CONTENT_TYPES,
)
def test_camera_edge(server: Server, body: bytes, content_type: str) -> None:
    headers = {"X-Api-Key": CAMERA_KEY}
    if content_type:
        headers["Content-Type"] = content_type
    server.check(*server.request("POST", "/api/v1/camera-events", body, headers))


@EXAMPLES
@given(
    target=st.sampled_from(["devices", "sos", "location", "reports", "cancel-other"]),
    body=bodies(["device_id", "platform", "language", "location", "lat", "lon", "text", "kind"]),
    content_type=CONTENT_TYPES,
    idempotency=st.one_of(st.none(), st.sampled_from(["k-1", "a b", "x" * 200])),
)
def test_app_edge(
    server: Server, target: str, body: bytes, content_type: str, idempotency: str | None
) -> None:
    paths = {
        "devices": "/api/v1/app/devices",
        "sos": "/api/v1/app/sos",
        "location": f"/api/v1/app/sos/{server.sos_id}/location",
        "reports": "/api/v1/app/reports",
        "cancel-other": "/api/v1/app/sos/not-a-contact/cancel",
    }
    headers = {"X-Api-Key": APP_KEY}
    if target != "devices":
        headers["X-Device-Token"] = server.device_token
    if content_type:
        headers["Content-Type"] = content_type
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    server.check(*server.request("POST", paths[target], body, headers))


@EXAMPLES
@given(body=MULTIPART_BODIES, idempotency=st.one_of(st.none(), st.sampled_from(["m-1", "m-2"])))
def test_app_report_multipart_edge(server: Server, body: bytes, idempotency: str | None) -> None:
    """Broken multipart bodies (truncated or colonless part headers, unknown transfer
    encodings, lone surrogates in fields, missing boundaries): a 202 or a clear 4xx."""
    headers = {"X-Api-Key": APP_KEY, "Content-Type": MULTIPART_TYPE}
    if idempotency is not None:
        headers["Idempotency-Key"] = idempotency
    server.check(*server.request("POST", "/api/v1/app/reports", body, headers))


HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=60,
)


@EXAMPLES
@given(
    target=st.sampled_from(
        [
            ("POST", "/api/v1/kiosks/park-01/heartbeat"),
            ("POST", "/api/v1/kiosks/park-01/sos"),
            ("POST", "/api/v1/alarms"),
            ("POST", "/api/v1/camera-events"),
            ("POST", "/api/v1/app/devices"),
            ("POST", "/api/v1/app/sos"),
            ("POST", "/api/v1/app/reports"),
            ("GET", "/api/v1/app/history?limit={q}"),
            ("GET", "/api/v1/app/sos/{q}"),
            ("GET", "/api/v1/app/reports/{q}"),
            ("POST", "/api/v1/app/sos/{q}/location"),
            ("POST", "/api/v1/app/sos/{q}/cancel"),
            ("POST", "/api/v1/kiosks/{q}/events"),
        ]
    ),
    q=st.text(max_size=20),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "X-Api-Key",
                "X-Device-Token",
                "X-Device-Id",
                "X-Timestamp",
                "X-Signature",
                "Authorization",
                "Idempotency-Key",
            ]
        ),
        HEADER_TEXT,
        max_size=4,
    ),
    good_keys=st.booleans(),
)
def test_headers_paths_and_queries(
    server: Server,
    target: tuple[str, str],
    q: str,
    headers: dict[str, str],
    good_keys: bool,
) -> None:
    method, template = target
    path = template.format(q=urllib.parse.quote(q, safe=""))
    sent = {"Content-Type": "application/json"}
    if good_keys:
        sent.update(
            {"X-Api-Key": APP_KEY, "X-Device-Token": server.device_token}
            if "/app/" in path
            else {"X-Api-Key": CAMERA_KEY, "Authorization": f"Bearer {server.site_key}"}
        )
    sent.update(headers)
    body = b"{}" if method == "POST" else b""
    server.check(*server.request(method, path, body, sent))


def test_nothing_half_stored(server: Server) -> None:
    """Runs after the fuzzing above (file order): the database holds exactly what was
    answered, whole, and all of it waits in the queue."""
    with sqlite3.connect(server.db_path) as db:
        contacts = dict(db.execute("SELECT id, state FROM contacts").fetchall())
        without_message = db.execute(
            "SELECT COUNT(*) FROM contacts c WHERE NOT EXISTS "
            "(SELECT 1 FROM messages m WHERE m.contact_id = c.id)"
        ).fetchone()[0]
    assert set(contacts) == server.accepted
    assert without_message == 0
    assert set(contacts.values()) <= {"queued"}
    status, health = server.request("GET", "/healthz")
    assert status == 200 and health["status"] == "up"
