import math
from datetime import UTC, datetime, timedelta

import pytest

from contact.domain.model import (
    LEGAL_TRANSITIONS,
    Capability,
    ChannelKind,
    Contact,
    ContactState,
    IllegalTransition,
    Language,
    Location,
    Priority,
    Role,
    Skills,
)
from contact.domain.triage import DEFAULT_AGING_OFFSETS, Verdict, priority_for, queue_score
from contact.triage import default_triage

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def contact(channel: ChannelKind = ChannelKind.APP) -> Contact:
    return Contact(id="c1", channel=channel, priority=Priority.CHAT, created_at=T0)


def test_happy_path_sets_timestamps() -> None:
    c = contact()
    c.transition(ContactState.QUEUED, T0)
    c.transition(ContactState.OFFERED, T0 + timedelta(seconds=1))
    c.transition(ContactState.CONNECTED, T0 + timedelta(seconds=2))
    c.transition(ContactState.WRAP_UP, T0 + timedelta(seconds=60))
    c.transition(ContactState.CLOSED, T0 + timedelta(seconds=90))
    assert (c.queued_at, c.answered_at, c.wrapped_up_at, c.closed_at) == (
        T0,
        T0 + timedelta(seconds=2),
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=90),
    )


def test_requeue_keeps_the_first_arrival_and_clears_the_operator() -> None:
    c = contact()
    c.transition(ContactState.QUEUED, T0)
    c.transition(ContactState.OFFERED, T0 + timedelta(seconds=1))
    c.operator_id = "op"
    c.transition(ContactState.QUEUED, T0 + timedelta(seconds=20))
    assert c.queued_at == T0
    assert c.operator_id is None


@pytest.mark.parametrize("current", list(ContactState))
@pytest.mark.parametrize("wanted", list(ContactState))
def test_every_illegal_transition_raises(current: ContactState, wanted: ContactState) -> None:
    c = contact()
    c.state = current
    if wanted in LEGAL_TRANSITIONS[current]:
        c.transition(wanted, T0)
        assert c.state is wanted
    else:
        with pytest.raises(IllegalTransition):
            c.transition(wanted, T0)
        assert c.state is current


def test_closed_and_abandoned_are_terminal() -> None:
    assert not LEGAL_TRANSITIONS[ContactState.CLOSED]
    assert not LEGAL_TRANSITIONS[ContactState.ABANDONED]


@pytest.mark.parametrize(
    ("lat", "lon", "acc"),
    [
        (91, 0, None),
        (-90.5, 0, None),
        (0, 180.1, None),
        (math.nan, 0, None),
        (0, math.inf, None),
        (0, 0, -1),
        (0, 0, math.nan),
    ],
)
def test_location_rejects_impossible_values(lat: float, lon: float, acc: float | None) -> None:
    with pytest.raises(ValueError):
        Location(lat=lat, lon=lon, accuracy_m=acc)


def test_location_accepts_the_poles_and_antimeridian() -> None:
    Location(lat=90, lon=180)
    Location(lat=-90, lon=-180, accuracy_m=0)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR)
    assert Role.SUPERVISOR.at_least(Role.OPERATOR)
    assert not Role.OPERATOR.at_least(Role.SUPERVISOR)


def test_skills() -> None:
    ru_chat = Skills(frozenset({Language.RU}), frozenset({Capability.CHAT}))
    assert ru_chat.can_take(Language.RU, Capability.CHAT)
    assert ru_chat.can_take(None, Capability.CHAT)
    assert not ru_chat.can_take(Language.KK, Capability.CHAT)
    assert not ru_chat.can_take(Language.RU, Capability.VOICE)


def test_channel_priorities_follow_the_issue_order() -> None:
    order = [
        priority_for(ch)
        for ch in (
            ChannelKind.SCHOOL_ALARM,
            ChannelKind.KIOSK,
            ChannelKind.VOICE,
            ChannelKind.VIDEO,
            ChannelKind.APP,
        )
    ]
    assert order == sorted(order)
    assert priority_for(ChannelKind.APP_SOS) == priority_for(ChannelKind.KIOSK) == Priority.SOS
    assert priority_for(ChannelKind.APP, information_only=True) == Priority.INFO


@pytest.mark.parametrize("text", ["Помогите, у него нож!", "Көмектесіңдер! Өрт!", "СТРЕЛЯЮТ"])
def test_danger_words_lift_a_chat_to_sos(text: str) -> None:
    assert priority_for(ChannelKind.TELEGRAM, triage(text)) == Priority.SOS


def test_danger_words_never_lower_an_alarm() -> None:
    assert priority_for(ChannelKind.SCHOOL_ALARM, triage("помогите, у него нож")) == Priority.ALARM


def test_queue_score_orders_by_priority_then_age() -> None:
    voice_new = queue_score(Priority.VOICE, T0)
    chat_old = queue_score(Priority.CHAT, T0 - timedelta(seconds=10))
    chat_older = queue_score(Priority.CHAT, T0 - timedelta(seconds=20))
    alarm_new = queue_score(Priority.ALARM, T0 + timedelta(seconds=5))
    assert alarm_new < voice_new < chat_older < chat_old


def test_aging_lets_a_long_waiting_chat_overtake_a_new_call() -> None:
    gap = DEFAULT_AGING_OFFSETS[Priority.CHAT] - DEFAULT_AGING_OFFSETS[Priority.VOICE]
    chat = queue_score(Priority.CHAT, T0 - timedelta(seconds=gap + 1))
    assert chat < queue_score(Priority.VOICE, T0)


def test_a_callback_task_queues_among_102_calls_not_behind_ten_minutes_of_aging() -> None:
    def score(priority: Priority, at: datetime, channel: ChannelKind | None = None) -> float:
        return queue_score(priority, at, channel=channel)

    callback = score(Priority.INFO, T0, ChannelKind.CALLBACK)
    # a caller still on the line who rang up to half a minute later goes first …
    assert score(Priority.VOICE, T0 + timedelta(seconds=29)) < callback
    # … a later one, a video call and a chat that came with it go after it
    assert callback < score(Priority.VOICE, T0 + timedelta(seconds=31))
    assert callback < score(Priority.VIDEO, T0)
    assert callback < score(Priority.CHAT, T0 - timedelta(seconds=60))
    # alarms and SOS before it, as before any call; an information request far after it
    assert score(Priority.SOS, T0 + timedelta(seconds=60)) < callback
    assert callback + 400 < score(Priority.INFO, T0)


def test_an_accepted_contact_whose_citizen_left_before_the_answer_is_abandoned() -> None:
    c = contact(ChannelKind.VOICE)
    c.transition(ContactState.QUEUED, T0)
    c.transition(ContactState.OFFERED, T0)
    c.transition(ContactState.CONNECTED, T0 + timedelta(seconds=1))
    c.transition(ContactState.ABANDONED, T0 + timedelta(seconds=5))
    assert c.state is ContactState.ABANDONED and c.closed_at == T0 + timedelta(seconds=5)


def triage(text: str) -> Verdict:
    return default_triage().analyse(text)
