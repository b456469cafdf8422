"""The driver hands each arrival to the edge of its channel, at its time, and the app edge
carries the channels that have none (counted as such); what the edges answered is the
result, in arrival order."""

from __future__ import annotations

import argparse
import math

import pytest

from contact.simulate.cli import add_commands
from contact.simulate.drive import drive
from contact.simulate.edges import Answer, Edge, Sent, contact_id
from contact.simulate.traffic import Arrival


def arrival(t_s: float, channel: str) -> Arrival:
    return Arrival(
        t_s=t_s,
        channel=channel,
        kind="ordinary",
        language="ru",
        district="Алмалинский",
        lat=43.25,
        lon=76.91,
        handle_s=60.0,
        patience_s=math.inf,
        needs_unit=False,
    )


class Recording:
    def __init__(self, name: str, *, accept: bool = True) -> None:
        self.name, self.accept = name, accept
        self.got: list[Arrival] = []

    async def send(self, a: Arrival) -> Sent:
        self.got.append(a)
        n = len(self.got)
        return Sent(
            a,
            key=f"{self.name}-{n}",
            device_id=f"{self.name}-{n}",
            edge=self.name,
            accepted=self.accept,
            refused=None if self.accept else "HTTP 403",
        )


async def test_each_arrival_goes_to_its_channels_edge() -> None:
    edges = {c: Recording(c) for c in ("app", "telegram", "whatsapp", "kiosk", "alarm")}
    edges["alarm"].accept = False
    traffic = [
        arrival(0.0, "telegram"),
        arrival(1.0, "kiosk"),
        arrival(2.0, "app"),
        arrival(3.0, "alarm"),
        arrival(4.0, "whatsapp"),
        arrival(5.0, "telegram"),
    ]
    given: dict[str, Edge] = dict(edges)
    result = await drive(
        traffic,
        base_url="http://127.0.0.1:9",  # nothing is sent there: every channel has its edge
        app_key="k",
        operators=[],
        speed=100.0,
        seed=1,
        drain_s=0.0,
        edges=given,
    )
    assert [a.t_s for a in edges["telegram"].got] == [0.0, 5.0]
    assert [len(e.got) for e in edges.values()] == [1, 2, 1, 1, 1]
    assert [s.arrival.t_s for s in result.sent] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [s.edge for s in result.sent][:2] == ["telegram", "kiosk"]
    assert len(result.accepted) == 5  # the refused alarm is not
    assert result.carried_as_app == {}
    assert result.started == result.planned == 6
    assert result.errors == []


async def test_a_channel_without_an_edge_is_carried_by_the_app_edge_and_counted() -> None:
    kiosk = Recording("kiosk")
    # the app edge itself would POST to the server: a closed port refuses, until the deadline
    result = await drive(
        [arrival(0.0, "kiosk"), arrival(0.5, "voice")],
        base_url="http://127.0.0.1:9",
        app_key="k",
        operators=[],
        speed=100.0,
        seed=1,
        drain_s=0.2,
        edges={"kiosk": kiosk},
    )
    assert len(kiosk.got) == 1
    assert result.carried_as_app == {"voice": 1}
    carried = [s for s in result.sent if s.edge == "app"]
    assert len(carried) == 1 and not carried[0].accepted and carried[0].refused


@pytest.mark.parametrize(
    ("answer", "found"),
    [
        (Answer(202, {"id": "c1", "status": "queued"}), "c1"),
        (Answer(200, {"id": "c1", "joined": True}), "c1"),  # a press joining its open SOS
        (Answer(202, None), None),  # accepted, no id said: the database will tell
        (Answer(202, ["c1"]), None),
        (Answer(403, {"error": {"id": "replayed"}}), None),
        (None, None),  # the deadline passed
    ],
)
def test_the_contact_id_an_edge_answered(answer: Answer | None, found: str | None) -> None:
    assert contact_id(answer) == found


def test_a_pasted_postgresql_url_is_read_with_the_driver_the_nodes_ship() -> None:
    """`--database-url postgresql://…` used to run the whole chaos run and then fail its final
    accounting on a driver that is not installed (psycopg)."""
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(
        ["simulate", "mass-incident", "--chaos", "--database-url", "postgresql://u@h:5432/d"]
    )
    assert args.database_url == "postgresql+asyncpg://u@h:5432/d"
