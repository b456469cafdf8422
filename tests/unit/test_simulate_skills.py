"""Operators by skill in the model (issue 13, item 4): a contact is taken only by a pool that
speaks its language and works its channel; the staffing search finds a rota per skill group."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contact.cli import main
from contact.simulate.des import Pool, simulate
from contact.simulate.scenario import Scenario, load_scenario
from contact.simulate.staffing import failing_hours, hour_load, pools_of, recommend
from contact.simulate.traffic import Arrival

RU = Pool("ru", frozenset({"ru"}), frozenset({"voice"}))
BOTH = Pool("kk+ru", frozenset({"kk", "ru"}), frozenset({"voice"}))
TEXT = Pool("text", frozenset({"kk", "ru"}), frozenset({"telegram"}))


def _a(t: float, language: str, channel: str = "voice", patience: float = 1e9) -> Arrival:
    return Arrival(t, channel, "emergency", language, "d", 43.2, 76.9, 100.0, patience, False)


def test_a_contact_waits_for_someone_who_speaks_its_language() -> None:
    arrivals = [_a(0.0, "kk", patience=30.0), _a(1.0, "ru")]
    out = simulate(arrivals, {"ru": [3], "kk+ru": [0]}, 10, pools=[RU, BOTH])
    assert out.cell(language="kk").abandoned == 1  # three free operators, none speaks Kazakh
    assert out.cell(language="ru").waits == [0.0]
    out = simulate(arrivals, {"ru": [0], "kk+ru": [1]}, 10, pools=[RU, BOTH])
    assert out.cell(language="kk").waits == [0.0]
    assert out.cell(language="ru").waits == [99.0]  # after the one bilingual operator


def test_the_narrowest_free_pool_takes_a_contact_first() -> None:
    # a Russian call first: the Russian-only operator takes it, so the bilingual one is free
    # for the Kazakh call a second later
    arrivals = [_a(0.0, "ru"), _a(1.0, "kk")]
    out = simulate(arrivals, {"ru": [1], "kk+ru": [1]}, 10, pools=[BOTH, RU])
    assert out.cell(language="kk").waits == [0.0]
    assert out.cell().answered == 2


def test_channels_are_skills_too() -> None:
    arrivals = [_a(0.0, "ru", channel="telegram"), _a(0.5, "ru")]
    out = simulate(arrivals, {"ru": [1], "text": [0]}, 10, pools=[RU, TEXT])
    assert out.cell(channel="telegram").answered == 0 and out.waiting_at_end == 1
    assert out.cell(channel="voice").waits == [0.0]


def test_one_rota_per_pool() -> None:
    with pytest.raises(ValueError, match="one rota per pool"):
        simulate([_a(0.0, "ru")], {"ru": [1]}, 10, pools=[RU, BOTH])


def test_a_scenario_whose_skills_leave_contacts_untaken_is_refused() -> None:
    data = load_scenario("almaty-weekday").model_dump()
    voice = {"name": "102", "languages": ["kk", "ru"], "channels": ["voice", "kiosk", "alarm"]}
    data["skills"] = [
        voice,
        {
            "name": "text",
            "languages": ["ru"],
            "channels": ["app", "telegram", "whatsapp", "camera"],
        },
    ]
    with pytest.raises(ValidationError, match="nobody takes app contacts in kk"):
        Scenario.model_validate(data)
    data["skills"] = [voice, voice]
    with pytest.raises(ValidationError, match="its own name"):
        Scenario.model_validate(data)
    data["skills"] = [{**voice, "channels": ["fax"]}]
    with pytest.raises(ValidationError, match="unknown channel: fax"):
        Scenario.model_validate(data)


def test_a_head_count_is_split_by_shares() -> None:
    scenario = load_scenario("almaty-weekday")
    for n in (0, 1, 7, 18, 27, 30):
        split = scenario.split(n)
        assert sum(split.values()) == n
        assert set(split) == {"102 kk+ru", "102 ru", "text kk+ru"}
    assert scenario.split(30) == {"102 kk+ru": 18, "102 ru": 9, "text kk+ru": 3}


def test_the_search_gives_each_skill_group_its_rota_and_meets_the_target() -> None:
    scenario = load_scenario("almaty-friday-night").model_copy(update={"duration_h": 4.0})
    found = recommend(scenario, seed=5)
    assert failing_hours(scenario, found.outcomes) == []
    assert set(found.by_pool) == {"102 kk+ru", "102 ru", "text kk+ru"}
    pools = pools_of(scenario)
    for h, total in enumerate(found.rota):
        assert total == sum(r[h] for r in found.by_pool.values())
        for pool in pools:  # a desk with work is never left empty
            if hour_load(scenario, h, pool, pools)[0] > 0:
                assert found.by_pool[pool.name][h] >= 1
    # skills cost operators: the same room pooled needs no more
    pooled = recommend(scenario.model_copy(update={"skills": []}), seed=5)
    assert sum(pooled.rota) <= sum(found.rota)


def test_recommend_prints_a_column_per_skill_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "almaty-friday-night", "--recommend", "--minutes", "120"]) == 0
    out = capsys.readouterr().out
    assert "102 kk+ru" in out and "102 ru" in out and "text kk+ru" in out
    assert "operator-hours:" in out
