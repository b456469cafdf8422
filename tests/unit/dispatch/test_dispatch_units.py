"""units: ranking available units by ETA, exclusions, the ETA model, the in-place table."""

import random

import pytest

from contact.dispatch.geo import LatLon, destination, haversine_m
from contact.dispatch.units import (
    EtaModel,
    Unit,
    UnitEta,
    UnitKind,
    UnitPosition,
    UnitStatus,
    UnitTable,
    rank_units,
)

SCENE = LatLon(43.238, 76.945)


def unit(
    id: str,
    distance_m: float,
    kind: UnitKind = UnitKind.CAR,
    status: UnitStatus = UnitStatus.AVAILABLE,
    bearing: float = 0.0,
) -> Unit:
    at = destination(*SCENE, bearing, distance_m)
    return Unit(id, kind, status, UnitPosition(at.lat, at.lon))


def ids(ranked: list[UnitEta]) -> list[str]:
    return [r[0] for r in ranked]


def test_ranks_by_eta_not_by_distance() -> None:
    units = [
        unit("foot-300", 300, UnitKind.FOOT),
        unit("car-1000", 1_000, UnitKind.CAR),
        unit("bike-500", 500, UnitKind.BIKE),
    ]
    ranked = rank_units(units, SCENE)
    # car 1000*1.35/(40/3.6)=121.5 s, bike 500*1.35/(15/3.6)=162 s, foot 300*1.35/(5/3.6)=291.6 s
    assert ids(ranked) == ["car-1000", "bike-500", "foot-300"]
    assert ranked[0].distance_m == pytest.approx(1_000, abs=0.01)
    assert [r.eta_s for r in ranked] == pytest.approx([121.5, 162.0, 291.6], abs=0.01)


@pytest.mark.parametrize("status", [s for s in UnitStatus if s is not UnitStatus.AVAILABLE])
def test_only_available_units_are_ranked(status: UnitStatus) -> None:
    units = [unit("busy", 10, status=status), unit("free", 5_000)]
    assert ids(rank_units(units, SCENE)) == ["free"]


def test_units_without_a_position_are_skipped() -> None:
    units = [Unit("nowhere", UnitKind.CAR, UnitStatus.AVAILABLE), unit("here", 100)]
    assert ids(rank_units(units, SCENE)) == ["here"]


def test_top_n_and_kind_filter() -> None:
    units = [unit(f"c{i}", 100 * (i + 1)) for i in range(10)] + [unit("f", 5, UnitKind.FOOT)]
    assert ids(rank_units(units, SCENE, top_n=3)) == ["f", "c0", "c1"]
    assert ids(rank_units(units, SCENE, top_n=2, kinds={UnitKind.FOOT})) == ["f"]
    assert rank_units(units, SCENE, top_n=0) == []
    assert rank_units([], SCENE) == []


def test_the_eta_model_is_configurable() -> None:
    units = [unit("car", 1_000), unit("foot", 100, UnitKind.FOOT)]
    assert ids(rank_units(units, SCENE)) == ["foot", "car"]  # 97.2 s against 121.5 s
    slow_traffic = EtaModel(road_factor=1.4, car_kmh=5.0)
    assert ids(rank_units(units, SCENE, eta_model=slow_traffic)) == ["foot", "car"]
    fast_cars = EtaModel(car_kmh=120.0)
    assert ids(rank_units(units, SCENE, eta_model=fast_cars)) == ["car", "foot"]
    assert EtaModel().eta_s(1_000, UnitKind.CAR) == pytest.approx(121.5)
    with pytest.raises(ValueError, match="foot_kmh"):
        EtaModel(foot_kmh=0)


def test_equal_etas_go_to_the_nearer_then_table_order() -> None:
    units = [unit(f"u{i}", 200, bearing=90.0) for i in range(6)] + [unit("x", 100)]
    assert ids(rank_units(units, SCENE, top_n=4)) == ["x", "u0", "u1", "u2"]


def test_table_updates_in_place() -> None:
    table = UnitTable([unit("a", 100), unit("b", 200)])
    assert ids(table.rank(SCENE)) == ["a", "b"]
    table.upsert(unit("a", 100, status=UnitStatus.EN_ROUTE))
    assert ids(table.rank(SCENE)) == ["b"]
    table.upsert(unit("a", 50))
    table.upsert(unit("c", 10))
    assert ids(table.rank(SCENE)) == ["c", "a", "b"]
    table.remove("c")
    assert ids(table.rank(SCENE)) == ["a", "b"] and "c" not in table and len(table) == 2
    table.remove("a")
    assert ids(table.rank(SCENE)) == ["b"]


def test_table_grows_and_matches_a_plain_sort() -> None:
    rng = random.Random(5)
    units = [
        unit(
            f"u{i}",
            rng.uniform(0, 8_000),
            rng.choice(list(UnitKind)),
            rng.choice([UnitStatus.AVAILABLE] * 3 + [UnitStatus.ON_SCENE]),
            rng.uniform(0, 360),
        )
        for i in range(700)
    ]
    table = UnitTable(units)
    model = EtaModel()
    expected = sorted(
        (
            model.eta_s(haversine_m(u.position.lat, u.position.lon, *SCENE), u.kind),
            u.id,
        )
        for u in units
        if u.status is UnitStatus.AVAILABLE and u.position is not None
    )
    ranked = table.rank(SCENE, top_n=25)
    assert ids(ranked) == [u_id for _, u_id in expected[:25]]
    assert [r.eta_s for r in ranked] == pytest.approx([eta for eta, _ in expected[:25]])
