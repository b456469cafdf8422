"""The public edges `contact simulate` drives a center through, one module per edge.

An edge is what a citizen (or a device) uses to reach the center: `send(arrival)` plays one
contact of the traffic model through it and answers a `Sent` saying what the edge answered.
The driver (`drive.py`) picks the edge by the arrival's channel; a channel without an edge of
its own in a run is carried by the app edge and counted as such.

- `app.py` (app): `POST /api/v1/app/reports` with X-Api-Key and an Idempotency-Key;
- `chat.py` (telegram, whatsapp): webhook POSTs as Telegram (its secret token header) and Meta
  (X-Hub-Signature-256) send them; the stand-ins answer what the center replies;
- `devices.py` (kiosk, alarm): the kiosk's HMAC-signed button press, the school's alarm with
  its site key; the devices registered as an administrator registers them;
- `camera.py` (camera): the video analytics platform's alert with its key, one camera per
  alert registered as an administrator registers the city's cameras;
- `voice.py` (voice): 102 calls through Asterisk, one sipp caller each, and the bots'
  phones (sipp too); only when Asterisk is there (`open_pbx`); with `video.py`, the video
  call an app SOS places through the same Asterisk;
- `units.py` (no channel): the patrols the bots dispatch, registered and placed through their
  own API, driving to the scene at the run's speed.

Every edge retries until an edge node accepts (202/200) or the run's deadline passes, in a
way that can never make two contacts of one (the app's Idempotency-Key, the update id, the
message id, the press id, the alarm's event id, the camera's dedupe window), and moves to the
next node on a refused connection or a 5xx.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from contact.simulate.traffic import Arrival

RETRIED = frozenset({429, 500, 502, 503, 504})
TEXTS = {  # what a citizen writes, by kind and language
    ("emergency", "ru"): "Драка во дворе, нужна полиция",
    ("emergency", "kk"): "Аулада төбелес, полиция керек",
    ("ordinary", "ru"): "Украли велосипед у подъезда",
    ("ordinary", "kk"): "Подъезд алдынан велосипед ұрланды",
    ("informational", "ru"): "Как получить справку о несудимости?",
    ("informational", "kk"): "Сотталмағандығы туралы анықтаманы қалай алуға болады?",
}


@dataclass
class Sent:
    """One citizen contact as the edge saw it."""

    arrival: Arrival
    key: str  # what makes every retry the same contact (idempotency key, update id …)
    device_id: str  # the citizen as the center stores it (contacts.citizen)
    edge: str = "app"  # the edge that carried it
    sent_at: float = math.nan  # monotonic wall time of the first try
    acked_at: float = math.nan  # monotonic wall time the edge accepted it
    accepted: bool = False  # the edge answered 202/200
    contact_id: str | None = None  # the contact, when the edge says (or once it is found)
    refused: str | None = None  # the last refusal, when never accepted
    tries: int = 0
    answered_at: float = math.nan  # wall time an operator accepted it
    dispatched_at: float = math.nan  # wall time a bot dispatched a unit to it
    eta_s: float | None = None  # the dispatched unit's ETA, as the server estimated it
    final_status: str | None = None


class Edge(Protocol):
    """One public edge of the center: sends an arrival as its real sender would."""

    @property
    def name(self) -> str: ...

    async def send(self, arrival: Arrival) -> Sent: ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def _seconds(value: str | None) -> float:
    try:
        return max(0.1, float(value or 1))
    except ValueError:  # an HTTP date, or nonsense: a second
        return 1.0


def contact_id(answer: Answer | None) -> str | None:
    """The contact id an accepting edge answered with (`{"id": …}`), if any."""
    if answer is None or answer.status not in (200, 202) or not isinstance(answer.body, dict):
        return None
    found = answer.body.get("id")
    return str(found) if found else None


async def post_until_accepted(
    session: aiohttp.ClientSession,
    bases: Sequence[str],
    item: Sent,
    path: str,
    body: bytes,
    headers: Callable[[], Mapping[str, str]],
    stop_at: float,
) -> Answer | None:
    """POST until a node accepts (200/201/202) or refuses for good (a 4xx but 429); the headers
    are built again for every try (a kiosk signs each request anew). None: the deadline
    passed."""
    if math.isnan(item.sent_at):
        item.sent_at = time.monotonic()
    at = hash(item.key) % len(bases)
    while time.monotonic() < stop_at:
        item.tries += 1
        try:
            async with session.post(bases[at] + path, data=body, headers=headers()) as r:
                try:
                    answer = Answer(r.status, await r.json(content_type=None))
                except ValueError:
                    answer = Answer(r.status, None)
                if r.status in (200, 201, 202):  # 201: a device registered
                    item.accepted, item.acked_at = True, time.monotonic()
                    return answer
                item.refused = f"HTTP {r.status}"
                if r.status not in RETRIED:
                    return answer  # refused for good (a 4xx the model should never cause)
                wait = _seconds(r.headers.get("Retry-After"))
                if r.status != 429:
                    at = (at + 1) % len(bases)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            item.refused, wait = type(exc).__name__, 0.5
            at = (at + 1) % len(bases)
        await asyncio.sleep(min(wait, 5.0))
    return None


__all__ = ["RETRIED", "TEXTS", "Answer", "Edge", "Sent", "contact_id", "post_until_accepted"]
