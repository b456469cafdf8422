"""The staffing rota: `contact simulate … --recommend --publish` stores it (audited, by a
supervisor's account only), and GET /api/v1/supervisor/rota shows each skill group's need
beside the operators on the lines, short groups counted, on SQLite and PostgreSQL; the
supervisor page carries the panel in kk, ru and en."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contact.domain.model import Capability, Language, Role
from contact.i18n import text
from contact.persistence.migrate import upgrade
from contact.persistence.rota import RotaEntry
from tests.support import Browser, Center, make_settings, start_center

KK_RU = frozenset({Language.KK, Language.RU})
ALL = frozenset(Capability)
# (group, languages, capabilities, needed), in the scenario's order
GROUPS = [
    ("102 kk+ru", ("kk", "ru"), ("chat", "voice"), 2),
    ("102 ru", ("ru",), ("chat", "voice"), 1),
    ("text kk+ru", ("kk", "ru"), ("chat",), 1),
]


@pytest.fixture
async def center(tmp_path: Path, database_url: str) -> AsyncIterator[Center]:
    await upgrade(database_url)
    center = await start_center(make_settings(tmp_path, database_url=database_url))
    yield center
    await center.client.close()


def entries(hours: range, by: str, scenario: str = "test") -> list[RotaEntry]:
    at = datetime(2026, 12, 7, 9, tzinfo=UTC)
    return [
        RotaEntry(h, name, i, needed, langs, caps, scenario, 0.912, at, by)
        for h in hours
        for i, (name, langs, caps, needed) in enumerate(GROUPS)
    ]


async def test_the_room_is_compared_with_the_published_rota(center: Center) -> None:
    boss_id = await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    opened: list[Browser] = [boss]
    try:
        rota = await boss.get("/api/v1/supervisor/rota")
        assert rota["published"] is None
        assert [h["published"] for h in rota["hours"]] == [False] * 4

        # the same need every hour of the week, so the hour may turn during the test
        await center.container.db.rota.publish(entries(range(168), boss_id))
        await center.add_operator("ru", languages=frozenset({Language.RU}))  # fits "102 ru"
        await center.add_operator("both")  # fits every group: the one furthest below need
        await center.add_operator("chat", capabilities=frozenset({Capability.CHAT}))  # text
        await center.add_operator("away")
        for name in ("ru", "both", "chat", "away"):
            b = await center.browser(name)
            opened.append(b)
            await b.post("/api/v1/me/presence", {"presence": "away" if name == "away" else "ready"})

        rota = await boss.get("/api/v1/supervisor/rota?hours=3")
        assert rota["time_zone"] == "Asia/Almaty"
        assert rota["on_lines"] == 3
        assert rota["published"] == {
            "scenario": "test",
            "service_level": 0.912,
            "published_at": "2026-12-07T09:00:00+00:00",
            "published_by": "Boss",
        }
        assert len(rota["hours"]) == 3
        for hour in rota["hours"]:
            assert hour["published"]
            got = {g["name"]: (g["needed"], g["on_lines"], g["short"]) for g in hour["groups"]}
            assert got == {"102 kk+ru": (2, 1, 1), "102 ru": (1, 1, 0), "text kk+ru": (1, 1, 0)}
            assert hour["needed"] == 4
            assert hour["short"] == 1
            assert hour["groups"][0]["languages"] == ["kk", "ru"]
        starts = [datetime.fromisoformat(h["start"]) for h in rota["hours"]]
        assert [s.minute for s in starts] == [0, 0, 0]
        assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [3600, 3600]
        assert starts[0].utcoffset() is not None
        assert rota["hours"][0]["hour_of_week"] == starts[0].weekday() * 24 + starts[0].hour

        # a later publication replaces only the hours it covers
        await center.container.db.rota.publish(
            [e for e in entries(range(0, 1), boss_id, "other") if e.group == "102 ru"]
        )
        kept = await center.container.db.rota.hours([0, 1])
        assert [(e.hour_of_week, e.group, e.scenario) for e in kept] == [
            (0, "102 ru", "other"),
            (1, "102 kk+ru", "test"),
            (1, "102 ru", "test"),
            (1, "text kk+ru", "test"),
        ]
    finally:
        for b in opened:
            await b.close()


async def test_only_supervisors_read_it_and_bad_hours_are_refused(center: Center) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.add_operator("op")
    boss, op = await center.browser("boss"), await center.browser("op")
    try:
        await op.get("/api/v1/supervisor/rota", status=403)
        for bad in ("0", "25", "x"):
            await boss.get(f"/api/v1/supervisor/rota?hours={bad}", status=400)
        assert len((await boss.get("/api/v1/supervisor/rota?hours=24"))["hours"]) == 24
    finally:
        await boss.close()
        await op.close()


async def test_the_supervisor_page_carries_the_panel_in_each_language(center: Center) -> None:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    boss = await center.browser("boss")
    try:
        for lang in ("kk", "ru", "en"):
            async with boss.session.get(f"/supervisor?lang={lang}") as r:
                page = await r.text()
            assert 'id="sv-rota"' in page
            assert 'aria-labelledby="sv-rota-title"' in page
            for key in ("ui.rota_title", "ui.rota_needed", "ui.rota_on_lines"):
                assert text(key, lang) in page, (lang, key)
            assert "/static/supervisor-rota.js" in page
    finally:
        await boss.close()


async def _contact(*args: str, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "contact",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_simulate_publishes_the_recommended_rota_audited(
    center: Center, database_url: str
) -> None:
    boss_id = await center.add_operator("boss", role=Role.SUPERVISOR)
    await center.add_operator("op")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_")}
    env["CONTACT_DATABASE_URL"] = database_url
    scenario = ("simulate", "almaty-friday-night", "--minutes", "60", "--recommend")

    code, out = await _contact(*scenario, "--publish", "--by", "op", env=env)
    assert code == 2, out
    assert "not a supervisor or admin" in out
    code, out = await _contact(*scenario, "--publish", env=env)
    assert code == 2 and "--by USERNAME" in out, out
    code, out = await _contact(*scenario, "--publish", "--by", "boss", "--days", "fry", env=env)
    assert code == 2 and "--days" in out, out
    assert await center.container.db.rota.hours(range(168)) == []

    code, out = await _contact(*scenario, "--publish", "--by", "boss", "--days", "fri,sat", env=env)
    assert code == 0, out
    assert "published for 2 hour(s) of the week by boss" in out
    friday, saturday = 4 * 24 + 18, 5 * 24 + 18  # Friday and Saturday 18:00
    stored = await center.container.db.rota.hours(range(168))
    assert {e.hour_of_week for e in stored} == {friday, saturday}
    for how in (friday, saturday):
        groups = [(e.group, e.languages, e.capabilities) for e in stored if e.hour_of_week == how]
        assert groups == [
            ("102 kk+ru", ("kk", "ru"), ("chat", "voice")),  # a school alarm is a chat desk's
            ("102 ru", ("ru",), ("chat", "voice")),
            ("text kk+ru", ("kk", "ru"), ("chat",)),
        ]
    printed = out.split("18:00", 1)[1].split()[:4]  # total and each group, as printed
    assert [str(e.needed) for e in stored if e.hour_of_week == friday] == printed[1:]
    assert all(e.published_by == boss_id and e.scenario == "almaty-friday-night" for e in stored)
    assert all(0.9 <= e.service_level <= 1 for e in stored)

    entries_ = await center.container.db.audit.entries("almaty-friday-night")
    published = [e for e in entries_ if e.action == "rota.publish"]
    assert len(published) == 1
    assert published[0].actor == boss_id
    assert published[0].subject == "almaty-friday-night"
    assert published[0].details["days"] == ["fri", "sat"]
    assert published[0].details["via"] == "cli"
