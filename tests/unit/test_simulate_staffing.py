"""The simulator's queue discipline, the staffing search, and `contact simulate --model`."""

from __future__ import annotations

import json
from pathlib import Path

from contact.cli import main
from contact.simulate.des import simulate
from contact.simulate.scenario import load_scenario
from contact.simulate.staffing import failing_hours, recommend
from contact.simulate.traffic import Arrival, generate


def _a(t: float, kind: str, handle: float = 100.0, patience: float = 1e9) -> Arrival:
    return Arrival(t, "voice", kind, "ru", "d", 43.2, 76.9, handle, patience, False)


def test_emergencies_jump_the_queue_and_the_impatient_abandon() -> None:
    arrivals = [
        _a(0.0, "ordinary"),  # takes the only operator until 100 s
        _a(1.0, "informational"),
        _a(2.0, "ordinary", patience=50.0),  # gone at 52 s
        _a(3.0, "emergency"),
    ]
    out = simulate(arrivals, [1], answer_s=10)
    assert out.cell(kind="emergency").waits == [97.0]  # next at 100 s, before the earlier two
    assert out.cell(kind="ordinary").abandoned == 1
    assert out.cell(kind="informational").waits == [199.0]


def test_recommended_rota_meets_the_target_and_one_fewer_does_not() -> None:
    scenario = load_scenario("mass-incident").model_copy(update={"burst": None})
    found = recommend(scenario, seed=2)
    assert failing_hours(scenario, found.outcomes) == []
    fewer = [n - 1 for n in found.rota]
    runs = [generate(scenario, 2 + r) for r in range(3)]
    tried = [simulate(a, fewer, 10, scenario.wrap_up_s) for a in runs]
    assert failing_hours(scenario, tried) == [0]


def test_model_run_writes_json_and_html(tmp_path: Path) -> None:
    assert main(["simulate", "almaty-friday-night", "--model", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text("utf-8"))
    assert len(report["hours"]) == 12
    assert report["hours"][0]["hour_of_day"] == 18
    assert report["hours"][0]["predicted"]["service_level"] is not None
    page = (tmp_path / "report.html").read_text("utf-8")
    assert "<svg" in page and "almaty-friday-night" in page


def test_a_bad_scenario_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n', "utf-8")
    assert main(["simulate", str(bad), "--model"]) == 2
