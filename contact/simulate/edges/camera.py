"""The city cameras' video analytics, as its platform posts an alert.

`POST /api/v1/camera-events {"camera_id", "kind", "confidence", "time", "event_id"}` with the
platform's key in `X-Api-Key` (one of the center's `CONTACT_CAMERA_API_KEYS`;
docs/device-channels.md). The alert's kind follows the contact's: an emergency is a weapon or
aggression, an ordinary contact a wanted plate or face, an informational one a crowd; its
confidence lies halfway between the center's threshold for that kind and certainty, so no
alert of the run is dropped as below it. A retry is the same camera, kind and subject within
the center's dedupe window (`CONTACT_CAMERA_DEDUPE_WINDOW_S`): it joins the first's contact.

The cameras are registered the way an administrator registers the city's cameras, `contact
cameras import FILE` with the center's own `CONTACT_*` environment: one camera per alert of
the run, at the alert's place (the contact is placed at its camera), so no alert collapses
into another's contact.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import aiohttp

from contact.simulate.edges import Sent, contact_id, post_until_accepted
from contact.simulate.edges.devices import contact_cli
from contact.simulate.traffic import Arrival

ALERT_KINDS = {
    "emergency": ("weapon", "aggression"),
    "ordinary": ("wanted_plate", "wanted_face"),
    "informational": ("crowd",),
}
PATH = "/api/v1/camera-events"


def confidence(threshold: float) -> float:
    """Sure enough for the center: halfway from its threshold to certainty."""
    return round(threshold + (1.0 - threshold) / 2, 3)


class CameraEdge:
    name = "camera"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        key: str,
        cameras: Sequence[str],
        thresholds: Mapping[str, float],
        stop_at: float,
    ) -> None:
        """`cameras`: one id per camera arrival, in order; `thresholds`: the center's, by
        alert kind."""
        self._session, self._bases, self._key = session, list(bases), key
        self._cameras, self._thresholds, self.stop_at = iter(cameras), thresholds, stop_at
        self._n = itertools.count()

    async def send(self, arrival: Arrival) -> Sent:
        camera_id = next(self._cameras)
        kinds = ALERT_KINDS[arrival.kind]
        kind = kinds[next(self._n) % len(kinds)]
        event = f"{camera_id}-a1"
        item = Sent(arrival, key=event, device_id=f"camera:{camera_id}", edge=self.name)
        body = json.dumps(
            {
                "camera_id": camera_id,
                "kind": kind,
                "confidence": confidence(self._thresholds[kind]),
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
                "event_id": event,
            }
        ).encode()
        headers = {"X-Api-Key": self._key, "Content-Type": "application/json"}
        answer = await post_until_accepted(
            self._session, self._bases, item, PATH, body, lambda: headers, self.stop_at
        )
        item.contact_id = contact_id(answer)
        return item


def cameras_csv(rows: Sequence[tuple[str, float, float]]) -> str:
    """The cameras in the layout `contact cameras import` reads: each looking north over a
    street (a 90° view, 80 m), its stream on a TEST-NET address no one answers."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "lat", "lon", "heading", "fov", "range", "stream_url"])
    for camera_id, lat, lon in rows:
        w.writerow([camera_id, f"{lat:.6f}", f"{lon:.6f}", 0, 90, 80, "rtsp://192.0.2.1/sim"])
    return out.getvalue()


async def register_cameras(
    arrivals: Sequence[Arrival], run: str, env: Mapping[str, str] | None = None
) -> list[str]:
    """One camera per camera arrival, imported with the CLI an administrator uses (`env`: the
    center's environment, else this command's); their ids in arrival order."""
    mine = [a for a in arrivals if a.channel == "camera"]
    if not mine:
        return []
    rows = [(f"{run}-c{i}", a.lat, a.lon) for i, a in enumerate(mine)]
    fd, path = tempfile.mkstemp(prefix=f"{run}-cameras-", suffix=".csv")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(cameras_csv(rows))
        await contact_cli("cameras", "import", path, "--no-progress", env=env)
    finally:
        os.unlink(path)
    return [r[0] for r in rows]
