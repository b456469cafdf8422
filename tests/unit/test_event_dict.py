"""Event.as_dict gives what dataclasses.asdict gives (and the type), nothing shared that a
reader could change: projections and topics are built from it."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from contact.domain import events as ev
from contact.domain.model import ChannelKind, Location, LocationSource, Priority

Pair = namedtuple("Pair", "left right")


@dataclass(frozen=True, kw_only=True)
class Mixed(ev.Event):
    name: ClassVar[str] = "test.mixed"
    listed: list[Any] = field(default_factory=list)
    mapped: dict[str, Any] = field(default_factory=dict)
    pair: Any = None
    odd: Any = None


def _events() -> list[ev.Event]:
    location = Location(43.2, 76.9, 12.5, LocationSource.SHARED, "Абая 1")
    unit = ev.SuggestedUnit("u1", "A-1", "car", 61.5, 700.0, "estimate")
    return [
        ev.ContactReceived(
            contact_id="c1",
            channel=ChannelKind.APP,
            priority=Priority.SOS,
            language=None,
            citizen="+7 777",
            location=location,
            summary="пожар",
        ),
        ev.DispatchSuggested(
            contact_id="c1",
            incident_id=None,
            district_id="d",
            department=None,
            outside_districts=False,
            units=(unit, unit),
        ),
        ev.KeywordAlerted(
            contact_id="c1",
            category="fire",
            words=("пожар",),
            source="intake",
            priority=Priority.SOS,
            raised=True,
        ),
        Mixed(
            listed=[location, [1, 2], {"a": (unit,)}],
            mapped={"k": [location], "n": None},
            pair=Pair(location, 2),
            odd=bytearray(b"x"),
        ),
    ]


def test_as_dict_equals_asdict_with_the_type() -> None:
    for event in _events():
        expected = {**asdict(event), "type": event.name}
        got = event.as_dict()
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_as_dict_shares_nothing_mutable() -> None:
    mixed = _events()[-1]
    assert isinstance(mixed, Mixed)
    got = mixed.as_dict()
    got["listed"][1].append(3)
    got["mapped"]["k"].clear()
    got["odd"].extend(b"y")
    assert mixed.listed[1] == [1, 2] and mixed.mapped["k"] and mixed.odd == bytearray(b"x")
    assert isinstance(got["pair"], Pair) and got["pair"].left == asdict(mixed)["pair"].left
