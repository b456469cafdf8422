"""The rota panel's arithmetic: each operator counted once, in the group she fits that is
furthest below its need; the recommended rota moved to the hours of the week it holds for."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contact.domain.model import Capability, Language, Skills
from contact.http.rota import Group, cover, fits
from contact.simulate.cli import publish_days, rota_entries
from contact.simulate.des import Outcome
from contact.simulate.scenario import load_scenario
from contact.simulate.staffing import Recommendation

KK, RU = Language.KK, Language.RU
VOICE_102 = Group("102 kk+ru", frozenset({"kk", "ru"}), frozenset({"voice", "chat"}))
RU_102 = Group("102 ru", frozenset({"ru"}), frozenset({"voice", "chat"}))
TEXT = Group("text", frozenset({"kk", "ru"}), frozenset({"chat"}))
GROUPS = [VOICE_102, RU_102, TEXT]


def skills(langs: set[Language], caps: set[Capability] | None = None) -> Skills:
    return Skills(frozenset(langs), frozenset(caps if caps is not None else Capability))


def test_an_operator_fits_a_group_with_all_its_languages_and_desks() -> None:
    assert fits(skills({KK, RU}), VOICE_102)
    assert not fits(skills({RU}), VOICE_102)
    assert fits(skills({RU}), RU_102)
    assert not fits(skills({KK, RU}, {Capability.VOICE}), VOICE_102)  # no chat desk
    assert fits(skills({KK, RU}, {Capability.CHAT}), TEXT)


def test_each_operator_counts_once_where_she_is_needed_most() -> None:
    needed = {"102 kk+ru": 2, "102 ru": 1, "text": 1}
    everyone = skills({KK, RU})
    # the narrow ones first: the Russian-only to "102 ru", the chat-only to "text"; then the
    # versatile ones where the need is greatest; one beyond every need: the first group
    on, unplaced = cover(
        GROUPS,
        needed,
        [everyone, skills({RU}), skills({KK, RU}, {Capability.CHAT}), everyone, everyone],
    )
    assert on == {"102 kk+ru": 3, "102 ru": 1, "text": 1}
    assert unplaced == 0
    on, unplaced = cover(GROUPS, needed, [skills({KK}, {Capability.VIDEO})])
    assert on == {"102 kk+ru": 0, "102 ru": 0, "text": 0}
    assert unplaced == 1
    on, _ = cover(GROUPS, {}, [everyone])  # nothing needed: the first group she fits
    assert on == {"102 kk+ru": 1, "102 ru": 0, "text": 0}


def test_the_rota_is_published_for_the_scenarios_day_or_the_days_named() -> None:
    scenario = load_scenario("almaty-friday-night")  # Friday 18:00, 12 hours
    assert publish_days(scenario, None) == [4]
    assert publish_days(scenario, "thu, fri") == [3, 4]
    with pytest.raises(ValueError, match="--days"):
        publish_days(scenario, "fry")
    two_days = scenario.model_copy(update={"duration_h": 36})
    with pytest.raises(ValueError, match="at most 24 with --days"):
        publish_days(two_days, "fri")
    assert publish_days(two_days, None) == [4]
    with pytest.raises(ValueError, match="at most a week"):
        publish_days(scenario.model_copy(update={"duration_h": 200}), None)
    hours = 12
    by_pool = {g.name: [i + 1 for i in range(hours)] for g in scenario.skills}
    found = Recommendation([3 * (i + 1) for i in range(hours)], [Outcome({}, [], [], 0)], by_pool)
    at = datetime(2026, 12, 7, tzinfo=UTC)
    entries = rota_entries(scenario, found, [4], "boss", at)
    assert len(entries) == hours * 3
    # Friday 18:00 is hour 114 of the week; after midnight it is Saturday's
    assert sorted({e.hour_of_week for e in entries}) == [*range(114, 120), *range(120, 126)]
    assert all(e.service_level == 1.0 for e in entries)  # nothing offered: nothing missed
    first = [e for e in entries if e.hour_of_week == 114]
    assert [(e.group, e.needed, e.position) for e in first] == [
        ("102 kk+ru", 1, 0),
        ("102 ru", 1, 1),
        ("text kk+ru", 1, 2),
    ]
    # Sunday 18:00 plays on into Monday morning: the week wraps
    sunday = rota_entries(scenario, found, [6], "boss", at)
    assert sorted({e.hour_of_week for e in sunday}) == [*range(0, 6), *range(162, 168)]
