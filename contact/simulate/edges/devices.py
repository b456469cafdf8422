"""SOS kiosks and school panic buttons, signed as the real devices sign them.

Kiosk: `POST /api/v1/kiosks/{id}/sos {"press_id", "language"}` with
`X-Timestamp: <unix s>` and `X-Signature: sha256=hex(HMAC-SHA256(key, "<ts>\\nPOST\\n<path>\\n"
+ body))` (docs/device-channels.md). The signature is written here from that description, as
a kiosk vendor writes it, not borrowed from the center's code: the run checks the center
against the documented protocol. Each signed request is taken once (replay protection), so a
retry is signed anew with a later timestamp; its press id makes it the same press.

Alarm: `POST /api/v1/alarms {"site_id", "zone", "kind", "event_id"}` with
`Authorization: Bearer <site key>`; the event id makes a retry the same alarm.

The devices are registered the way an administrator registers them, `contact kiosks import
FILE` and `contact sites import FILE` run with the center's own `CONTACT_*` environment (the
same database): one kiosk and one school per contact of the run, at the contact's place, with
a key of the run's own, so no press joins another's open contact.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import aiohttp

from contact.simulate.edges import Sent, contact_id, post_until_accepted
from contact.simulate.traffic import Arrival

ALARM_KIND = {"emergency": "panic", "ordinary": "other", "informational": "other"}


def kiosk_signature(key: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The X-Signature value of a kiosk request (docs/device-channels.md)."""
    base = f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body
    return "sha256=" + hmac.new(key.encode(), base, hashlib.sha256).hexdigest()


class KioskSigner:
    """Headers for one kiosk: every call a timestamp later than the last one (a request
    signed twice within a second would be the same request, refused as a replay)."""

    def __init__(self, key: str, clock: Callable[[], float] = time.time) -> None:
        self._key, self._clock, self._last = key, clock, 0

    def headers(self, path: str, body: bytes) -> dict[str, str]:
        self._last = max(int(self._clock()), self._last + 1)
        ts = str(self._last)
        return {
            "X-Timestamp": ts,
            "X-Signature": kiosk_signature(self._key, ts, "POST", path, body),
            "Content-Type": "application/json",
        }


class KioskEdge:
    name = "kiosk"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        kiosks: Sequence[tuple[str, str]],
        stop_at: float,
    ) -> None:
        self._session, self._bases, self.stop_at = session, list(bases), stop_at
        self._kiosks = iter(kiosks)  # (id, key), one per kiosk arrival, in order

    async def send(self, arrival: Arrival) -> Sent:
        kiosk_id, key = next(self._kiosks)
        path = f"/api/v1/kiosks/{kiosk_id}/sos"
        press = f"{kiosk_id}-p1"
        item = Sent(arrival, key=press, device_id=f"kiosk:{kiosk_id}", edge=self.name)
        body = json.dumps({"press_id": press, "language": arrival.language}).encode()
        signer = KioskSigner(key)
        answer = await post_until_accepted(
            self._session,
            self._bases,
            item,
            path,
            body,
            lambda: signer.headers(path, body),
            self.stop_at,
        )
        item.contact_id = contact_id(answer)
        return item


class AlarmEdge:
    name = "alarm"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bases: Sequence[str],
        sites: Sequence[tuple[str, str]],
        stop_at: float,
    ) -> None:
        self._session, self._bases, self.stop_at = session, list(bases), stop_at
        self._sites = iter(sites)

    async def send(self, arrival: Arrival) -> Sent:
        site_id, key = next(self._sites)
        event = f"{site_id}-e1"
        item = Sent(arrival, key=event, device_id=f"site:{site_id}", edge=self.name)
        body = json.dumps(
            {"site_id": site_id, "zone": "1", "kind": ALARM_KIND[arrival.kind], "event_id": event}
        ).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        answer = await post_until_accepted(
            self._session, self._bases, item, "/api/v1/alarms", body, lambda: headers, self.stop_at
        )
        item.contact_id = contact_id(answer)
        return item


def registry_csv(rows: Sequence[tuple[str, str, float, float, str]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "name", "lat", "lon", "key"])
    w.writerows(rows)
    return out.getvalue()


async def contact_cli(*args: str, env: Mapping[str, str] | None = None) -> None:
    """`contact ARGS…` with the center's CONTACT_* environment (`env`, else this command's)."""
    exe = str(Path(sys.executable).with_name("contact"))
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else os.environ,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"contact {' '.join(args[:2])} failed: {err.decode()[-800:]}")


async def register(
    arrivals: Sequence[Arrival], channel: str, run: str, env: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """One device per arrival of `channel` ("kiosk" or "alarm"), imported with the CLI an
    administrator uses (`env`: the center's environment, else this command's); (id, key) in
    arrival order."""
    mine = [a for a in arrivals if a.channel == channel]
    if not mine:
        return []
    letter, what = ("k", "kiosks") if channel == "kiosk" else ("s", "sites")
    rows = [
        (f"{run}-{letter}{i}", f"Sim {what} {i}", a.lat, a.lon, secrets.token_urlsafe(32))
        for i, a in enumerate(mine)
    ]
    fd, path = tempfile.mkstemp(prefix=f"{run}-{what}-", suffix=".csv")  # 0600: it holds keys
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(registry_csv(rows))
        await contact_cli(what, "import", path, env=env)
    finally:
        os.unlink(path)
    return [(r[0], r[4]) for r in rows]
