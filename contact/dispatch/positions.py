"""Where the units sent to a contact are, pushed to whoever has that contact open.

150+ units report every few seconds; an operator needs only the few sent to her contact. So
only units working a dispatch are pushed, each at most every `interval_s`, as `unit.position`
on the `contact:<id>` topics of the dispatch's contact and of the other contacts of its
incident (the panels that list that dispatch), and only to this node's own sockets.

Why this node's sockets only: every node learns every position by itself (MQTT reaches each
node; a position reported over HTTP is shared on `dispatch:unit`), so each node serves its own
browsers and nothing crosses Redis; a browser gets each push once, whichever node it is on.
The first fix seen of a dispatched unit is not pushed: the panel loaded it with the dispatch
event. A fix dropped by the throttle is superseded by the unit's next report (units report
every few seconds) or by the page's own refresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from contact.dispatch.model import ASSIGNED, UnitRecord
from contact.errors import ContactError

log = logging.getLogger(__name__)

Deliver = Callable[[str, Mapping[str, Any]], Awaitable[None]]
Audience = Callable[[str], Awaitable[tuple[str, ...]]]  # dispatch id -> contact ids

AUDIENCE_TTL_S = 30.0  # who sees a dispatch changes only when contacts are (re)grouped
AUDIENCE_CACHE_MAX = 512

_Fix = tuple[float, float, datetime | None]


class PositionPush:
    """The dispatch service's position listener (`DispatchService.on_assigned_position`)."""

    def __init__(
        self,
        *,
        deliver: Deliver,
        audience: Audience,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._deliver = deliver
        self._audience = audience
        self._interval_s = interval_s
        self._clock = clock
        # unit id -> (when a fix was last pushed, the last fix seen)
        self._sent: dict[str, tuple[float | None, _Fix]] = {}
        self._audiences: dict[str, tuple[float, tuple[str, ...]]] = {}
        self.pushed = 0

    async def __call__(self, unit: UnitRecord) -> None:
        position = unit.position
        if position is None or unit.dispatch_id is None or unit.status not in ASSIGNED:
            self._sent.pop(unit.id, None)
            return
        now = self._clock()
        fix = (position.lat, position.lon, position.at)
        last = self._sent.get(unit.id)
        if last is None:  # just dispatched (or this node just started): the panel has it
            self._sent[unit.id] = (None, fix)
            return
        pushed_at, seen = last
        # the same fix comes again with every status change and, on the node that received
        # it, as its own broadcast's echo
        if seen == fix or (pushed_at is not None and now - pushed_at < self._interval_s):
            return
        self._sent[unit.id] = (now, fix)
        try:
            contact_ids = await self._contacts(unit.dispatch_id, now)
        except ContactError as exc:
            log.warning("unit position not pushed: %s", exc.message)
            return
        payload = {
            "type": "unit.position",
            "at": datetime.now(UTC).isoformat(),
            "unit_id": unit.id,
            "callsign": unit.callsign,
            "status": unit.status.value,
            "dispatch_id": unit.dispatch_id,
            "position": {
                "lat": position.lat,
                "lon": position.lon,
                "accuracy_m": position.accuracy_m,
                "at": position.at.isoformat() if position.at else None,
            },
        }
        for contact_id in contact_ids:
            await self._deliver(f"contact:{contact_id}", payload)
        self.pushed += 1

    async def _contacts(self, dispatch_id: str, now: float) -> tuple[str, ...]:
        cached = self._audiences.get(dispatch_id)
        if cached is not None and now - cached[0] < AUDIENCE_TTL_S:
            return cached[1]
        if len(self._audiences) >= AUDIENCE_CACHE_MAX:
            fresh = {k: v for k, v in self._audiences.items() if now - v[0] < AUDIENCE_TTL_S}
            self._audiences = fresh if len(fresh) < AUDIENCE_CACHE_MAX else {}
        contact_ids = await self._audience(dispatch_id)
        self._audiences[dispatch_id] = (now, contact_ids)
        return contact_ids
