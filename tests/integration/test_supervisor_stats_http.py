"""The supervisor's wallboard, charts and shift report over real HTTP, on seeded contacts and
arrivals: every figure computed right, the CSV's format, period bounds, bad input and roles."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contact.dispatch.sql.tables import DispatchRow
from contact.domain.model import ChannelKind, Contact, ContactState, Priority, Role, new_id
from contact.http.supervisor_stats import _cell
from contact.persistence.migrate import upgrade
from tests.support import Browser, Center, make_settings, start_center

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)  # 08:00 in Almaty (UTC+5)
PERIOD = f"from={T0.isoformat()}&to={(T0 + timedelta(hours=3)).isoformat()}&tz=Asia/Almaty"
PERIOD_Q = PERIOD.replace("+", "%2B")


@pytest.fixture
async def center(tmp_path: Path, database_url: str) -> AsyncIterator[Center]:
    await upgrade(database_url)
    center = await start_center(make_settings(tmp_path, database_url=database_url))
    yield center
    await center.client.close()


async def contact(
    center: Center,
    channel: ChannelKind,
    created_min: float,
    *,
    answer_s: float | None = None,
    abandoned: bool = False,
) -> None:
    created = T0 + timedelta(minutes=created_min)
    queued = created + timedelta(seconds=2)  # answer time runs from the queue, not the intake
    state = ContactState.CLOSED
    if abandoned:
        state = ContactState.ABANDONED
    await center.container.db.contacts.add(
        Contact(
            id=new_id(),
            channel=channel,
            priority=Priority.VOICE if channel is ChannelKind.VOICE else Priority.CHAT,
            created_at=created,
            state=state,
            queued_at=queued,
            answered_at=queued + timedelta(seconds=answer_s) if answer_s is not None else None,
            closed_at=created + timedelta(minutes=5),
        )
    )


async def arrival(center: Center, district: str, response_s: float, *, first: bool = True) -> None:
    received = T0 + timedelta(minutes=30)
    async with center.container.db._store.write() as session:
        session.add(
            DispatchRow(
                id=new_id(),
                contact_id=new_id(),
                unit_id="u1",
                operator_id="op",
                district_id=district,
                lat=43.2,
                lon=76.9,
                state="completed",
                received_at=received,
                dispatched_at=received + timedelta(seconds=20),
                arrived_at=received + timedelta(seconds=response_s),
                response_s=response_s,
                first_on_scene=first,
            )
        )


async def seed(center: Center) -> None:
    await contact(center, ChannelKind.VOICE, 10, answer_s=4)  # 08:xx local
    await contact(center, ChannelKind.VOICE, 20, answer_s=10)  # exactly on target: within
    await contact(center, ChannelKind.VOICE, 70, answer_s=25)  # 09:xx
    await contact(center, ChannelKind.TELEGRAM, 75, answer_s=8)
    await contact(center, ChannelKind.APP, 80, abandoned=True)
    await contact(center, ChannelKind.VOICE, 130, abandoned=True)  # 10:xx
    await contact(center, ChannelKind.VOICE, -1, answer_s=100)  # before the period
    await contact(center, ChannelKind.VOICE, 180, answer_s=100)  # at its end: outside
    await arrival(center, "d1", 300)
    await arrival(center, "d1", 400)
    await arrival(center, "d1", 900, first=False)  # a second unit: not a response time
    await arrival(center, "d2", 500)


async def supervisor(center: Center) -> Browser:
    await center.add_operator("boss", role=Role.SUPERVISOR)
    return await center.browser("boss")


async def test_the_figures_of_a_period_are_computed_right(center: Center) -> None:
    await seed(center)
    boss = await supervisor(center)
    s = await boss.get(f"/api/v1/supervisor/stats?{PERIOD_Q}")
    assert s["contacts"] == 6
    assert s["by_channel"] == {"app": 1, "telegram": 1, "voice": 4}
    assert (s["answered"], s["answered_within_target"]) == (4, 3)
    assert s["answered_within_target_ratio"] == 0.75
    assert (s["abandoned"], s["abandoned_ratio"]) == (2, round(2 / 6, 3))
    hours = {h["hour"]: h["channels"] for h in s["per_hour"]}
    assert hours == {
        "2026-12-07T08:00:00+05:00": {"voice": 2},
        "2026-12-07T09:00:00+05:00": {"voice": 1, "telegram": 1, "app": 1},
        "2026-12-07T10:00:00+05:00": {"voice": 1},
    }
    a = s["answer_times"]
    assert a["target_s"] == 10
    assert [(b["le_s"], b["n"]) for b in a["bins"]] == [
        (5, 1),
        (10, 2),
        (20, 0),
        (30, 1),
        (60, 0),
        (120, 0),
        (None, 0),
    ]
    r = s["response_times"]
    assert (r["target_s"], r["n"], r["within_target"]) == (420, 3, 2)
    districts = {d["district_id"]: d for d in r["districts"]}
    assert (districts["d1"]["n"], districts["d1"]["median_s"]) == (2, 350)
    assert districts["d1"]["within_target_ratio"] == 1.0
    assert (districts["d2"]["n"], districts["d2"]["within_target"]) == (1, 0)
    await boss.close()


async def test_the_csv_report_holds_the_same_figures_and_is_audited(center: Center) -> None:
    await seed(center)
    boss = await supervisor(center)
    async with boss.session.get(f"/api/v1/supervisor/report.csv?{PERIOD_Q}") as res:
        assert res.status == 200
        assert res.content_type == "text/csv"
        assert "attachment" in res.headers["Content-Disposition"]
        raw = await res.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["section", "subject", "item", "value"]
    assert all(len(row) == 4 for row in rows)
    assert ["totals", "", "contacts", "6"] in rows
    assert ["totals", "", "answered_within_target_ratio", "0.75"] in rows
    assert ["totals", "", "abandoned", "2"] in rows
    assert ["hour", "2026-12-07T09:00:00+05:00", "telegram", "1"] in rows
    assert ["answer_time", "10", "contacts", "2"] in rows
    assert ["district", "d1", "median_s", "350.0"] in rows
    entries = await center.container.db.audit.entries()
    exports = [e for e in entries if e.action == "report.export"]
    assert exports and exports[-1].actor == boss.operator_id
    assert exports[-1].details["from"] == T0.isoformat()
    await boss.close()


def test_a_csv_cell_never_starts_a_formula() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@x") == "'@x"
    assert _cell("d1") == "d1"
    assert _cell(None) == ""


async def test_the_printable_report_speaks_kazakh_and_russian(center: Center) -> None:
    await seed(center)
    boss = await supervisor(center)
    for lang, title, channel in (
        ("kk", "Ауысым есебі", "102 қоңырауы"),
        ("ru", "Отчёт за смену", "Звонок 102"),
    ):
        async with boss.session.get(f"/supervisor/report?{PERIOD_Q}&lang={lang}") as res:
            assert res.status == 200
            page = await res.text()
        assert title in page and channel in page
        assert "07.12.2026 08:00" in page and "07.12.2026 11:00" in page  # local, 24-hour
        assert "3 (75 %)" in page  # answered within 10 s
        assert "AM" not in page and "PM" not in page
    views = [e for e in await center.container.db.audit.entries() if e.action == "report.view"]
    assert len(views) == 2
    await boss.close()


@pytest.mark.parametrize(
    ("query", "status", "error_id"),
    [
        ("from=yesterday", 400, "bad_time"),
        ("from=2026-12-07T08:00:00", 400, "bad_time"),  # no zone
        ("tz=Mars/Olympus", 400, "bad_zone"),
        ("from=2026-12-07T08:00:00Z&to=2026-12-07T08:00:00Z", 422, "bad_period"),
        ("from=2026-12-07T09:00:00Z&to=2026-12-07T08:00:00Z", 422, "bad_period"),
        ("from=2026-11-01T00:00:00Z&to=2026-12-07T00:00:00Z", 422, "period_too_long"),
    ],
)
async def test_bad_periods_are_refused_clearly(
    center: Center, query: str, status: int, error_id: str
) -> None:
    boss = await supervisor(center)
    for path in ("/api/v1/supervisor/stats", "/api/v1/supervisor/report.csv"):
        body = await boss.get(f"{path}?{query}", status=status)
        assert body["error"]["id"] == error_id
    async with boss.session.get(f"/supervisor/report?{query}") as res:
        assert res.status == status
    await boss.close()


async def test_thirty_one_days_is_the_longest_period(center: Center) -> None:
    boss = await supervisor(center)
    s = await boss.get(
        "/api/v1/supervisor/stats?from=2026-11-06T00:00:00Z&to=2026-12-07T00:00:00Z&tz=UTC"
    )
    assert len(s["per_hour"]) == 31 * 24
    await boss.close()


async def test_only_supervisors_see_the_figures(center: Center) -> None:
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    paths = (
        "/api/v1/supervisor/wallboard",
        f"/api/v1/supervisor/stats?{PERIOD_Q}",
        f"/api/v1/supervisor/report.csv?{PERIOD_Q}",
    )
    for path in paths:
        assert (await op.get(path, status=403))["error"]["id"]
        async with center.client.get(path) as res:  # no session at all
            assert res.status == 401
    async with op.session.get(f"/supervisor/report?{PERIOD_Q}") as res:
        assert res.status == 403
    assert not [
        e for e in await center.container.db.audit.entries() if e.action.startswith("report.")
    ]
    await op.close()


async def test_the_wallboard_shows_the_room_now(center: Center) -> None:
    boss = await supervisor(center)
    await center.add_operator("aigerim")
    op = await center.browser("aigerim")
    await op.ready()
    await center.report("Пожар в подъезде, дым на лестнице", device_id="device-0001")
    await center.report("Украли велосипед", device_id="device-0002")
    w = await boss.get("/api/v1/supervisor/wallboard")
    assert w["waiting_total"] == 2  # one of them is offered to aigerim: still waiting
    # the fire's words lift it to SOS (triage); the theft stays a chat
    assert (w["waiting"]["sos"]["n"], w["waiting"]["chat"]["n"]) == (1, 1)
    assert w["waiting"]["chat"]["longest_wait_s"] >= 0
    assert sum(w["operators_by_state"].values()) == 1
    assert set(w["operators_by_state"]) <= {"offered", "ready"}
    assert w["keyword_alerts"] == {"danger": 1, "fire": 1, "theft": 1}
    assert (w["kiosks_offline"], w["kiosks_total"]) == (0, 0)
    assert w["shift_contacts"] == 2 and w["answered"] == 0 and w["abandoned"] == 0
    assert w["answered_within_target_ratio"] is None
    assert w["offered"] == 1 and w["operators_total"] == 1
    assert w["operators"][0]["languages"] == ["kk", "ru"]
    assert w["longest_wait_s"] == max(r["longest_wait_s"] for r in w["waiting"].values())
    # a second poll right after is served the same snapshot of the database's figures (one
    # set of queries per 2 s), but what waits and who works is read fresh on every call
    await center.report("Шумят соседи", device_id="device-0003")
    again = await boss.get("/api/v1/supervisor/wallboard")
    assert again["at"] == w["at"] and again["shift_contacts"] == 2
    assert again["waiting_total"] == 3 and again["room_at"] >= w["room_at"]
    # the part the page asks for on every push: the room alone, without the snapshot
    room = await boss.get("/api/v1/supervisor/wallboard?part=room")
    assert room["waiting_total"] == 3 and room["offered"] == 1
    assert sum(room["operators_by_state"].values()) == 1
    assert not {"at", "shift_contacts", "keyword_alerts", "units_by_status"} & set(room)
    bad = await boss.get("/api/v1/supervisor/wallboard?part=all", status=400)
    assert bad["error"]["id"] == "bad_part"
    await op.close()
    await boss.close()
