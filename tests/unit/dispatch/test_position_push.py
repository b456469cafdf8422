"""PositionPush: positions of dispatched units to the `contact:<id>` topics that show them,
throttled, once per fix, and nothing for units that work no dispatch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contact.dispatch.model import UnitRecord
from contact.dispatch.positions import AUDIENCE_TTL_S, PositionPush
from contact.dispatch.units import UnitKind, UnitPosition, UnitStatus
from contact.errors import Unavailable

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.lookups: list[str] = []
        self.audience: tuple[str, ...] = ("c1", "c2")
        self.down = False

    async def deliver(self, topic: str, payload: Mapping[str, Any]) -> None:
        self.sent.append((topic, dict(payload)))

    async def contacts(self, dispatch_id: str) -> tuple[str, ...]:
        self.lookups.append(dispatch_id)
        if self.down:
            raise Unavailable("database down")
        return self.audience


def unit(
    lat: float,
    seconds: float = 0.0,
    status: UnitStatus = UnitStatus.EN_ROUTE,
    dispatch_id: str | None = "d1",
) -> UnitRecord:
    at = T0 + timedelta(seconds=seconds)
    return UnitRecord(
        id="u1",
        callsign="ALM-01",
        kind=UnitKind.CAR,
        status=status,
        status_at=T0,
        dispatch_id=dispatch_id,
        position=UnitPosition(lat, 76.9, at, 5.0),
    )


@pytest.fixture
def parts() -> tuple[PositionPush, Recorder, Clock]:
    recorder, clock = Recorder(), Clock()
    push = PositionPush(
        deliver=recorder.deliver, audience=recorder.contacts, interval_s=2.0, clock=clock
    )
    return push, recorder, clock


async def test_a_move_goes_to_every_contact_showing_the_dispatch(
    parts: tuple[PositionPush, Recorder, Clock],
) -> None:
    push, recorder, clock = parts
    await push(unit(43.20))  # the fix the panel loaded with the dispatch: not pushed
    assert recorder.sent == []
    clock.now += 0.5
    await push(unit(43.21, 3))
    assert [topic for topic, _ in recorder.sent] == ["contact:c1", "contact:c2"]
    payload = recorder.sent[0][1]
    assert payload["type"] == "unit.position"
    assert (payload["unit_id"], payload["callsign"], payload["dispatch_id"]) == (
        "u1",
        "ALM-01",
        "d1",
    )
    assert payload["status"] == "en_route"
    assert payload["position"] == {
        "lat": 43.21,
        "lon": 76.9,
        "accuracy_m": 5.0,
        "at": (T0 + timedelta(seconds=3)).isoformat(),
    }
    assert push.pushed == 1


async def test_the_same_fix_is_pushed_once(parts: tuple[PositionPush, Recorder, Clock]) -> None:
    push, _, clock = parts
    await push(unit(43.20))
    await push(unit(43.21, 3))
    clock.now += 10  # the broadcast echo, or a status change carrying the same position
    await push(unit(43.21, 3))
    await push(unit(43.21, 3, status=UnitStatus.ON_SCENE))
    assert push.pushed == 1


async def test_at_most_one_push_per_interval(parts: tuple[PositionPush, Recorder, Clock]) -> None:
    push, recorder, clock = parts
    await push(unit(43.20))
    await push(unit(43.21, 1))
    clock.now += 1.9
    await push(unit(43.22, 2))  # dropped: the next report supersedes it
    assert push.pushed == 1
    clock.now += 0.2
    await push(unit(43.23, 3))
    assert push.pushed == 2
    assert recorder.sent[-1][1]["position"]["lat"] == 43.23


@pytest.mark.parametrize(
    "idle",
    [
        unit(43.21, 1, status=UnitStatus.AVAILABLE, dispatch_id=None),
        unit(43.21, 1, status=UnitStatus.OUT_OF_SERVICE, dispatch_id=None),
        unit(43.21, 1, status=UnitStatus.AVAILABLE, dispatch_id="d1"),
    ],
)
async def test_units_working_no_dispatch_are_never_pushed(
    parts: tuple[PositionPush, Recorder, Clock], idle: UnitRecord
) -> None:
    push, recorder, _ = parts
    await push(unit(43.20))
    await push(idle)
    assert recorder.sent == [] and recorder.lookups == []
    # sent again later: its first fix is the panel's again, not a move
    await push(unit(43.22, 5))
    assert recorder.sent == []


async def test_who_sees_a_dispatch_is_looked_up_once_per_ttl(
    parts: tuple[PositionPush, Recorder, Clock],
) -> None:
    push, recorder, clock = parts
    await push(unit(43.20))
    for i in range(1, 5):
        clock.now += 2.5
        await push(unit(43.20 + i / 100, i))
    assert push.pushed == 4 and recorder.lookups == ["d1"]
    clock.now += AUDIENCE_TTL_S
    recorder.audience = ("c1", "c2", "c3")  # a third contact was grouped into the incident
    await push(unit(43.30, 60))
    assert recorder.lookups == ["d1", "d1"]
    assert [t for t, _ in recorder.sent[-3:]] == ["contact:c1", "contact:c2", "contact:c3"]


async def test_a_failed_lookup_drops_the_push_and_is_retried_next_time(
    parts: tuple[PositionPush, Recorder, Clock],
) -> None:
    push, recorder, clock = parts
    recorder.down = True
    await push(unit(43.20))
    await push(unit(43.21, 1))
    assert recorder.sent == []
    recorder.down = False
    clock.now += 2.5
    await push(unit(43.22, 2))
    assert [t for t, _ in recorder.sent] == ["contact:c1", "contact:c2"]
