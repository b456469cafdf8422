"""The citizen app's edge: a report, `POST /api/v1/app/reports` with the app's X-Api-Key, a
device id of this run and an Idempotency-Key, so a retry after a 429 or 5xx (honouring
Retry-After) can never duplicate it; or, for a share of the emergencies (`sos_share`), the SOS
button: the phone registers its device (`POST /api/v1/app/devices`, its token kept) and
presses SOS (`POST /api/v1/app/sos` with X-Device-Token, its place and an Idempotency-Key),
and for a share of the presses places the SOS's video call through Asterisk when the run has
it (`edges/video.py`).
At the end each is read back as the app reads it (`GET /api/v1/app/reports/{id}`, `GET
/api/v1/app/sos/{id}`)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Sequence

import aiohttp

from contact.simulate.edges import TEXTS, Sent, contact_id, post_until_accepted
from contact.simulate.traffic import Arrival

WAITING_OR_TERMINAL = {"queued", "closed", "withdrawn"}  # the citizen's names
GOLDEN = 0.6180339887498949


class AppEdge:
    name = "app"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        app_key: str,
        run: str,
        stop_at: float,
        sos_share: float = 0.0,
        video: Callable[[str, Arrival], bool] | None = None,
        video_share: float = 0.0,
    ) -> None:
        """`sos_share`: the share of emergencies that press the SOS button instead of writing;
        `video(sos id, arrival)`: places the app's video call of an SOS the center accepted
        (False: it cannot), for `video_share` of the presses."""
        self._session, self._bases, self._key = session, list(bases), app_key
        self._run, self.stop_at = run, stop_at
        self._n = itertools.count()
        self._sos_share, self._emergencies = sos_share, itertools.count(1)
        self._video, self._video_share, self._presses = video, video_share, itertools.count(1)
        self.tokens: dict[str, str] = {}  # an SOS's device id → its device token
        self.sos = 0  # SOS presses sent
        self.videos = 0  # their video calls placed

    async def send(self, arrival: Arrival) -> Sent:
        i = next(self._n)
        # evenly spread and repeatable: the golden-ratio sequence over emergencies, against
        # the share
        if (
            arrival.channel == "app"  # not a call or a chat the app carries
            and arrival.kind == "emergency"
            and self._sos_share > 0
            and (next(self._emergencies) * GOLDEN) % 1.0 < self._sos_share
        ):
            return await self._press_sos(arrival, i)
        item = Sent(arrival, key=f"{self._run}-{i}", device_id=f"{self._run}-d{i}", edge=self.name)
        body = {
            "text": TEXTS[(arrival.kind, arrival.language)],
            "device_id": item.device_id,
            "language": arrival.language,
            "location": {"lat": arrival.lat, "lon": arrival.lon, "accuracy_m": 25},
        }
        if arrival.kind == "informational":
            body["kind"] = "info"
        headers = {
            "X-Api-Key": self._key,
            "Idempotency-Key": item.key,
            "Content-Type": "application/json",
        }
        answer = await post_until_accepted(
            self._session,
            self._bases,
            item,
            "/api/v1/app/reports",
            json.dumps(body).encode(),
            lambda: headers,
            self.stop_at,
        )
        item.contact_id = contact_id(answer)
        return item

    async def _press_sos(self, arrival: Arrival, i: int) -> Sent:
        """A phone of this run registers and presses SOS; its place goes with the press."""
        device = f"{self._run}-s{i}"
        item = Sent(arrival, key=f"{self._run}-sos-{i}", device_id=device, edge=self.name)
        registering = Sent(arrival, key=item.key, device_id=device, edge=self.name)
        body = {"device_id": device, "platform": "android", "language": arrival.language}
        answer = await post_until_accepted(
            self._session,
            self._bases,
            registering,
            "/api/v1/app/devices",
            json.dumps(body).encode(),
            lambda: {"X-Api-Key": self._key, "Content-Type": "application/json"},
            self.stop_at,
        )
        found = answer.body if answer is not None and isinstance(answer.body, dict) else {}
        token = found.get("device_token")
        if not registering.accepted or not isinstance(token, str):
            item.sent_at, item.tries = registering.sent_at, registering.tries
            item.refused = f"device registration: {registering.refused}"
            return item
        self.tokens[device], self.sos = token, self.sos + 1
        press = {
            "language": arrival.language,
            "location": {"lat": arrival.lat, "lon": arrival.lon, "accuracy_m": 15},
        }
        headers = {
            "X-Api-Key": self._key,
            "X-Device-Token": token,
            "Idempotency-Key": item.key,
            "Content-Type": "application/json",
        }
        answer = await post_until_accepted(
            self._session,
            self._bases,
            item,
            "/api/v1/app/sos",
            json.dumps(press).encode(),
            lambda: headers,
            self.stop_at,
        )
        item.contact_id = contact_id(answer)
        if (
            self._video is not None
            and item.contact_id is not None
            and (next(self._presses) * GOLDEN) % 1.0 < self._video_share
            and self._video(item.contact_id, arrival)
        ):
            self.videos += 1  # as the app does on the 202: its video call to the SOS
        return item

    async def read_back(self, items: Sequence[Sent]) -> None:
        """Each accepted report's or SOS's status as the app reads it, into `final_status`."""
        sem = asyncio.Semaphore(20)

        async def one(item: Sent) -> None:
            headers = {"X-Api-Key": self._key, "X-Device-Id": item.device_id}
            path = f"/api/v1/app/reports/{item.contact_id}"
            if item.device_id in self.tokens:
                headers = {"X-Api-Key": self._key, "X-Device-Token": self.tokens[item.device_id]}
                path = f"/api/v1/app/sos/{item.contact_id}"
            for base in self._bases:  # the first node that answers
                try:
                    async with (
                        sem,
                        self._session.get(f"{base}{path}", headers=headers) as r,
                    ):
                        if r.status >= 500:
                            continue
                        if r.status != 200:
                            item.final_status = f"HTTP {r.status}"
                            return
                        item.final_status = str((await r.json())["status"])
                        return
                except (aiohttp.ClientError, OSError, TimeoutError):
                    continue
            item.final_status = "no node answered"

        await asyncio.gather(*(one(s) for s in items))
