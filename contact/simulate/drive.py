"""Play a scenario against a running `contact serve` through its public edges only.

Citizens: each arrival goes to the edge of its channel (`contact.simulate.edges`): app
reports and SOS presses, Telegram and WhatsApp webhooks (the stand-ins answer the center's
replies), kiosks' signed presses, schools' alarms and camera analytics alerts, and 102 calls
through Asterisk when the voice edge is given (`edges/voice.py`: sipp callers; the bots answer
on sipp phones; an SOS's video call goes through it too). A channel without an
edge in this run (102 voice without Asterisk; a chat whose center is not pointed at a
stand-in) is carried by the app edge and counted under `carried_as_app`.
Operators: bots that log in like a browser (the login form's CSRF token, the session cookie,
X-CSRF-Token on every POST), open the WebSocket, set themselves ready, accept the offers
pushed to them, hold each contact for its sampled handling time (compressed by the speed);
for a contact that needs a unit they open its dispatch panel (`GET …/dispatch`) one
`dispatch_s` in and send the first unit suggested (`POST …/dispatch`), as an operator does;
then they close it with a disposition, and the server's own wrap-up timer makes them ready
again. At the end every app report the edge accepted is read back (GET
/api/v1/app/reports/{id}) and must be in a waiting or terminal state; the command counts
every edge's contacts in the database (`chaos.account`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from contact.simulate.edges import Edge, Sent
from contact.simulate.edges.app import WAITING_OR_TERMINAL, AppEdge
from contact.simulate.traffic import Arrival

if TYPE_CHECKING:
    from contact.simulate.edges.voice import VoiceEdge

log = logging.getLogger(__name__)


@dataclass
class DriveResult:
    speed: float
    wall_s: float
    sent: list[Sent]
    operators: int
    carried_as_app: dict[str, int]
    handled: int = 0
    errors: list[str] = field(default_factory=list)
    run: str = ""  # the prefix of this run's device ids and idempotency keys
    planned: int = 0  # arrivals in the run
    started: int = 0  # arrivals handed to their edge so far
    dispatch_refused: dict[str, int] = field(default_factory=dict)  # why a bot sent no unit
    sos_presses: int = 0  # app emergencies sent as the SOS button
    sos_videos: int = 0  # their video calls placed through Asterisk
    dispatch_ids: dict[str, str] = field(default_factory=dict)  # contact → dispatch, as answered
    dispatches_seen_in_panel: int = 0  # of them, the answer lost and found in the panel after

    @property
    def accepted(self) -> list[Sent]:
        return [s for s in self.sent if s.accepted]

    @property
    def dispatched(self) -> list[Sent]:
        return [s for s in self.sent if not math.isnan(s.dispatched_at)]


DISPATCH_RETRY_S = 30.0  # wall seconds a bot keeps trying to send a unit through a fault


class _Unanswered(Exception):
    """A 5xx: the center did not say whether it did it (asked again after a look)."""


class _LoggedOut(Exception):
    """A 401: the node she moved to has not taken her login (logged in again, elsewhere)."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class OperatorBot:
    """One operator, through the same HTTP API and WebSocket as her browser. With several
    nodes she works on one; when it dies she logs in on the next, and the server tells her
    (/api/v1/me) which contacts are still in her hands, as it tells a reloaded browser."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        who: Credentials,
        arrival_of: Callable[[str, str], Arrival | None],
        speed: float,
        first: int = 0,
        *,
        dispatch_after_s: float | None = None,
        on_dispatch: Callable[[str, float | None], None] | None = None,
        voice: VoiceEdge | None = None,
    ) -> None:
        """`arrival_of(contact id, citizen)`: the arrival an offer is, when known;
        `dispatch_after_s`: scenario seconds from the answer to sending a unit to a contact
        that needs one (None: this bot dispatches nothing); `on_dispatch(unit id, eta_s)`:
        told of every unit sent; `voice`: the 102 edge, whose calls and callback tasks are
        answered on the bot's phone."""
        self._voice = voice
        self._urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self._at = first % len(self._urls)
        self._who, self._arrival_of, self._speed = who, arrival_of, speed
        self._dispatch_after_s, self._on_dispatch = dispatch_after_s, on_dispatch
        self._session: aiohttp.ClientSession | None = None
        self._csrf = ""
        self.operator_id = ""
        self.handled = 0
        self.failovers = 0
        self.answered: dict[str, float] = {}  # contact id → wall time accepted
        self.citizens: dict[str, str] = {}  # contact id → its citizen, as offered
        self.dispatches: dict[str, tuple[float, str, float | None]] = {}  # id → (t, unit, eta)
        self.dispatch_ids: dict[str, str] = {}  # contact id → the dispatch the center made
        self.seen_in_panel = 0  # dispatches whose answer was lost, found in the panel after
        self.no_dispatch: dict[str, int] = {}  # why a contact that needed a unit got none

    @property
    def _base(self) -> str:
        return self._urls[self._at]

    async def login(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = aiohttp.ClientSession(
            base_url=self._base,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=15),
        )
        async with self._session.get("/login") as r:
            page = await r.text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise RuntimeError("the login page has no CSRF token")
        form = {
            "username": self._who.username,
            "password": self._who.password,
            "csrf_token": token.group(1),
        }
        async with self._session.post("/login", data=form, allow_redirects=False) as r:
            if r.status != 303:
                raise RuntimeError(f"login of {self._who.username} failed: HTTP {r.status}")
        async with self._session.get("/api/v1/me") as r:
            me = await r.json()
        self._csrf, self.operator_id = me["csrf_token"], me["id"]

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    async def post(self, path: str, body: dict[str, Any] | None = None) -> int:
        return await self._post(path, body)

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> int:
        status, _ = await self._post_json(path, body)
        return status

    async def _post_json(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        assert self._session is not None
        headers = {"X-CSRF-Token": self._csrf}
        async with self._session.post(path, json=body or {}, headers=headers) as r:
            try:
                return r.status, await r.json(content_type=None)
            except ValueError:
                return r.status, None

    async def _arrival(self, contact_id: str, citizen: str) -> Arrival | None:
        """The arrival an offer is; its edge may not have had its answer yet (an offer can
        overtake the 202), so it is asked again for up to two seconds."""
        for _ in range(20):
            found = self._arrival_of(contact_id, citizen)
            if found is not None:
                return found
            await asyncio.sleep(0.1)
        return None

    def _refuse(self, why: str) -> None:
        self.no_dispatch[why] = self.no_dispatch.get(why, 0) + 1

    async def _dispatch(self, contact_id: str, stop: asyncio.Event) -> None:
        """As an operator in her dispatch panel: the suggestions, then the first unit. When
        the answer is lost (a node died, the database was cut) she looks at the panel again
        before sending another: a unit already sent to the contact is hers, so one contact
        gets one unit. Tried for up to DISPATCH_RETRY_S, or until the run ends."""
        until = time.monotonic() + DISPATCH_RETRY_S
        while True:
            try:
                return await self._send_a_unit(contact_id)
            except _Unanswered as exc:
                why = str(exc)
            except (aiohttp.ClientError, OSError, TimeoutError, _LoggedOut) as exc:
                why = type(exc).__name__
                with contextlib.suppress(Exception):
                    await self._failover()
            if stop.is_set() or time.monotonic() >= until:
                return self._refuse(why)
            await asyncio.sleep(0.5)

    async def _send_a_unit(self, contact_id: str) -> None:
        assert self._session is not None
        async with self._session.get(f"/api/v1/contacts/{contact_id}/dispatch") as r:
            if r.status >= 500:
                raise _Unanswered(f"panel HTTP {r.status}")
            if r.status == 401:
                raise _LoggedOut
            panel = await r.json(content_type=None) if r.status == 200 else None
        if not isinstance(panel, dict):
            return self._refuse(f"panel HTTP {r.status}")
        if not panel.get("has_location"):
            return self._refuse("no location")
        for sent in panel.get("dispatches", []):  # hers, its answer lost on the way
            if sent.get("contact_id") == contact_id and sent.get("operator_id") == self.operator_id:
                return self._sent(contact_id, sent, None, seen_in_panel=True)
        for unit in panel.get("suggestion", [])[:3]:  # another bot may take one first
            status, body = await self._post_json(
                f"/api/v1/contacts/{contact_id}/dispatch", {"unit_id": unit["unit_id"]}
            )
            if status == 201 and isinstance(body, dict):
                return self._sent(contact_id, body, unit.get("eta_s"), seen_in_panel=False)
            if status >= 500:
                raise _Unanswered(f"dispatch HTTP {status}")
        return self._refuse("no unit free" if not panel.get("suggestion") else "units taken")

    def _sent(
        self, contact_id: str, dispatch: dict[str, Any], eta: Any, *, seen_in_panel: bool
    ) -> None:
        """A unit sent to the contact, as the center answered it (or showed it in the panel)."""
        eta = dispatch.get("eta_s") if isinstance(dispatch.get("eta_s"), int | float) else eta
        eta = float(eta) if isinstance(eta, int | float) else None
        unit_id = str(dispatch["unit_id"])
        self.dispatches[contact_id] = (time.monotonic(), unit_id, eta)
        self.dispatch_ids[contact_id] = str(dispatch["id"])
        self.seen_in_panel += seen_in_panel
        if self._on_dispatch is not None:
            self._on_dispatch(unit_id, eta)

    async def _post_until_done(self, path: str, body: dict[str, Any], within_s: float) -> int:
        """A close must land: retried through a database cut or a dead node (a 5xx or no
        answer), on the next node when this one is gone."""
        deadline = time.monotonic() + within_s
        status = 0
        while time.monotonic() < deadline:
            try:
                status = await self._post(path, body)
                if status < 500:
                    return status
            except (aiohttp.ClientError, OSError, TimeoutError):
                with contextlib.suppress(Exception):
                    await self._failover()
            await asyncio.sleep(0.5)
        return status

    async def _failover(self) -> None:
        self.failovers += 1
        self._at = (self._at + 1) % len(self._urls)
        await self.login()

    async def _held(self) -> list[str]:
        """The contacts the server says are in her hands (accepted, maybe unanswered)."""
        assert self._session is not None
        async with self._session.get("/api/v1/me") as r:
            me = await r.json()
        return [
            str(c["id"])
            for c in me.get("contacts", [])
            if c.get("state") in ("connected", "wrap_up", "offered")
        ]

    async def _finish(self, contact_id: str) -> None:
        if self._voice is not None:  # a call in hand is hung up first
            await self._voice.hang_up(self, contact_id)
        status = await self._post_until_done(
            f"/api/v1/contacts/{contact_id}/close", {"disposition": "simulated"}, 60.0
        )
        if status == 200:
            self.handled += 1

    async def work(self, stop: asyncio.Event) -> None:
        """Take offers until stop is set; the contact in hand is finished first. A lost node
        or socket: log in on the next node and go on."""
        while not stop.is_set():
            try:
                if self._session is None:
                    await self.login()
                for contact_id in await self._held():
                    self.answered.setdefault(contact_id, time.monotonic())
                    await self._finish(contact_id)
                await self._take_offers(stop)
            except Exception as exc:  # the node died or the socket broke: the next node
                log.debug("bot %s: %s, failing over", self._who.username, exc)
                await asyncio.sleep(0.5)
                with contextlib.suppress(Exception):
                    await self._failover()
        with contextlib.suppress(Exception):
            for contact_id in await self._held():  # an accept whose answer was lost
                await self._finish(contact_id)
            await self._post("/api/v1/me/presence", {"presence": "away"})

    async def _take_offers(self, stop: asyncio.Event) -> None:
        assert self._session is not None
        async with self._session.ws_connect("/ws", heartbeat=5) as ws:
            if await self._post("/api/v1/me/presence", {"presence": "ready"}) >= 500:
                raise RuntimeError("presence refused")
            mine = f"operator:{self.operator_id}"
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.receive_json(), 0.5)
                except TimeoutError:
                    continue
                data = msg.get("data") or {}
                if msg.get("topic") != mine or data.get("type") != "contact.offered":
                    continue
                contact_id = data["contact"]["id"]
                voice = self._voice
                if voice is not None and data["contact"].get("channel") in voice.answers:
                    await self._call(ws, data["contact"], stop)
                    continue
                status = await self._post(f"/api/v1/contacts/{contact_id}/accept")
                if status != 200:  # the offer lapsed or went to another: take the next
                    continue
                self.answered[contact_id] = time.monotonic()
                citizen = str(data["contact"].get("citizen") or "")
                self.citizens[contact_id] = citizen
                await self._handle(contact_id, await self._arrival(contact_id, citizen), stop)
                await self._finish(contact_id)

    async def _call(
        self, ws: aiohttp.ClientWebSocketResponse, contact: dict[str, Any], stop: asyncio.Event
    ) -> None:
        """A call (or a callback task): accepted, answered on the phone, held, hung up."""
        assert self._voice is not None
        contact_id = str(contact["id"])
        connected, hold_s = await self._voice.answer(self, ws, contact)
        if connected:
            self.answered[contact_id] = time.monotonic()
            if contact.get("channel") == "voice":  # a callback task has the same number
                self.citizens[contact_id] = str(contact.get("citizen") or "")
            await self._voice.talk(self, ws, contact_id, hold_s, stop)
        await self._finish(contact_id)

    async def _handle(self, contact_id: str, arrival: Arrival | None, stop: asyncio.Event) -> None:
        """Hold it for its handling time; send a unit on the way when it needs one. At the
        end of the run what is in hand is closed at once."""
        hold_s = (arrival.handle_s if arrival is not None else 60.0) / self._speed
        if arrival is not None and arrival.needs_unit and self._dispatch_after_s is not None:
            first_s = min(self._dispatch_after_s / self._speed, hold_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), first_s)
            hold_s -= first_s
            try:
                await self._dispatch(contact_id, stop)
            except ValueError as exc:  # a panel that is not JSON
                self._refuse(type(exc).__name__)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), hold_s)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _carrier(edges: Mapping[str, Edge], fallback: Edge, channel: str) -> Edge:
    """The edge an arrival of this channel travels: its own, else the app's."""
    return edges.get(channel) or fallback


async def drive(
    arrivals: Sequence[Arrival],
    *,
    base_url: str | Sequence[str],
    app_key: str,
    operators: Sequence[Credentials],
    speed: float,
    seed: int,
    drain_s: float = 30.0,
    progress: Callable[[DriveResult, list[OperatorBot]], None] | None = None,
    during: Callable[[float, float], Coroutine[Any, Any, None]] | None = None,
    edges: Mapping[str, Edge] | Callable[[float], Mapping[str, Edge]] | None = None,
    run: str | None = None,
    dispatch_after_s: float | None = None,
    on_dispatch: Callable[[str, float | None], None] | None = None,
    voice: VoiceEdge | None = None,
    app_sos_share: float = 0.0,
    app_sos_video_share: float = 0.0,
) -> DriveResult:
    """Send every arrival at its time / speed through its edge, let the bots work, then read
    every app report back. `base_url`: one node or several (citizens and bots move to the
    next when one fails); `during(start, end)`: run beside the traffic (the chaos faults),
    awaited before the drain ends; `edges`: channel → edge (or a function of the run's
    deadline, monotonic, giving them), the app edge for every other channel; `run`: the
    prefix of this run's ids (the edges' too); `dispatch_after_s`, `on_dispatch`: the bots
    send units (see OperatorBot); `voice`: the 102 edge (started, its phones given to the
    bots' accounts); its calls are read back by the caller (`VoiceEdge.read_back`);
    `app_sos_share`: the app's emergencies that press SOS instead of writing;
    `app_sos_video_share`: the presses that place their video call (with `voice` only)."""
    bases = [base_url] if isinstance(base_url, str) else list(base_url)
    run = run or f"sim{seed}-{uuid.uuid4().hex[:6]}"
    carried: dict[str, int] = {}
    result = DriveResult(speed, 0.0, [], len(operators), carried, run=run, planned=len(arrivals))
    by_id: dict[str, Arrival] = {}
    by_citizen: dict[str, Arrival] = {}

    def arrival_of(contact_id: str, citizen: str) -> Arrival | None:
        return by_id.get(contact_id) or by_citizen.get(citizen)

    def known(task: asyncio.Task[Sent]) -> None:
        if task.cancelled() or task.exception() is not None:
            return
        item = task.result()
        result.sent.append(item)
        by_citizen[item.device_id] = item.arrival
        if item.contact_id is not None:
            by_id[item.contact_id] = item.arrival

    bots = [
        OperatorBot(
            bases,
            who,
            arrival_of,
            speed,
            i,
            dispatch_after_s=dispatch_after_s,
            on_dispatch=on_dispatch,
            voice=voice,
        )
        for i, who in enumerate(operators)
    ]
    logins = asyncio.Semaphore(4)  # a password hash each: a few at a time, as a room logs in

    async def login(b: OperatorBot) -> None:
        async with logins:
            await b.login()

    await asyncio.gather(*(login(b) for b in bots))
    stop = asyncio.Event()
    workers = [asyncio.create_task(b.work(stop)) for b in bots]
    start = time.monotonic()
    end = start + (arrivals[-1].t_s / speed if arrivals else 0.0)
    beside = asyncio.create_task(during(start, end)) if during is not None else None
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as citizens:
        app = AppEdge(
            citizens,
            bases,
            app_key,
            run,
            end + drain_s,
            app_sos_share,
            video=voice.place_video if voice is not None else None,
            video_share=app_sos_video_share,
        )
        own = dict((edges(end + drain_s) if callable(edges) else edges) or {})
        if voice is not None:
            own["voice"] = voice.until(end + drain_s)
        pending: set[asyncio.Task[Sent]] = set()
        by_app: list[asyncio.Task[Sent]] = []  # read back as the app reads them
        for a in arrivals:
            delay = start + a.t_s / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            edge = _carrier(own, app, a.channel)
            if edge is app and a.channel != "app":
                carried[a.channel] = carried.get(a.channel, 0) + 1
            task = asyncio.create_task(edge.send(a))
            if edge is app:
                by_app.append(task)
            result.started += 1
            task.add_done_callback(known)
            pending.add(task)
            task.add_done_callback(pending.discard)
            if progress is not None:
                result.handled = sum(b.handled for b in bots)
                progress(result, bots)
        if pending:
            for failed in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(failed, BaseException):
                    result.errors.append(f"an edge failed: {failed!r}")
        result.sent.sort(key=lambda s: s.arrival.t_s)
        if beside is not None:  # the last fault recovers before the drain is judged
            await beside
        # drain: let the bots answer what is still waiting, up to drain_s
        drain_until = time.monotonic() + drain_s
        while time.monotonic() < drain_until:
            answered = set().union(*(b.answered for b in bots)) if bots else set()
            seen = {c for b in bots for c in b.citizens.values()}
            if all(
                s.contact_id in answered
                or (s.contact_id is None and s.device_id in seen)
                or (voice is not None and s.edge == "voice" and voice.settled(s))
                for s in result.accepted
            ):
                break
            if progress is not None:
                result.handled = sum(b.handled for b in bots)
                progress(result, bots)
            await asyncio.sleep(0.2)
        stop.set()  # the bots close the contacts in hand and go away
        await asyncio.gather(*workers, return_exceptions=True)
        _settle(result, bots)
        await asyncio.gather(*(b.close() for b in bots))
        result.handled = sum(b.handled for b in bots)
        apps = [t.result() for t in by_app if not t.cancelled() and t.exception() is None]
        apps = [s for s in apps if s.accepted and s.contact_id is not None]
        await app.read_back(apps)
        result.sos_presses, result.sos_videos = app.sos, app.videos
        for s in apps:
            if s.final_status not in WAITING_OR_TERMINAL:
                result.errors.append(f"{s.contact_id}: {s.final_status}")
    result.wall_s = time.monotonic() - start
    return result


def _settle(result: DriveResult, bots: Sequence[OperatorBot]) -> None:
    """What the bots saw, onto the contacts sent: answer and dispatch times, and the ids of
    the contacts whose edge gives none (chats) by the citizen the offer named."""
    by_citizen = {s.device_id: s for s in result.sent if s.contact_id is None and s.accepted}
    by_id = {s.contact_id: s for s in result.sent if s.contact_id is not None}
    for b in bots:
        for contact_id, citizen in b.citizens.items():
            chat = by_citizen.get(citizen)
            if chat is not None and chat.contact_id is None:
                chat.contact_id = contact_id
                by_id[contact_id] = chat
        for contact_id, at in b.answered.items():
            if contact_id in by_id:
                by_id[contact_id].answered_at = at
        for contact_id, (at, _unit, eta) in b.dispatches.items():
            if contact_id in by_id:
                by_id[contact_id].dispatched_at, by_id[contact_id].eta_s = at, eta
        for why, n in b.no_dispatch.items():
            result.dispatch_refused[why] = result.dispatch_refused.get(why, 0) + n
        result.dispatch_ids.update(b.dispatch_ids)
        result.dispatches_seen_in_panel += b.seen_in_panel
