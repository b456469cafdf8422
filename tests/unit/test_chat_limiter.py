"""contact.channels.chat.limiter: each chat citizen's rate, on a fake clock. Only messages
actually stored count, a batch counts its own earlier items, the window slides, and memory
stays bounded."""

from __future__ import annotations

import pytest

from contact.channels.chat.limiter import CitizenLimiter
from contact.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_counts_its_own_earlier_items_and_statuses_are_never_limited() -> None:
    limiter = CitizenLimiter(2, clock=Clock())
    assert limiter.admit(["a", None, "a", "b", "a", None]) == [True, True, True, True, False, True]


def test_only_what_was_stored_uses_up_the_allowance() -> None:
    limiter = CitizenLimiter(2, clock=Clock())
    for _ in range(5):  # redeliveries of what was stored already: admitted, never counted
        assert limiter.admit(["a"]) == [True]
    limiter.count("a")
    limiter.count("a")
    assert limiter.admit(["a"]) == [False]
    assert limiter.admit(["b"]) == [True]  # another citizen keeps their own


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = CitizenLimiter(2, clock=clock)
    limiter.count("a")
    clock.now += 30
    limiter.count("a")
    assert limiter.admit(["a"]) == [False]
    clock.now += 30  # the first message is a minute old: one more may come
    assert limiter.admit(["a", "a"]) == [True, False]


def test_memory_is_bounded_least_recently_seen_forgotten() -> None:
    limiter = CitizenLimiter(1, max_keys=2, clock=Clock())
    limiter.count("a")
    limiter.count("b")
    assert limiter.admit(["a"]) == [False]  # a is now the most recently seen
    limiter.count("c")  # b is forgotten
    assert limiter.admit(["a"]) == [False]
    assert limiter.admit(["c"]) == [False]
    assert limiter.admit(["b"]) == [True]


def test_the_refusal_is_a_429_saying_when_to_retry() -> None:
    refusal = CitizenLimiter(1, clock=Clock()).refusal()
    assert isinstance(refusal, TooManyRequests)
    assert (refusal.status, refusal.error_id) == (429, "rate_limited")
    assert refusal.details == {"retry_after_s": 60}
    with pytest.raises(TooManyRequests):
        raise refusal
