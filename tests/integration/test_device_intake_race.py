"""Two nodes receive the same device's alarm or SOS at the same instant, on one database: one
open contact, both events on it, its source stored (OpenOrJoinContact, decided by the
database). On PostgreSQL (two apps), on SQLite (two apps, each its own engine, and two OS
processes). A failure between the contact's write and its source's write leaves nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from contact.channels.devices import store as device_store
from contact.persistence.migrate import upgrade
from tests.integration.device_support import (
    CHECKOUT_ENV,
    ROOT,
    SITE_KEY,
    add_site,
    call,
    camera_event,
    device_headers,
    device_settings,
    register_device,
)
from tests.support import Center, start_center

SITES = 6  # sources raced at once, each by both nodes


async def rows(center: Center, sql: str, **params: Any) -> list[Any]:
    async with center.container.db.store.read() as session:
        result = await session.exec(text(sql).bindparams(**params))  # type: ignore[call-overload]
        return list(result.all())


async def _two_nodes(tmp_path: Path, database_url: str) -> list[Center]:
    await upgrade(database_url)
    nodes = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        settings = device_settings(tmp_path / name).model_copy(deep=True)
        settings = settings.model_copy(
            update={"database": settings.database.model_copy(update={"url": database_url})}
        )
        nodes.append(await start_center(settings))
    return nodes


@pytest.fixture
async def nodes(tmp_path: Path, database_url: str) -> AsyncIterator[list[Center]]:
    running = await _two_nodes(tmp_path, database_url)
    yield running
    for node in running:
        await node.client.close()


async def _alarm(node: Center, site_id: str, event_id: str) -> tuple[int, Any]:
    body = {"site_id": site_id, "event_id": event_id, "zone": f"zone-{event_id}"}
    return await call(
        node,
        "POST",
        "/api/v1/alarms",
        json=body,
        headers={"Authorization": f"Bearer {SITE_KEY}-{site_id}"},
    )


async def _assert_one_contact_per_source(center: Center, key: str, lines: int) -> str:
    claimed = await rows(
        center, "SELECT contact_id FROM device_open_contacts WHERE source_key = :k", k=key
    )
    citizen = key.removeprefix("device:")
    open_ = await rows(
        center,
        "SELECT id FROM contacts WHERE citizen = :c AND state NOT IN ('closed', 'abandoned')",
        c=citizen,
    )
    assert len(open_) == 1, (key, open_)
    contact_id = str(open_[0][0])
    assert [r[0] for r in claimed] == [contact_id]
    messages = await rows(
        center, "SELECT count(*) FROM messages WHERE contact_id = :id", id=contact_id
    )
    assert messages[0][0] == lines, key
    sources = await rows(
        center, "SELECT source_id FROM intake_sources WHERE contact_id = :id", id=contact_id
    )
    assert len(sources) == 1, key
    return contact_id


async def test_the_same_alarm_on_two_nodes_at_once_makes_one_contact(
    nodes: list[Center],
) -> None:
    a, b = nodes
    for i in range(SITES):
        await add_site(a, f"school-{i:02d}", key=f"{SITE_KEY}-school-{i:02d}")
    answers = await asyncio.gather(
        *(
            _alarm(node, f"school-{i:02d}", f"{i}-{n}")
            for i in range(SITES)
            for n, node in enumerate(nodes)
        )
    )
    for i in range(SITES):
        pair = answers[2 * i : 2 * i + 2]
        statuses = sorted(status for status, _ in pair)
        assert statuses == [200, 202], pair  # one opened it, the other joined it
        assert pair[0][1]["id"] == pair[1][1]["id"]
        joined = next(body for status, body in pair if status == 200)
        assert joined["joined"] is True
        contact_id = await _assert_one_contact_per_source(b, f"site:school-{i:02d}", lines=2)
        assert contact_id == pair[0][1]["id"]


async def test_the_same_sos_on_two_nodes_at_once_makes_one_contact(nodes: list[Center]) -> None:
    a, b = nodes
    devices = [f"device-race-{i:04d}" for i in range(SITES)]
    tokens = [await register_device(a, d) for d in devices]
    body = {"lat": 43.25, "lon": 76.92, "accuracy_m": 10}
    answers = await asyncio.gather(
        *(
            call(node, "POST", "/api/v1/app/sos", json=body, headers=device_headers(t))
            for t in tokens
            for node in nodes
        )
    )
    for i, device in enumerate(devices):
        pair = answers[2 * i : 2 * i + 2]
        assert sorted(status for status, _ in pair) == [200, 202], pair
        assert pair[0][1]["id"] == pair[1][1]["id"]
        contact_id = await _assert_one_contact_per_source(a, f"device:{device}", lines=1)
        assert contact_id == pair[0][1]["id"]
        (source,) = await rows(
            b, "SELECT kind, details FROM intake_sources WHERE contact_id = :id", id=contact_id
        )
        assert source[0] == "device" and json.loads(source[1]) == {"platform": "android"}


async def test_the_same_camera_alert_on_two_nodes_at_once_makes_one_contact(
    nodes: list[Center],
) -> None:
    a, b = nodes
    answers = await asyncio.gather(
        *(
            camera_event(
                node,
                {
                    "camera_id": f"cam-{i:02d}",
                    "kind": "aggression",
                    "confidence": 0.9,
                    "event_id": f"vms-{i}-{n}",
                },
            )
            for i in range(SITES)
            for n, node in enumerate(nodes)
        )
    )
    for i in range(SITES):
        pair = answers[2 * i : 2 * i + 2]
        assert all(status in (200, 202) for status, _ in pair), pair
        assert pair[0][1]["id"] == pair[1][1]["id"], pair  # the window's one contact
        contacts = await rows(
            b, "SELECT id FROM contacts WHERE citizen = :c", c=f"camera:cam-{i:02d}"
        )
        assert [r[0] for r in contacts] == [pair[0][1]["id"]]
        (source,) = await rows(
            a, "SELECT source_id FROM intake_sources WHERE contact_id = :id", id=contacts[0][0]
        )
        assert source[0] == f"cam-{i:02d}"


async def test_a_failure_between_contact_and_source_leaves_nothing(
    nodes: list[Center], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = nodes
    await add_site(a, "school-00", key=f"{SITE_KEY}-school-00")

    def broken(*_: Any) -> None:
        raise RuntimeError("the disk went away between the contact and its source")

    monkeypatch.setattr(device_store, "write_source", broken)
    status, _ = await _alarm(a, "school-00", "1")
    assert status == 500
    # the contact was written first in the same transaction: rolled back with the source
    assert await rows(a, "SELECT id FROM contacts") == []
    assert await rows(a, "SELECT contact_id FROM intake_sources") == []
    assert await rows(a, "SELECT source_key FROM device_open_contacts") == []
    assert await rows(a, "SELECT id FROM messages") == []

    monkeypatch.undo()
    status, body = await _alarm(a, "school-00", "1")  # the site's retry
    assert status == 202, body
    assert await _assert_one_contact_per_source(a, "site:school-00", lines=1) == body["id"]


# --- SQLite, two OS processes ------------------------------------------------------------

PROCESS = """
import asyncio, json, sys, time
from pathlib import Path
from contact.bootstrap import build
from contact.channels.alarm import parse
from tests.integration.device_support import device_settings

async def main(url, workdir, start, sites, node):
    settings = device_settings(Path(workdir))
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": url})}
    )
    c = await build(settings, migrate=False)
    try:
        found = [await c.db.registries.sites.get(f"school-{i:02d}") for i in range(sites)]
        await asyncio.sleep(max(0.0, start - time.time()))
        results = await asyncio.gather(*(
            c.bus.execute(parse.intake(parse.alarm(
                {"site_id": s.id, "event_id": f"{node}", "zone": node}), s))
            for s in found
        ))
        print(json.dumps([[r.contact_id, r.outcome.value] for r in results]))
    finally:
        await c.stop()

asyncio.run(main(*sys.argv[1:3], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
"""


async def test_two_processes_on_one_sqlite_file_make_one_contact_per_site(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/shared.db"
    (tmp_path / "setup").mkdir()
    settings = device_settings(tmp_path / "setup")
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": url})}
    )
    center = await start_center(settings)
    try:
        for i in range(SITES):
            await add_site(center, f"school-{i:02d}", key=f"{SITE_KEY}-school-{i:02d}")
        start = time.time() + 4.0  # both processes are up by then, and go at once
        procs = []
        for node in ("a", "b"):
            args = (str(SITES), node)
            (tmp_path / node).mkdir()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", PROCESS, url, str(tmp_path / node), str(start), *args],
                    cwd=ROOT,
                    env={**os.environ, **CHECKOUT_ENV},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = []
        for proc in procs:
            out, err = await asyncio.to_thread(proc.communicate, timeout=120)
            assert proc.returncode == 0, err
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        for i in range(SITES):
            pair = [outputs[0][i], outputs[1][i]]
            assert pair[0][0] == pair[1][0], pair
            assert sorted(o for _, o in pair) == ["joined", "opened"], pair
            contact_id = await _assert_one_contact_per_source(
                center, f"site:school-{i:02d}", lines=2
            )
            assert contact_id == pair[0][0]
    finally:
        await center.client.close()
