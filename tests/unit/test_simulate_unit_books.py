"""The units' side of a run's accounting (`contact/simulate/unit_books.py`): what the center
acknowledged to the bots and the units' devices, judged against what the database holds; and
the units' edge failing over between nodes until a status report is acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from contact.simulate.edges.units import Reported, Units, home
from contact.simulate.unit_books import StoredDispatch, StoredUnit, _utc, judge

T0 = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def retired(s: float) -> Reported:
    return Reported("out_of_service", at(s))


UNITS = ["u1", "u2"]


def the_whole_run() -> tuple[list[StoredUnit], list[StoredDispatch]]:
    """u1 sent to c1 at 10 s, arrived and cleared; u2 never sent; both out of service."""
    units = [
        StoredUnit("u1", "out_of_service", at(100)),
        StoredUnit("u2", "out_of_service", at(99)),
    ]
    dispatches = [StoredDispatch("d1", "c1", "u1", "completed", at(10))]
    return units, dispatches


def test_everything_acknowledged_and_stored_loses_nothing() -> None:
    units, dispatches = the_whole_run()
    books = judge(
        UNITS,
        units,
        dispatches,
        {"d1": "c1"},
        {"u1": retired(100), "u2": retired(100)},
        {"u1": at(100), "u2": at(99)},
    )
    assert books.lost == []
    assert books.dispatches_found == books.dispatches_acknowledged == 1
    assert books.statuses_reflected == books.statuses_acknowledged == 2
    assert books.fixes_reflected == 2
    assert books.final_states == {"out_of_service": 2}
    assert books.figures()["dispatches_missing"] == []


def test_a_dispatch_missing_and_a_status_not_reflected_are_lost() -> None:
    units, dispatches = the_whole_run()
    units[1] = StoredUnit("u2", "available", at(99))  # its out of service was answered, not kept
    books = judge(
        UNITS,
        units,
        dispatches,
        {"d1": "c1", "d2": "c2"},  # d2 answered 201 to a bot, not in the database
        {"u1": retired(100), "u2": retired(100)},
        {},
    )
    assert books.dispatches_missing == ["d2"]
    assert books.dispatches_found == 1
    assert books.statuses_not_reflected == ["u2: reported out_of_service, stored available"]
    assert books.statuses_reflected == 1
    assert books.lost == [
        "dispatch d2: acknowledged, not in the database",
        "unit u2: reported out_of_service, stored available",
    ]


def test_a_unit_the_database_does_not_have_is_not_reflected() -> None:
    units, dispatches = the_whole_run()
    books = judge(UNITS, units[:1], dispatches, {}, {"u2": retired(100)}, {"u2": at(99)})
    assert books.statuses_not_reflected == ["u2: reported out_of_service, stored nothing"]
    assert books.fixes_behind == ["u2"]


def test_a_dispatch_active_after_its_unit_reported_clear_is_left_active() -> None:
    units, _ = the_whole_run()
    dispatches = [
        StoredDispatch("d1", "c1", "u1", "active", at(10)),  # before u1's report: left active
        StoredDispatch("d2", "c2", "u2", "active", at(120)),  # made after u2's report: fine
    ]
    reported = {"u1": Reported("available", at(50)), "u2": retired(100)}
    books = judge(UNITS, units, dispatches, {"d1": "c1", "d2": "c2"}, reported, {})
    assert books.left_active == ["d1"]
    assert books.not_retired == ["u1"]  # its last answered report is not out of service
    assert "dispatch d1: active after its unit was clear" in books.lost
    assert "unit u1: out of service never acknowledged" in books.lost


def test_two_dispatches_of_one_contact_and_a_lost_answer() -> None:
    units, _ = the_whole_run()
    dispatches = [
        StoredDispatch("d1", "c1", "u1", "completed", at(10)),
        StoredDispatch("d9", "c1", "u2", "cancelled", at(11)),  # stored, its 201 never came
    ]
    reported = {"u1": retired(100), "u2": retired(100)}
    books = judge(UNITS, units, dispatches, {"d1": "c1"}, reported, {})
    # the bot sent another unit when the first one's answer was lost: reported, not a loss
    assert books.dispatches_duplicated == []
    assert books.dispatches_sent_again == ["c1"]
    assert books.dispatches_unacknowledged == 1
    assert books.lost == []
    both_answered = judge(UNITS, units, dispatches, {"d1": "c1", "d9": "c1"}, reported, {})
    assert both_answered.dispatches_duplicated == ["c1"]
    assert both_answered.lost == ["contact c1: more than one dispatch"]


def test_a_fix_older_than_the_last_acknowledged_is_behind() -> None:
    units, dispatches = the_whole_run()
    reported = {"u1": retired(100), "u2": retired(100)}
    fixes = {"u1": at(100), "u2": at(100)}  # u2's last fix (say over MQTT) never got stored
    books = judge(UNITS, units, dispatches, {"d1": "c1"}, reported, fixes)
    assert books.fixes_behind == ["u2"]
    assert books.lost == ["unit u2: last fix not stored"]


def test_timestamps_read_back_from_either_database() -> None:
    assert _utc("2026-12-07 20:00:01.500000") == at(1.5)  # SQLite: text, naive UTC
    assert _utc(at(1.5).astimezone(UTC)) == at(1.5)  # PostgreSQL: aware
    assert _utc(None) is None


async def test_a_status_report_fails_over_to_a_live_node_until_acknowledged() -> None:
    """The first node refuses connections (killed), the second answers 503 twice (its database
    cut) and then 200: the report is acknowledged, and its first sending time is kept."""
    answers = [503, 503, 200]
    got: list[str] = []

    async def status(request: web.Request) -> web.Response:
        got.append((await request.json())["status"])
        return web.json_response({"status": "on_scene"}, status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/api/v1/units/{unit_id}/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    dead = web.AppRunner(web.Application())
    await dead.setup()
    gone = web.TCPSite(dead, "127.0.0.1", 0)
    await gone.start()
    dead_port = dead.addresses[0][1]
    await dead.cleanup()  # nothing listens there any more
    try:
        async with aiohttp.ClientSession() as session:
            bases = [f"http://127.0.0.1:{dead_port}", f"http://127.0.0.1:{port}"]
            if home("u1", 2) == 1:  # its device talks to the dead node first
                bases.reverse()
            units = Units(session, bases, {"u1": "token"}, 30.0, 60.0, {"u1": (43.2, 76.9)})
            before = datetime.now(UTC)
            assert await units.report("u1", "on_scene", until=float("inf"))
    finally:
        await runner.cleanup()
    assert got == ["on_scene"] * 3
    last = units.reported["u1"]
    assert last.status == "on_scene" and before <= last.sent_at
    assert units.status_refused == {}
    assert units.status_retried == 1 and units.slowest_ack_s > 0
