"""The rate of each chat citizen: how many of their messages the webhooks store per minute,
per node (a flood from one account stays its own). Shared by Telegram and WhatsApp."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from contact.errors import TooManyRequests
from contact.http.edge import RateLimiter


class CitizenLimiter:
    """Messages per citizen per minute, per node (a flood from one account stays its own).

    Only messages actually stored count: a messenger redelivering what was stored already
    (after a 429 for another message of the same POST, say) does not use up the citizen's
    allowance. `admit` checks a batch (counting its own earlier items), `count` records what
    the inbox stored.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        window_s: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # the edge's sliding window, counted only for what the inbox stored
        self._window = RateLimiter(
            per_minute, window_s, what="messages", max_keys=max_keys, clock=clock
        )

    def admit(self, keys: Sequence[str | None]) -> list[bool]:
        """For each item of a batch (None: not limited, e.g. a status): may it be stored?"""
        pending: dict[str, int] = {}
        allowed = []
        for key in keys:
            if key is None:
                allowed.append(True)
                continue
            used = len(self._window.recent(key)) + pending.get(key, 0)
            ok = used < self._window.limit
            if ok:
                pending[key] = pending.get(key, 0) + 1
            allowed.append(ok)
        return allowed

    def count(self, key: str) -> None:
        self._window.hit(key)

    def refusal(self) -> TooManyRequests:
        return TooManyRequests(
            "too many messages from this citizen; retry in a minute",
            error_id="rate_limited",
            details={"retry_after_s": int(self._window.window_s)},
        )


def citizen_limiter(per_minute: int) -> CitizenLimiter:
    return CitizenLimiter(per_minute)
