"""Hostile input at every HTTP edge, over real HTTP: lone UTF-16 surrogates, invalid UTF-8 and
NULs in every text field (kept, with U+FFFD, never a 500 or a lost report), malformed multipart
(400), numbers beyond what is physically meaningful (4xx), reused Idempotency-Keys (422/409),
replays (never rate-limited) and the per-address and per-API-key limits (429, Retry-After)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contact.channels.app.routes import LIMITS
from contact.config import AppChannelSettings
from tests.integration.device_support import (
    CAMERA_KEY,
    SITE_KEY,
    add_kiosk,
    add_site,
    alarm,
    call,
    camera_event,
    device_headers,
    device_settings,
    error_id,
    register_device,
)
from tests.support import APP_KEY, Center, start_center

REPORTS = "/api/v1/app/reports"
HEADERS = {"X-Api-Key": APP_KEY}
JSON = {**HEADERS, "Content-Type": "application/json"}
LONE = "\ud83d"  # half an emoji, as a client cutting text by UTF-16 units sends it
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 512


@pytest.fixture
async def center(tmp_path: Path) -> AsyncIterator[Center]:
    running = await start_center(device_settings(tmp_path))
    yield running
    await running.client.close()


def raw_json(body: dict[str, Any]) -> bytes:
    """As a client sends it: lone surrogates as \\ud83d escapes (json.dumps' ensure_ascii)."""
    return json.dumps(body).encode()


async def app_center(tmp_path: Path, **limits: int) -> Center:
    """A center whose app channel has these limits, the defaults for the others."""
    settings = device_settings(tmp_path)
    app = AppChannelSettings(api_keys=APP_KEY, **limits)  # type: ignore[arg-type]
    return await start_center(settings.model_copy(update={"app": app}))


async def first_text(center: Center, contact_id: str) -> str:
    messages = await center.container.db.contacts.messages(contact_id)
    return messages[0].text


# --- text ----------------------------------------------------------------------------------


async def test_app_report_with_lone_surrogates_and_nul_is_kept(center: Center) -> None:
    body: dict[str, object] = {"text": f"Помогите {LONE} драка\x00", "device_id": "device-text-01"}
    status, answer = await call(center, "POST", REPORTS, data=raw_json(body), headers=JSON)
    assert status == 202, answer
    assert await first_text(center, answer["id"]) == "Помогите \ufffd драка"
    # the key of an object and a low surrogate alone are cleaned too
    body = {"text": "a\udc00b", "device_id": "device-text-01", f"x{LONE}": 1}
    status, answer = await call(center, "POST", REPORTS, data=raw_json(body), headers=JSON)
    assert status == 202, answer
    assert await first_text(center, answer["id"]) == "a\ufffdb"


async def test_app_report_with_invalid_utf8_bytes_is_kept(center: Center) -> None:
    # a surrogate encoded as UTF-8 bytes (CESU-style) and a byte that is no UTF-8 at all
    raw = b'{"text": "\xd0\x9f\xd0\xbe\xed\xa0\xbd \xff end", "device_id": "device-text-02"}'
    status, answer = await call(center, "POST", REPORTS, data=raw, headers=JSON)
    assert status == 202, answer
    assert (await first_text(center, answer["id"])).startswith("По")
    assert "\ufffd" in await first_text(center, answer["id"])


def multipart(parts: list[bytes], boundary: str = "XyZ") -> tuple[bytes, dict[str, str]]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, {**HEADERS, "Content-Type": f"multipart/form-data; boundary={boundary}"}


def field(name: str, value: bytes, extra: bytes = b"") -> bytes:
    return (
        b'Content-Disposition: form-data; name="'
        + name.encode()
        + b'"\r\n'
        + extra
        + b"\r\n"
        + value
    )


async def test_multipart_text_fields_with_lone_surrogates(center: Center) -> None:
    body, headers = multipart(
        [
            field("text", "Вор \ud83d".encode("utf-8", "surrogatepass")),
            field("device_id", b"device-text-03"),
            field("lat", b"43.2"),
            field("lon", b"76.9"),
            b'Content-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n" + JPEG,
        ]
    )
    status, answer = await call(center, "POST", REPORTS, data=body, headers=headers)
    assert status == 202, answer
    assert await first_text(center, answer["id"]) == "Вор \ufffd"


MALFORMED: dict[str, tuple[bytes, str]] = {
    "truncated part header": (
        b"--XyZ\r\nContent-Disposition: form-data; na",
        "multipart/form-data; boundary=XyZ",
    ),
    "header without a colon": (
        b"--XyZ\r\nContent-Disposition form-data\r\n\r\nhi\r\n--XyZ--\r\n",
        "multipart/form-data; boundary=XyZ",
    ),
    "unknown transfer encoding": (
        b'--XyZ\r\nContent-Disposition: form-data; name="text"\r\n'
        b"Content-Transfer-Encoding: x-rot13\r\n\r\nhi\r\n--XyZ--\r\n",
        "multipart/form-data; boundary=XyZ",
    ),
    "no closing boundary": (
        b'--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi',
        "multipart/form-data; boundary=XyZ",
    ),
    "no boundary at all": (b"whatever", "multipart/form-data"),
    "nested multipart": (
        b"--XyZ\r\nContent-Type: multipart/mixed; boundary=In\r\n\r\n--In\r\n\r\nx\r\n--In--"
        b"\r\n--XyZ--\r\n",
        "multipart/form-data; boundary=XyZ",
    ),
}


# parts the parser reads without complaint (undecodable base64 reads as nothing, a part's
# Content-Encoding is not applied): the report is then refused for what it lacks, never a 500
ODD_PARTS: dict[str, bytes] = {
    "bad base64": b"Content-Transfer-Encoding: base64\r\n\r\n@@@",
    "bad gzip": b"Content-Encoding: gzip\r\n\r\nnot gzip",
    "bad quoted-printable": b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=",
    "bad charset": b"Content-Type: text/plain; charset=x-nonesuch\r\n\r\nhi",
}


@pytest.mark.parametrize("case", sorted(ODD_PARTS))
async def test_odd_multipart_parts_are_a_4xx(center: Center, case: str) -> None:
    part = b'Content-Disposition: form-data; name="text"\r\n' + ODD_PARTS[case]
    body, headers = multipart([part, field("device_id", b"device-odd-001")])
    status, answer = await call(center, "POST", REPORTS, data=body, headers=headers)
    assert 400 <= status < 500 or status == 202, (case, answer)
    if status != 202:
        assert error_id(answer)


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_multipart_is_a_400(center: Center, case: str) -> None:
    body, content_type = MALFORMED[case]
    headers = {**HEADERS, "Content-Type": content_type}
    status, answer = await call(center, "POST", REPORTS, data=body, headers=headers)
    assert (status, error_id(answer)) == (400, "bad_multipart"), (case, answer)
    assert await center.container.store.waiting() == []  # nothing half-stored


async def test_app_sos_text_with_lone_surrogate(center: Center) -> None:
    token = await register_device(center, "device-sos-text")
    body = raw_json({"text": f"нож {LONE}", "lat": 43.2, "lon": 76.9})
    headers = {**device_headers(token), "Content-Type": "application/json"}
    status, answer = await call(center, "POST", "/api/v1/app/sos", data=body, headers=headers)
    assert status == 202, answer
    assert (await first_text(center, answer["id"])).endswith("нож \ufffd")


async def test_kiosk_event_detail_with_lone_surrogate(center: Center) -> None:
    kiosk = await add_kiosk(center)
    try:
        status, answer = await kiosk.event("tamper", f"дверь {LONE}\x00 вскрыта")
        assert status < 300, answer
        status, answer = await kiosk.sos()
        assert status < 300, answer
    finally:
        await kiosk._session.close()


async def test_alarm_and_camera_text_with_lone_surrogate(center: Center) -> None:
    await add_site(center)
    status, answer = await alarm(
        center, {"site_id": "school-12", "zone": f"спортзал {LONE}", "kind": "panic"}
    )
    assert status < 300, answer
    contact = await center.container.db.contacts.get(answer["id"])
    assert "спортзал \ufffd" in contact.summary
    status, answer = await camera_event(
        center,
        {"camera_id": "cam-1", "kind": "weapon", "confidence": 0.9, "subject": f"муж {LONE}"},
    )
    assert status < 300, answer


async def test_operator_reply_and_close_disposition_with_lone_surrogate(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    try:
        await op.connect()
        await op.ready()
        await center.report("Шум во дворе", device_id="device-reply-1")
        contact_id = (await op.next_offer(within_s=10))["data"]["contact"]["id"]
        await op.post(f"/api/v1/contacts/{contact_id}/accept")
        headers = {"X-CSRF-Token": op.csrf, "Content-Type": "application/json"}
        reply = raw_json({"text": f"Едем {LONE}"})
        async with op.session.post(
            f"/api/v1/contacts/{contact_id}/reply", data=reply, headers=headers
        ) as r:
            assert r.status == 201, await r.text()
            assert (await r.json())["text"] == "Едем \ufffd"
        close = raw_json({"disposition": f"решено {LONE}"})
        async with op.session.post(
            f"/api/v1/contacts/{contact_id}/close", data=close, headers=headers
        ) as r:
            assert r.status == 200, await r.text()
        stored = await center.container.db.contacts.get(contact_id)
        assert stored.disposition == "решено \ufffd"
    finally:
        await op.close()


# --- numbers -------------------------------------------------------------------------------


async def test_numbers_beyond_the_physical_are_refused_at_every_edge(center: Center) -> None:
    ok = {"text": "Помощь", "device_id": "device-num-01", "lat": 43.2, "lon": 76.9}
    cases: list[tuple[bytes, int, str]] = [
        (raw_json({**ok, "accuracy_m": 1e308}), 422, "invalid_location"),
        (raw_json({**ok, "accuracy_m": -1}), 422, "invalid_location"),
        (raw_json({**ok, "accuracy_m": 100_001}), 422, "invalid_location"),
        (raw_json({**ok, "lat": 91}), 422, "invalid_location"),
        (raw_json(ok).replace(b"43.2", b"NaN"), 400, "bad_number"),
        (raw_json(ok).replace(b"43.2", b"Infinity"), 400, "bad_number"),
        (raw_json(ok).replace(b"43.2", b"-Infinity"), 400, "bad_number"),
        (raw_json(ok).replace(b"43.2", b"1e999"), 400, "bad_number"),
    ]
    for body, status, eid in cases:
        got, answer = await call(center, "POST", REPORTS, data=body, headers=JSON)
        assert (got, error_id(answer)) == (status, eid), (body, answer)
    assert await center.container.store.waiting() == []
    got, answer = await call(
        center, "POST", REPORTS, data=raw_json({**ok, "accuracy_m": 100_000}), headers=JSON
    )
    assert got == 202, answer

    token = await register_device(center, "device-num-02")
    sos_headers = {**device_headers(token), "Content-Type": "application/json"}
    got, answer = await call(
        center,
        "POST",
        "/api/v1/app/sos",
        data=raw_json({"lat": 43.2, "lon": 76.9, "accuracy_m": 1e308}),
        headers=sos_headers,
    )
    assert (got, error_id(answer)) == (422, "invalid_location")
    got, answer = await call(
        center, "POST", "/api/v1/app/sos", data=b'{"lat": NaN, "lon": 1}', headers=sos_headers
    )
    assert (got, error_id(answer)) == (400, "bad_number")

    await add_site(center)
    status, answer = await alarm(center, {"site_id": "school-12", "kind": "panic"})
    assert status < 300
    for path, body in (
        ("/api/v1/camera-events", b'{"camera_id": "cam-1", "kind": "weapon", "confidence": NaN}'),
        ("/api/v1/alarms", b'{"site_id": "school-12", "kind": "panic", "x": Infinity}'),
    ):
        headers = {"Content-Type": "application/json"}
        if "camera" in path:
            headers["X-Api-Key"] = CAMERA_KEY
        else:
            headers["Authorization"] = f"Bearer {SITE_KEY}"
        got, answer = await call(center, "POST", path, data=body, headers=headers)
        assert (got, error_id(answer)) == (400, "bad_number"), (path, answer)
    for when in (-62135596800, 1e12, "0001-01-01T00:00:00+00:00", "9999-01-01T00:00:00+00:00"):
        got, answer = await camera_event(
            center, {"camera_id": "cam-1", "kind": "weapon", "confidence": 0.9, "time": when}
        )
        assert (got, error_id(answer)) == (422, "invalid_time"), (when, answer)

    kiosk = await add_kiosk(center)
    try:
        got, answer = await kiosk.post("events", {"kind": "tamper", "at": 1e12})
        assert (got, error_id(answer)) == (422, "invalid_time"), answer
    finally:
        await kiosk._session.close()


# --- idempotency ---------------------------------------------------------------------------


async def test_reused_idempotency_key_with_another_body_is_422(center: Center) -> None:
    first = {"text": "Шумят соседи", "device_id": "device-idem-01"}
    headers = {**HEADERS, "Idempotency-Key": "k-1"}
    status, answer = await call(center, "POST", REPORTS, json=first, headers=headers)
    assert status == 202, answer
    contact_id = answer["id"]

    # the same request again (another key order, as a form): the stored answer
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("device_id", "device-idem-01")
    form.add_field("text", "Шумят соседи")
    async with center.client.post(REPORTS, data=form, headers=headers) as r:
        assert r.status == 202 and r.headers["Idempotent-Replayed"] == "true"
        assert (await r.json())["id"] == contact_id

    # the same key, another report: refused, never folded into the first contact
    for other in (
        {**first, "text": "У соседа пистолет, стреляет"},
        {**first, "lat": 43.2, "lon": 76.9},
        {**first, "kind": "info"},
    ):
        status, answer = await call(center, "POST", REPORTS, json=other, headers=headers)
        assert (status, error_id(answer)) == (422, "idempotency_key_reused"), answer
    assert [m.text for m in await center.container.db.contacts.messages(contact_id)] == [
        "Шумят соседи"
    ]

    # while the first request with a key is in flight: 409 with Retry-After
    center.client.app[LIMITS].in_flight.add("device-idem-01/k-2")
    async with center.client.post(
        REPORTS, json=first, headers={**HEADERS, "Idempotency-Key": "k-2"}
    ) as r:
        assert r.status == 409 and r.headers["Retry-After"] == "1"
        assert (await r.json())["error"]["id"] == "idempotency_key_in_flight"
    center.client.app[LIMITS].in_flight.clear()


async def test_replays_are_never_rate_limited(tmp_path: Path) -> None:
    center = await app_center(tmp_path, reports_per_minute_per_device=5)
    try:
        headers = {**HEADERS, "Idempotency-Key": "retry-1"}
        body = {"text": "Помогите", "device_id": "device-replay-1"}
        statuses = []
        ids = set()
        for _ in range(100):
            status, answer = await call(center, "POST", REPORTS, json=body, headers=headers)
            statuses.append(status)
            ids.add(answer.get("id"))
        assert statuses == [202] * 100 and len(ids) == 1
        # the device's own limit counted the first one only: 4 more new reports, then 429
        for i in range(4):
            status, answer = await call(
                center, "POST", REPORTS, json={**body, "text": f"ещё {i}"}, headers=HEADERS
            )
            assert status == 202, answer
        status, answer = await call(
            center, "POST", REPORTS, json={**body, "text": "и ещё"}, headers=HEADERS
        )
        assert (status, error_id(answer)) == (429, "rate_limited")
        # and a replay still answers the stored report while the device is limited
        status, answer = await call(center, "POST", REPORTS, json=body, headers=headers)
        assert (status, answer["id"]) == (202, ids.pop())
    finally:
        await center.client.close()


async def test_a_registered_device_without_its_token_learns_nothing(tmp_path: Path) -> None:
    """The device check runs in the intake's own transaction, before the replay look-up: a
    report without the token of a registered device is 401, never the stored report's id,
    and spends none of the device's limit (even when it is over it)."""
    center = await app_center(tmp_path, reports_per_minute_per_device=2)
    try:
        token = await register_device(center, "device-guard-01")
        body = {"text": "Помогите", "device_id": "device-guard-01"}
        keyed = {"Idempotency-Key": "guard-1"}
        status, answer = await call(
            center, "POST", REPORTS, json=body, headers={**device_headers(token), **keyed}
        )
        assert status == 202, answer
        stored = answer["id"]
        for headers in ({**HEADERS, **keyed}, HEADERS, HEADERS):
            status, answer = await call(center, "POST", REPORTS, json=body, headers=headers)
            assert (status, error_id(answer)) == (401, "device_token_required"), answer
            assert stored not in json.dumps(answer)
        # the 401s counted nothing: one more new report, then the device's limit
        mine = device_headers(token)
        status, answer = await call(center, "POST", REPORTS, json=body, headers=mine)
        assert status == 202, answer
        status, answer = await call(center, "POST", REPORTS, json=body, headers=mine)
        assert (status, error_id(answer)) == (429, "rate_limited")
        # over the limit: still 401 without the token, and the stored answer to its replay
        status, answer = await call(
            center, "POST", REPORTS, json=body, headers={**HEADERS, **keyed}
        )
        assert (status, error_id(answer)) == (401, "device_token_required"), answer
        status, answer = await call(center, "POST", REPORTS, json=body, headers={**mine, **keyed})
        assert (status, answer["id"]) == (202, stored)
        assert len(await center.container.store.waiting()) == 2
    finally:
        await center.client.close()


# --- limits --------------------------------------------------------------------------------


async def test_one_address_with_made_up_device_ids_is_limited(tmp_path: Path) -> None:
    # the default limits (the other tests' helpers lift the address limit: one test client)
    center = await app_center(tmp_path)
    try:
        await made_up_device_ids_are_limited(center)
    finally:
        await center.client.close()


async def made_up_device_ids_are_limited(center: Center) -> None:
    statuses = []
    retry_after = None
    for i in range(40):
        async with center.client.post(
            REPORTS, json={"text": "Помощь", "device_id": f"made-up-{i:04d}"}, headers=HEADERS
        ) as r:
            statuses.append(r.status)
            if r.status == 429:
                retry_after = r.headers.get("Retry-After")
                assert (await r.json())["error"]["id"] == "rate_limited"
    assert statuses[:30] == [202] * 30  # CONTACT_APP_REPORTS_PER_MINUTE_PER_ADDRESS
    assert statuses[30:] == [429] * 10
    assert retry_after is not None and 1 <= int(retry_after) <= 61
    assert len(await center.container.store.waiting()) == 30


async def test_one_api_key_is_limited(tmp_path: Path) -> None:
    center = await app_center(
        tmp_path, reports_per_minute_per_address=1000, reports_per_minute_per_api_key=5
    )
    try:
        statuses = []
        for i in range(7):
            status, _ = await call(
                center,
                "POST",
                REPORTS,
                json={"text": "Помощь", "device_id": f"key-dev-{i:04d}"},
                headers=HEADERS,
            )
            statuses.append(status)
        assert statuses == [202] * 5 + [429] * 2
    finally:
        await center.client.close()


# --- the login form ------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_login_form_is_a_400(center: Center, case: str) -> None:
    body, content_type = MALFORMED[case]
    status, answer = await call(
        center, "POST", "/login", data=body, headers={"Content-Type": content_type}
    )
    assert (status, error_id(answer)) == (400, "bad_multipart"), (case, answer)


async def test_login_form_with_lone_surrogates_is_refused_as_a_wrong_login(
    center: Center,
) -> None:
    await center.add_operator("aigerim")
    async with center.client.get("/login") as r:
        page = await r.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    for username in ("aigerim\ud83d".encode("utf-8", "surrogatepass"), b"\xff\xfe"):
        body, headers = multipart(
            [
                field("username", username),
                field("password", "correct horse \ud83d".encode("utf-8", "surrogatepass")),
                field("csrf_token", token.group(1).encode()),
            ]
        )
        del headers["X-Api-Key"]
        async with center.client.post(
            "/login", data=body, headers=headers, allow_redirects=False
        ) as r:
            assert r.status == 401, await r.text()
    # and the same form as multipart with the right password logs in
    body, headers = multipart(
        [
            field("username", b"aigerim"),
            field("password", b"correct horse battery"),
            field("csrf_token", token.group(1).encode()),
        ]
    )
    del headers["X-Api-Key"]
    async with center.client.post("/login", data=body, headers=headers, allow_redirects=False) as r:
        assert r.status == 303, await r.text()


async def test_sos_idempotency_key_reused_and_replayed(tmp_path: Path) -> None:
    center = await app_center(tmp_path, sos_per_hour_per_device=1)
    try:
        token = await register_device(center, "device-sos-idem")
        headers = {**device_headers(token), "Idempotency-Key": "s-1"}
        status, first = await call(
            center, "POST", "/api/v1/app/sos", json={"text": "a"}, headers=headers
        )
        assert status == 202, first
        status, _ = await call(
            center, "POST", f"/api/v1/app/sos/{first['id']}/cancel", headers=device_headers(token)
        )
        assert status == 200
        status, answer = await call(
            center, "POST", "/api/v1/app/sos", json={"text": "b"}, headers=headers
        )
        assert (status, error_id(answer)) == (422, "idempotency_key_reused")
        # the replay of the first: its answer, although the device's one SOS an hour is used
        async with center.client.post("/api/v1/app/sos", json={"text": "a"}, headers=headers) as r:
            assert r.status == 202 and r.headers["Idempotent-Replayed"] == "true"
            assert (await r.json())["id"] == first["id"]
        status, answer = await call(
            center, "POST", "/api/v1/app/sos", json={"text": "c"}, headers=device_headers(token)
        )
        assert (status, error_id(answer)) == (429, "rate_limited")
    finally:
        await center.client.close()


async def test_an_oversized_multipart_field_is_a_413(center: Center) -> None:
    big = field("text", b"x" * (65 * 1024))
    body, headers = multipart([big, field("device_id", b"dev-big-01")])
    status, answer = await call(center, "POST", REPORTS, data=body, headers=headers)
    assert (status, error_id(answer)) == (413, "field_too_large")


async def test_operator_websocket_with_lone_surrogates_and_non_finite_numbers(
    center: Center,
) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    try:
        await op.connect()
        assert op.ws is not None
        replies = []
        for raw in (
            '{"op": "subscribe", "topic": "contact:\\ud83d"}',  # was a database error
            '{"op": "subscribe", "topic": "contact:x", "n": NaN}',
            "\ud83d".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            '{"op": "subscribe", "topic": "contact:nope"}',  # the socket still answers
        ):
            await op.ws.send_str(raw)
            while True:
                message = await op.ws.receive_json(timeout=5)
                if "error" in message:
                    replies.append(message["error"]["id"])
                    break
        assert replies == ["not_found", "bad_number", "bad_json", "not_found"]
    finally:
        await op.close()
